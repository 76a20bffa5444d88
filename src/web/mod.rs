//! The web: reviewer pages under `/r/{token}`, the console (`/admin`, `/audit`), and the REST
//! API (`/api/v1`). Thin: handlers parse the request, call the engine, and render a page or JSON.

pub mod api;
pub mod auth;
mod challenge;
mod client;
pub mod console;
mod downloads;
pub mod error;
mod health;
pub mod in_flight;
mod oidc;
mod review;

use crate::domain::limits::{
    bytes_text, API_BODY_MAX_BYTES, DEFINITION_FORM_BODY_MAX_BYTES, DEFINITION_MAX_BYTES,
    FORM_BODY_MAX_BYTES, REVIEW_FORM_BODY_MAX_BYTES,
};
use crate::engine::Engine;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;

pub use client::ClientAddr;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    /// Where users reach this instance; cookies are `Secure` when it is https.
    pub base_url: String,
}

/// The whole web application.
pub fn router(state: AppState) -> Router {
    // Counting starts with the server, so the first requests and the workers' events are in.
    crate::telemetry::install();
    Router::new()
        .merge(review::routes())
        .merge(challenge::routes())
        .merge(auth::routes(state.clone()))
        .merge(oidc::routes())
        .merge(console::routes())
        .merge(api::routes())
        .merge(health::routes())
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/login") }),
        )
        .route("/static/attest.css", get(stylesheet))
        .layer(middleware::from_fn(limit_body))
        // A backstop for any extractor that buffers a body: no route takes more.
        .layer(DefaultBodyLimit::max(API_BODY_MAX_BYTES))
        // Outside the body's reading: a request waiting for its turn holds no body yet.
        .layer(middleware::from_fn_with_state(
            in_flight::InFlight::default(),
            in_flight::bound,
        ))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(health::count_requests))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../templates/static/attest.css"),
    )
        .into_response()
}

/// The most a request to `path` may send, or `None` for the routes with a limit of their own:
/// the API's import route (streamed to a file) and sign-in.
fn body_limit(path: &str) -> Option<usize> {
    if path.starts_with("/api/v1/imports/") {
        None
    } else if path == "/login" {
        // Sign-in has a tighter limit of its own (auth::LOGIN_BODY_LIMIT, enforced by the route
        // however the body comes), and answers with the login page so the person can retry.
        None
    } else if path == "/api/v1/definitions" {
        Some(DEFINITION_MAX_BYTES)
    } else if path.starts_with("/api/") {
        Some(API_BODY_MAX_BYTES)
    } else if path == "/admin/definitions" {
        Some(DEFINITION_FORM_BODY_MAX_BYTES)
    } else if path.starts_with("/r/") {
        Some(REVIEW_FORM_BODY_MAX_BYTES)
    } else {
        Some(FORM_BODY_MAX_BYTES)
    }
}

/// Reads the request body up to the route's limit before any handler runs: a larger one is
/// answered with a 413 naming the limit (a page, or the API's JSON error) and changes
/// nothing, whether or not it announced its length.
async fn limit_body(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let Some(limit) = body_limit(path) else {
        return next.run(request).await;
    };
    let api = path.starts_with("/api/");
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(api, limit);
    }
    let (parts, body) = request.into_parts();
    let mut stream = body.into_data_stream();
    let mut read: Vec<u8> = Vec::new();
    while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
        match chunk {
            Ok(chunk) if read.len() + chunk.len() > limit => return too_large(api, limit),
            Ok(chunk) => read.extend_from_slice(&chunk),
            Err(e) => {
                let message = format!("the request body could not be read: {e}");
                return if api {
                    error::api_error(StatusCode::BAD_REQUEST, "bad_request", &message, None)
                } else {
                    error::message_page(StatusCode::BAD_REQUEST, "Bad request", &message)
                };
            }
        }
    }
    let body = Body::from(Bytes::from(read));
    next.run(Request::from_parts(parts, body)).await
}

fn too_large(api: bool, limit: usize) -> Response {
    let limit = bytes_text(limit as u64);
    if api {
        error::api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            &format!("the request body is larger than {limit}, the most this route takes; nothing was changed"),
            None,
        )
    } else {
        error::message_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Too much to send",
            &format!("What was sent is larger than {limit}, the most this page takes. Nothing was changed; please go back and send less."),
        )
    }
}

/// Pages carry personal links in their URL: never cache them, never send them on as a
/// referrer, never frame them, and run no script.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let static_asset = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/css"));
    if !static_asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}
