//! What every API handler shares: the JSON error and its mapping from engine errors, extractors
//! that answer a malformed request in that shape (naming the field at fault), the admin
//! extractor that also demands a session's anti-forgery header, paging, and the error responses
//! the OpenAPI document lists for every operation.

use crate::domain::limits::clip_message;
use crate::engine::accounts::Operator;
use crate::engine::Engine;
use crate::web::auth::Admin;
use crate::web::error::ApiError;
use crate::web::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
use utoipa::{IntoParams, ToSchema};

/// The header a console session's changes carry (API tokens need none: no other site can send
/// them).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// An admin allowed to change things: `Admin`, plus, for a console session, the session's
/// anti-forgery value in `X-CSRF-Token` (`GET /api/v1/me` shows it). A refusal is audited.
pub struct AdminChange(pub Operator);

impl FromRequestParts<AppState> for AdminChange {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Admin(operator) = Admin::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        forgery_checked(operator, parts, state)
            .await
            .map(AdminChange)
    }
}

/// Someone who may suspend (an admin or a responder token), with a session's anti-forgery
/// header checked as for [`AdminChange`].
pub struct SuspendChange(pub Operator);

impl FromRequestParts<AppState> for SuspendChange {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let crate::web::auth::Suspender(operator) =
            crate::web::auth::Suspender::from_request_parts(parts, state)
                .await
                .map_err(IntoResponse::into_response)?;
        forgery_checked(operator, parts, state)
            .await
            .map(SuspendChange)
    }
}

/// `operator` when their change may go ahead: a token, or a session that sent its
/// anti-forgery value. A refusal is audited.
async fn forgery_checked(
    operator: Operator,
    parts: &Parts,
    state: &AppState,
) -> Result<Operator, Response> {
    let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    if Engine::csrf_ok(&operator, sent) {
        return Ok(operator);
    }
    let _ = state
        .engine
        .audit_denied(
            &operator.actor,
            "api.forgery_refused",
            "a change through a console session came without the session's X-CSRF-Token",
        )
        .await;
    Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "a change made with a console session must carry the session's X-CSRF-Token header (GET /api/v1/me shows it); nothing was changed",
        )
        .into_response())
}

/// A JSON request body, parsed with the path of the field at fault: malformed JSON is a 400,
/// JSON of the wrong shape a 422 naming the field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !content_type_is(request.headers(), &["application/json"]) {
            return Err(unsupported("application/json"));
        }
        let bytes = read_body(request, state).await?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| json_error(e.path().to_string(), e.into_inner()))
            .and_then(|value| {
                de.end()
                    .map(|()| value)
                    .map_err(|e| json_error(".".into(), e))
            })?;
        Ok(ApiJson(value))
    }
}

/// serde's messages quote the value they did not expect, whole: they are cut, and so is the
/// path (it may hold a map's key).
fn json_error(path: String, e: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let category = e.classify();
    let path = clip_message(&path).into_owned();
    let e = clip_message(&e.to_string()).into_owned();
    match category {
        Category::Data => {
            let error = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                if path == "." {
                    format!("the request body does not fit: {e}")
                } else {
                    format!("{path}: {e}")
                },
            );
            if path == "." {
                error
            } else {
                error.with_field(path)
            }
        }
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::bad_request(format!("the request body is not valid JSON: {e}"))
        }
    }
}

/// A UTF-8 text request body whose content type is one of a few (a TOML definition).
pub async fn text_body<S: Send + Sync>(
    request: Request,
    state: &S,
    accepted: &[&str],
) -> Result<String, ApiError> {
    if !content_type_is(request.headers(), accepted) {
        return Err(unsupported(&accepted.join(" or ")));
    }
    let bytes = read_body(request, state).await?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::bad_request("the request body is not UTF-8 text"))
}

async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            // The router's body limit answers first (naming the route's limit); this is a
            // backstop.
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large; nothing was changed",
            )
        } else {
            ApiError::bad_request(format!("the request body could not be read: {e}"))
        }
    })
}

/// The media type of the request (without parameters such as `charset`), lower-case.
pub fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

fn content_type_is(headers: &HeaderMap, accepted: &[&str]) -> bool {
    content_type(headers).is_some_and(|t| accepted.contains(&t.as_str()))
}

pub fn unsupported(expected: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!("send the request body as {expected} (set Content-Type)"),
    )
}

/// Query parameters, parsed with the name of the one at fault (a 400).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let field = e.path().to_string();
                let inner = clip_message(&e.into_inner().to_string()).into_owned();
                if field == "." {
                    ApiError::bad_request(format!("the query string is not valid: {inner}"))
                } else {
                    let field = clip_message(&field).into_owned();
                    ApiError::bad_request(format!("query parameter {field}: {inner}"))
                        .with_field(field)
                }
            })
    }
}

/// Path parameters. A path that does not parse names nothing that exists: a 404.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|e| {
                ApiError::not_found(format!(
                    "no such resource: {}",
                    clip_message(&e.body_text())
                ))
            })
    }
}

/// `page` and `per_page` of a list. A value out of range is refused (a 400 naming it) rather
/// than quietly replaced, so a client never reads a page it did not ask for.
#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Which page, from 1 (default 1). A page past the last one is empty.
    #[serde(default, deserialize_with = "page_number")]
    #[param(minimum = 1)]
    pub page: Option<u64>,
    /// Items a page, 1 to 500 (default 50).
    #[serde(default, deserialize_with = "per_page_count")]
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<u64>,
}

pub const DEFAULT_PER_PAGE: u64 = 50;
pub const MAX_PER_PAGE: u64 = 500;

fn page_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    in_range(d, 1, u64::MAX)
}

fn per_page_count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    in_range(d, 1, MAX_PER_PAGE)
}

/// An optional whole number from `min` to `max`, for the query parameters the document bounds.
pub fn in_range<'de, D: serde::Deserializer<'de>>(
    d: D,
    min: u64,
    max: u64,
) -> Result<Option<u64>, D::Error> {
    let value = Option::<u64>::deserialize(d)?;
    match value {
        Some(n) if n < min || n > max => Err(serde::de::Error::custom(if max == u64::MAX {
            format!("{n} is out of range (at least {min})")
        } else {
            format!("{n} is out of range ({min} to {max})")
        })),
        _ => Ok(value),
    }
}

impl Paging {
    /// (page, per_page), the defaults filled in (and kept in range for a `Paging` not parsed
    /// from a query).
    pub fn resolve(self) -> (u64, u64) {
        (
            self.page.unwrap_or(1).max(1),
            self.per_page
                .unwrap_or(DEFAULT_PER_PAGE)
                .clamp(1, MAX_PER_PAGE),
        )
    }

    /// How many rows the page skips. At most `i64::MAX`: the databases take no more (and a
    /// larger one would wrap negative when bound), and no list is that long, so a far page is
    /// simply empty.
    pub fn offset(self) -> u64 {
        let (page, per_page) = self.resolve();
        (page - 1).saturating_mul(per_page).min(i64::MAX as u64)
    }

    /// One page of a list held whole.
    pub fn slice<T>(self, all: Vec<T>) -> Page<T> {
        let (page, per_page) = self.resolve();
        let total = all.len() as u64;
        let items = all
            .into_iter()
            .skip(usize::try_from(self.offset()).unwrap_or(usize::MAX))
            .take(per_page as usize)
            .collect();
        Page {
            items,
            page,
            per_page,
            total,
        }
    }

    pub fn page<T>(self, items: Vec<T>, total: u64) -> Page<T> {
        let (page, per_page) = self.resolve();
        Page {
            items,
            page,
            per_page,
            total,
        }
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// This page's number, from 1.
    pub page: u64,
    pub per_page: u64,
    /// How many items match in all.
    pub total: u64,
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}

/// The answers every operation may give whatever it does: no or bad credentials, a role that
/// may not, a server failure.
pub struct AuthErrors;

impl utoipa::IntoResponses for AuthErrors {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        BTreeMap::from([
            (
                "401".to_string(),
                error_response("No credentials, or not valid ones (a reviewer's link is not an API credential)."),
            ),
            (
                "403".to_string(),
                error_response("The role may not do this (auditors read, admins change), or a console session's change came without X-CSRF-Token."),
            ),
            (
                "500".to_string(),
                error_response("The server failed; nothing was changed. The cause is in the server's log."),
            ),
        ])
    }
}
