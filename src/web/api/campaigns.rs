//! Campaigns: list, launch, show, reviewers' mail, close, cancel, confirm held-back removals, items, decisions
//! on a reviewer's behalf, a fresh invitation, evidence.

use super::support::{AdminChange, ApiJson, ApiPath, ApiQuery, AuthErrors, Page, Paging};
use crate::domain::closing::Channel;
use crate::domain::closing::Verdict;
use crate::domain::lifecycle::CampaignState;
use crate::domain::mail_state::ReviewerMail;
use crate::engine::campaigns::CampaignView;
use crate::engine::decide::{Choice, DecideReport, Decider};
use crate::engine::NoProgress;
use crate::store::items::{ItemFilter, ItemView};
use crate::web::auth::Reader;
use crate::web::error::{ApiError, ApiResult, ErrorBody};
use crate::web::{AppState, ClientAddr};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignQuery {
    /// Only campaigns in these states, comma-separated (`state=active,closing`).
    #[param(value_type = Option<Vec<CampaignState>>, style = Form, explode = false)]
    state: Option<String>,
}

fn states(q: &CampaignQuery) -> ApiResult<Vec<CampaignState>> {
    q.state
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|e: String| ApiError::bad_request(e).with_field("state"))
        })
        .collect()
}

/// Campaigns, newest first, with their progress.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns",
    tag = "campaigns",
    params(Paging, CampaignQuery),
    responses(
        (status = 200, description = "A page of campaigns, newest first.", body = Page<CampaignView>),
        (status = 400, description = "A query parameter is malformed or out of range (`field` names it).", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _reader: Reader,
    ApiQuery(paging): ApiQuery<Paging>,
    ApiQuery(q): ApiQuery<CampaignQuery>,
) -> ApiResult<Json<Page<CampaignView>>> {
    let states = states(&q)?;
    // Counts only for the campaigns on this page.
    let (_, per_page) = paging.resolve();
    let start = usize::try_from(paging.offset()).unwrap_or(usize::MAX);
    let (items, total) = state
        .engine
        .campaigns_page(&states, start..start.saturating_add(per_page as usize))
        .await?;
    Ok(Json(paging.page(items, total)))
}

/// What to launch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LaunchRequest {
    /// The definition's name.
    definition: String,
    /// An extra, off-cycle campaign. Without it a definition launches once per period, and a
    /// second launch in the same period is refused (409).
    #[serde(default)]
    adhoc: bool,
}

/// Launches a campaign.
///
/// For the definition's current period, or an extra, off-cycle campaign with `adhoc`.
#[utoipa::path(
    post,
    path = "/api/v1/campaigns",
    tag = "campaigns",
    request_body = LaunchRequest,
    responses(
        (status = 201, description = "The launched campaign, active, its invitations queued.", body = CampaignView),
        (status = 400, description = "The body is not JSON.", body = ErrorBody),
        (status = 404, description = "No definition of that name (`field` = `definition`).", body = ErrorBody),
        (status = 409, description = "The period already has a campaign of this definition, or another process is carrying out its launch.", body = ErrorBody),
        (status = 413, description = "The body is larger than the API takes (1 MiB).", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`.", body = ErrorBody),
        (status = 422, description = "The body does not fit, or the definition cannot launch.", body = ErrorBody),
        (status = 502, description = "The definition's source could not be synced first (or is still being synced by another launch); nothing was launched.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn launch(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    ApiJson(body): ApiJson<LaunchRequest>,
) -> ApiResult<(StatusCode, Json<CampaignView>)> {
    let launched = state
        .engine
        .launch(&body.definition, body.adhoc, &op.actor, &NoProgress)
        .await
        .map_err(|e| ApiError::from(e).field_if_not_found("definition"))?;
    let view = state.engine.campaign(launched.id).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// A campaign and its progress.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{id}",
    tag = "campaigns",
    params(("id" = i64, Path, description = "The campaign's id.")),
    responses(
        (status = 200, description = "The campaign.", body = CampaignView),
        (status = 404, description = "No such campaign.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn show(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CampaignView>> {
    Ok(Json(state.engine.campaign(id).await?))
}

/// Where each reviewer's mail of the campaign stands.
///
/// Per reviewer (in id order): their invitation (`queued`, `sent` with `sent_at`, `retrying`
/// with the last `error` and `next_attempt_at`, `failed` with the error, `skipped` with why,
/// or `none`), a tally of their other mail, and `text`, the words the console and `campaign
/// show` print.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{id}/reviewers",
    tag = "campaigns",
    params(("id" = i64, Path, description = "The campaign's id."), Paging),
    responses(
        (status = 200, description = "A page of the campaign's reviewers with their mail state.", body = Page<ReviewerMail>),
        (status = 400, description = "A query parameter is malformed or out of range (`field` names it).", body = ErrorBody),
        (status = 404, description = "No such campaign.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn reviewers(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> ApiResult<Json<Page<ReviewerMail>>> {
    Ok(Json(paging.slice(state.engine.reviewer_mail(id).await?)))
}

/// Closes an active campaign now.
///
/// Unanswered items are settled by its policy and removals planned (held for an admin's
/// confirmation when a safety rail trips).
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{id}/close",
    tag = "campaigns",
    params(("id" = i64, Path, description = "The campaign's id.")),
    responses(
        (status = 200, description = "The closed campaign (remediating).", body = CampaignView),
        (status = 404, description = "No such campaign.", body = ErrorBody),
        (status = 409, description = "The campaign is not active.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn close(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CampaignView>> {
    state.engine.close(id, &op.actor).await?;
    Ok(Json(state.engine.campaign(id).await?))
}

/// Cancels a campaign that has not completed.
///
/// No more decisions are taken and nothing (more) is removed.
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{id}/cancel",
    tag = "campaigns",
    params(("id" = i64, Path, description = "The campaign's id.")),
    responses(
        (status = 200, description = "The cancelled campaign.", body = CampaignView),
        (status = 404, description = "No such campaign.", body = ErrorBody),
        (status = 409, description = "The campaign has completed or was cancelled.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CampaignView>> {
    state.engine.cancel(id, &op.actor).await?;
    Ok(Json(state.engine.campaign(id).await?))
}

/// Releases the removals a safety rail held back for an admin's confirmation.
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{id}/confirm-removals",
    tag = "campaigns",
    params(("id" = i64, Path, description = "The campaign's id.")),
    responses(
        (status = 200, description = "The campaign; its held removals now proceed.", body = CampaignView),
        (status = 404, description = "No such campaign.", body = ErrorBody),
        (status = 409, description = "The campaign is not closed (remediating).", body = ErrorBody),
        (status = 422, description = "No removals await confirmation.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn confirm_removals(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CampaignView>> {
    state.engine.confirm_removals(id, &op.actor).await?;
    Ok(Json(state.engine.campaign(id).await?))
}

/// Which items of a campaign to list.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemShow {
    All,
    Undecided,
    Decided,
    /// Revoked by a person or by the policy.
    Revoked,
    Flagged,
    /// Standing access: active assignments.
    Standing,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemQuery {
    /// Only this reviewer's items (the reviewer's principal id).
    reviewer: Option<String>,
    /// Only this holder's items (principal id).
    holder: Option<String>,
    /// Which items (default `all`).
    #[param(inline)]
    show: Option<ItemShow>,
}

/// A campaign's items, by id.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{id}/items",
    tag = "campaigns",
    params(("id" = i64, Path, description = "The campaign's id."), Paging, ItemQuery),
    responses(
        (status = 200, description = "A page of items.", body = Page<ItemView>),
        (status = 400, description = "A query parameter is malformed or out of range (`field` names it).", body = ErrorBody),
        (status = 404, description = "No such campaign.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn items(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(paging): ApiQuery<Paging>,
    ApiQuery(q): ApiQuery<ItemQuery>,
) -> ApiResult<Json<Page<ItemView>>> {
    let show = match q.show.unwrap_or(ItemShow::All) {
        ItemShow::All => None,
        ItemShow::Undecided => Some("undecided"),
        ItemShow::Decided => Some("decided"),
        ItemShow::Revoked => Some("revoked"),
        ItemShow::Flagged => Some("flagged"),
        ItemShow::Standing => Some("standing"),
    };
    let filter = ItemFilter {
        reviewer: q.reviewer,
        holder: q.holder,
        show: show.map(str::to_string),
    };
    let (_, per_page) = paging.resolve();
    let (items, total) = state
        .engine
        .items(id, &filter, per_page, paging.offset())
        .await?;
    Ok(Json(paging.page(items, total)))
}

/// One item's answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemDecision {
    item_id: i64,
    verdict: Verdict,
    /// Required where the campaign's policy requires one for this verdict; at most 2,000
    /// characters, no control characters but line breaks and tabs.
    #[schema(max_length = 2000)]
    justification: Option<String>,
}

/// Decisions an admin records, all or nothing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    /// The reviewer (principal id) the admin decides for: every item must be assigned to them,
    /// and the decisions are recorded as made on their behalf. Without it, any items of the
    /// campaign.
    reviewer: Option<String>,
    #[schema(min_items = 1)]
    items: Vec<ItemDecision>,
}

/// Records decisions as an admin, on a reviewer's behalf.
///
/// All or nothing; a retried request records nothing twice. The audit log names the caller.
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{id}/decisions",
    tag = "campaigns",
    params(("id" = i64, Path, description = "The campaign's id.")),
    request_body = DecideRequest,
    responses(
        (status = 200, description = "How many decisions were recorded (a retried request records nothing twice).", body = DecideReport),
        (status = 400, description = "The body is not JSON.", body = ErrorBody),
        (status = 404, description = "No such campaign or item.", body = ErrorBody),
        (status = 409, description = "The campaign does not accept decisions (not active).", body = ErrorBody),
        (status = 413, description = "The body is larger than the API takes (1 MiB).", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`.", body = ErrorBody),
        (status = 422, description = "The body does not fit: no items, an item twice, a missing justification, an item not assigned to `reviewer`, a `convert` of an item that is not standing access or whose source cannot convert.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn decide(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    ClientAddr(addr): ClientAddr,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<DecideRequest>,
) -> ApiResult<Json<DecideReport>> {
    let acting_for = match body.reviewer.as_deref() {
        None => None,
        Some(reviewer) => Some(state.engine.principal_id(reviewer).await?.ok_or_else(|| {
            ApiError::invalid(
                "reviewer",
                format!("no principal {}", crate::domain::limits::quote(reviewer)),
            )
        })?),
    };
    let choices: Vec<Choice> = body
        .items
        .iter()
        .map(|i| Choice {
            item_id: i.item_id,
            verdict: i.verdict,
            justification: i.justification.as_deref(),
        })
        .collect();
    let decider = Decider {
        reviewer: None,
        acting_for,
        channel: Channel::Api,
        client_addr: addr.as_deref(),
        actor: &op.actor,
    };
    // The engine checks, in the transaction that records them, that the items are the
    // reviewer's; what it refuses is about the items.
    Ok(Json(
        state
            .engine
            .decide_each(id, &choices, &decider)
            .await
            .map_err(|e| ApiError::from(e).field_if_invalid("items"))?,
    ))
}

/// Whom to send a fresh invitation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    /// The reviewer's principal id.
    reviewer: String,
    /// Revoke the reviewer's earlier links of this campaign at once, so only the new one works
    /// (default false: the old links keep working beside the new one).
    #[serde(default)]
    replace: bool,
}

/// A fresh invitation was queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResendReport {
    pub campaign_id: i64,
    pub reviewer: String,
    pub queued: bool,
    /// How many earlier links were revoked (0 without `replace`).
    pub links_revoked: u64,
}

/// Queues a fresh invitation (with a new link) to a reviewer of an active campaign; with
/// `replace`, the reviewer's earlier links stop working at once.
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{id}/resend-invitation",
    tag = "campaigns",
    params(("id" = i64, Path, description = "The campaign's id.")),
    request_body = ResendRequest,
    responses(
        (status = 202, description = "The invitation is queued for the mail worker.", body = ResendReport),
        (status = 400, description = "The body is not JSON.", body = ErrorBody),
        (status = 404, description = "No such campaign or principal.", body = ErrorBody),
        (status = 409, description = "The campaign is not active.", body = ErrorBody),
        (status = 413, description = "The body is larger than the API takes (1 MiB).", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`.", body = ErrorBody),
        (status = 422, description = "The body does not fit, or the principal reviews nothing in this campaign.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn resend_invitation(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ResendRequest>,
) -> ApiResult<(StatusCode, Json<ResendReport>)> {
    let links_revoked = state
        .engine
        .resend_invitation(id, &body.reviewer, body.replace, &op.actor)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ResendReport {
            campaign_id: id,
            reviewer: body.reviewer,
            queued: true,
            links_revoked,
        }),
    ))
}

/// Queues the campaign's failed mail again (after a mail server outage, say).
///
/// Sent at once by the mail worker, attempts counted afresh; mail to people without an address
/// stays failed. The campaign's `mail_*` counts show where mail stands.
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{id}/mail/requeue",
    tag = "campaigns",
    params(("id" = i64, Path, description = "The campaign's id.")),
    responses(
        (status = 200, description = "The campaign, with its mail counts after the re-queue.", body = CampaignView),
        (status = 404, description = "No such campaign.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn requeue_mail(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CampaignView>> {
    state.engine.requeue_failed_mail(id, &op.actor).await?;
    Ok(Json(state.engine.campaign(id).await?))
}

/// The campaign's signed evidence bundle.
///
/// A zip: the bundle stored at completion, else one made now from the campaign so far.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{id}/evidence",
    tag = "campaigns",
    params(("id" = i64, Path, description = "The campaign's id.")),
    responses(
        (status = 200, description = "The evidence bundle: a zip of the signed manifest, items, decisions, audit excerpt and report.", content(("application/zip"))),
        (status = 404, description = "No such campaign.", body = ErrorBody),
        (status = 409, description = "The campaign is still launching.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn evidence(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    Ok(crate::web::downloads::evidence_zip(&state.engine, id).await?)
}
