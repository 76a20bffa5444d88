//! Campaigns in the console: the dashboard, a campaign's page (progress per reviewer, the
//! completeness an auditor checks, items with filters and paging), the admin's actions on it
//! (close, cancel, confirm removals, re-run for non-responders, resend an invitation) and the
//! evidence download.
//!
//! This file holds the route handlers; the pages they render and the forms they read are in
//! the files beside it.

mod dashboard;
mod form;
mod page;

use crate::engine::EngineError;
use crate::web::auth::{Admin, Reader};
use crate::web::console::{done_url, forged, unconfirmed};
use crate::web::error::console_failure;
use crate::web::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use dashboard::dashboard;
use form::{ActionForm, ItemQuery, RerunForm, ResendForm};
use page::campaign_page;

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
        "close" | "cancel" | "confirm-removals" | "resend-failed" | "next-stage"
    ) {
        return crate::web::console::message_page(
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
        "next-stage" => engine.next_stage(id, actor).await.map(|_| "next-stage"),
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

/// Re-opens the unanswered items for more days, with fresh links to their reviewers.
pub(super) async fn rerun(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Path(id): Path<i64>,
    Form(form): Form<RerunForm>,
) -> Response {
    if let Some(refused) = forged(&state, &operator, form.csrf.as_deref()).await {
        return refused;
    }
    if let Some(refused) = unconfirmed(form.confirm.as_deref()) {
        return refused;
    }
    let Some(days) = form
        .days
        .as_deref()
        .and_then(|d| d.trim().parse::<u32>().ok())
    else {
        return console_failure(EngineError::Invalid(format!(
            "days: give a whole number of days between 1 and {}",
            crate::domain::rerun::RERUN_MAX_DAYS
        )));
    };
    match state.engine.rerun(id, days, &operator.actor).await {
        Ok(report) => Redirect::to(&done_url(
            &format!("/admin/campaigns/{id}"),
            &[("done", "rerun"), ("n", &report.mails_queued.to_string())],
        ))
        .into_response(),
        Err(e) => console_failure(e),
    }
}

/// An admin's answer to a challenged revocation: keep the eligibility after all, or uphold the
/// revocation (its removal runs at once). The same engine function as the API and the CLI.
pub(super) async fn answer_challenge(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Path((id, challenge, answer)): Path<(i64, i64, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    if let Some(refused) = forged(&state, &operator, form.csrf.as_deref()).await {
        return refused;
    }
    let Ok(answer) = answer.parse::<crate::domain::challenge::Answer>() else {
        return crate::web::console::message_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such answer to a challenge.",
        );
    };
    if let Some(refused) = unconfirmed(form.confirm.as_deref()) {
        return refused;
    }
    let by = crate::engine::challenges::Answerer {
        reviewer: None,
        channel: crate::domain::closing::Channel::Web,
        actor: &operator.actor,
    };
    match state
        .engine
        .answer_challenge(id, challenge, answer, &by)
        .await
    {
        Ok(_) => Redirect::to(&done_url(
            &format!("/admin/campaigns/{id}"),
            &[("done", &format!("challenge-{answer}"))],
        ))
        .into_response(),
        Err(e) => console_failure(e),
    }
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
