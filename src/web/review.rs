//! `/r/{token}`: the reviewer's page. GET only shows (mail scanners open every link); every
//! change is a POST carrying the page's anti-forgery value, and lands whole or not at all.

use super::{AppState, ClientAddr};
use crate::domain::closing::Channel;
use crate::domain::closing::Verdict;
use crate::domain::lifecycle::CampaignState;
use crate::domain::limits::{clip, truncate_chars, JUSTIFICATION_MAX_CHARS};
use crate::engine::decide::{refusal, Choice, Decider};
use crate::engine::review::{same_secret, LinkProblem, ReviewPage, ReviewerAccess};
use crate::engine::EngineError;
use crate::mail::worker::deadline_text;
use crate::web::error::{problem_page, review_failure};
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use std::time::Duration;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/r/{token}", get(show).post(submit))
        .route("/r/{token}/sign-off", post(sign_off))
}

/// Problem pages answer no faster than this, so timing tells nothing about which tokens exist.
const PROBLEM_FLOOR: Duration = Duration::from_millis(60);

#[derive(serde::Deserialize, Default)]
struct Notice {
    saved: Option<usize>,
    moved: Option<u64>,
    signed: Option<u8>,
}

async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    // The notice is only a courtesy after a POST: a mangled query string shows the page without it.
    let notice: Notice =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let access = match open(&state, &token).await {
        Ok(access) => access,
        Err(response) => return response,
    };
    let message = match (notice.saved, notice.moved, notice.signed) {
        (Some(n), _, _) => Some(format!(
            "Saved {n} decision{}.",
            if n == 1 { "" } else { "s" }
        )),
        (_, Some(n), _) => Some(format!(
            "Handed {n} item{} over.",
            if n == 1 { "" } else { "s" }
        )),
        (_, _, Some(_)) => Some(
            "Thank you: your sign-off is recorded, and you will get no more reminders.".to_string(),
        ),
        _ => None,
    };
    render_page(&state, &access, &token, message, None, None, StatusCode::OK).await
}

async fn submit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ClientAddr(addr): ClientAddr,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let access = match open(&state, &token).await {
        Ok(access) => access,
        Err(response) => return response,
    };
    let form = FormFields(fields);
    if !form
        .get("csrf")
        .is_some_and(|c| same_secret(c, &access.csrf))
    {
        return problem_page(
            StatusCode::FORBIDDEN,
            "This form could not be accepted",
            "It did not come from your review page (or the page is out of date). Nothing was changed. Please open the link from your mail again.",
        );
    }
    let actor = format!("reviewer:{}", access.reviewer_id);
    let decider = Decider {
        reviewer: Some(access.reviewer_id),
        acting_for: None,
        channel: Channel::Link,
        client_addr: addr.as_deref(),
        actor: &actor,
    };
    let page = match state.engine.review_page(&access).await {
        Ok(page) => page,
        Err(e) => return review_failure(e),
    };
    let action = form.get("action").unwrap_or("save");
    let outcome = match action {
        "attest_rest" | "revoke_rest" => {
            let verdict = if action == "attest_rest" {
                Verdict::Attest
            } else {
                Verdict::Revoke
            };
            let why = form.get("bulk_why");
            let verb = if verdict == Verdict::Attest {
                "keep"
            } else {
                "revoke"
            };
            let choices: Vec<Choice> = page
                .items
                .iter()
                .filter(|i| i.verdict.is_none())
                .map(|i| Choice {
                    item_id: i.id,
                    verdict,
                    justification: why,
                })
                .collect();
            if choices.is_empty() {
                Err(EngineError::Invalid(
                    "every item already has a decision".into(),
                ))
            } else if let Some(reason) = refusal(why, verdict, page.requires_justification(verdict))
            {
                // Said of the one box the reviewer filled in, not of the first item's number.
                Err(EngineError::Invalid(format!(
                    "to {verb} all undecided items at once (\"Justification for all of them\"): {reason}"
                )))
            } else {
                state
                    .engine
                    .decide_each(page.campaign_id, &choices, &decider)
                    .await
                    .map(|r| Done::Saved(r.decided))
            }
        }
        "reassign" | "reassign_all" => {
            let picked: Vec<i64> = form.all("pick").filter_map(|v| v.parse().ok()).collect();
            let to = form.get("to").unwrap_or("");
            let which = if action == "reassign_all" {
                None
            } else {
                Some(picked.as_slice())
            };
            if which.is_some_and(<[i64]>::is_empty) {
                Err(EngineError::Invalid(
                    "tick the items to hand over first".into(),
                ))
            } else {
                state
                    .engine
                    .reassign(&access, which, to, &actor)
                    .await
                    .map(Done::Moved)
            }
        }
        _ => match form.choices(&page) {
            Ok(choices) if choices.is_empty() => Err(EngineError::Invalid(
                "choose attest or revoke for at least one item".into(),
            )),
            Ok(choices) => {
                // Checked here first so the page can name each refused item and point to it.
                let refused: Vec<(i64, String)> = choices
                    .iter()
                    .filter_map(|c| {
                        let required = page.requires_justification(c.verdict);
                        refusal(c.justification, c.verdict, required).map(|r| (c.item_id, r))
                    })
                    .collect();
                if !refused.is_empty() {
                    return render_page(
                        &state,
                        &access,
                        &token,
                        None,
                        Some(PageError {
                            message: "Nothing was saved. Your choices are still on the page, marked \"not saved\"; fix the items below and save again."
                                .to_string(),
                            refused,
                        }),
                        Some(&form),
                        StatusCode::UNPROCESSABLE_ENTITY,
                    )
                    .await;
                }
                state
                    .engine
                    .decide_each(page.campaign_id, &choices, &decider)
                    .await
                    .map(|r| Done::Saved(r.decided))
            }
            Err(e) => Err(e),
        },
    };
    match outcome {
        Ok(Done::Saved(n)) => Redirect::to(&format!("/r/{token}?saved={n}")).into_response(),
        Ok(Done::Moved(n)) => Redirect::to(&format!("/r/{token}?moved={n}")).into_response(),
        Err(EngineError::Invalid(message)) | Err(EngineError::Forbidden(message)) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_page(
                &state,
                &access,
                &token,
                None,
                Some(PageError {
                    message: format!("Nothing was saved: {message}."),
                    refused: Vec::new(),
                }),
                Some(&form),
                status,
            )
            .await
        }
        Err(e) => review_failure(e),
    }
}

enum Done {
    Saved(usize),
    Moved(u64),
}

async fn sign_off(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ClientAddr(addr): ClientAddr,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let access = match open(&state, &token).await {
        Ok(access) => access,
        Err(response) => return response,
    };
    if !FormFields(fields)
        .get("csrf")
        .is_some_and(|c| same_secret(c, &access.csrf))
    {
        return problem_page(
            StatusCode::FORBIDDEN,
            "This form could not be accepted",
            "Nothing was changed. Please open the link from your mail again.",
        );
    }
    let actor = format!("reviewer:{}", access.reviewer_id);
    match state
        .engine
        .sign_off(&access, addr.as_deref(), &actor)
        .await
    {
        Ok(()) => Redirect::to(&format!("/r/{token}?signed=1")).into_response(),
        Err(e) => review_failure(e),
    }
}

/// Opens the link, or answers with the page that says why it does not open, no faster than
/// [`PROBLEM_FLOOR`] so that timing tells nothing about which tokens exist.
async fn open(state: &AppState, token: &str) -> Result<ReviewerAccess, Response> {
    let started = tokio::time::Instant::now();
    let problem = match state.engine.open_link(token).await {
        Ok(Ok(access)) => return Ok(access),
        Ok(Err(problem)) => link_problem(problem),
        Err(e) => review_failure(e),
    };
    tokio::time::sleep_until(started + PROBLEM_FLOOR).await;
    Err(problem)
}

fn link_problem(problem: LinkProblem) -> Response {
    let day = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map(|t| format!(" on {}", t.format("%-d %B %Y")))
            .unwrap_or_default()
    };
    match problem {
        LinkProblem::Unknown => problem_page(
            StatusCode::NOT_FOUND,
            "This link is not valid",
            "Check that you opened the whole link from your mail. If it still does not work, ask the person who runs the review for a new one.",
        ),
        LinkProblem::Expired { at } => problem_page(
            StatusCode::GONE,
            "This link has expired",
            &format!("It was valid until {}. The review is over; nothing more can be decided with it.", at.format("%-d %B %Y %H:%M UTC")),
        ),
        LinkProblem::Closed { state: CampaignState::Cancelled, at } => problem_page(
            StatusCode::GONE,
            "This review was cancelled",
            &format!("The review was cancelled{}; nothing needs your decision any more.", day(at)),
        ),
        LinkProblem::Closed { state: CampaignState::Scheduled | CampaignState::Launching, .. } => problem_page(
            StatusCode::CONFLICT,
            "This review has not opened yet",
            "Please try again in a few minutes.",
        ),
        LinkProblem::Closed { at, .. } => problem_page(
            StatusCode::GONE,
            "This review has closed",
            &format!("It closed{}. Decisions can no longer be made or changed; thank you for taking part.", day(at)),
        ),
        LinkProblem::Revoked => problem_page(
            StatusCode::GONE,
            "This link was withdrawn",
            "An administrator withdrew it; nothing can be decided with it. If you still have items to review, use the link in your newest mail from attest, or ask the person who runs the review for a new one.",
        ),
    }
}

/// The fields of a submitted form, in order (a field may repeat).
struct FormFields(Vec<(String, String)>);

impl FormFields {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The per-item answers: `item-{id}` = attest | revoke, with `why-{id}`.
    fn choices(&self, page: &ReviewPage) -> Result<Vec<Choice<'_>>, EngineError> {
        let mut choices = Vec::new();
        for (name, value) in &self.0 {
            let Some(id) = name.strip_prefix("item-") else {
                continue;
            };
            let item_id: i64 = id
                .parse()
                .map_err(|_| EngineError::Invalid(format!("bad field {}", clip(name))))?;
            if !page.items.iter().any(|i| i.id == item_id) {
                return Err(EngineError::Forbidden(format!(
                    "item {item_id} is not assigned to you"
                )));
            }
            let verdict: Verdict = value.parse().map_err(EngineError::Invalid)?;
            choices.push(Choice {
                item_id,
                verdict,
                justification: self.get(&format!("why-{item_id}")),
            });
        }
        Ok(choices)
    }
}

/// One item as the page shows it.
struct Row<'a> {
    id: i64,
    role: &'a str,
    risk: &'a str,
    scope: &'a str,
    since: String,
    last_activated: String,
    recommendation: &'a str,
    recommendation_reason: &'a str,
    attest: bool,
    revoke: bool,
    why: String,
    decided_by_policy: bool,
    flag: Option<&'a str>,
    escalated: bool,
    /// A choice the reviewer made on a form that was refused: shown, but not recorded.
    unsaved: bool,
    /// Why this item's answer was refused, if it was.
    refused: Option<&'a str>,
}

/// Why a submitted form was refused: the message, and the items refused with each reason.
struct PageError {
    message: String,
    refused: Vec<(i64, String)>,
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

async fn render_page(
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
            recommendation_reason: item.recommendation_reason.as_deref().unwrap_or(""),
            attest: chosen == Some("attest"),
            revoke: chosen == Some("revoke"),
            why,
            decided_by_policy: item.made_by.as_deref() == Some("policy"),
            flag: item.flag_reason.as_deref(),
            escalated: item.escalated,
            unsaved,
            refused: refused
                .iter()
                .find(|(id, _)| *id == item.id)
                .map(|(_, reason)| reason.as_str()),
        };
        match groups.last_mut() {
            Some(group) if group.holder_id == item.holder_external_id => group.rows.push(row),
            _ => groups.push(Group {
                holder_name: &item.holder_name,
                holder_id: &item.holder_external_id,
                holder_kind: &item.holder_kind,
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
