//! A campaign's page: progress per reviewer, its figures, the items with filters and paging,
//! and the notice after an action.

use super::dashboard::percent;
use super::form::ItemQuery;
use crate::domain::mail_state::ReviewerMail;
use crate::domain::summary::{CampaignSummary, Figure};
use crate::engine::accounts::Operator;
use crate::store::campaigns::{CampaignRow, RoundRow};
use crate::store::challenges::ChallengeView;
use crate::store::evidence::ReviewerSummary;
use crate::store::items::{ItemFilter, ItemView};
use crate::web::console::{datetime, page_number, query, render, Chrome, Pager};
use crate::web::error::console_failure;
use crate::web::AppState;
use askama::Template;
use axum::response::Response;
use std::collections::HashMap;

/// A reviewer's line on the campaign page.
struct ReviewerLine {
    r: ReviewerSummary,
    percent: String,
    /// Undecided items, no sign-off, and the campaign takes decisions: an invitation may be resent.
    open: bool,
    /// Where their mail stands (none only if the reviewer left between the two reads).
    mail: Option<ReviewerMail>,
}

/// One item row, with empty strings for what is not there.
struct ItemLine {
    id: i64,
    holder_id: String,
    holder_name: String,
    role: String,
    risk: String,
    scope: String,
    reviewer: String,
    reviewer_name: String,
    recommendation: String,
    verdict: String,
    made_by: String,
    justification: String,
    decided_at: String,
    outcome: String,
    flagged: bool,
    flag_reason: String,
    /// Standing access (an active assignment).
    standing: bool,
    removal: String,
    /// The last review of the same eligibility, e.g. "attest by m1 (reviewer-flow 2027-Q1),
    /// 2027-01-06 10:00 UTC"; empty when the item is new since the last review.
    previous: String,
    /// The holder's attributes the definition names, e.g. "department: Ops, title: Engineer".
    context: String,
}

impl From<ItemView> for ItemLine {
    fn from(i: ItemView) -> Self {
        Self {
            id: i.id,
            holder_id: i.holder_id,
            holder_name: i.holder_name,
            role: i.role,
            risk: i.risk,
            scope: i.scope,
            reviewer: i.reviewer_id.unwrap_or_default(),
            reviewer_name: i.reviewer_name.unwrap_or_default(),
            recommendation: i.recommendation,
            verdict: i.verdict.unwrap_or_default(),
            made_by: i.decided_by.or(i.made_by).unwrap_or_default(),
            justification: i.justification.unwrap_or_default(),
            decided_at: datetime(i.decided_at),
            outcome: i.outcome.unwrap_or_default(),
            flagged: i.flagged,
            flag_reason: i.flag_reason.unwrap_or_default(),
            standing: i.assignment == crate::domain::eligibility::Assignment::Active.as_str(),
            removal: i.removal_state.unwrap_or_default(),
            context: i
                .holder_context
                .iter()
                .map(|a| format!("{}: {}", a.name, a.value))
                .collect::<Vec<_>>()
                .join(", "),
            previous: i
                .previous
                .map(|p| {
                    format!(
                        "{} by {} ({}), {}",
                        p.verdict,
                        p.decided_by,
                        p.campaign,
                        datetime(p.decided_at)
                    )
                })
                .unwrap_or_default(),
        }
    }
}

/// One re-run, as the campaign page lists it.
struct RoundLine {
    round: i32,
    started: String,
    started_by: String,
    due_before: String,
    due: String,
    items: i64,
    reviewers: i64,
}

impl From<&RoundRow> for RoundLine {
    fn from(r: &RoundRow) -> Self {
        Self {
            round: r.round,
            started: datetime(Some(r.started_at)),
            started_by: r.started_by.clone(),
            due_before: datetime(r.due_before),
            due: datetime(Some(r.due_at)),
            items: r.items_reopened,
            reviewers: r.reviewers_reopened,
        }
    }
}

/// One stage of a multi-stage campaign, as the page lists it.
struct StageLine {
    stage: i32,
    reviewers: &'static str,
    started: String,
    started_by: String,
    due: String,
    items: i64,
    attested: i64,
    revoked: i64,
    converted: i64,
    unanswered: i64,
    open: bool,
}

impl From<&crate::store::campaigns::StageRow> for StageLine {
    fn from(s: &crate::store::campaigns::StageRow) -> Self {
        Self {
            stage: s.stage,
            reviewers: s.reviewers.as_str(),
            started: datetime(s.started_at),
            started_by: s.started_by.clone(),
            due: datetime(s.due_at),
            items: s.items,
            attested: s.attested,
            revoked: s.revoked,
            converted: s.converted,
            unanswered: s.unanswered,
            open: s.open,
        }
    }
}

/// One outbound event about the campaign, as the page lists it.
struct WebhookLine {
    event: &'static str,
    endpoint: String,
    state: &'static str,
    receipt: String,
    delivered: String,
    error: String,
}

impl From<&crate::store::webhooks::CampaignDelivery> for WebhookLine {
    fn from(d: &crate::store::webhooks::CampaignDelivery) -> Self {
        Self {
            event: d.event.as_str(),
            endpoint: d.endpoint.clone(),
            state: d.state.as_str(),
            receipt: d.receipt.clone().unwrap_or_default(),
            delivered: datetime(d.delivered_at),
            error: d.last_error.clone().unwrap_or_default(),
        }
    }
}

/// The notice after an action. Only known codes are shown, so a crafted link cannot put words
/// on the page.
fn notice(q: &ItemQuery, reviewers: &[ReviewerLine]) -> Option<String> {
    match q.done.as_deref()? {
        "launched" => Some("Launched: one invitation per reviewer is queued.".into()),
        "closed" => {
            Some("The campaign is closed: unanswered items were settled by its policy.".into())
        }
        "cancelled" => {
            Some("The campaign is cancelled: no more decisions, nothing more removed.".into())
        }
        "challenge-keep" => Some(
            "The challenged eligibility is kept after all: its removal is cancelled.".into(),
        ),
        "challenge-uphold" => {
            Some("The revocation is upheld: its removal runs now.".into())
        }
        "next-stage" => Some(
            "The next stage is open: its reviewers' mails with fresh links are queued; earlier links no longer work.".into(),
        ),
        "confirmed" => Some("The held-back removals are confirmed and will be carried out.".into()),
        "mail-requeued" => Some("The failed mail is queued again and goes out now.".into()),
        "rerun" => {
            let n: u64 = q.n.as_deref().and_then(|n| n.parse().ok()).unwrap_or(0);
            Some(format!(
                "The unanswered items are re-opened until the new deadline: {n} reviewer mail{} with fresh links queued; earlier links no longer work.",
                if n == 1 { "" } else { "s" }
            ))
        }
        "resent" => {
            let to = q.to.as_deref()?;
            let r = reviewers.iter().find(|l| l.r.id == to)?;
            Some(format!(
                "A new invitation (with a new link) to {} ({}) is on its way.",
                r.r.name, r.r.id
            ))
        }
        "resent-replaced" | "links-revoked" => {
            let to = q.to.as_deref()?;
            let r = reviewers.iter().find(|l| l.r.id == to)?;
            let n: u64 = q.n.as_deref().and_then(|n| n.parse().ok()).unwrap_or(0);
            let links = format!("{n} earlier link{}", if n == 1 { "" } else { "s" });
            Some(if q.done.as_deref() == Some("links-revoked") {
                format!(
                    "{links} of {} ({}) revoked: they open nothing any more. Resend an invitation to give them a new one.",
                    r.r.name, r.r.id
                )
            } else {
                format!(
                    "A new invitation (with a new link) to {} ({}) is on its way; {links} revoked.",
                    r.r.name, r.r.id
                )
            })
        }
        _ => None,
    }
}

/// The `show` choices of the item filter.
const SHOW: &[(&str, &str)] = &[
    ("", "all items"),
    ("undecided", "undecided"),
    ("decided", "decided"),
    ("revoked", "revoked"),
    ("flagged", "flagged"),
    ("standing", "standing access"),
];

/// Items per page of a campaign's item list (the evidence bundle has them all).
const ITEMS_PER_PAGE: u64 = 50;

#[derive(Template)]
#[template(path = "pages/console/campaign.html")]
struct CampaignPage<'a> {
    chrome: Chrome<'a>,
    c: &'a CampaignRow,
    s: &'a CampaignSummary,
    rounds: Vec<RoundLine>,
    /// A multi-stage campaign's stages opened so far (empty for a single-stage one).
    stages: Vec<StageLine>,
    webhooks: Vec<WebhookLine>,
    figures: Vec<Figure>,
    deadline: String,
    launched: String,
    closed: String,
    reviewers: Vec<ReviewerLine>,
    items: Vec<ItemLine>,
    pager: Pager,
    reviewer: String,
    holder: String,
    show: String,
    show_choices: &'static [(&'static str, &'static str)],
    notice: Option<String>,
    /// The challenge period's end ("" without one, or before the close) and its challenges.
    challenge_end: String,
    challenges: Vec<ChallengeView>,
}

pub(super) async fn campaign_page(
    state: &AppState,
    operator: &Operator,
    id: i64,
    admin: bool,
    q: ItemQuery,
) -> Response {
    let view = match state.engine.campaign(id).await {
        Ok(view) => view,
        Err(e) => return console_failure(e),
    };
    let c = &view.campaign;
    let reviewers = match state.engine.reviewer_summaries(id).await {
        Ok(reviewers) => reviewers,
        Err(e) => return console_failure(e),
    };
    let mut mail: HashMap<String, ReviewerMail> = match state.engine.reviewer_mail(id).await {
        Ok(mail) => mail.into_iter().map(|m| (m.reviewer.clone(), m)).collect(),
        Err(e) => return console_failure(e),
    };
    let takes_decisions = c.state.accepts_decisions();
    let reviewers: Vec<ReviewerLine> = reviewers
        .into_iter()
        .map(|r| ReviewerLine {
            percent: percent(r.decided, r.items),
            open: takes_decisions && r.decided < r.items && r.signed_off_at.is_none(),
            mail: mail.remove(&r.id),
            r,
        })
        .collect();
    let show = q
        .show
        .clone()
        .filter(|s| SHOW.iter().any(|(k, _)| k == s))
        .unwrap_or_default();
    let filter = ItemFilter {
        reviewer: q.reviewer.clone().filter(|r| !r.trim().is_empty()),
        holder: q.holder.clone().filter(|h| !h.trim().is_empty()),
        show: Some(show.clone()).filter(|s| !s.is_empty()),
    };
    let page = page_number(q.page.as_deref());
    let (items, total) = match state
        .engine
        .items(id, &filter, ITEMS_PER_PAGE, (page - 1) * ITEMS_PER_PAGE)
        .await
    {
        Ok(found) => found,
        Err(e) => return console_failure(e),
    };
    let challenges = match c.spec.challenge_days {
        Some(_) => match state.engine.challenges(id).await {
            Ok(list) => list,
            Err(e) => return console_failure(e),
        },
        None => Vec::new(),
    };
    let challenge_end = datetime(c.spec.challenge_days.and_then(|days| {
        c.closed_at
            .map(|at| crate::domain::challenge::window_end(at, days))
    }));
    let chrome = Chrome::new(operator, admin, "campaigns");
    let reviewer = filter.reviewer.clone().unwrap_or_default();
    let holder = filter.holder.clone().unwrap_or_default();
    let path = format!("{}/campaigns/{id}", chrome.base());
    let pager = Pager::new(page, ITEMS_PER_PAGE, total, items.len(), |p| {
        let p = p.to_string();
        format!(
            "{path}{}#items",
            query(&[
                ("reviewer", &reviewer),
                ("holder", &holder),
                ("show", &show),
                ("page", &p)
            ])
        )
    });
    render(CampaignPage {
        chrome,
        c,
        s: &view.summary,
        rounds: view.rounds.iter().map(RoundLine::from).collect(),
        stages: view
            .opened_stages
            .iter()
            .flatten()
            .map(StageLine::from)
            .collect(),
        webhooks: view
            .webhooks
            .iter()
            .flatten()
            .map(WebhookLine::from)
            .collect(),
        figures: view.summary.figures(),
        deadline: datetime(c.due_at),
        launched: datetime(c.launched_at),
        closed: datetime(c.closed_at.or(c.cancelled_at)),
        items: items.into_iter().map(ItemLine::from).collect(),
        pager,
        reviewer,
        holder,
        show,
        show_choices: SHOW,
        notice: if admin { notice(&q, &reviewers) } else { None },
        reviewers,
        challenge_end,
        challenges,
    })
}
