//! What happens at a campaign's close: every item ends kept or removed, and whether a person or
//! the policy decided it is never blurred. Automatic removals stop for an admin when they would
//! strip too much.

use super::recommendation::Recommendation;

/// A reviewer's (or the policy's) answer for one item.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Attest,
    Revoke,
    /// Keep standing access as an eligibility instead (only an active assignment, and only
    /// where its source can convert).
    Convert,
}

string_enum!(Verdict, "verdict", { Attest => "attest", Revoke => "revoke", Convert => "convert" });

/// Who made a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MadeBy {
    Human,
    Policy,
}

string_enum!(MadeBy, "decision maker", { Human => "human", Policy => "policy" });

/// How a decision reached the engine (`decision.channel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The reviewer's mailed link.
    Link,
    /// An admin in the web UI.
    Web,
    Api,
    Cli,
    /// Recorded by the policy at close, not by a person.
    Policy,
}

string_enum!(Channel, "channel", {
    Link => "link",
    Web => "web",
    Api => "api",
    Cli => "cli",
    Policy => "policy",
});

/// What a definition does with items nobody answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnNoResponse {
    Remove,
    Keep,
    Recommendation,
}

string_enum!(OnNoResponse, "on_no_response", { Remove => "remove", Keep => "keep", Recommendation => "recommendation" });

/// How an item ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A reviewer attested it.
    Kept,
    /// A reviewer revoked it.
    Revoked,
    /// Nobody answered; the policy kept it.
    KeptByPolicy,
    /// Nobody answered; the policy removes it.
    RemovedByPolicy,
    /// Excluded from automatic removal (break-glass, listed exclusions): kept and flagged.
    KeptExcluded,
    /// A reviewer chose to convert standing access to eligible: a conversion follows.
    Converted,
}

string_enum!(Outcome, "outcome", {
    Kept => "kept",
    Revoked => "revoked",
    KeptByPolicy => "kept_by_policy",
    RemovedByPolicy => "removed_by_policy",
    KeptExcluded => "kept_excluded",
    Converted => "converted",
});

impl Outcome {
    pub fn removes(self) -> bool {
        matches!(self, Outcome::Revoked | Outcome::RemovedByPolicy)
    }

    /// The verdict the policy records for an unanswered item (`None` when a person decided).
    pub fn policy_verdict(self) -> Option<Verdict> {
        match self {
            Outcome::KeptByPolicy | Outcome::KeptExcluded => Some(Verdict::Attest),
            Outcome::RemovedByPolicy => Some(Verdict::Revoke),
            Outcome::Kept | Outcome::Revoked | Outcome::Converted => None,
        }
    }
}

/// The outcome of one item at close.
pub fn outcome(
    human: Option<Verdict>,
    excluded: bool,
    recommendation: Recommendation,
    policy: OnNoResponse,
) -> Outcome {
    match (human, excluded, policy) {
        (Some(Verdict::Attest), _, _) => Outcome::Kept,
        (Some(Verdict::Revoke), _, _) => Outcome::Revoked,
        (Some(Verdict::Convert), _, _) => Outcome::Converted,
        (None, true, _) => Outcome::KeptExcluded,
        (None, false, OnNoResponse::Keep) => Outcome::KeptByPolicy,
        (None, false, OnNoResponse::Remove) => Outcome::RemovedByPolicy,
        (None, false, OnNoResponse::Recommendation) => match recommendation {
            // Nobody chose to convert standing access: it stays as it is, and stays a finding.
            Recommendation::Keep | Recommendation::ConvertToEligible => Outcome::KeptByPolicy,
            Recommendation::Revoke => Outcome::RemovedByPolicy,
        },
    }
}

/// Why the policy's removals must wait for an admin, if they must.
pub fn removal_rail(
    population: u64,
    policy_removals: u64,
    max_auto_remove_percent: u32,
    roles_left_without_holder: &[String],
) -> Option<String> {
    let mut reasons = Vec::new();
    if population > 0 && policy_removals * 100 > population * u64::from(max_auto_remove_percent) {
        reasons.push(format!(
            "{policy_removals} of {population} items ({:.0}%) would be removed for lack of an answer, above the {max_auto_remove_percent}% limit",
            policy_removals as f64 * 100.0 / population as f64
        ));
    }
    if !roles_left_without_holder.is_empty() {
        reasons.push(format!(
            "these roles would be left with no eligible holder: {}",
            roles_left_without_holder.join(", ")
        ));
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

/// Progress of removing a revoked eligibility (`remediation.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemediationState {
    Pending,
    /// Held by the removal rail until an admin confirms it.
    AwaitingConfirmation,
    Removed,
    AlreadyGone,
    Failed,
}

string_enum!(RemediationState, "remediation state", {
    Pending => "pending",
    AwaitingConfirmation => "awaiting_confirmation",
    Removed => "removed",
    AlreadyGone => "already_gone",
    Failed => "failed",
});

/// What a remediation does (`remediation.kind`): remove the access (a revocation), or convert
/// standing access to eligible (an active assignment becomes an eligibility). Both are carried
/// out, retried, read back and evidenced the same way.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RemediationKind {
    #[default]
    Remove,
    Convert,
}

string_enum!(RemediationKind, "remediation kind", { Remove => "remove", Convert => "convert" });

/// Result of one attempt to remove an eligibility, or of the re-read that proves it gone
/// (`remediation_attempt.outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Removed,
    AlreadyGone,
    Error,
    VerifiedGone,
    StillPresent,
    /// Written before a removal is sent to a source outside the database, so a crash after
    /// the source acted and before attest recorded it is known to the retry.
    Started,
}

string_enum!(AttemptOutcome, "attempt outcome", {
    Removed => "removed",
    AlreadyGone => "already_gone",
    Error => "error",
    VerifiedGone => "verified_gone",
    StillPresent => "still_present",
    Started => "started",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_decide_before_policy_and_exclusions_are_kept() {
        use OnNoResponse::{Keep, Remove};
        let rev = Recommendation::Revoke;
        assert_eq!(
            outcome(Some(Verdict::Attest), false, rev, Remove),
            Outcome::Kept
        );
        assert_eq!(
            outcome(Some(Verdict::Revoke), true, rev, Keep),
            Outcome::Revoked
        );
        assert_eq!(outcome(None, true, rev, Remove), Outcome::KeptExcluded);
        assert_eq!(outcome(None, false, rev, Remove), Outcome::RemovedByPolicy);
        assert_eq!(outcome(None, false, rev, Keep), Outcome::KeptByPolicy);
        assert_eq!(
            outcome(None, false, rev, OnNoResponse::Recommendation),
            Outcome::RemovedByPolicy
        );
        assert_eq!(
            outcome(
                None,
                false,
                Recommendation::Keep,
                OnNoResponse::Recommendation
            ),
            Outcome::KeptByPolicy
        );
    }

    #[test]
    fn rails_stop_mass_and_last_holder_removal() {
        assert_eq!(removal_rail(100, 50, 50, &[]), None);
        assert!(removal_rail(100, 51, 50, &[])
            .unwrap()
            .contains("51 of 100"));
        assert!(removal_rail(100, 1, 50, &["Global Administrator".into()])
            .unwrap()
            .contains("Global Administrator"));
    }
}
