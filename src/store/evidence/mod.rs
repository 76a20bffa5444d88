//! The rows evidence is made of, and where bundles and keys are kept: the export's streamed
//! reads of items and decisions (`export_rows`, each backend's way in `backend`), the audit
//! excerpt (`audit_excerpt`), the reviewers' summaries and handovers (`reviewers`), the
//! instance's signing keys (`signing_keys`) and stored bundles with their chunks (`bundles`).
//! Callers use the names re-exported here.

mod audit_excerpt;
mod bundles;
mod export_rows;
mod reviewers;
mod signing_keys;

pub use audit_excerpt::{audit_range, audit_rows};
pub use bundles::{
    chunk, completed_without_bundle, insert_bundle, insert_chunk, latest_bundle, StoredBundle,
};
pub(crate) use export_rows::RangeRead;
pub use export_rows::{each_decision, each_item, DecisionView, ItemView};
pub use reviewers::{handovers, reviewer_roster, reviewer_summaries, Handover, ReviewerSummary};
pub use signing_keys::{insert_signing_key, public_keys, signing_key};
