//! Delta-only campaigns, against review fatigue: a definition with `review = "changes"` asks its
//! reviewers only about what changed since its last completed campaign (new eligibility, new
//! holders, a changed scope or start) and carries the earlier decisions forward for the rest.
//!
//! Only a person's "keep" is carried. What the policy settled (nobody answered) is asked again:
//! carrying it would let an eligibility go unreviewed forever. A carried decision also ages:
//! one older than `carry_max_days` is asked again, so every eligibility is looked at by a person
//! at least that often (a yearly full review by default, what most audit regimes ask).

use super::closing::{MadeBy, Outcome};
use super::eligibility::SourceEligibility;
use chrono::{DateTime, Duration, Utc};

/// What a campaign asks its reviewers about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewMode {
    /// Every eligibility in scope (the default).
    #[default]
    All,
    /// Only what changed since the definition's last completed campaign; people's earlier
    /// "keep" decisions are carried forward for the rest.
    Changes,
}

string_enum!(ReviewMode, "review", { All => "all", Changes => "changes" });

impl ReviewMode {
    /// Whether this is the default (left out of stored definitions, so those stored before
    /// delta-only campaigns existed read and compare as they were).
    pub fn is_all(&self) -> bool {
        *self == ReviewMode::All
    }
}

/// How long a carried decision lasts unless `carry_max_days` says otherwise.
pub const DEFAULT_CARRY_MAX_DAYS: u32 = 365;
/// The most `carry_max_days` may be.
pub const CARRY_MAX_DAYS_LIMIT: u32 = 3650;

/// An eligibility's decision in the baseline campaign: the item where it was decided (the
/// baseline's own item, or the item a decision carried into the baseline came from) and what
/// that item froze about the eligibility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierDecision {
    pub eligibility_id: i64,
    pub origin_item_id: i64,
    pub principal_id: i64,
    pub role_id: i64,
    pub scope: String,
    pub since: Option<DateTime<Utc>>,
    pub outcome: Option<Outcome>,
    pub made_by: Option<MadeBy>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// Whether `earlier` is carried forward for `now`'s eligibility `current` instead of asking a
/// reviewer again: a person kept it, no longer ago than `max_days`, and the eligibility is the
/// same (holder, role, scope and start).
pub fn carries(
    earlier: &EarlierDecision,
    current: &SourceEligibility,
    max_days: u32,
    now: DateTime<Utc>,
) -> bool {
    let kept_by_a_person =
        earlier.outcome == Some(Outcome::Kept) && earlier.made_by == Some(MadeBy::Human);
    let fresh = earlier
        .decided_at
        .is_some_and(|at| at >= now - Duration::days(i64::from(max_days)));
    let unchanged = earlier.eligibility_id == current.eligibility_id
        && earlier.principal_id == current.principal_id
        && earlier.role_id == current.role_id
        && earlier.scope == current.scope
        && earlier.since == current.since;
    // Standing access is asked about every time: carrying a "keep" would let it stand unseen.
    let eligible = current.assignment == super::eligibility::Assignment::Eligible;
    kept_by_a_person && fresh && unchanged && eligible
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::directory::{PrincipalKind, Risk};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("a time")
    }

    fn current() -> SourceEligibility {
        SourceEligibility {
            eligibility_id: 7,
            principal_id: 1,
            principal_external_id: "a1".into(),
            principal_name: "Anna".into(),
            principal_email: None,
            principal_kind: PrincipalKind::User,
            role_id: 2,
            role_name: "Global Administrator".into(),
            role_risk: Risk::High,
            role_owner_id: None,
            scope: "/".into(),
            since: Some(at("2026-01-01T00:00:00Z")),
            last_activated_at: None,
            assignment: Default::default(),
        }
    }

    fn kept() -> EarlierDecision {
        EarlierDecision {
            eligibility_id: 7,
            origin_item_id: 70,
            principal_id: 1,
            role_id: 2,
            scope: "/".into(),
            since: Some(at("2026-01-01T00:00:00Z")),
            outcome: Some(Outcome::Kept),
            made_by: Some(MadeBy::Human),
            decided_at: Some(at("2026-04-10T00:00:00Z")),
        }
    }

    #[test]
    fn a_persons_recent_keep_of_the_same_eligibility_is_carried() {
        let now = at("2026-07-05T00:00:00Z");
        assert!(carries(&kept(), &current(), 365, now));
    }

    #[test]
    fn what_the_policy_settled_or_a_revoke_is_asked_again() {
        let now = at("2026-07-05T00:00:00Z");
        for (outcome, made_by) in [
            (Some(Outcome::KeptByPolicy), Some(MadeBy::Policy)),
            (Some(Outcome::KeptExcluded), Some(MadeBy::Policy)),
            (Some(Outcome::Revoked), Some(MadeBy::Human)),
            (Some(Outcome::RemovedByPolicy), Some(MadeBy::Policy)),
            (None, None),
        ] {
            let earlier = EarlierDecision {
                outcome,
                made_by,
                ..kept()
            };
            assert!(!carries(&earlier, &current(), 365, now), "{outcome:?}");
        }
    }

    #[test]
    fn a_decision_older_than_carry_max_days_is_asked_again() {
        let decided = at("2026-04-10T00:00:00Z");
        assert!(carries(
            &kept(),
            &current(),
            30,
            decided + Duration::days(30)
        ));
        assert!(!carries(
            &kept(),
            &current(),
            30,
            decided + Duration::days(30) + Duration::seconds(1)
        ));
    }

    #[test]
    fn a_changed_scope_holder_role_or_start_is_asked_again() {
        let now = at("2026-07-05T00:00:00Z");
        let changed = [
            SourceEligibility {
                scope: "/subscriptions/1".into(),
                ..current()
            },
            SourceEligibility {
                principal_id: 9,
                ..current()
            },
            SourceEligibility {
                role_id: 3,
                ..current()
            },
            SourceEligibility {
                since: Some(at("2026-06-01T00:00:00Z")),
                ..current()
            },
            SourceEligibility {
                eligibility_id: 8,
                ..current()
            },
        ];
        for c in changed {
            assert!(!carries(&kept(), &c, 365, now), "{c:?}");
        }
    }
}
