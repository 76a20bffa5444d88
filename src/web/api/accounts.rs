//! Who is calling, and API tokens for automation (created by an admin signed in to the console,
//! shown once).

use super::support::{AdminChange, ApiJson, AuthErrors};
use crate::domain::access::Role;
use crate::engine::EngineError;
use crate::web::auth::Reader;
use crate::web::error::{ApiError, ApiResult, ErrorBody};
use crate::web::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// How the audit log names the caller: `account:EMAIL` or `token:NAME`.
    pub actor: String,
    pub role: Role,
    /// A console session's anti-forgery value: send it as `X-CSRF-Token` with every change.
    /// Null for API tokens, which need none.
    pub csrf: Option<String>,
}

/// Who is calling, with which role.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "accounts",
    responses(
        (status = 200, description = "The caller.", body = Me),
        AuthErrors,
    )
)]
pub async fn me(Reader(op): Reader) -> Json<Me> {
    Json(Me {
        actor: op.actor,
        role: op.role,
        csrf: op.csrf,
    })
}

/// A token to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// What will use it (names the token in the audit log: `token:NAME`): one line of at
    /// most 256 characters.
    #[schema(min_length = 1, max_length = 256)]
    name: String,
    /// What the token may do.
    role: Role,
}

/// A new token. The token itself is shown this once; only its hash is kept.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
}

/// Creates an API token, shown once.
///
/// Only an admin signed in to the console (a session, not a token) may.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "accounts",
    request_body = TokenRequest,
    responses(
        (status = 201, description = "The token, shown once.", body = NewToken),
        (status = 400, description = "The body is not JSON.", body = ErrorBody),
        (status = 413, description = "The body is larger than the API takes (1 MiB).", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`.", body = ErrorBody),
        (status = 422, description = "The body does not fit (an empty, too long or multi-line name, an unknown role; `field` names it).", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn create_token(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    ApiJson(body): ApiJson<TokenRequest>,
) -> ApiResult<(StatusCode, Json<NewToken>)> {
    let token = state
        .engine
        .create_api_token(&op, &body.name, body.role)
        .await
        .map_err(|e| match e {
            EngineError::Invalid(m) => ApiError::invalid("name", m),
            other => ApiError::from(other),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(NewToken {
            name: body.name.trim().to_string(),
            role: body.role,
            token,
        }),
    ))
}
