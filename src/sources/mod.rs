//! Where eligibility comes from and where removals go. One trait, [`EligibilitySource`], that
//! campaigns enumerate through at launch and remediation removes through at close. The built-in
//! source is the database itself; files feed it through imports. Configured sources (Microsoft
//! Entra PIM, LDAP, webhooks) are [`connector::Connector`]s: syncs copy their population into
//! the database, and removals of a campaign over such a source go to it.

pub mod builtin;
pub mod config;
pub mod connector;
pub mod graph;
pub mod ldap;
pub mod registry;
pub mod webhook;

use crate::domain::definition::ScopeFilter;
use chrono::{DateTime, Utc};

pub use crate::domain::eligibility::{RemovalTarget, SourceEligibility};

/// The source's answer to a removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// Removed now; the receipt identifies the change in the source.
    Removed { receipt: String },
    /// It was not there any more (removed by someone else); nothing to do.
    AlreadyGone { receipt: String },
}

/// When a restored eligibility starts and ends again (a suspension's restore puts back the end
/// the eligibility had, where the source keeps one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreSchedule {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

/// A source that could not be reached or refused; the removal is retried later.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// Eligibility in, removals out.
#[async_trait::async_trait]
pub trait EligibilitySource: Send + Sync {
    /// A name for receipts and evidence ("builtin", "graph:contoso", …).
    fn name(&self) -> &str;

    /// Whether removing is a write to attest's own database (the built-in source): then the
    /// remediation step removes with `store::builtin_eligibility::remove_in_database` inside the transaction
    /// that records the removal, so a crash can never separate the two.
    fn in_database(&self) -> bool {
        false
    }

    /// The next `limit` active eligibilities matching `filter` after `cursor` (in a stable
    /// order), so a launch can read any population in batches and resume where it stopped.
    async fn enumerate(
        &self,
        filter: &ScopeFilter,
        cursor: Option<i64>,
        limit: u64,
    ) -> Result<Vec<SourceEligibility>, SourceError>;

    /// How many active eligibilities match `filter`, where the source can tell cheaply: the
    /// total a launch's progress bar counts to. `None`: unknown (the bar counts without one).
    async fn count(&self, _filter: &ScopeFilter) -> Result<Option<u64>, SourceError> {
        Ok(None)
    }

    /// Removes one eligibility. Removing one that is already gone is not an error.
    async fn remove(
        &self,
        target: &RemovalTarget,
        now: DateTime<Utc>,
    ) -> Result<Removal, SourceError>;

    /// Reads the eligibility back: is it still there? The proof that a removal took effect.
    async fn is_present(&self, target: &RemovalTarget) -> Result<bool, SourceError>;

    /// Removes a batch; one answer per target, in order. A source that can do this in one
    /// round trip (the built-in one) overrides it; the default removes one at a time.
    async fn remove_many(
        &self,
        targets: &[RemovalTarget],
        now: DateTime<Utc>,
    ) -> Vec<Result<Removal, SourceError>> {
        let mut answers = Vec::with_capacity(targets.len());
        for target in targets {
            answers.push(self.remove(target, now).await);
        }
        answers
    }

    /// Reads a batch back; one answer per target, in order.
    async fn present_many(&self, targets: &[RemovalTarget]) -> Vec<Result<bool, SourceError>> {
        let mut answers = Vec::with_capacity(targets.len());
        for target in targets {
            answers.push(self.is_present(target).await);
        }
        answers
    }
}
