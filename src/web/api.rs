//! The REST API, `/api/v1`: JSON in and out, errors as `{ "error": { "code", "message",
//! "field" } }`. Authenticated by an API token (`Authorization: Bearer …`) or a console session.

use super::auth::{Admin, Reader};
use super::AppState;
use crate::engine::campaigns::CampaignView;
use crate::engine::{EngineError, NoProgress};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/campaigns", get(list_campaigns).post(launch))
        .route("/api/v1/campaigns/{id}", get(show_campaign))
        .route("/api/v1/campaigns/{id}/close", post(close))
        .route("/api/v1/campaigns/{id}/cancel", post(cancel))
        .route(
            "/api/v1/campaigns/{id}/confirm-removals",
            post(confirm_removals),
        )
        .route("/api/v1/campaigns/{id}/evidence", get(evidence))
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
    field: Option<&'a str>,
}

pub fn error(status: StatusCode, code: &str, message: &str, field: Option<&str>) -> Response {
    (
        status,
        Json(ErrorBody {
            error: ErrorDetail {
                code,
                message,
                field,
            },
        }),
    )
        .into_response()
}

fn engine_error(e: EngineError) -> Response {
    let message = e.to_string();
    match e {
        EngineError::Invalid(_) | EngineError::Rejected(_) => {
            error(StatusCode::UNPROCESSABLE_ENTITY, "invalid", &message, None)
        }
        EngineError::Conflict(_) => error(StatusCode::CONFLICT, "conflict", &message, None),
        EngineError::NotFound(_) => error(StatusCode::NOT_FOUND, "not_found", &message, None),
        EngineError::Forbidden(_) => error(StatusCode::FORBIDDEN, "forbidden", &message, None),
        EngineError::Db(_) | EngineError::Io(_) | EngineError::Source(_) => {
            tracing::error!("api: {message}");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "something went wrong on the server; nothing was changed",
                None,
            )
        }
    }
}

#[derive(Deserialize)]
struct Paging {
    page: Option<u64>,
    per_page: Option<u64>,
}

#[derive(Serialize)]
struct Page<T> {
    items: Vec<T>,
    page: u64,
    per_page: u64,
    total: u64,
}

async fn list_campaigns(
    State(state): State<AppState>,
    Reader(_): Reader,
    Query(paging): Query<Paging>,
) -> Response {
    let per_page = paging.per_page.unwrap_or(50).clamp(1, 500);
    let page = paging.page.unwrap_or(1).max(1);
    match state.engine.campaigns(&[]).await {
        Ok(all) => {
            let total = all.len() as u64;
            let items: Vec<CampaignView> = all
                .into_iter()
                .skip(((page - 1) * per_page) as usize)
                .take(per_page as usize)
                .collect();
            Json(Page {
                items,
                page,
                per_page,
                total,
            })
            .into_response()
        }
        Err(e) => engine_error(e),
    }
}

async fn show_campaign(
    State(state): State<AppState>,
    Reader(_): Reader,
    Path(id): Path<i64>,
) -> Response {
    match state.engine.campaign(id).await {
        Ok(view) => Json(view).into_response(),
        Err(e) => engine_error(e),
    }
}

#[derive(Deserialize)]
struct LaunchRequest {
    definition: String,
    #[serde(default)]
    adhoc: bool,
}

async fn launch(
    State(state): State<AppState>,
    Admin(op): Admin,
    Json(body): Json<LaunchRequest>,
) -> Response {
    let launched = state
        .engine
        .launch(&body.definition, body.adhoc, &op.actor, &NoProgress)
        .await;
    match launched {
        Ok(campaign) => match state.engine.campaign(campaign.id).await {
            Ok(view) => (StatusCode::CREATED, Json(view)).into_response(),
            Err(e) => engine_error(e),
        },
        Err(e) => engine_error(e),
    }
}

async fn close(State(state): State<AppState>, Admin(op): Admin, Path(id): Path<i64>) -> Response {
    match state.engine.close(id, &op.actor).await {
        Ok(_) => show_campaign(State(state), Reader(op), Path(id)).await,
        Err(e) => engine_error(e),
    }
}

async fn cancel(State(state): State<AppState>, Admin(op): Admin, Path(id): Path<i64>) -> Response {
    match state.engine.cancel(id, &op.actor).await {
        Ok(_) => show_campaign(State(state), Reader(op), Path(id)).await,
        Err(e) => engine_error(e),
    }
}

async fn confirm_removals(
    State(state): State<AppState>,
    Admin(op): Admin,
    Path(id): Path<i64>,
) -> Response {
    match state.engine.confirm_removals(id, &op.actor).await {
        Ok(_) => show_campaign(State(state), Reader(op), Path(id)).await,
        Err(e) => engine_error(e),
    }
}

async fn evidence(
    State(state): State<AppState>,
    Reader(_): Reader,
    Path(id): Path<i64>,
) -> Response {
    match super::console::evidence_zip(&state.engine, id).await {
        Ok(response) => response,
        Err(e) => engine_error(e),
    }
}
