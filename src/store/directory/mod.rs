//! People, roles and eligibility: the bulk writes of an import and the reads that check it.

mod eligibility;
mod import;
pub(crate) mod joins;
pub mod listed;
mod principals;
mod prune;
pub use eligibility::{
    count, count_eligibility, list_eligibility, EligibilityFilter, EligibilityView,
};
pub use import::{
    ensure_source, set_managers, upsert_eligibility, upsert_people, upsert_roles, Activation,
    EligibilityWrite, BUILTIN_SOURCE,
};
pub use principals::{
    display_name, names_by_id, people, principal_refs, reviewer_candidate, role_ids, timezone_of,
    PrincipalName, PrincipalRef,
};
pub use prune::{
    active_eligibility_count, active_eligibility_not_kept, disable_principals,
    enabled_principals_not_kept, mark_eligibility_removed,
};
