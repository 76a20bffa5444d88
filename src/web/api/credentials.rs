//! The credential lifecycle through the API: accounts and API tokens listed (auditors read),
//! accounts disabled, enabled, re-roled and given a new password, tokens revoked, a reviewer's
//! links revoked (admins change). Every change is audited by the engine, and a revoked
//! credential is refused from the next request on.

use super::support::{AdminChange, ApiJson, ApiPath, ApiQuery, AuthErrors, Page, Paging};
use crate::domain::access::Role;
use crate::engine::credentials::{AccountChangeReport, AccountView, TokenView};
use crate::engine::EngineError;
use crate::web::auth::Reader;
use crate::web::error::{ApiError, ApiResult, ErrorBody};
use crate::web::AppState;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Console accounts, by email.
#[utoipa::path(
    get,
    path = "/api/v1/accounts",
    tag = "accounts",
    params(Paging),
    responses(
        (status = 200, description = "A page of accounts (never their passwords).", body = Page<AccountView>),
        (status = 400, description = "A query parameter is malformed or out of range (`field` names it).", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn accounts(
    State(state): State<AppState>,
    _reader: Reader,
    ApiQuery(paging): ApiQuery<Paging>,
) -> ApiResult<Json<Page<AccountView>>> {
    Ok(Json(paging.slice(state.engine.accounts().await?)))
}

/// Disables an account.
///
/// It can no longer sign in; its sessions end and the API tokens it created are revoked, at
/// once. The last enabled admin cannot be disabled.
#[utoipa::path(
    post,
    path = "/api/v1/accounts/{id}/disable",
    tag = "accounts",
    params(("id" = i64, Path, description = "The account's id.")),
    responses(
        (status = 200, description = "The account, and what was revoked.", body = AccountChangeReport),
        (status = 404, description = "No such account.", body = ErrorBody),
        (status = 409, description = "It is the last enabled admin.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn disable(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<AccountChangeReport>> {
    Ok(Json(
        state
            .engine
            .disable_account(&id.to_string(), &op.actor)
            .await?,
    ))
}

/// Enables an account again.
///
/// It may sign in again (a lock-out is lifted); what disabling revoked stays revoked.
#[utoipa::path(
    post,
    path = "/api/v1/accounts/{id}/enable",
    tag = "accounts",
    params(("id" = i64, Path, description = "The account's id.")),
    responses(
        (status = 200, description = "The account.", body = AccountChangeReport),
        (status = 404, description = "No such account.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn enable(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<AccountChangeReport>> {
    Ok(Json(
        state
            .engine
            .enable_account(&id.to_string(), &op.actor)
            .await?,
    ))
}

/// A new role for an account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    role: Role,
}

/// Gives an account another role, from its next request on.
///
/// Its sessions end; a demotion to auditor also revokes the admin tokens it created. The last
/// enabled admin cannot be demoted.
#[utoipa::path(
    post,
    path = "/api/v1/accounts/{id}/role",
    tag = "accounts",
    params(("id" = i64, Path, description = "The account's id.")),
    request_body = RoleRequest,
    responses(
        (status = 200, description = "The account, and what was revoked.", body = AccountChangeReport),
        (status = 400, description = "The body is not JSON.", body = ErrorBody),
        (status = 404, description = "No such account.", body = ErrorBody),
        (status = 409, description = "It is the last enabled admin.", body = ErrorBody),
        (status = 413, description = "The body is larger than the API takes (1 MiB).", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`.", body = ErrorBody),
        (status = 422, description = "The body does not fit (an unknown role).", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn role(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<RoleRequest>,
) -> ApiResult<Json<AccountChangeReport>> {
    Ok(Json(
        state
            .engine
            .set_account_role(&id.to_string(), body.role, &op.actor)
            .await?,
    ))
}

/// A new password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    /// At least 12 characters.
    #[schema(min_length = 12)]
    password: String,
}

/// Sets an account's password.
///
/// Every session of the account ends, but the caller's own when they set their own password.
#[utoipa::path(
    post,
    path = "/api/v1/accounts/{id}/password",
    tag = "accounts",
    params(("id" = i64, Path, description = "The account's id.")),
    request_body = PasswordRequest,
    responses(
        (status = 200, description = "The account, and how many sessions ended.", body = AccountChangeReport),
        (status = 400, description = "The body is not JSON.", body = ErrorBody),
        (status = 404, description = "No such account.", body = ErrorBody),
        (status = 413, description = "The body is larger than the API takes (1 MiB).", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`.", body = ErrorBody),
        (status = 422, description = "The body does not fit, or the password is shorter than 12 characters.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn password(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<PasswordRequest>,
) -> ApiResult<Json<AccountChangeReport>> {
    let report = state
        .engine
        .set_account_password(&id.to_string(), &body.password, op.session_id, &op.actor)
        .await
        .map_err(|e| match e {
            EngineError::Invalid(m) => ApiError::invalid("password", m),
            other => ApiError::from(other),
        })?;
    Ok(Json(report))
}

/// API tokens, live ones first, with when each was last used.
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "accounts",
    params(Paging),
    responses(
        (status = 200, description = "A page of tokens (never the tokens themselves).", body = Page<TokenView>),
        (status = 400, description = "A query parameter is malformed or out of range (`field` names it).", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn tokens(
    State(state): State<AppState>,
    _reader: Reader,
    ApiQuery(paging): ApiQuery<Paging>,
) -> ApiResult<Json<Page<TokenView>>> {
    Ok(Json(paging.slice(state.engine.api_tokens().await?)))
}

/// Revokes an API token: the next request that sends it is refused.
#[utoipa::path(
    post,
    path = "/api/v1/tokens/{id}/revoke",
    tag = "accounts",
    params(("id" = i64, Path, description = "The token's id.")),
    responses(
        (status = 200, description = "The revoked token.", body = TokenView),
        (status = 404, description = "No such token.", body = ErrorBody),
        (status = 409, description = "It was already revoked.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<TokenView>> {
    Ok(Json(
        state
            .engine
            .revoke_api_token(&id.to_string(), &op.actor)
            .await?,
    ))
}

/// What revoking a reviewer's links did.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinksRevoked {
    pub campaign_id: i64,
    pub reviewer: String,
    /// How many live links were revoked.
    pub links_revoked: u64,
}

/// Revokes every link a reviewer holds for a campaign.
///
/// Each then opens only a page saying it was withdrawn, and takes no decision. Resend an
/// invitation to give the reviewer a new one.
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{id}/reviewers/{reviewer}/revoke-links",
    tag = "campaigns",
    params(
        ("id" = i64, Path, description = "The campaign's id."),
        ("reviewer" = String, Path, description = "The reviewer's principal id."),
    ),
    responses(
        (status = 200, description = "How many links were revoked.", body = LinksRevoked),
        (status = 404, description = "No such campaign or principal.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn revoke_links(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    ApiPath((id, reviewer)): ApiPath<(i64, String)>,
) -> ApiResult<Json<LinksRevoked>> {
    let links_revoked = state
        .engine
        .revoke_reviewer_links(id, &reviewer, &op.actor)
        .await?;
    Ok(Json(LinksRevoked {
        campaign_id: id,
        reviewer,
        links_revoked,
    }))
}
