//! Suspend on a signal (issue 19): a SIEM or SOAR playbook's `responder` token (or an admin)
//! suspends a person, removing their eligibility through its sources at once; a restore is
//! requested, then approved by an admin other than the requester, and puts back exactly what
//! was removed. Principals are named by their id as imports and syncs give it (as
//! `GET /api/v1/eligibility?principal=` takes it).

use super::support::{ApiJson, ApiPath, AuthErrors, SuspendChange};
use crate::engine::suspend::SuspensionView;
use crate::web::auth::SuspensionReader;
use crate::web::error::{ApiError, ApiResult, ErrorBody};
use crate::web::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

/// Why the person is suspended.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendRequest {
    /// The signal (an alert's title and link): at most 1,000 characters, not empty.
    #[schema(min_length = 1, max_length = 1000)]
    reason: String,
}

fn engine_error(e: crate::engine::EngineError) -> ApiError {
    match e {
        crate::engine::EngineError::Invalid(m) => ApiError::invalid("reason", m),
        other => ApiError::from(other),
    }
}

/// Suspends a person: removes every eligibility they hold through its source at once.
///
/// The suspension and its items are recorded before anything is removed; what a source
/// refuses now is retried by `attest serve`'s worker (the state is then `partial`). A person
/// with an open suspension is not suspended twice: the open one is answered with 200.
/// Admins and responder tokens may.
#[utoipa::path(
    post,
    path = "/api/v1/principals/{id}/suspend",
    tag = "suspensions",
    params(("id" = String, Path, description = "The principal's id (as imports and syncs name them).")),
    request_body = SuspendRequest,
    responses(
        (status = 201, description = "Suspended now: each item's removal state, receipt or error.", body = SuspensionView),
        (status = 200, description = "Already suspended: the open suspension, unchanged.", body = SuspensionView),
        (status = 400, description = "The body is not JSON.", body = ErrorBody),
        (status = 404, description = "No such principal.", body = ErrorBody),
        (status = 413, description = "The body is larger than the API takes (1 MiB).", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`.", body = ErrorBody),
        (status = 422, description = "The reason is missing, empty, too long or holds control characters (`field` is `reason`).", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn suspend(
    State(state): State<AppState>,
    SuspendChange(op): SuspendChange,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<SuspendRequest>,
) -> ApiResult<(StatusCode, Json<SuspensionView>)> {
    let (view, created) = state
        .engine
        .suspend(&id, &body.reason, &op.actor)
        .await
        .map_err(engine_error)?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

/// A person's suspensions, newest first, with their items.
///
/// Admins, auditors and responder tokens may read them.
#[utoipa::path(
    get,
    path = "/api/v1/principals/{id}/suspensions",
    tag = "suspensions",
    params(("id" = String, Path, description = "The principal's id.")),
    responses(
        (status = 200, description = "The person's suspensions.", body = Vec<SuspensionView>),
        (status = 404, description = "No such principal.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn suspensions(
    State(state): State<AppState>,
    _reader: SuspensionReader,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Vec<SuspensionView>>> {
    Ok(Json(state.engine.suspensions_of(&id).await?))
}

/// Requests the restore of a person's open suspension; an admin other than the requester
/// approves it (`POST /api/v1/suspensions/{id}/approve`).
///
/// Admins and responder tokens may request. Requesting again while it waits answers the same
/// request.
#[utoipa::path(
    post,
    path = "/api/v1/principals/{id}/restore",
    tag = "suspensions",
    params(("id" = String, Path, description = "The principal's id.")),
    responses(
        (status = 202, description = "The restore waits for an admin's approval.", body = SuspensionView),
        (status = 404, description = "No such principal, or no open suspension.", body = ErrorBody),
        (status = 409, description = "The suspension is still removing.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn restore(
    State(state): State<AppState>,
    SuspendChange(op): SuspendChange,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<SuspensionView>)> {
    let view = state.engine.request_restore(&id, &op.actor).await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// Approves a requested restore: puts back exactly the items the suspension removed, through
/// their sources, and reads each back.
///
/// Admins only, and not the one who requested the restore. A restore that failed for some
/// item (`restore_failed`) is retried by approving again.
#[utoipa::path(
    post,
    path = "/api/v1/suspensions/{id}/approve",
    tag = "suspensions",
    params(("id" = i64, Path, description = "The suspension's id.")),
    responses(
        (status = 200, description = "The restore's outcome, item by item.", body = SuspensionView),
        (status = 404, description = "No such suspension.", body = ErrorBody),
        (status = 409, description = "No restore is requested for it.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn approve(
    State(state): State<AppState>,
    super::support::AdminChange(op): super::support::AdminChange,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<SuspensionView>> {
    Ok(Json(state.engine.approve_restore(id, &op.actor).await?))
}
