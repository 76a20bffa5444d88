//! Re-running a campaign for its non-responders: `POST /api/v1/campaigns/{id}/rerun`.

use super::support::{AdminChange, ApiJson, ApiPath, AuthErrors};
use crate::domain::rerun::RERUN_MAX_DAYS;
use crate::engine::rerun::RerunReport;
use crate::web::error::{ApiError, ApiResult, ErrorBody};
use crate::web::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

/// How long the re-run lasts.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RerunRequest {
    /// Days from now, 1 to 90; the re-run must end after the current deadline.
    #[schema(minimum = 1, maximum = 90)]
    pub days: i64,
}

/// Re-opens an active campaign's unanswered items for more days, before its policy settles
/// them.
///
/// The campaign gets a new deadline; each reviewer with unanswered items gets a mail with a
/// fresh link, and every earlier link stops working. Answers already given stand and can no
/// longer change. A campaign may be re-run three times.
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{id}/rerun",
    tag = "campaigns",
    params(("id" = i64, Path, description = "The campaign's id.")),
    request_body = RerunRequest,
    responses(
        (status = 200, description = "The round now open and what it re-opened.", body = RerunReport),
        (status = 400, description = "The body is not JSON.", body = ErrorBody),
        (status = 404, description = "No such campaign.", body = ErrorBody),
        (status = 409, description = "The campaign is not active.", body = ErrorBody),
        (status = 413, description = "The body is larger than the API takes (1 MiB).", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`.", body = ErrorBody),
        (status = 422, description = "The days are out of range or end before the current deadline, nothing is unanswered, or the campaign was re-run three times already.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn rerun(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<RerunRequest>,
) -> ApiResult<Json<RerunReport>> {
    let days = u32::try_from(body.days)
        .ok()
        .filter(|d| (1..=RERUN_MAX_DAYS).contains(d))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                format!("days must be between 1 and {RERUN_MAX_DAYS}"),
            )
            .with_field("days")
        })?;
    Ok(Json(state.engine.rerun(id, days, &op.actor).await?))
}
