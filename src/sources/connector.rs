//! A connector to a system that grants eligibility (Microsoft Entra PIM, an LDAP directory, a
//! webhook): it reads the whole population for a sync, removes one eligibility there, and
//! reads one back as the proof of a removal. Syncs copy the population into attest's own
//! tables (so launches, the console and the evidence read one place); removals and read-backs
//! go to the connector of the campaign's source.

use super::{Removal, RemovalTarget, RestoreSchedule, SourceError};
use crate::domain::directory::{PrincipalKind, Risk};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A person as the source lists them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncPerson {
    /// The id attest knows them by (LDAP: `uid`; Entra: the object id).
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    /// The external id of their manager, when the source names one.
    pub manager: Option<String>,
    pub kind: PrincipalKind,
    pub enabled: bool,
}

/// A role as the source lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncRole {
    pub name: String,
    pub risk: Risk,
    /// The external id of the role's owner.
    pub owner: Option<String>,
    pub description: Option<String>,
}

/// One eligibility: principal × role × scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncEligibility {
    /// The external id of the holder (one of the snapshot's people).
    pub principal: String,
    /// The name of the role (one of the snapshot's roles).
    pub role: String,
    pub scope: String,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// The last activation the source knows of (`None`: none known; a sync never forgets an
    /// earlier one it recorded).
    pub last_activated_at: Option<DateTime<Utc>>,
    /// Eligible (PIM), or active: a standing assignment (Entra's `roleAssignmentSchedules` of
    /// type `Assigned`). LDAP knows only membership: eligible.
    pub assignment: crate::domain::eligibility::Assignment,
}

/// One activation of an eligible role (PIM "selfActivate"), for the weekly activation review.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncActivation {
    /// The external id of the holder (one of the snapshot's people).
    pub principal: String,
    /// The name of the role (one of the snapshot's roles).
    pub role: String,
    pub scope: String,
    pub activated_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub justification: Option<String>,
}

/// Everything a source lists, read in one go: people (holders, their managers and the role
/// owners), roles and eligibility. Every external id an eligibility, a manager or an owner
/// names is one of `people`; connectors drop or resolve dangling references and say so in
/// `warnings`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Snapshot {
    pub people: Vec<SyncPerson>,
    pub roles: Vec<SyncRole>,
    pub eligibility: Vec<SyncEligibility>,
    /// The activations the source reports (Entra: PIM activation requests); kept as history,
    /// never removed by a later sync.
    pub activations: Vec<SyncActivation>,
    /// What the user should know (a group that does not exist, a member outside the people base…).
    pub warnings: Vec<String>,
}

/// What `attest source test` found: each check that passed, in order, and the counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Probe {
    /// One line per check, e.g. "authenticated as cn=attest,ou=services,dc=example,dc=com".
    pub checks: Vec<String>,
    pub people: Option<u64>,
    pub eligibility: Option<u64>,
}

/// The justification a removal carries into the source's own audit trail. A target with
/// campaign id 0 is a suspension's item (`item_id`: the suspension item).
pub fn justification(target: &RemovalTarget) -> String {
    if target.campaign_id == 0 {
        return format!(
            "attest suspension item {}: suspension of {} as {} at {}",
            target.item_id, target.principal_external_id, target.role_name, target.scope
        );
    }
    format!(
        "attest campaign {} item {}: access review removal of {} as {} at {}",
        target.campaign_id,
        target.item_id,
        target.principal_external_id,
        target.role_name,
        target.scope
    )
}

/// A connector to one configured source.
#[async_trait::async_trait]
pub trait Connector: Send + Sync {
    /// The configured name (`[sources.NAME]`).
    fn name(&self) -> &str;

    /// Connects, authenticates, checks the permissions removal needs and counts, changing
    /// nothing. An error is one line naming what is wrong (bad credentials, unreachable
    /// server, the missing permission).
    async fn test(&self) -> Result<Probe, SourceError>;

    /// The whole population the source lists now.
    async fn snapshot(&self) -> Result<Snapshot, SourceError>;

    /// Removes one eligibility in the source. One that is not there any more is
    /// [`Removal::AlreadyGone`], not an error. Receipts start with the source's name.
    async fn remove(&self, target: &RemovalTarget) -> Result<Removal, SourceError>;

    /// Reads it back from the source: is it still there? `None`: this source cannot be read
    /// back (a webhook), so the receipt is the only proof.
    async fn is_present(&self, target: &RemovalTarget) -> Result<Option<bool>, SourceError>;

    /// Puts back one eligibility a suspension removed; the receipt starts with the source's
    /// name. The caller reads it back with [`Connector::is_present`]. Sources that cannot
    /// (yet) say so: the suspension's restore then fails for that item and names it.
    async fn restore(
        &self,
        _target: &RemovalTarget,
        _schedule: &RestoreSchedule,
    ) -> Result<String, SourceError> {
        Err(SourceError(format!(
            "source {}: this kind of source cannot put an eligibility back; restore it there by hand",
            self.name()
        )))
    }

    /// Whether this source tells standing access from eligibility and can convert one to the
    /// other ([`Connector::convert`]): the review page offers "convert to eligible" only then.
    fn converts(&self) -> bool {
        false
    }

    /// Converts standing access (an active assignment) to eligible: makes the eligibility,
    /// then removes the standing assignment. One no longer standing is
    /// [`Removal::AlreadyGone`]. Receipts start with the source's name.
    async fn convert(&self, _target: &RemovalTarget) -> Result<Removal, SourceError> {
        Err(SourceError(format!(
            "source {}: this kind of source has no standing access to convert",
            self.name()
        )))
    }

    /// Reads a conversion back: is the standing assignment still there?
    async fn is_standing(&self, _target: &RemovalTarget) -> Result<bool, SourceError> {
        Err(SourceError(format!(
            "source {}: this kind of source has no standing access to read back",
            self.name()
        )))
    }
}
