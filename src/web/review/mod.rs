//! `/r/{token}`: the reviewer's page. GET only shows (mail scanners open every link); every
//! change is a POST carrying the page's anti-forgery value, and lands whole or not at all.
//!
//! This file holds the route handlers; opening a link, reading a form and rendering the page
//! are in the files beside it.

mod form;
mod link;
mod view;

use crate::domain::closing::Channel;
use crate::domain::closing::Verdict;
use crate::engine::decide::{refusal, Choice, Decider};
use crate::engine::EngineError;
use crate::web::error::review_failure;
use crate::web::{AppState, ClientAddr};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use form::{forged_form, FormFields};
use link::open;
use view::{render_page, PageError};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/r/{token}", get(show).post(submit))
        .route("/r/{token}/sign-off", post(sign_off))
}

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
    let Some(form) = FormFields::from_the_page(&access, fields) else {
        return forged_form();
    };
    let actor = format!("reviewer:{}", access.reviewer_id);
    let decider = Decider {
        reviewer: Some(access.reviewer_id),
        acting_for: None,
        channel: Channel::Link,
        client_addr: addr.as_deref(),
        actor: &actor,
    };
    let action = form.get("action").unwrap_or("save");
    let spec = &access.campaign.spec;
    let outcome = match action {
        "attest_rest" | "revoke_rest" => {
            let page = match state.engine.review_page(&access).await {
                Ok(page) => page,
                Err(e) => return review_failure(e),
            };
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
        // A saved form reads only the items it names, not the reviewer's whole page: one
        // decision per request is how most reviewers and scripts answer (issue 18).
        _ => match state
            .engine
            .assigned_among(&access, &form.item_ids())
            .await
            .and_then(|assigned| form.choices(|id| assigned.contains(&id)))
        {
            Ok(choices) if choices.is_empty() => Err(EngineError::Invalid(
                "choose attest or revoke for at least one item".into(),
            )),
            Ok(choices) => {
                // Checked here first so the page can name each refused item and point to it.
                let refused: Vec<(i64, String)> = choices
                    .iter()
                    .filter_map(|c| {
                        let required =
                            spec.requires_justification_in(access.campaign.stage, c.verdict);
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
                    .decide_each(access.campaign.id, &choices, &decider)
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
    if FormFields::from_the_page(&access, fields).is_none() {
        return forged_form();
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
