//! OpenID Connect sign-in routes (docs/oidc.md): `/auth/oidc/start` sends the browser to the
//! provider with a fresh state (also set as a cookie, so a callback only works in the browser
//! that started it), `/auth/oidc/callback` finishes the sign-in through the engine. Both answer
//! 404 when `[oidc]` is not configured.

use super::auth::{home, safe_next, secure, session_cookie};
use super::{AppState, ClientAddr};
use crate::engine::oidc::OidcRefusal;
use crate::engine::review::same_secret;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const START_PATH: &str = crate::oidc::config::START_PATH;
const CALLBACK_PATH: &str = crate::oidc::config::CALLBACK_PATH;
/// Holds the state between start and callback. SameSite=Lax: the provider's redirect back is a
/// cross-site navigation, on which a Strict cookie is not sent.
const STATE_COOKIE: &str = "attest_oidc";
/// The longest query string the callback reads (code, state, error and its description fit
/// many times over).
pub const CALLBACK_QUERY_MAX_BYTES: usize = 8 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(START_PATH, get(start))
        .route(CALLBACK_PATH, get(callback))
}

fn not_configured() -> Response {
    super::error::message_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "Single sign-on is not configured on this instance.",
    )
}

fn unavailable() -> Response {
    super::error::message_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-in unavailable",
        "The single sign-on provider cannot be reached just now. Please try again in a minute.",
    )
}

#[derive(serde::Deserialize)]
struct Next {
    next: Option<String>,
}

async fn start(State(state): State<AppState>, Query(q): Query<Next>) -> Response {
    if state.engine.oidc().is_none() {
        return not_configured();
    }
    let next = safe_next(q.next.as_deref()).to_string();
    match state.engine.oidc_start(&next).await {
        Ok(Ok(started)) => {
            let cookie = format!(
                "{STATE_COOKIE}={}; Path={CALLBACK_PATH}; HttpOnly; SameSite=Lax; Max-Age={}{}",
                started.state,
                crate::domain::oidc::LOGIN_MINUTES * 60,
                secure(&state)
            );
            (
                StatusCode::SEE_OTHER,
                [
                    (header::SET_COOKIE, cookie),
                    (header::LOCATION, started.redirect.to_string()),
                ],
            )
                .into_response()
        }
        Ok(Err(_)) => unavailable(),
        Err(e) => {
            tracing::error!("OpenID Connect start: {e}");
            unavailable()
        }
    }
}

#[derive(serde::Deserialize)]
struct Callback {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/signed_in.html")]
struct SignedIn<'a> {
    target: &'a str,
}

fn clear_state_cookie(state: &AppState) -> String {
    format!(
        "{STATE_COOKIE}=; Path={CALLBACK_PATH}; HttpOnly; SameSite=Lax; Max-Age=0{}",
        secure(state)
    )
}

async fn callback(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    if state.engine.oidc().is_none() {
        return not_configured();
    }
    let query = uri.query().unwrap_or("");
    let parsed = (query.len() <= CALLBACK_QUERY_MAX_BYTES)
        .then(|| serde_urlencoded::from_str::<Callback>(query).ok())
        .flatten();
    let Some(q) = parsed else {
        return refused_page(&state, StatusCode::BAD_REQUEST, &format!("The answer from the sign-in provider could not be read (at most {} KiB of code, state and error).", CALLBACK_QUERY_MAX_BYTES / 1024));
    };
    let from_cookie = super::auth::cookie_value(&headers, STATE_COOKIE);
    // The state must be the one this browser was given at the start: a callback link made in
    // another browser (login forgery) opens nothing.
    let state_value = match (q.state.as_deref(), from_cookie) {
        (Some(given), Some(kept)) if same_secret(given, kept) => given.to_string(),
        _ => {
            tracing::info!(client_addr = ?addr, "OpenID Connect callback without this browser's state");
            return refused_page(&state, StatusCode::BAD_REQUEST, "This sign-in was not started in this browser, or it was already used. Please sign in again.");
        }
    };
    let outcome = state
        .engine
        .oidc_callback(
            &state_value,
            q.code.as_deref(),
            q.error.as_deref(),
            addr.as_deref(),
        )
        .await;
    match outcome {
        Ok(Ok(signed)) => {
            // A page, not a redirect: this request came from the provider (cross-site), and a
            // browser would not send the SameSite=Strict session cookie along a redirect of it.
            let next = safe_next(Some(&signed.next)).to_string();
            let target = home(signed.session.role, &next);
            let session = session_cookie(&state, &signed.session);
            match (SignedIn { target: &target }).render() {
                Ok(html) => {
                    let mut response = (StatusCode::OK, Html(html)).into_response();
                    let h = response.headers_mut();
                    for c in [session, clear_state_cookie(&state)] {
                        if let Ok(v) = header::HeaderValue::from_str(&c) {
                            h.append(header::SET_COOKIE, v);
                        }
                    }
                    response
                }
                Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
            }
        }
        Ok(Err(OidcRefusal::UnknownState)) => refused_page(&state, StatusCode::BAD_REQUEST, "This sign-in expired or was already used. Please sign in again."),
        Ok(Err(OidcRefusal::Refused(_))) => refused_page(&state, StatusCode::UNAUTHORIZED, "The sign-in provider's answer was refused (the reason is in the audit log). Please sign in again."),
        Ok(Err(OidcRefusal::NoRole)) => refused_page(&state, StatusCode::FORBIDDEN, "You signed in at the provider, but your account has no attest role: ask an administrator to add you to the admin or auditor group."),
        Ok(Err(OidcRefusal::AccountRefused(reason))) => refused_page(&state, StatusCode::FORBIDDEN, &format!("Your account may not sign in: {reason}.")),
        Ok(Err(OidcRefusal::Unavailable(_))) => unavailable(),
        Err(e) => {
            tracing::error!("OpenID Connect callback: {e}");
            refused_page(&state, StatusCode::SERVICE_UNAVAILABLE, "Something went wrong on our side; please sign in again.")
        }
    }
}

/// A refusal: says what happened, links back to sign-in, and clears the state cookie.
fn refused_page(state: &AppState, status: StatusCode, message: &str) -> Response {
    let mut response = super::error::message_page(status, "Sign-in refused", message);
    if let Ok(v) = header::HeaderValue::from_str(&clear_state_cookie(state)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}
