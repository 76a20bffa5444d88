//! Multi-stage reviews (Entra's up to three stages, midPoint's stages and outcome strategies):
//! a definition's top-level `reviewers`, `duration_days` and `require_justification` are its
//! first stage; `[[later_stages]]` lists the stages after it, each with its own reviewers,
//! duration and justification policy. Each stage's reviewers see the earlier stages' decisions.
//! When the last stage ends, the definition's `stage_outcome` rule turns the stages' decisions
//! into the item's one verdict; what no stage settles goes to the `on_no_response` policy.

use super::closing::Verdict;
use super::limits::{check_text, Lines, ID_MAX_CHARS, WORD_MAX_CHARS};
use super::reviewers::Strategy;
use super::spec_error::{parse_all, problem, SpecError};
use serde::{Deserialize, Serialize};

/// The most stages after the first a definition may list.
pub const LATER_STAGES_MAX: usize = 4;

/// How the stages' decisions make the item's verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeRule {
    /// Any stage's revocation removes; an item revoked in a stage goes no further. Kept when
    /// some stage attested and none revoked.
    #[default]
    AnyRevoke,
    /// Kept only when every stage attested; a revocation removes at once; an item some stage
    /// left unanswered goes to the `on_no_response` policy.
    AllMustAttest,
    /// Every item goes through every stage and the last stage that answered decides.
    LastStageWins,
}

string_enum!(OutcomeRule, "stage outcome rule", {
    AnyRevoke => "any_revoke",
    AllMustAttest => "all_must_attest",
    LastStageWins => "last_stage_wins",
});

/// One stage: who reviews, for how long, and which verdicts need a justification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageSpec {
    pub reviewers: Strategy,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub named_reviewers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_reviewer: Option<String>,
    pub duration_days: u32,
    pub require_justification: Vec<Verdict>,
}

/// A `[[later_stages]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStage {
    reviewers: String,
    #[serde(default)]
    named_reviewers: Vec<String>,
    fallback_reviewer: Option<String>,
    duration_days: i64,
    /// Absent: the first stage's list.
    require_justification: Option<Vec<String>>,
}

/// The first stage's keys as the later stages are checked against them.
pub(super) struct FirstStage<'a> {
    pub reminders_days_before: &'a [i64],
    pub escalate_after_days: Option<i64>,
    pub require_justification: &'a [Verdict],
}

/// Checks and parses the later stages and the outcome rule; each problem names its stage and
/// key ("stage 2: reviewers").
pub(super) fn parse_stages(
    raw: &[RawStage],
    outcome: Option<&str>,
    first: &FirstStage<'_>,
    errors: &mut Vec<SpecError>,
) -> (Vec<StageSpec>, OutcomeRule) {
    if raw.len() > LATER_STAGES_MAX {
        errors.push(problem(
            "later_stages",
            format!("lists at most {LATER_STAGES_MAX} stages after the first"),
        ));
        return (Vec::new(), OutcomeRule::default());
    }
    let rule = match outcome {
        None => OutcomeRule::default(),
        Some(_) if raw.is_empty() => {
            errors.push(problem(
                "stage_outcome",
                "applies only with [[later_stages]]: a single-stage review has one decision",
            ));
            OutcomeRule::default()
        }
        Some(word) => match check_text(word, WORD_MAX_CHARS, Lines::Single) {
            Err(reason) => {
                errors.push(problem("stage_outcome", reason));
                OutcomeRule::default()
            }
            Ok(()) => word.parse().unwrap_or_else(|e| {
                errors.push(problem("stage_outcome", e));
                OutcomeRule::default()
            }),
        },
    };
    let mut stages = Vec::with_capacity(raw.len());
    for (index, stage) in raw.iter().enumerate() {
        let number = index + 2;
        let key = |k: &str| format!("stage {number}: {k}");
        let before = errors.len();
        let texts = [
            ("reviewers", vec![stage.reviewers.as_str()], WORD_MAX_CHARS),
            (
                "named_reviewers",
                stage.named_reviewers.iter().map(String::as_str).collect(),
                ID_MAX_CHARS,
            ),
            (
                "fallback_reviewer",
                stage.fallback_reviewer.iter().map(String::as_str).collect(),
                ID_MAX_CHARS,
            ),
        ];
        for (name, values, max) in texts {
            if let Some(reason) = values
                .iter()
                .find_map(|v| check_text(v, max, Lines::Single).err())
            {
                errors.push(problem(&key(name), reason));
            }
        }
        if errors.len() > before {
            continue;
        }
        let days = stage.duration_days;
        if !(1..=366).contains(&days) {
            errors.push(problem(&key("duration_days"), "must be between 1 and 366"));
        } else if first.reminders_days_before.iter().any(|&d| d >= days) {
            errors.push(problem(
                &key("duration_days"),
                "must be longer than every reminders_days_before (reminders count back from each stage's deadline)",
            ));
        } else if first.escalate_after_days.is_some_and(|d| d >= days) {
            errors.push(problem(
                &key("duration_days"),
                "must be longer than escalate_after_days (escalation counts from each stage's start)",
            ));
        }
        let reviewers = stage
            .reviewers
            .parse::<Strategy>()
            .map_err(|e| errors.push(problem(&key("reviewers"), e)))
            .ok();
        if reviewers == Some(Strategy::Named) && stage.named_reviewers.is_empty() {
            errors.push(problem(
                &key("named_reviewers"),
                "reviewers = \"named\" needs at least one named reviewer",
            ));
        }
        let require_justification = match &stage.require_justification {
            Some(words) => parse_all(words, &key("require_justification"), errors),
            None => first.require_justification.to_vec(),
        };
        if let Some(reviewers) = reviewers {
            stages.push(StageSpec {
                reviewers,
                named_reviewers: stage.named_reviewers.clone(),
                fallback_reviewer: stage.fallback_reviewer.clone(),
                duration_days: days.clamp(1, 366) as u32,
                require_justification,
            });
        }
    }
    (stages, rule)
}

/// Whether an item goes on to the next stage after this stage's verdict (`None`: unanswered).
/// A revocation (or conversion) settles it under `any_revoke` and `all_must_attest`.
pub fn continues(rule: OutcomeRule, verdict: Option<Verdict>) -> bool {
    match rule {
        OutcomeRule::LastStageWins => true,
        OutcomeRule::AnyRevoke | OutcomeRule::AllMustAttest => {
            matches!(verdict, None | Some(Verdict::Attest))
        }
    }
}

/// A person's decision in force in one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageVote {
    pub stage: i32,
    pub verdict: Verdict,
    pub decision_id: i64,
}

/// The decision that settles an item under `rule` when the campaign closes after running
/// `stages` stages (all of them, or fewer when an admin closed it early), from the people's
/// decisions in force, one per stage at most; `None`: no stage settles it and the
/// `on_no_response` policy does.
pub fn settling_decision(rule: OutcomeRule, stages: i32, votes: &[StageVote]) -> Option<i64> {
    let mut votes = votes.to_vec();
    votes.sort_by_key(|v| v.stage);
    let changes = votes.iter().find(|v| v.verdict != Verdict::Attest);
    match rule {
        OutcomeRule::AnyRevoke => changes.or_else(|| votes.last()).map(|v| v.decision_id),
        OutcomeRule::AllMustAttest => {
            if let Some(change) = changes {
                return Some(change.decision_id);
            }
            let every_stage = (1..=stages).all(|s| votes.iter().any(|v| v.stage == s));
            every_stage
                .then(|| votes.last().map(|v| v.decision_id))
                .flatten()
        }
        OutcomeRule::LastStageWins => votes.last().map(|v| v.decision_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(stage: i32, verdict: Verdict) -> StageVote {
        StageVote {
            stage,
            verdict,
            decision_id: i64::from(stage) * 10 + if verdict == Verdict::Attest { 1 } else { 2 },
        }
    }

    #[test]
    fn any_revoke_removes_on_one_revocation_and_keeps_on_one_attestation() {
        use Verdict::*;
        let rule = OutcomeRule::AnyRevoke;
        assert_eq!(
            settling_decision(rule, 2, &[vote(1, Attest), vote(2, Revoke)]),
            Some(22)
        );
        assert_eq!(settling_decision(rule, 2, &[vote(1, Attest)]), Some(11));
        assert_eq!(settling_decision(rule, 2, &[vote(2, Attest)]), Some(21));
        assert_eq!(settling_decision(rule, 2, &[]), None);
        assert!(!continues(rule, Some(Revoke)));
        assert!(continues(rule, Some(Attest)));
        assert!(continues(rule, None));
    }

    #[test]
    fn all_must_attest_leaves_a_silent_stage_to_the_policy() {
        use Verdict::*;
        let rule = OutcomeRule::AllMustAttest;
        assert_eq!(
            settling_decision(rule, 2, &[vote(1, Attest), vote(2, Attest)]),
            Some(21)
        );
        assert_eq!(settling_decision(rule, 2, &[vote(1, Attest)]), None);
        assert_eq!(settling_decision(rule, 2, &[vote(2, Attest)]), None);
        assert_eq!(settling_decision(rule, 2, &[vote(1, Revoke)]), Some(12));
    }

    #[test]
    fn the_last_stage_that_answered_wins() {
        use Verdict::*;
        let rule = OutcomeRule::LastStageWins;
        assert_eq!(
            settling_decision(rule, 2, &[vote(2, Attest), vote(1, Revoke)]),
            Some(21)
        );
        assert_eq!(settling_decision(rule, 3, &[vote(1, Revoke)]), Some(12));
        assert!(continues(rule, Some(Revoke)));
    }
}
