//! Configured sources (`[sources.NAME]`): list them with their last sync, test one (changes
//! nothing), sync one now.

use super::support::{ApiPath, AuthErrors};
use crate::engine::sync::{SourceListing, SyncReport, TestReport};
use crate::web::auth::Reader;
use crate::web::error::{ApiResult, ErrorBody};
use crate::web::AppState;
use axum::extract::State;
use axum::Json;

use super::support::AdminChange;

/// The configured sources: kind, server, the environment variable holding the secret (never
/// the secret), sync schedule, last sync and what each holds.
#[utoipa::path(
    get,
    path = "/api/v1/sources",
    tag = "directory",
    responses(
        (status = 200, description = "The configured sources, in name order.", body = Vec<SourceListing>),
        AuthErrors,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _reader: Reader,
) -> ApiResult<Json<Vec<SourceListing>>> {
    Ok(Json(state.engine.list_sources().await?))
}

/// Connects, authenticates, checks the permissions removal needs and counts; changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/sources/{name}/test",
    tag = "directory",
    params(("name" = String, Path, description = "The source's name in attest.toml.")),
    responses(
        (status = 200, description = "Every check passed.", body = TestReport),
        (status = 404, description = "No such source is configured.", body = ErrorBody),
        (status = 502, description = "The source is unreachable, refused the credentials or lacks a permission; the message says which.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn test(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<TestReport>> {
    Ok(Json(state.engine.test_source(&name, &op.actor).await?))
}

/// Pulls the source's people, roles and eligibility now (a full sync of its rows).
#[utoipa::path(
    post,
    path = "/api/v1/sources/{name}/sync",
    tag = "directory",
    params(("name" = String, Path, description = "The source's name in attest.toml.")),
    responses(
        (status = 200, description = "What the sync did: new, changed, removed, reappeared.", body = SyncReport),
        (status = 404, description = "No such source is configured.", body = ErrorBody),
        (status = 422, description = "The source only removes (a webhook).", body = ErrorBody),
        (status = 502, description = "The source could not be read, or the sync would mark more than half of its eligibility removed (`attest source sync --force` when it really shrank); nothing was changed.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn sync(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<SyncReport>> {
    Ok(Json(state.engine.sync_source(&name, &op.actor).await?))
}
