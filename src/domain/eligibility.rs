//! Eligibility as it crosses the boundary to a source: what a launch reads from one, and what a
//! removal asks one to remove. Plain records; the sources and the store both speak them.

use crate::domain::directory::{PrincipalKind, Risk};
use chrono::{DateTime, Utc};

/// What a source is (`source.kind`): attest's own database, a file import, or a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Builtin,
    File,
    Ldap,
    /// Microsoft Entra PIM through Microsoft Graph (`kind = "entra"` in attest.toml).
    Graph,
    /// Removals only, through a signed POST.
    Webhook,
}

string_enum!(SourceKind, "source kind", {
    Builtin => "builtin",
    File => "file",
    Ldap => "ldap",
    Graph => "graph",
    Webhook => "webhook",
});

/// Whether an eligibility is still held (`eligibility.status`): removed ones stay as history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EligibilityStatus {
    Active,
    Removed,
}

string_enum!(EligibilityStatus, "eligibility status", { Active => "active", Removed => "removed" });

/// How a role is held (`eligibility.assignment`, frozen as `review_item.assignment`): eligible
/// (PIM: activated when needed, for a while), or active: standing access, permanent or
/// time-bound, held without activation. Standing access is reviewed like eligibility, and each
/// is a finding ("convert to eligible"). Rows from before standing access was tracked are
/// eligible.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    #[default]
    Eligible,
    Active,
}

string_enum!(Assignment, "assignment", { Eligible => "eligible", Active => "active" });

/// One eligibility as a source reports it, with what a review item freezes about it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceEligibility {
    pub eligibility_id: i64,
    pub principal_id: i64,
    pub principal_external_id: String,
    pub principal_name: String,
    pub principal_email: Option<String>,
    pub principal_kind: PrincipalKind,
    pub role_id: i64,
    pub role_name: String,
    pub role_risk: Risk,
    pub role_owner_id: Option<i64>,
    pub scope: String,
    pub since: Option<DateTime<Utc>>,
    pub last_activated_at: Option<DateTime<Utc>>,
    /// Eligible, or active (standing access).
    pub assignment: Assignment,
}

/// What to remove, and on whose behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovalTarget {
    pub eligibility_id: i64,
    /// The review item that decided the removal (named in the source's justification).
    pub item_id: i64,
    pub principal_external_id: String,
    pub role_name: String,
    pub scope: String,
    pub campaign_id: i64,
    /// Remove it, or (standing access) convert it to eligible.
    pub kind: super::closing::RemediationKind,
    /// How the review item held it (frozen at launch): a source that keeps eligibility and
    /// standing assignments in different places (Entra) looks for it in the right one, so a
    /// standing assignment is never read back as "already gone" from the eligibility list.
    /// Targets not from a review item (suspensions, reappearances) say eligible.
    pub assignment: Assignment,
}

/// How the built-in source (attest's own database) writes its receipts: defined once, because
/// the store writes a whole batch's in one statement and the source writes single ones.
pub mod builtin_receipt {
    use chrono::{DateTime, SecondsFormat, Utc};

    /// Every built-in receipt starts with this, then the eligibility's id.
    pub const PREFIX: &str = "builtin:eligibility/";

    /// What follows the id in the receipt of a removal by `campaign_id` at `now`.
    pub fn removed_suffix(campaign_id: i64, now: DateTime<Utc>) -> String {
        format!(
            ":removed-by-campaign/{campaign_id}@{}",
            now.to_rfc3339_opts(SecondsFormat::Micros, true)
        )
    }

    /// The receipt of eligibility `eligibility_id` removed by `campaign_id` at `now`.
    pub fn removed(eligibility_id: i64, campaign_id: i64, now: DateTime<Utc>) -> String {
        format!(
            "{PREFIX}{eligibility_id}{}",
            removed_suffix(campaign_id, now)
        )
    }

    /// The receipt of a removal that found the eligibility no longer active.
    pub fn not_active(eligibility_id: i64) -> String {
        format!("{PREFIX}{eligibility_id}{NOT_ACTIVE_SUFFIX}")
    }

    /// What follows the id in the receipt of a removal that found it no longer active.
    pub const NOT_ACTIVE_SUFFIX: &str = ":not-active";

    /// What follows the id in the receipt of a conversion to eligible by `campaign_id`.
    pub fn converted_suffix(campaign_id: i64, now: DateTime<Utc>) -> String {
        format!(
            ":converted-to-eligible-by-campaign/{campaign_id}@{}",
            now.to_rfc3339_opts(SecondsFormat::Micros, true)
        )
    }

    /// The receipt of a conversion that found the assignment no longer standing (already
    /// eligible, or gone).
    pub fn not_standing(eligibility_id: i64) -> String {
        format!("{PREFIX}{eligibility_id}:not-standing")
    }
}
