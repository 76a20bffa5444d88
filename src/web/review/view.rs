//! The review page as shown: rows grouped by holder, a refused form's choices kept, the template.

use super::form::FormFields;
use crate::domain::limits::{truncate_chars, JUSTIFICATION_MAX_CHARS};
use crate::domain::rerun::settled_before_round;
use crate::engine::review::{ReviewPage, ReviewerAccess};
use crate::engine::EngineError;
use crate::mail::worker::deadline_text;
use crate::web::error::review_failure;
use crate::web::AppState;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// One item as the page shows it.
struct Row<'a> {
    id: i64,
    role: &'a str,
    risk: &'a str,
    scope: &'a str,
    since: String,
    last_activated: String,
    recommendation: &'a str,
    /// "Keep", "Revoke", "Convert to eligible".
    recommendation_label: &'static str,
    recommendation_reason: &'a str,
    /// Standing access (an active assignment): shown as such, a finding.
    standing: bool,
    attest: bool,
    revoke: bool,
    convert: bool,
    /// Standing access whose source can convert it: the third choice is offered.
    offer_convert: bool,
    why: String,
    decided_by_policy: bool,
    flag: Option<&'a str>,
    escalated: bool,
    /// A choice the reviewer made on a form that was refused: shown, but not recorded.
    unsaved: bool,
    /// Why this item's answer was refused, if it was.
    refused: Option<&'a str>,
    /// Answered before the re-run now open: shown, no longer changeable.
    settled: bool,
    /// What the last review of this eligibility decided; none: new since the last review.
    previous: Option<Previous<'a>>,
    /// What the earlier stages of a multi-stage campaign decided, first stage first.
    earlier_stages: Vec<StageLine<'a>>,
}

/// One earlier stage's decision on an item, as the page words it.
struct StageLine<'a> {
    stage: i32,
    /// "Kept", "Revoked" or "Convert to eligible".
    verdict: &'static str,
    /// "Maria Manager (m1)".
    by: String,
    on: String,
    justification: Option<&'a str>,
}

impl<'a> StageLine<'a> {
    fn of(d: &'a crate::store::items::stage_history::StageDecision) -> Self {
        use crate::domain::closing::Verdict;
        StageLine {
            stage: d.stage,
            verdict: match d.verdict {
                Verdict::Attest => "Kept",
                Verdict::Revoke => "Revoked",
                Verdict::Convert => "Convert to eligible",
            },
            by: match &d.decided_by_name {
                Some(name) => format!("{name} ({})", d.decided_by),
                None => d.decided_by.clone(),
            },
            on: date(Some(d.decided_at)),
            justification: d.justification.as_deref(),
        }
    }
}

/// The last review of an item's eligibility, as the page words it.
struct Previous<'a> {
    /// "Kept" or "Revoked".
    verdict: &'static str,
    /// "Maria Manager (m1)", or "the campaign's policy".
    by: String,
    on: String,
    campaign: &'a str,
    justification: Option<&'a str>,
}

impl<'a> Previous<'a> {
    fn of(p: &'a crate::store::items::previous::PreviousDecision) -> Self {
        Previous {
            verdict: if p.verdict == "revoke" {
                "Revoked"
            } else {
                "Kept"
            },
            by: match (p.made_by.as_str(), &p.decided_by_name) {
                ("policy", _) => "the campaign's policy (no answer)".to_string(),
                (_, Some(name)) => format!("{name} ({})", p.decided_by),
                (_, None) => p.decided_by.clone(),
            },
            on: date(p.decided_at),
            campaign: &p.campaign,
            justification: p.justification.as_deref(),
        }
    }
}

/// Why a submitted form was refused: the message, and the items refused with each reason.
pub(super) struct PageError {
    pub(super) message: String,
    pub(super) refused: Vec<(i64, String)>,
}

/// A refused item, as the page's error names it and links to it.
struct Refused<'a> {
    id: i64,
    /// "Anna One — Global Administrator (/)".
    label: String,
    reason: &'a str,
}

struct Group<'a> {
    holder_name: &'a str,
    holder_id: &'a str,
    holder_kind: &'a str,
    /// The attributes the definition names (`context`), frozen at launch: (name, value).
    context: Vec<(String, String)>,
    rows: Vec<Row<'a>>,
}

#[derive(Template)]
#[template(path = "pages/review/page.html")]
struct PageTemplate<'a> {
    page: &'a ReviewPage,
    groups: Vec<Group<'a>>,
    token: &'a str,
    csrf: &'a str,
    deadline: String,
    percent: usize,
    undecided: usize,
    notice: Option<String>,
    error: Option<String>,
    refused: Vec<Refused<'a>>,
    signed_off: Option<String>,
    bulk_why: String,
}

fn date(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(|t| t.format("%-d %b %Y").to_string())
        .unwrap_or_else(|| "never".into())
}

pub(super) async fn render_page(
    state: &AppState,
    access: &ReviewerAccess,
    token: &str,
    notice: Option<String>,
    error: Option<PageError>,
    submitted: Option<&FormFields>,
    status: StatusCode,
) -> Response {
    let (error, refused) = match error {
        Some(e) => (Some(e.message), e.refused),
        None => (None, Vec::new()),
    };
    let page = match state.engine.review_page(access).await {
        Ok(page) => page,
        Err(e) => return review_failure(e),
    };
    let mut groups: Vec<Group> = Vec::new();
    for item in &page.items {
        // A re-shown form keeps what the reviewer had chosen, not what is stored.
        let submitted_choice = submitted.and_then(|f| f.get(&format!("item-{}", item.id)));
        let chosen = submitted_choice.or(item.verdict.as_deref());
        let submitted_why = submitted.and_then(|f| f.get(&format!("why-{}", item.id)));
        // Nothing of a refused form is recorded: a choice that differs from what is stored
        // (verdict or justification) is shown as the reviewer left it, and marked not saved.
        let unsaved = submitted_choice.is_some_and(|choice| {
            Some(choice) != item.verdict.as_deref()
                || submitted_why.map(str::trim).filter(|w| !w.is_empty())
                    != item.justification.as_deref()
        });
        // Cut to the limit: a refused over-long justification is not sent back whole.
        let why = submitted_why
            .map(|why| truncate_chars(why, JUSTIFICATION_MAX_CHARS).to_string())
            .or_else(|| item.justification.clone())
            .unwrap_or_default();
        let row = Row {
            id: item.id,
            role: &item.role_name,
            risk: &item.role_risk,
            scope: &item.scope,
            since: date(item.since),
            last_activated: date(item.last_activated_at),
            recommendation: &item.recommendation,
            recommendation_label: item
                .recommendation
                .parse::<crate::domain::recommendation::Recommendation>()
                .map_or("Keep", |r| r.label()),
            standing: item.assignment == crate::domain::eligibility::Assignment::Active.as_str(),
            recommendation_reason: item.recommendation_reason.as_deref().unwrap_or(""),
            attest: chosen == Some("attest"),
            revoke: chosen == Some("revoke"),
            convert: chosen == Some("convert"),
            offer_convert: page.can_convert
                && item.assignment == crate::domain::eligibility::Assignment::Active.as_str(),
            why,
            decided_by_policy: item.made_by.as_deref() == Some("policy"),
            flag: item.flag_reason.as_deref(),
            escalated: item.escalated,
            unsaved,
            refused: refused
                .iter()
                .find(|(id, _)| *id == item.id)
                .map(|(_, reason)| reason.as_str()),
            settled: settled_before_round(item.decided_at, page.round_started_at),
            previous: page.previous.get(&item.id).map(Previous::of),
            earlier_stages: page
                .earlier_stages
                .get(&item.id)
                .map(|stages| stages.iter().map(StageLine::of).collect())
                .unwrap_or_default(),
        };
        match groups.last_mut() {
            Some(group) if group.holder_id == item.holder_external_id => group.rows.push(row),
            _ => groups.push(Group {
                holder_name: &item.holder_name,
                holder_id: &item.holder_external_id,
                holder_kind: &item.holder_kind,
                context: crate::domain::directory::holder_context(
                    &access.campaign.spec.context,
                    item.holder_context.as_deref(),
                ),
                rows: vec![row],
            }),
        }
    }
    let refused_items = refused
        .iter()
        .filter_map(|(id, reason)| {
            let item = page.items.iter().find(|i| i.id == *id)?;
            Some(Refused {
                id: *id,
                label: format!("{} — {} ({})", item.holder_name, item.role_name, item.scope),
                reason,
            })
        })
        .collect();
    let total = page.items.len();
    let template = PageTemplate {
        deadline: deadline_text(page.due_at, &page.timezone),
        percent: (page.decided * 100).checked_div(total).unwrap_or(100),
        undecided: page.items.iter().filter(|i| i.verdict.is_none()).count(),
        signed_off: page
            .signed_off_at
            .map(|t| t.format("%-d %B %Y %H:%M UTC").to_string()),
        bulk_why: truncate_chars(
            submitted.and_then(|f| f.get("bulk_why")).unwrap_or(""),
            JUSTIFICATION_MAX_CHARS,
        )
        .to_string(),
        page: &page,
        groups,
        token,
        csrf: &access.csrf,
        notice,
        error,
        refused: refused_items,
    };
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => review_failure(EngineError::Io(format!("rendering the review page: {e}"))),
    }
}
