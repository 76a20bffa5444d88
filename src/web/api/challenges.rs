//! Challenge periods (`engine::challenges`): a campaign's challenges, and an admin's answer to
//! one (`keep` after all, or `uphold` the revocation).

use super::support::{AdminChange, ApiPath, ApiQuery, AuthErrors, Page, Paging};
use crate::domain::challenge::Answer;
use crate::domain::closing::Channel;
use crate::engine::challenges::Answerer;
use crate::store::challenges::ChallengeView;
use crate::web::auth::Reader;
use crate::web::error::{ApiResult, ErrorBody};
use crate::web::AppState;
use axum::extract::State;
use axum::Json;

/// A campaign's challenges (definitions with `challenge_days`), oldest first.
///
/// `state`: `open` (mailed to the holder, no reason yet), `submitted` (a reason waits for an
/// answer), `kept` (kept after all), `upheld`, `expired` (a reason nobody answered by the end
/// of the period: the revocation stands), `lapsed` (no reason given).
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{id}/challenges",
    tag = "campaigns",
    params(("id" = i64, Path, description = "The campaign's id."), Paging),
    responses(
        (status = 200, description = "A page of the campaign's challenges.", body = Page<ChallengeView>),
        (status = 400, description = "A query parameter is malformed or out of range (`field` names it).", body = ErrorBody),
        (status = 404, description = "No such campaign.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> ApiResult<Json<Page<ChallengeView>>> {
    Ok(Json(paging.slice(state.engine.challenges(id).await?)))
}

async fn answer(
    state: &AppState,
    actor: &str,
    id: i64,
    challenge: i64,
    answer: Answer,
) -> ApiResult<Json<ChallengeView>> {
    let by = Answerer {
        reviewer: None,
        channel: Channel::Api,
        actor,
    };
    Ok(Json(
        state
            .engine
            .answer_challenge(id, challenge, answer, &by)
            .await?,
    ))
}

/// Keeps a challenged eligibility after all: its removal is cancelled and the item becomes
/// kept by a person, the challenge named as the reason.
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{id}/challenges/{challenge}/keep",
    tag = "campaigns",
    params(
        ("id" = i64, Path, description = "The campaign's id."),
        ("challenge" = i64, Path, description = "The challenge's id."),
    ),
    responses(
        (status = 200, description = "The challenge, answered.", body = ChallengeView),
        (status = 404, description = "No such campaign or challenge.", body = ErrorBody),
        (status = 409, description = "No reason was given, it was answered already, its period ended, or the campaign is no longer remediating.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn keep(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    ApiPath((id, challenge)): ApiPath<(i64, i64)>,
) -> ApiResult<Json<ChallengeView>> {
    answer(&state, &op.actor, id, challenge, Answer::Keep).await
}

/// Upholds a challenged revocation: its removal runs at once.
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{id}/challenges/{challenge}/uphold",
    tag = "campaigns",
    params(
        ("id" = i64, Path, description = "The campaign's id."),
        ("challenge" = i64, Path, description = "The challenge's id."),
    ),
    responses(
        (status = 200, description = "The challenge, answered.", body = ChallengeView),
        (status = 404, description = "No such campaign or challenge.", body = ErrorBody),
        (status = 409, description = "No reason was given, it was answered already, its period ended, or the campaign is no longer remediating.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn uphold(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    ApiPath((id, challenge)): ApiPath<(i64, i64)>,
) -> ApiResult<Json<ChallengeView>> {
    answer(&state, &op.actor, id, challenge, Answer::Uphold).await
}
