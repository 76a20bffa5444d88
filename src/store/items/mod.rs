//! Review items and decisions: frozen at launch in batches, decided append-only, settled at close
//! with set-based statements (a close must handle a million items in seconds).

mod admin_queue;
pub mod carried;
mod decisions;
mod escalation;
mod launch;
mod listing;
pub mod previous;
mod settlement;
pub mod stage_history;
pub mod stages;
pub use admin_queue::{admin_queue, item_holder, QueuedItem};
pub(crate) use decisions::current_decision;
pub use decisions::{items_for_decision, record_decisions, ItemForDecision, NewDecision};
pub use escalation::escalate_undecided;
pub use launch::{
    freeze_holder_context, insert_items, reviewer_loads, upsert_campaign_reviewers, NewItem,
    EXCLUDED_FLAG, ITEM_COLUMNS,
};
pub use listing::{list_items, load_of, undecided_for, Attribute, ItemFilter, ItemView};
pub(crate) use settlement::PolicySettlement;
pub use settlement::{
    plan_remediation, roles_emptied_by_policy, settle_human, settle_undecided, UndecidedClass,
};
