//! `/c/{token}`: the challenge page (`engine::challenges`). The holder's link shows the
//! revoked eligibility and takes a reason once; the reviewer's link shows the reason and
//! takes "keep after all" or "uphold". GET only shows (mail scanners open every link); every
//! change is a POST carrying the page's anti-forgery value.

use crate::domain::challenge::{Answer, ChallengeState, REASON_MAX_CHARS};
use crate::domain::closing::Channel;
use crate::engine::challenges::{Answerer, ChallengeAccess};
use crate::engine::review::{csrf_for, same_secret};
use crate::mail::worker::deadline_text;
use crate::store::challenges::Party;
use crate::web::error::{problem_page, review_failure};
use crate::web::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use std::time::Duration;

/// Problem pages answer no faster than this, so timing tells nothing about which tokens exist.
const PROBLEM_FLOOR: Duration = Duration::from_millis(60);

pub fn routes() -> Router<AppState> {
    Router::new().route("/c/{token}", get(show).post(submit))
}

#[derive(Template)]
#[template(path = "pages/challenge.html")]
struct Page<'a> {
    c: &'a ChallengeAccess,
    holder: bool,
    token: &'a str,
    csrf: String,
    closes: String,
    /// The holder may still give a reason / the reviewer may still answer.
    open: bool,
    state: &'static str,
    max_chars: usize,
    error: Option<String>,
}

async fn open(state: &AppState, token: &str) -> Result<ChallengeAccess, Response> {
    let started = tokio::time::Instant::now();
    let problem = match state.engine.open_challenge_link(token).await {
        Ok(Ok(access)) => return Ok(access),
        Ok(Err(why)) => problem_page(StatusCode::NOT_FOUND, "This link does not open", &why),
        Err(e) => review_failure(e),
    };
    tokio::time::sleep_until(started + PROBLEM_FLOOR).await;
    Err(problem)
}

fn render(state: &AppState, c: &ChallengeAccess, token: &str, error: Option<String>) -> Response {
    let now = state.engine.now();
    let ch = &c.challenge;
    let holder = c.party == Party::Holder;
    let open = now < ch.closes_at
        && if holder {
            ch.state == ChallengeState::Open
        } else {
            ch.state == ChallengeState::Submitted
        };
    let page = Page {
        c,
        holder,
        token,
        csrf: csrf_for(token),
        closes: deadline_text(Some(ch.closes_at), "UTC"),
        open,
        state: ch.state.as_str(),
        max_chars: REASON_MAX_CHARS,
        error: error.clone(),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => problem_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Page error",
            &e.to_string(),
        ),
    }
}

async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match open(&state, &token).await {
        Ok(access) => render(&state, &access, &token, None),
        Err(response) => response,
    }
}

async fn submit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let access = match open(&state, &token).await {
        Ok(access) => access,
        Err(response) => return response,
    };
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if !get("csrf").is_some_and(|c| same_secret(c, &csrf_for(&token))) {
        return problem_page(
            StatusCode::FORBIDDEN,
            "This form could not be accepted",
            "It did not come from your challenge page. Nothing was changed. Please open the link from your mail again.",
        );
    }
    let result = match (access.party, get("action")) {
        (Party::Holder, _) => state
            .engine
            .submit_challenge(&access, get("reason").unwrap_or_default())
            .await
            .map(|_| ()),
        (Party::Reviewer, Some(word @ ("keep" | "uphold"))) => {
            let answer = if word == "keep" {
                Answer::Keep
            } else {
                Answer::Uphold
            };
            let actor = format!(
                "reviewer:{}",
                access.challenge.reviewer_principal_id.unwrap_or_default()
            );
            let by = Answerer {
                reviewer: access.challenge.reviewer_principal_id,
                channel: Channel::Link,
                actor: &actor,
            };
            let c = &access.challenge;
            state
                .engine
                .answer_challenge(c.campaign_id, c.id, answer, &by)
                .await
                .map(|_| ())
        }
        (Party::Reviewer, _) => Err(crate::engine::EngineError::Invalid(
            "choose keep or uphold".into(),
        )),
    };
    match result {
        Ok(()) => Redirect::to(&format!("/c/{token}")).into_response(),
        Err(e) => render(&state, &access, &token, Some(e.to_string())),
    }
}
