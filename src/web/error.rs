//! Every error answer of the web layer, in one place: the JSON error of the API and its body,
//! the console's and the reviewer's one-message pages, and how an engine error reads on each of
//! the three (one classification, [`EngineError::kind`]; the wording and status each audience
//! needs). Handlers, extractors and the sign-in guard all answer through here.

use crate::domain::records::RowError;
use crate::engine::accounts::Operator;
use crate::engine::{EngineError, ErrorKind};
use crate::web::AppState;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable: `bad_request`, `unauthenticated`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `conflict`, `invalid`, `rejected`, `payload_too_large`,
    /// `unsupported_media_type`, `internal`.
    pub code: String,
    /// For people: what went wrong. Nothing was changed by a request that failed.
    pub message: String,
    /// The request field at fault when there is one: a query parameter, a JSON path such as
    /// `items[0].verdict`, or the column of an import file's first bad row.
    #[schema(required = true)]
    pub field: Option<String>,
    /// A rejected import file's bad rows (the first 20), each with its line number (the
    /// header is line 1), field and reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<Vec<RowError>>,
}

/// An error answer: a status and the JSON body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    detail: ErrorDetail,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            detail: ErrorDetail {
                code: code.to_string(),
                message: message.into(),
                field: None,
                problems: None,
            },
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.detail.field = Some(field.into());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message).with_field(field)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Names `field` when the engine refused its value (a month or day it cannot read).
    pub fn field_if_invalid(self, field: &str) -> Self {
        if self.status == StatusCode::UNPROCESSABLE_ENTITY && self.detail.field.is_none() {
            self.with_field(field)
        } else {
            self
        }
    }

    /// Names `field` when the engine could not find what it named (an unknown definition).
    pub fn field_if_not_found(self, field: &str) -> Self {
        if self.status == StatusCode::NOT_FOUND && self.detail.field.is_none() {
            self.with_field(field)
        } else {
            self
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: self.detail })).into_response()
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Invalid(m) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m),
            EngineError::Rejected(rejection) => {
                let mut error = Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "rejected",
                    rejection.to_string(),
                );
                error.detail.field = rejection.problems.iter().find_map(|p| p.field.clone());
                error.detail.problems = Some(rejection.problems);
                error
            }
            EngineError::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            EngineError::NotFound(m) => Self::not_found(m),
            EngineError::Forbidden(m) => Self::new(StatusCode::FORBIDDEN, "forbidden", m),
            // A source's own answer (unreachable, refused, a missing permission) names no
            // secret and is what the caller must fix.
            EngineError::Source(e) => Self::new(StatusCode::BAD_GATEWAY, "source", e.0),
            EngineError::LaunchWaits(m) => Self::new(StatusCode::BAD_GATEWAY, "source", m),
            EngineError::Store(_) if e.kind() == ErrorKind::Conflict => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                "it would duplicate something that already exists; nothing was changed",
            ),
            EngineError::Store(_) | EngineError::Io(_) => {
                // The cause goes to the log, never to the caller.
                tracing::error!("api: {e}");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "something went wrong on the server; nothing was changed",
                )
            }
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        EngineError::from(e).into()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A JSON error answer (the sign-in extractors answer API requests with it).
pub fn api_error(status: StatusCode, code: &str, message: &str, field: Option<&str>) -> Response {
    let error = ApiError::new(status, code, message);
    match field {
        Some(field) => error.with_field(field),
        None => error,
    }
    .into_response()
}

#[derive(Template)]
#[template(path = "pages/console/message.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: &'a str,
}

/// A page that says one thing: a refusal, an error, a confirmation that is missing.
pub fn message_page(status: StatusCode, title: &str, message: &str) -> Response {
    match (MessagePage { title, message }).render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => (status, format!("{title}: {message} ({e})")).into_response(),
    }
}

/// A refusal's message followed by "Nothing was changed.", whether or not it ends in a full stop.
fn nothing_changed(message: &str) -> String {
    format!(
        "{}. Nothing was changed.",
        message.trim_end().trim_end_matches('.')
    )
}

/// How an engine error reads in the console: a page saying what could not be done, by the
/// error's kind.
pub fn console_failure(e: EngineError) -> Response {
    let (status, title) = match e.kind() {
        ErrorKind::NotFound => {
            return message_page(StatusCode::NOT_FOUND, "Not found", &e.to_string());
        }
        ErrorKind::Invalid | ErrorKind::Conflict | ErrorKind::Forbidden => {
            (StatusCode::CONFLICT, "That could not be done")
        }
        // A source's own answer (unreachable, refused, a missing permission, a launch that
        // waits for it) names no secret and is what the admin must fix.
        ErrorKind::Source => (
            StatusCode::BAD_GATEWAY,
            "The source did not answer as needed",
        ),
        ErrorKind::Internal => {
            tracing::error!("console: {e}");
            return message_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Something went wrong",
                "Nothing was changed; please try again.",
            );
        }
    };
    message_page(status, title, &nothing_changed(&e.to_string()))
}

/// How an engine error reads on a reviewer's page, by the error's kind.
pub fn review_failure(e: EngineError) -> Response {
    let (status, title) = match e.kind() {
        ErrorKind::Conflict => (
            StatusCode::CONFLICT,
            "This review no longer takes decisions",
        ),
        ErrorKind::Forbidden | ErrorKind::Invalid | ErrorKind::NotFound => {
            (StatusCode::UNPROCESSABLE_ENTITY, "That could not be done")
        }
        ErrorKind::Source | ErrorKind::Internal => {
            tracing::error!("review page: {e}");
            return problem_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Something went wrong on our side",
                "Nothing was changed. Please try again in a minute.",
            );
        }
    };
    problem_page(status, title, &nothing_changed(&e.to_string()))
}

#[derive(Template)]
#[template(path = "pages/review/problem.html")]
struct ProblemTemplate<'a> {
    title: &'a str,
    message: &'a str,
}

/// A reviewer's page that says one thing (a refusal, a withdrawn link, an error).
pub fn problem_page(status: StatusCode, title: &str, message: &str) -> Response {
    match (ProblemTemplate { title, message }).render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{title}: {message} ({e})"),
        )
            .into_response(),
    }
}

/// A form without the session's anti-forgery value: refused, audited, nothing changed.
pub async fn forgery_refused(state: &AppState, operator: &Operator) -> Response {
    if let Err(e) = state
        .engine
        .audit_denied(
            &operator.actor,
            "console.forgery_refused",
            "a form arrived without the session's anti-forgery value",
        )
        .await
    {
        tracing::error!("auditing a refused form: {e}");
    }
    message_page(
        StatusCode::FORBIDDEN,
        "This form could not be accepted",
        "It did not carry this session's anti-forgery value (it may be old, or from another site). Nothing was changed.",
    )
}
