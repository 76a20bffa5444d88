//! Multi-stage reviews (`engine::stages`): a campaign's stages with their figures, and an
//! admin ending the open stage early to open the next.

use super::support::{AdminChange, ApiPath, AuthErrors};
use crate::engine::stages::{StageReport, StagesView};
use crate::web::auth::Reader;
use crate::web::error::{ApiResult, ErrorBody};
use crate::web::AppState;
use axum::extract::State;
use axum::Json;

/// A campaign's stages: the one open, how many it has, the outcome rule, and each stage opened
/// so far with its reviewers, deadline and the decisions given in it.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{id}/stages",
    tag = "campaigns",
    params(("id" = i64, Path, description = "The campaign's id.")),
    responses(
        (status = 200, description = "The campaign's stages.", body = StagesView),
        (status = 400, description = "The id is malformed.", body = ErrorBody),
        (status = 404, description = "No such campaign.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<StagesView>> {
    Ok(Json(state.engine.stages(id).await?))
}

/// Ends the open stage of a multi-stage campaign now and opens the next, as its deadline would.
///
/// The items the outcome rule lets go on get the next stage's reviewers, a new deadline and a
/// mail with a fresh link; every earlier link stops working; the earlier stage's decisions stay
/// on record and are shown to the next stage's reviewers.
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{id}/next-stage",
    tag = "campaigns",
    params(("id" = i64, Path, description = "The campaign's id.")),
    responses(
        (status = 200, description = "The stage now open and what entered it.", body = StageReport),
        (status = 400, description = "The id is malformed.", body = ErrorBody),
        (status = 404, description = "No such campaign.", body = ErrorBody),
        (status = 409, description = "The campaign is not active.", body = ErrorBody),
        (status = 422, description = "The campaign is in its last stage, or no item goes on to the next.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn next(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<StageReport>> {
    Ok(Json(state.engine.next_stage(id, &op.actor).await?))
}
