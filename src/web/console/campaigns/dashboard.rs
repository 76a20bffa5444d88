//! The campaigns dashboard: a line per campaign with its figures and who is overdue, the
//! newest reappearances, and the admins' queue.

use crate::domain::summary::CampaignSummary;
use crate::engine::accounts::Operator;
use crate::engine::campaigns::CampaignView;
use crate::store::campaigns::CampaignRow;
use crate::store::evidence::ReviewerSummary;
use crate::web::console::{datetime, render, Chrome};
use crate::web::error::console_failure;
use crate::web::AppState;
use askama::Template;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};

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

pub(super) fn percent(part: i64, whole: i64) -> String {
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

pub(super) async fn dashboard(state: &AppState, operator: &Operator, admin: bool) -> Response {
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
