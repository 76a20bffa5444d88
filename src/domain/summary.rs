//! One campaign summary: every figure a person reads about a campaign (dashboard, campaign
//! pages, `campaign show`, the API, report.html, campaign.json, the outcome mail) comes from
//! [`CampaignSummary`], built here from the store's counts, so no two surfaces can disagree.
//!
//! It keeps apart what was *decided* (by a person, by the policy, excluded) from what *happened*
//! to the removals (pending, retrying, held for confirmation, removed, already gone, given up,
//! not carried out because the campaign was cancelled). A removal the policy decided is not
//! "removed" until the source confirms it.

use crate::domain::figures::share;
use crate::domain::lifecycle::CampaignState;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// What the store counts about one campaign: its items by decision and outcome, its removals by
/// state and its mail by state. Raw material for [`CampaignSummary`]; nothing shows it as is.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct CampaignCounts {
    pub items: i64,
    /// Eligibilities in scope a delta-only campaign did not ask about again: a person kept them
    /// in an earlier campaign and they have not changed since (`domain::delta`).
    pub carried_forward: i64,
    pub reviewers: i64,
    pub decided: i64,
    pub undecided: i64,
    pub attested: i64,
    pub revoked: i64,
    /// Standing access a person chose to convert to eligible.
    pub converted: i64,
    pub kept_by_policy: i64,
    pub removed_by_policy: i64,
    /// Items excluded from automatic removal (break-glass, listed exclusions), decided or not.
    pub excluded: i64,
    /// Excluded items nobody answered, settled at close as kept.
    pub kept_excluded: i64,
    pub flagged: i64,
    pub escalated: i64,
    pub recommended_revoke: i64,
    /// Items that are standing access (active assignments), decided or not.
    pub standing_access: i64,
    /// Removals not carried out yet (never tried, or due again after a failed attempt).
    pub removals_pending: i64,
    /// Of `removals_pending`, those whose last attempt failed and that will be tried again.
    pub removals_retrying: i64,
    pub removals_awaiting_confirmation: i64,
    pub removed: i64,
    pub already_gone: i64,
    /// Removals attest gave up on after its attempts.
    pub removals_failed: i64,
    /// Challenge periods (`domain::challenge`): revocations whose holder gave a reason, and of
    /// those, kept after all and upheld by the reviewer or an admin.
    pub challenges_made: i64,
    pub challenges_kept: i64,
    pub challenges_upheld: i64,
    /// Challenges still within their period and unanswered (their removals wait for it).
    pub challenges_open: i64,
    /// Conversions of standing access to eligible: not carried out yet, done (read back as no
    /// longer standing), given up.
    pub conversions_pending: i64,
    pub conversions_done: i64,
    pub conversions_failed: i64,
    /// The campaign's mail (invitations, reminders, escalations, outcome): not tried yet,
    /// failed and to be tried again, sent, given up (reported; re-queued by an admin or when
    /// the server answers again), no longer applying.
    pub mail_queued: i64,
    pub mail_retrying: i64,
    pub mail_sent: i64,
    pub mail_failed: i64,
    pub mail_skipped: i64,
    /// Reviewers with failed mail.
    pub mail_failed_reviewers: i64,
}

/// How a campaign stopped taking decisions, for the words that describe it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ending {
    pub due_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Who closed it (`scheduler` at the deadline, or the admin's account, token or CLI user).
    pub closed_by: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<String>,
}

/// Every figure of a campaign, as every surface shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct CampaignSummary {
    pub state: CampaignState,
    /// One sentence saying where the campaign stands, in words that match its state.
    pub status: String,
    /// Eligibilities frozen at launch, one item each.
    pub population: i64,
    /// Eligibilities in scope not asked about again (`review = "changes"`): a person kept them
    /// in an earlier campaign and they have not changed since; not part of `population`.
    pub carried_forward: i64,
    pub reviewers: i64,
    /// Decided by a person (a reviewer, or an admin for one).
    pub decided_by_people: i64,
    /// `decided_by_people` of `population`, as written everywhere ("0.4%", never "0%" of
    /// something that is not nothing).
    pub decided_share: String,
    pub kept_by_people: i64,
    pub revoked_by_people: i64,
    /// Standing access people chose to convert to eligible.
    pub converted_by_people: i64,
    /// Unanswered at close and settled by the campaign's policy (`kept_by_policy` +
    /// `revoked_by_policy`).
    pub settled_by_policy: i64,
    pub kept_by_policy: i64,
    /// Decided for removal by the policy (removed only once `removals_done` says so).
    pub revoked_by_policy: i64,
    /// Unanswered at close, excluded from automatic removal (break-glass): kept and flagged.
    pub excluded: i64,
    /// Nobody has decided yet (0 once the campaign is closed).
    pub undecided: i64,
    pub flagged: i64,
    /// Of `population`, standing access: active assignments held without activation, each a
    /// finding recommended to be converted to eligible.
    pub standing_access: i64,
    /// Items moved to another reviewer because theirs did not answer.
    pub escalated: i64,
    /// Removals decided, by people and by the policy: the sum of the six that follow.
    pub removals: i64,
    /// Not carried out yet: waiting for their turn.
    pub removals_pending: i64,
    /// Not carried out yet: an attempt failed and another will follow.
    pub removals_retrying: i64,
    /// Held back by a safety rail until an admin confirms them.
    pub removals_held: i64,
    /// Removed in the source and read back as gone.
    pub removals_done: i64,
    /// Gone before attest removed them (read back as gone).
    pub removals_already_gone: i64,
    /// attest gave up after its attempts: the eligibility may still be there.
    pub removals_given_up: i64,
    /// Never carried out because the campaign was cancelled.
    pub removals_cancelled: i64,
    /// Revocations their holder challenged in the challenge period (a reason given).
    pub challenged: i64,
    /// Challenged revocations the reviewer or an admin overturned: kept after all (counted in
    /// `kept_by_people`, no longer in the revocations).
    pub kept_after_challenge: i64,
    /// Challenged revocations the reviewer or an admin upheld.
    pub challenges_upheld: i64,
    /// Revocations still within their challenge period, unanswered: their removals wait.
    pub challenges_open: i64,
    /// Conversions to eligible not carried out yet (0 once a campaign is cancelled).
    pub conversions_pending: i64,
    /// Converted in the source and read back as no longer standing.
    pub conversions_done: i64,
    /// attest gave up after its attempts: the standing access may still be there.
    pub conversions_given_up: i64,
    pub mail_sent: i64,
    pub mail_queued: i64,
    pub mail_retrying: i64,
    pub mail_failed: i64,
    pub mail_skipped: i64,
    /// Reviewers whose mail failed (the alerts name them: who never got an invitation).
    pub mail_failed_reviewers: i64,
}

/// One figure with its name in JSON and its words for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    /// The field of [`CampaignSummary`] in JSON; also `data-figure` in HTML.
    pub key: &'static str,
    pub label: &'static str,
    pub value: i64,
}

impl CampaignSummary {
    pub fn new(state: CampaignState, n: &CampaignCounts, ending: &Ending) -> Self {
        // A cancelled campaign carries nothing out: what was waiting stays undone, and says so.
        let cancelled = state == CampaignState::Cancelled;
        let waiting = |n: i64| if cancelled { 0 } else { n };
        let pending = n.removals_pending - n.removals_retrying;
        let mut s = CampaignSummary {
            state,
            status: String::new(),
            population: n.items,
            carried_forward: n.carried_forward,
            reviewers: n.reviewers,
            decided_by_people: n.decided,
            decided_share: share(n.decided, n.items),
            kept_by_people: n.attested,
            revoked_by_people: n.revoked,
            converted_by_people: n.converted,
            settled_by_policy: n.kept_by_policy + n.removed_by_policy,
            kept_by_policy: n.kept_by_policy,
            revoked_by_policy: n.removed_by_policy,
            excluded: n.kept_excluded,
            undecided: n.undecided,
            flagged: n.flagged,
            standing_access: n.standing_access,
            escalated: n.escalated,
            removals: n.removals_pending
                + n.removals_awaiting_confirmation
                + n.removed
                + n.already_gone
                + n.removals_failed,
            removals_pending: waiting(pending),
            removals_retrying: waiting(n.removals_retrying),
            removals_held: waiting(n.removals_awaiting_confirmation),
            removals_done: n.removed,
            removals_already_gone: n.already_gone,
            removals_given_up: n.removals_failed,
            removals_cancelled: if cancelled {
                n.removals_pending + n.removals_awaiting_confirmation
            } else {
                0
            },
            challenged: n.challenges_made,
            kept_after_challenge: n.challenges_kept,
            challenges_upheld: n.challenges_upheld,
            challenges_open: waiting(n.challenges_open),
            conversions_pending: waiting(n.conversions_pending),
            conversions_done: n.conversions_done,
            conversions_given_up: n.conversions_failed,
            mail_sent: n.mail_sent,
            mail_queued: n.mail_queued,
            mail_retrying: n.mail_retrying,
            mail_failed: n.mail_failed,
            mail_skipped: n.mail_skipped,
            mail_failed_reviewers: n.mail_failed_reviewers,
        };
        s.status = status(&s, ending);
        s
    }

    /// Removals not carried out yet and still to be (pending, retrying, held).
    pub fn removals_outstanding(&self) -> i64 {
        self.removals_pending + self.removals_retrying + self.removals_held
    }

    /// Every figure as a line of text, `(label, value)`, the decided share beside its count
    /// ("2 (0.4%)"): what `campaign show` and the outcome mail print.
    pub fn lines(&self) -> Vec<(&'static str, String)> {
        self.figures()
            .into_iter()
            .map(|f| {
                let value = if f.key == "decided_by_people" {
                    format!("{} ({})", f.value, self.decided_share)
                } else {
                    f.value.to_string()
                };
                (f.label, value)
            })
            .collect()
    }

    /// Every figure in the order pages, the CLI, mails and reports list them.
    pub fn figures(&self) -> Vec<Figure> {
        let f = |key, label, value| Figure { key, label, value };
        vec![
            f("population", "Population", self.population),
            f(
                "carried_forward",
                "Carried forward unchanged",
                self.carried_forward,
            ),
            f("reviewers", "Reviewers", self.reviewers),
            f(
                "decided_by_people",
                "Decided by people",
                self.decided_by_people,
            ),
            f("kept_by_people", "Kept by people", self.kept_by_people),
            f(
                "revoked_by_people",
                "Revoked by people",
                self.revoked_by_people,
            ),
            f(
                "converted_by_people",
                "Converted to eligible by people",
                self.converted_by_people,
            ),
            f(
                "settled_by_policy",
                "Settled by policy",
                self.settled_by_policy,
            ),
            f("kept_by_policy", "Kept by policy", self.kept_by_policy),
            f(
                "revoked_by_policy",
                "Revoked by policy",
                self.revoked_by_policy,
            ),
            f("excluded", "Excluded and kept", self.excluded),
            f("undecided", "Undecided", self.undecided),
            f("flagged", "Flagged", self.flagged),
            f(
                "standing_access",
                "Standing access (active assignments)",
                self.standing_access,
            ),
            f("escalated", "Escalated", self.escalated),
            f("removals", "Removals decided", self.removals),
            f(
                "removals_pending",
                "Removals pending",
                self.removals_pending,
            ),
            f(
                "removals_retrying",
                "Removals retrying",
                self.removals_retrying,
            ),
            f(
                "removals_held",
                "Removals held for confirmation",
                self.removals_held,
            ),
            f("removals_done", "Removed", self.removals_done),
            f(
                "removals_already_gone",
                "Already gone",
                self.removals_already_gone,
            ),
            f(
                "removals_given_up",
                "Removals given up",
                self.removals_given_up,
            ),
            f(
                "removals_cancelled",
                "Removals cancelled",
                self.removals_cancelled,
            ),
            f("challenged", "Challenged by the holder", self.challenged),
            f(
                "kept_after_challenge",
                "Kept after challenge",
                self.kept_after_challenge,
            ),
            f(
                "challenges_upheld",
                "Challenges upheld",
                self.challenges_upheld,
            ),
            f(
                "conversions_pending",
                "Conversions pending",
                self.conversions_pending,
            ),
            f("conversions_done", "Converted", self.conversions_done),
            f(
                "conversions_given_up",
                "Conversions given up",
                self.conversions_given_up,
            ),
            f("mail_sent", "Mail sent", self.mail_sent),
            f("mail_queued", "Mail queued", self.mail_queued),
            f("mail_retrying", "Mail retrying", self.mail_retrying),
            f("mail_failed", "Mail failed", self.mail_failed),
            f("mail_skipped", "Mail skipped", self.mail_skipped),
        ]
    }
}

fn at(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "an unrecorded time".into())
}

/// "closed early by admin@x at …" or "closed at its deadline (…)".
fn closing(e: &Ending) -> String {
    let early = matches!((e.closed_at, e.due_at), (Some(c), Some(d)) if c < d);
    match (early, e.closed_by.as_deref()) {
        (true, Some(who)) => format!("closed early by {who} at {}", at(e.closed_at)),
        (true, None) => format!("closed early at {}", at(e.closed_at)),
        (false, _) => format!("closed at its deadline ({})", at(e.due_at.or(e.closed_at))),
    }
}

fn removals_words(s: &CampaignSummary) -> String {
    let mut parts = Vec::new();
    let waiting = s.removals_pending + s.removals_retrying;
    if waiting > 0 {
        parts.push(format!("{waiting} under way"));
    }
    if s.removals_held > 0 {
        parts.push(format!(
            "{} held for an admin's confirmation",
            s.removals_held
        ));
    }
    if s.removals_given_up > 0 {
        parts.push(format!("{} given up", s.removals_given_up));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("; removals: {}", parts.join(", "))
    }
}

/// The sentence for the state, which never says "open" once closed or "to confirm" once done.
fn status(s: &CampaignSummary, e: &Ending) -> String {
    use crate::domain::figures::count;
    use CampaignState::*;
    match s.state {
        Scheduled => "Scheduled: not launched yet.".into(),
        Launching => "Launching: the population is being frozen and reviewers resolved.".into(),
        Active => format!(
            "Open until {}: {} of {} decided ({}), {} to go.",
            at(e.due_at),
            s.decided_by_people,
            count(s.population, "item", "items"),
            s.decided_share,
            s.undecided
        ),
        Closing => format!(
            "Closing ({}): unanswered items are being settled.",
            closing(e)
        ),
        Remediating => {
            let first = closing(e);
            let mut t = format!(
                "{}{}{}.",
                first[..1].to_uppercase(),
                &first[1..],
                removals_words(s)
            );
            if s.removals_held > 0 {
                t.push_str(" Nothing held is removed until an admin confirms.");
            }
            if s.challenges_open > 0 {
                t.push_str(&format!(
                    " {} in the challenge period: not removed before it ends.",
                    count(s.challenges_open, "revocation is", "revocations are")
                ));
            }
            t
        }
        Completed => format!(
            "Completed at {} ({}); {} removed, {} already gone{}.",
            at(e.completed_at),
            closing(e),
            s.removals_done,
            s.removals_already_gone,
            if s.removals_given_up > 0 {
                format!(", {} given up", s.removals_given_up)
            } else {
                String::new()
            }
        ),
        Cancelled => format!(
            "Cancelled{} at {}: no more decisions{}.",
            e.cancelled_by
                .as_deref()
                .map(|w| format!(" by {w}"))
                .unwrap_or_default(),
            at(e.cancelled_at),
            if s.removals_cancelled > 0 {
                format!(
                    "; {} not carried out",
                    count(s.removals_cancelled, "removal", "removals")
                )
            } else {
                ", nothing more removed".into()
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(day: u32) -> Option<DateTime<Utc>> {
        Some(Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0).unwrap())
    }

    fn closed_with_held() -> CampaignCounts {
        CampaignCounts {
            items: 545,
            reviewers: 20,
            decided: 4,
            attested: 3,
            revoked: 1,
            kept_by_policy: 125,
            removed_by_policy: 416,
            removals_pending: 0,
            removals_awaiting_confirmation: 416,
            removed: 1,
            ..Default::default()
        }
    }

    #[test]
    fn held_removals_are_not_called_removed() {
        let e = Ending {
            due_at: t(30),
            closed_at: t(27),
            closed_by: Some("account:admin@attest.demo".into()),
            ..Default::default()
        };
        let s = CampaignSummary::new(CampaignState::Remediating, &closed_with_held(), &e);
        assert_eq!(s.revoked_by_policy, 416);
        assert_eq!(s.removals_held, 416);
        assert_eq!(s.removals_done, 1);
        assert_eq!(s.removals, 417);
        assert!(
            s.status
                .starts_with("Closed early by account:admin@attest.demo at 2026-11-27 12:00 UTC"),
            "{}",
            s.status
        );
        assert!(s.status.contains("416 held"), "{}", s.status);
        assert!(!s.status.contains("open"), "{}", s.status);
        assert_eq!(
            s.population,
            s.decided_by_people + s.settled_by_policy + s.excluded + s.undecided
        );
    }

    #[test]
    fn a_deadline_close_says_so_and_completion_has_nothing_to_confirm() {
        let e = Ending {
            due_at: t(20),
            closed_at: t(20),
            closed_by: Some("scheduler".into()),
            completed_at: t(21),
            ..Default::default()
        };
        let mut n = closed_with_held();
        n.removals_awaiting_confirmation = 0;
        n.removed = 417;
        let s = CampaignSummary::new(CampaignState::Completed, &n, &e);
        assert_eq!(
            s.status,
            "Completed at 2026-11-21 12:00 UTC (closed at its deadline (2026-11-20 12:00 UTC)); 417 removed, 0 already gone."
        );
        assert_eq!(s.removals_outstanding(), 0);
    }

    #[test]
    fn an_open_campaign_shows_a_share_that_is_not_nothing() {
        let n = CampaignCounts {
            items: 545,
            decided: 2,
            undecided: 543,
            ..Default::default()
        };
        let s = CampaignSummary::new(CampaignState::Active, &n, &Ending::default());
        assert_eq!(s.decided_share, "0.4%");
        assert!(
            s.status.contains("2 of 545 items decided (0.4%)"),
            "{}",
            s.status
        );
    }

    #[test]
    fn a_cancelled_campaign_has_no_removals_waiting() {
        let mut n = closed_with_held();
        n.removals_pending = 5;
        n.removals_retrying = 2;
        let e = Ending {
            cancelled_at: t(28),
            cancelled_by: Some("cli:ops".into()),
            ..Default::default()
        };
        let s = CampaignSummary::new(CampaignState::Cancelled, &n, &e);
        assert_eq!(s.removals_outstanding(), 0);
        assert_eq!(s.removals_cancelled, 421);
        assert_eq!(
            s.status,
            "Cancelled by cli:ops at 2026-11-28 12:00 UTC: no more decisions; 421 removals not carried out."
        );
    }

    #[test]
    fn every_figure_is_a_field_of_the_json() {
        let s = CampaignSummary::new(
            CampaignState::Active,
            &closed_with_held(),
            &Ending::default(),
        );
        let json = serde_json::to_value(&s).unwrap();
        for f in s.figures() {
            assert_eq!(json[f.key], f.value, "{}", f.key);
        }
    }
}
