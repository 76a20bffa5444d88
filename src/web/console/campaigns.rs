//! Campaigns in the console: the dashboard, a campaign's page (progress per reviewer, the
//! completeness an auditor checks, items with filters and paging), the admin's actions on it
//! (close, cancel, confirm removals, resend an invitation) and the evidence download.

use super::{datetime, done_url, forged, page_number, query, render, unconfirmed, Chrome, Pager};
use crate::domain::mail_state::ReviewerMail;
use crate::domain::summary::{CampaignSummary, Figure};
use crate::engine::accounts::Operator;
use crate::engine::campaigns::CampaignView;
use crate::engine::EngineError;
use crate::store::campaigns::CampaignRow;
use crate::store::evidence::ReviewerSummary;
use crate::store::items::{ItemFilter, ItemView};
use crate::web::auth::{Admin, Reader};
use crate::web::error::console_failure;
use crate::web::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

/// One line of the campaigns table.
struct CampaignLine {
    id: i64,
    name: String,
    adhoc: bool,
    period: String,
    state: String,
    deadline: String,
    /// The campaign's figures (the same as on every other surface).
    s: CampaignSummary,
    open_reviewers: usize,
    overdue_reviewers: usize,
}

/// A reviewer with open items is overdue once the campaign is past its escalation day (when it
/// escalates) or past its deadline.
fn overdue_from(c: &CampaignRow) -> Option<DateTime<Utc>> {
    let escalation = c
        .spec
        .escalate_after_days
        .zip(c.launched_at)
        .map(|(days, at)| at + Duration::days(i64::from(days)));
    match (escalation, c.due_at) {
        (Some(e), Some(d)) => Some(e.min(d)),
        (e, d) => e.or(d),
    }
}

/// Reviewers still owing answers: undecided items and no sign-off.
fn open(reviewers: &[ReviewerSummary]) -> impl Iterator<Item = &ReviewerSummary> {
    reviewers
        .iter()
        .filter(|r| r.decided < r.items && r.signed_off_at.is_none())
}

fn percent(part: i64, whole: i64) -> String {
    crate::domain::figures::share(part, whole)
}

#[derive(Template)]
#[template(path = "pages/console/campaigns.html")]
struct CampaignsPage<'a> {
    chrome: Chrome<'a>,
    heading: &'a str,
    campaigns: Vec<CampaignLine>,
    /// The newest reappearances (a finding), and how many there are in all.
    reappeared: Vec<crate::store::reappearance::ReappearanceView>,
    reappeared_total: i64,
    /// Items waiting in the admins' decision queue (admins only).
    queued: i64,
}

/// How many reappearances the dashboards list (all are counted; the CLI and API list more).
const REAPPEARED_SHOWN: u64 = 10;

async fn dashboard(state: &AppState, operator: &Operator, admin: bool) -> Response {
    let views = match state.engine.campaigns(&[]).await {
        Ok(views) => views,
        Err(e) => return console_failure(e),
    };
    let now = state.engine.now();
    let mut lines = Vec::with_capacity(views.len());
    for CampaignView {
        campaign: c,
        summary,
        ..
    } in &views
    {
        let (open_reviewers, overdue_reviewers) = if c.state.accepts_decisions() {
            let reviewers = state
                .engine
                .reviewer_summaries(c.id)
                .await
                .unwrap_or_default();
            let open = open(&reviewers).count();
            let overdue = if overdue_from(c).is_some_and(|at| now >= at) {
                open
            } else {
                0
            };
            (open, overdue)
        } else {
            (0, 0)
        };
        lines.push(CampaignLine {
            id: c.id,
            name: c.name.clone(),
            adhoc: c.adhoc,
            period: c.period.clone(),
            state: c.state.to_string(),
            deadline: datetime(c.due_at),
            s: summary.clone(),
            open_reviewers,
            overdue_reviewers,
        });
    }
    let (reappeared, reappeared_total) = match state.engine.reappearances(REAPPEARED_SHOWN).await {
        Ok(found) => found,
        Err(e) => return console_failure(e),
    };
    let queued = if admin {
        match state.engine.admin_queue(0).await {
            Ok((_, total)) => total,
            Err(e) => return console_failure(e),
        }
    } else {
        0
    };
    render(CampaignsPage {
        queued,
        chrome: Chrome::new(operator, admin, "campaigns"),
        heading: if admin {
            "Campaigns"
        } else {
            "Campaigns (read-only)"
        },
        campaigns: lines,
        reappeared,
        reappeared_total,
    })
}

pub(super) async fn admin_dashboard(
    State(state): State<AppState>,
    Admin(operator): Admin,
) -> Response {
    dashboard(&state, &operator, true).await
}

pub(super) async fn audit_dashboard(
    State(state): State<AppState>,
    Reader(operator): Reader,
) -> Response {
    dashboard(&state, &operator, false).await
}

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
    removal: String,
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
            removal: i.removal_state.unwrap_or_default(),
        }
    }
}

/// The item filters and page, as the query string carries them.
#[derive(serde::Deserialize, Default)]
pub(super) struct ItemQuery {
    reviewer: Option<String>,
    holder: Option<String>,
    show: Option<String>,
    page: Option<String>,
    /// Which action just happened (`launched`, `closed`, `cancelled`, `confirmed`, `resent`), shown once.
    done: Option<String>,
    /// Whom `resent` invited again (or whose links were revoked).
    to: Option<String>,
    /// How many links were revoked (text, like `page`: a mangled value must not break the page).
    n: Option<String>,
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
        "confirmed" => Some("The held-back removals are confirmed and will be carried out.".into()),
        "mail-requeued" => Some("The failed mail is queued again and goes out now.".into()),
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
];

/// Items per page of a campaign's item list (the evidence bundle has them all).
const ITEMS_PER_PAGE: u64 = 50;

#[derive(Template)]
#[template(path = "pages/console/campaign.html")]
struct CampaignPage<'a> {
    chrome: Chrome<'a>,
    c: &'a CampaignRow,
    s: &'a CampaignSummary,
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
}

async fn campaign_page(
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
    })
}

pub(super) async fn admin_campaign(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Path(id): Path<i64>,
    Query(q): Query<ItemQuery>,
) -> Response {
    campaign_page(&state, &operator, id, true, q).await
}

pub(super) async fn audit_campaign(
    State(state): State<AppState>,
    Reader(operator): Reader,
    Path(id): Path<i64>,
    Query(q): Query<ItemQuery>,
) -> Response {
    campaign_page(&state, &operator, id, false, q).await
}

#[derive(serde::Deserialize)]
pub(super) struct ActionForm {
    csrf: Option<String>,
    confirm: Option<String>,
}

/// Close, cancel, confirm removals or send failed mail again: each changes what happens to
/// people's access or what they receive, so each needs its confirmation box.
pub(super) async fn action(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Path((id, action)): Path<(i64, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    if let Some(refused) = forged(&state, &operator, form.csrf.as_deref()).await {
        return refused;
    }
    if !matches!(
        action.as_str(),
        "close" | "cancel" | "confirm-removals" | "resend-failed"
    ) {
        return super::message_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such action.",
        );
    }
    if let Some(refused) = unconfirmed(form.confirm.as_deref()) {
        return refused;
    }
    let engine = &state.engine;
    let actor = &operator.actor;
    let done = match action.as_str() {
        "close" => engine.close(id, actor).await.map(|_| "closed"),
        "cancel" => engine.cancel(id, actor).await.map(|_| "cancelled"),
        "resend-failed" => engine
            .requeue_failed_mail(id, actor)
            .await
            .map(|_| "mail-requeued"),
        _ => engine
            .confirm_removals(id, actor)
            .await
            .map(|_| "confirmed"),
    };
    match done {
        Ok(what) => Redirect::to(&done_url(
            &format!("/admin/campaigns/{id}"),
            &[("done", what)],
        ))
        .into_response(),
        Err(e) => console_failure(e),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct ResendForm {
    csrf: Option<String>,
    reviewer: Option<String>,
    /// `yes`: revoke the reviewer's earlier links as the new one is queued.
    replace: Option<String>,
}

/// A fresh invitation (with a new link) to a reviewer who still has open items.
pub(super) async fn resend(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Path(id): Path<i64>,
    Form(form): Form<ResendForm>,
) -> Response {
    if let Some(refused) = forged(&state, &operator, form.csrf.as_deref()).await {
        return refused;
    }
    let Some(reviewer) = form
        .reviewer
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    else {
        return console_failure(EngineError::Invalid(
            "say which reviewer to invite again".into(),
        ));
    };
    match state
        .engine
        .resend_invitation(
            id,
            reviewer,
            form.replace.as_deref() == Some("yes"),
            &operator.actor,
        )
        .await
    {
        Ok(revoked) => Redirect::to(&done_url(
            &format!("/admin/campaigns/{id}"),
            &[
                (
                    "done",
                    if form.replace.as_deref() == Some("yes") {
                        "resent-replaced"
                    } else {
                        "resent"
                    },
                ),
                ("to", reviewer),
                ("n", &revoked.to_string()),
            ],
        ))
        .into_response(),
        Err(e) => console_failure(e),
    }
}

pub(super) async fn evidence_download(
    State(state): State<AppState>,
    Reader(_operator): Reader,
    Path(id): Path<i64>,
) -> Response {
    match crate::web::downloads::evidence_zip(&state.engine, id).await {
        Ok(response) => response,
        Err(e) => console_failure(e),
    }
}
