//! Re-runs for non-responders (midPoint calls them reiterations): a campaign re-opens only its
//! unanswered items for a few more days, with fresh links, before its policy settles them. What
//! was answered before the re-run is settled: a re-run gives the silent a second chance, it does
//! not re-open the answered.

use super::lifecycle::CampaignState;
use chrono::{DateTime, Duration, Utc};

/// The longest a re-run may last, in days.
pub const RERUN_MAX_DAYS: u32 = 90;
/// The most re-runs one campaign may have: its rounds are 1 (the launch) to `1 + MAX_RERUNS`.
pub const MAX_RERUNS: i32 = 3;

/// What a re-run will do, once the engine has checked it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RerunPlan {
    /// The round it opens (2 for the first re-run).
    pub round: i32,
    pub days: u32,
    pub due_at: DateTime<Utc>,
}

/// The campaign as a re-run sees it.
#[derive(Debug, Clone, Copy)]
pub struct RerunFacts {
    pub id: i64,
    pub state: CampaignState,
    pub round: i32,
    pub due_at: Option<DateTime<Utc>>,
    /// Items with no answer yet (neither a person's nor the policy's).
    pub unanswered: u64,
}

/// Whether a re-run of `days` may open now, and what it opens; the reason it may not, in words
/// for the admin who asked.
pub fn plan_rerun(facts: &RerunFacts, days: u32, now: DateTime<Utc>) -> Result<RerunPlan, String> {
    let id = facts.id;
    if facts.state != CampaignState::Active {
        return Err(format!(
            "campaign #{id} is {}: only an active campaign's unanswered items can be re-opened",
            facts.state
        ));
    }
    if !(1..=RERUN_MAX_DAYS).contains(&days) {
        return Err(format!(
            "days must be between 1 and {RERUN_MAX_DAYS} (got {days})"
        ));
    }
    if facts.round > MAX_RERUNS {
        return Err(format!(
            "campaign #{id} was re-run {MAX_RERUNS} times already, the most a campaign may be"
        ));
    }
    if facts.unanswered == 0 {
        return Err(format!(
            "campaign #{id} has no unanswered items: there is nothing to re-open"
        ));
    }
    let due_at = now + Duration::days(i64::from(days));
    if let Some(due) = facts.due_at {
        if due_at <= due {
            return Err(format!(
                "a re-run of {days} days would end {}, not after the current deadline {}; choose more days",
                due_at.format("%Y-%m-%d %H:%M UTC"),
                due.format("%Y-%m-%d %H:%M UTC")
            ));
        }
    }
    Ok(RerunPlan {
        round: facts.round + 1,
        days,
        due_at,
    })
}

/// The re-run a definition's `rerun_unanswered_days` asks for at the deadline: once, in the
/// first round, when something is still unanswered.
pub fn automatic_rerun(
    rerun_unanswered_days: Option<u32>,
    round: i32,
    unanswered: u64,
) -> Option<u32> {
    rerun_unanswered_days.filter(|_| round == 1 && unanswered > 0)
}

/// Whether an item's answer was given before the open round started, and so is settled.
pub fn settled_before_round(
    decided_at: Option<DateTime<Utc>>,
    round_started_at: Option<DateTime<Utc>>,
) -> bool {
    matches!((decided_at, round_started_at), (Some(decided), Some(started)) if decided < started)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn facts() -> RerunFacts {
        RerunFacts {
            id: 7,
            state: CampaignState::Active,
            round: 1,
            due_at: Some(at("2027-01-15T09:00:00Z")),
            unanswered: 4,
        }
    }

    #[test]
    fn a_re_run_opens_the_next_round_with_a_later_deadline() {
        let now = at("2027-01-14T09:00:00Z");
        let plan = plan_rerun(&facts(), 7, now).unwrap();
        assert_eq!(plan.round, 2);
        assert_eq!(plan.due_at, at("2027-01-21T09:00:00Z"));
    }

    #[test]
    fn a_re_run_is_refused_with_the_reason() {
        let now = at("2027-01-14T09:00:00Z");
        let refused = |f: RerunFacts, days: u32| plan_rerun(&f, days, now).unwrap_err();
        assert!(refused(
            RerunFacts {
                state: CampaignState::Remediating,
                ..facts()
            },
            7
        )
        .contains("only an active campaign"));
        assert!(refused(facts(), 0).contains("between 1 and 90"));
        assert!(refused(facts(), 91).contains("between 1 and 90"));
        assert!(refused(
            RerunFacts {
                unanswered: 0,
                ..facts()
            },
            7
        )
        .contains("nothing to re-open"));
        assert!(refused(
            RerunFacts {
                round: 1 + MAX_RERUNS,
                ..facts()
            },
            7
        )
        .contains("re-run 3 times already"));
        // Ending before the deadline it replaces would shorten the review, not extend it.
        let early = plan_rerun(&facts(), 1, at("2027-01-10T09:00:00Z")).unwrap_err();
        assert!(early.contains("not after the current deadline"), "{early}");
    }

    #[test]
    fn the_definition_re_runs_once_and_only_with_something_unanswered() {
        assert_eq!(automatic_rerun(Some(5), 1, 3), Some(5));
        assert_eq!(automatic_rerun(Some(5), 2, 3), None);
        assert_eq!(automatic_rerun(Some(5), 1, 0), None);
        assert_eq!(automatic_rerun(None, 1, 3), None);
    }

    #[test]
    fn answers_before_the_round_are_settled_and_later_ones_are_not() {
        let started = Some(at("2027-01-15T09:00:00Z"));
        assert!(settled_before_round(
            Some(at("2027-01-14T09:00:00Z")),
            started
        ));
        assert!(!settled_before_round(
            Some(at("2027-01-16T09:00:00Z")),
            started
        ));
        assert!(!settled_before_round(None, started));
        assert!(!settled_before_round(
            Some(at("2027-01-14T09:00:00Z")),
            None
        ));
    }
}
