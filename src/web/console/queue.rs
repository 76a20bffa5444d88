//! The admins' decision queue (`/admin/queue`): items only their holder could have reviewed,
//! decided here by an admin who is not the holder, each with a justification.

use super::{datetime, done_url, forged, render, Chrome};
use crate::domain::closing::Verdict;
use crate::engine::EngineError;
use crate::store::items::QueuedItem;
use crate::web::auth::Admin;
use crate::web::error::console_failure;
use crate::web::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

/// How many queued items the page lists (the count says how many there are in all).
const SHOWN: u64 = 200;

#[derive(Template)]
#[template(path = "pages/console/queue.html")]
struct QueuePage<'a> {
    chrome: Chrome<'a>,
    items: Vec<(QueuedItem, String)>,
    total: i64,
    notice: Option<&'static str>,
}

#[derive(serde::Deserialize, Default)]
pub(super) struct QueueQuery {
    done: Option<String>,
}

pub(super) async fn page(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Query(q): Query<QueueQuery>,
) -> Response {
    let (items, total) = match state.engine.admin_queue(SHOWN).await {
        Ok(found) => found,
        Err(e) => return console_failure(e),
    };
    render(QueuePage {
        chrome: Chrome::new(&operator, true, "queue"),
        items: items
            .into_iter()
            .map(|i| {
                let due = datetime(i.due_at);
                (i, due)
            })
            .collect(),
        total,
        notice: match q.done.as_deref() {
            Some("decided") => Some("Decision recorded."),
            _ => None,
        },
    })
}

#[derive(serde::Deserialize)]
pub(super) struct DecideForm {
    csrf: Option<String>,
    verdict: Option<String>,
    justification: Option<String>,
}

pub(super) async fn decide(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Path(item): Path<i64>,
    Form(form): Form<DecideForm>,
) -> Response {
    if let Some(refused) = forged(&state, &operator, form.csrf.as_deref()).await {
        return refused;
    }
    let verdict = match form.verdict.as_deref().map(str::parse::<Verdict>) {
        Some(Ok(v)) => v,
        _ => {
            return console_failure(EngineError::Invalid(format!(
                "item {item}: choose keep (attest) or revoke"
            )))
        }
    };
    match state
        .engine
        .decide_queued(
            item,
            verdict,
            form.justification.as_deref().unwrap_or(""),
            &operator,
        )
        .await
    {
        Ok(_) => Redirect::to(&done_url("/admin/queue", &[("done", "decided")])).into_response(),
        Err(e) => console_failure(e),
    }
}
