//! Console sign-in: the login page, session cookies (HttpOnly, SameSite=Strict, Secure on
//! https), bearer tokens for the API, and the extractors that let a handler demand a reader
//! (admin or auditor) or an admin. Pages answer an anonymous visitor with the login page; the
//! API answers with JSON.

use super::{AppState, ClientAddr};
use crate::engine::accounts::{LoginRefusal, Operator};
use crate::engine::Engine;
use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};

pub const SESSION_COOKIE: &str = "attest_session";
const LOGIN_COOKIE: &str = "attest_login";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The signed-in operator, if any: a session cookie, or `Authorization: Bearer` for the API.
pub async fn operator(engine: &Engine, headers: &HeaderMap) -> Option<Operator> {
    if let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return engine.token_operator(token.trim()).await.ok().flatten();
    }
    let token = cookie(headers, SESSION_COOKIE)?;
    engine.session_operator(token).await.ok().flatten()
}

/// Why a request was turned away.
pub enum Denied {
    /// Nobody signed in.
    Anonymous { api: bool, path: String },
    /// Signed in, but the role may not do this.
    Forbidden { api: bool },
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::Anonymous { api: true, .. } => super::api::error(StatusCode::UNAUTHORIZED, "unauthenticated", "sign in, or send Authorization: Bearer <token>", None),
            Denied::Forbidden { api: true } => super::api::error(StatusCode::FORBIDDEN, "forbidden", "your role may not do this (auditors read, admins change)", None),
            Denied::Anonymous { api: false, path } => Redirect::to(&format!("/login?next={}", url_escape(&path))).into_response(),
            Denied::Forbidden { api: false } => super::console::message_page(
                StatusCode::FORBIDDEN,
                "Not allowed",
                "Your account may not open this page: auditors can read and download, only admins can change things.",
            ),
        }
    }
}

fn url_escape(path: &str) -> String {
    url::form_urlencoded::byte_serialize(path.as_bytes()).collect()
}

async fn demand(parts: &Parts, state: &AppState, admin: bool) -> Result<Operator, Denied> {
    let api = parts.uri.path().starts_with("/api/");
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_string(), |p| p.to_string());
    let Some(operator) = operator(&state.engine, &parts.headers).await else {
        return Err(Denied::Anonymous { api, path });
    };
    let allowed = if admin {
        operator.role.may_change()
    } else {
        operator.role.may_read()
    };
    if allowed {
        Ok(operator)
    } else {
        Err(Denied::Forbidden { api })
    }
}

/// An admin or an auditor: may read.
pub struct Reader(pub Operator);
/// An admin: may change things.
pub struct Admin(pub Operator);

impl FromRequestParts<AppState> for Reader {
    type Rejection = Denied;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Denied> {
        demand(parts, state, false).await.map(Reader)
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Denied;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Denied> {
        demand(parts, state, true).await.map(Admin)
    }
}

#[derive(Template)]
#[template(path = "pages/login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    next: &'a str,
    error: Option<&'a str>,
}

#[derive(serde::Deserialize)]
struct Next {
    next: Option<String>,
}

/// Only same-site paths: never redirect a login to somewhere else.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "",
    }
}

fn login_form(state: &AppState, next: &str, error: Option<&str>, status: StatusCode) -> Response {
    let csrf = crate::engine::review::csrf_for(&format!("{:x}", rand::random::<u128>()));
    let page = LoginPage {
        csrf: &csrf,
        next,
        error,
    };
    match page.render() {
        Ok(html) => {
            let cookie = format!(
                "{LOGIN_COOKIE}={csrf}; Path=/login; HttpOnly; SameSite=Strict{}",
                secure(state)
            );
            (status, [(header::SET_COOKIE, cookie)], Html(html)).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn secure(state: &AppState) -> &'static str {
    if state.base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

async fn login_page(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<Next>,
) -> Response {
    login_form(&state, safe_next(q.next.as_deref()), None, StatusCode::OK)
}

#[derive(serde::Deserialize)]
struct Credentials {
    email: String,
    password: String,
    csrf: Option<String>,
    next: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> Response {
    let next = safe_next(form.next.as_deref()).to_string();
    let expected = cookie(&headers, LOGIN_COOKIE);
    let csrf_ok = matches!((expected, form.csrf.as_deref()), (Some(a), Some(b)) if crate::engine::review::same_secret(a, b));
    if !csrf_ok {
        let _ = state
            .engine
            .audit_denied(
                "anonymous",
                "auth.login_refused",
                "the login form had no valid anti-forgery value",
            )
            .await;
        return login_form(
            &state,
            &next,
            Some("The form expired or did not come from this site. Please try again."),
            StatusCode::FORBIDDEN,
        );
    }
    match state
        .engine
        .login(&form.email, &form.password, addr.as_deref())
        .await
    {
        Ok(Ok(session)) => {
            let target = if next.is_empty() {
                if session.role.may_change() {
                    "/admin".to_string()
                } else {
                    "/audit".to_string()
                }
            } else {
                next
            };
            let max_age = (session.expires_at - state.engine.now())
                .num_seconds()
                .max(0);
            let cookie = format!(
                "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
                session.token,
                secure(&state)
            );
            (
                StatusCode::SEE_OTHER,
                [(header::SET_COOKIE, cookie), (header::LOCATION, target)],
            )
                .into_response()
        }
        Ok(Err(LoginRefusal::WrongCredentials)) => login_form(
            &state,
            &next,
            Some("That email and password do not match an account."),
            StatusCode::UNAUTHORIZED,
        ),
        Ok(Err(LoginRefusal::Locked { until })) => login_form(
            &state,
            &next,
            Some(&format!(
                "Too many failed attempts: the account is locked until {} UTC.",
                until.format("%H:%M")
            )),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(e) => {
            tracing::error!("login: {e}");
            login_form(
                &state,
                &next,
                Some("Something went wrong on our side; please try again."),
                StatusCode::SERVICE_UNAVAILABLE,
            )
        }
    }
}

#[derive(serde::Deserialize)]
struct CsrfOnly {
    csrf: Option<String>,
}

async fn logout(
    State(state): State<AppState>,
    Reader(operator): Reader,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if !Engine::csrf_ok(&operator, form.csrf.as_deref()) {
        return super::console::forgery_refused(&state, &operator).await;
    }
    if let Err(e) = state.engine.logout(&operator).await {
        tracing::error!("logout: {e}");
    }
    let cookie = format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        secure(&state)
    );
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, cookie),
            (header::LOCATION, "/login".to_string()),
        ],
    )
        .into_response()
}

/// A JSON body of the API, or its error.
pub type ApiResult<T> = Result<Json<T>, Response>;
