//! Console sign-in: the login page, session cookies (HttpOnly, SameSite=Strict, Secure on
//! https), bearer tokens for the API, and the extractors that let a handler demand a reader
//! (admin or auditor) or an admin. Pages answer an anonymous visitor with the login page; the
//! API answers with JSON.

use super::{AppState, ClientAddr};
use crate::domain::access::{is_safe_next, Role};
use crate::engine::accounts::{LoginRefusal, Operator};
use crate::engine::Engine;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};

pub const SESSION_COOKIE: &str = "attest_session";
const LOGIN_COOKIE: &str = "attest_login";

/// The largest login form accepted: an email, a password, the anti-forgery value and `next`
/// fit many times over; a bigger body is refused before it is read whole.
pub const LOGIN_BODY_LIMIT: usize = 8 * 1024;

/// An oversized login form that says its length up to this is read (and thrown away) before
/// it is answered: a client cut off while still sending never sees the answer, only a broken
/// connection. Longer ones are answered at once and the connection closed.
const LOGIN_DRAIN_MAX: u64 = 2 * 1024 * 1024;

pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/login",
            get(login_page)
                .post(login)
                .layer(DefaultBodyLimit::max(LOGIN_BODY_LIMIT))
                .layer(axum::middleware::from_fn_with_state(
                    state,
                    refuse_oversized_login,
                )),
        )
        .route("/logout", post(logout))
}

/// Answers a login form longer than [`LOGIN_BODY_LIMIT`] (by its Content-Length) with the
/// login page and 413, as the handler would, after reading the rest of it (at most
/// [`LOGIN_DRAIN_MAX`], for at most 10 s) so the answer reaches the client.
async fn refuse_oversized_login(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(length) = declared.filter(|l| {
        request.method() == axum::http::Method::POST
            && *l > LOGIN_BODY_LIMIT as u64
            && *l <= LOGIN_DRAIN_MAX
    }) else {
        return next.run(request).await;
    };
    let mut body = request.into_body().into_data_stream();
    let drain = async {
        use futures::StreamExt;
        let mut read = 0u64;
        while let Some(Ok(chunk)) = body.next().await {
            read += chunk.len() as u64;
            if read >= length {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), drain).await;
    login_form(
        &state,
        "",
        Some(&too_large_text()),
        StatusCode::PAYLOAD_TOO_LARGE,
    )
}

fn too_large_text() -> String {
    format!(
        "The form was too large (more than {} KiB, the most sign-in takes). Please enter your email and password again.",
        LOGIN_BODY_LIMIT / 1024
    )
}

/// The value of the cookie `name`, if the request has it.
pub(super) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookie(headers, name)
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

/// The operator behind `Authorization: Bearer`, if the header is there and the token live.
async fn bearer_operator(engine: &Engine, headers: &HeaderMap) -> Option<Option<Operator>> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))?;
    Some(engine.token_operator(token.trim()).await.ok().flatten())
}

/// The operator behind the session cookie, if there is a cookie and its session is live.
async fn session_operator(engine: &Engine, headers: &HeaderMap) -> Option<Operator> {
    let token = cookie(headers, SESSION_COOKIE)?;
    engine.session_operator(token).await.ok().flatten()
}

/// The signed-in operator, if any: a session cookie, or `Authorization: Bearer` for the API.
pub async fn operator(engine: &Engine, headers: &HeaderMap) -> Option<Operator> {
    if let Some(by_token) = bearer_operator(engine, headers).await {
        return by_token;
    }
    session_operator(engine, headers).await
}

/// Why a request was turned away.
pub enum Denied {
    /// Nobody signed in. `stale_cookie`: a session cookie came that opens nothing any more, and
    /// the answer clears it (`secure` as the instance's cookies are).
    Anonymous {
        api: bool,
        path: String,
        stale_cookie: bool,
        secure: bool,
    },
    /// Signed in, but the role may not do this.
    Forbidden { api: bool },
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::Anonymous { api: true, .. } => super::error::api_error(StatusCode::UNAUTHORIZED, "unauthenticated", "sign in, or send Authorization: Bearer <token>", None),
            Denied::Forbidden { api: true } => super::error::api_error(StatusCode::FORBIDDEN, "forbidden", "your role may not do this (auditors read, admins change)", None),
            Denied::Anonymous { api: false, path, stale_cookie, secure } => {
                let login = Redirect::to(&format!("/login?next={}", url_escape(&path)));
                if stale_cookie {
                    ([(header::SET_COOKIE, clear_session_cookie(secure))], login).into_response()
                } else {
                    login.into_response()
                }
            }
            Denied::Forbidden { api: false } => super::error::message_page(
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

fn clear_session_cookie(secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Who is asking, and whether they may. The API takes a bearer token or a session; the console
/// (`/admin`, `/audit`, `/logout`) only a session: its pages are for people in a browser, and
/// tokens are for scripts. A session cookie that no longer opens a session (expired, signed
/// out) is audited and cleared.
async fn demand(
    parts: &Parts,
    state: &AppState,
    may: fn(Role) -> bool,
) -> Result<Operator, Denied> {
    // `/metrics` is for Prometheus, a script like any API client: a token, and a 401 not a
    // redirect to the sign-in page.
    let api = parts.uri.path().starts_with("/api/") || parts.uri.path() == "/metrics";
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_string(), |p| p.to_string());
    let by_token = if api {
        bearer_operator(&state.engine, &parts.headers).await
    } else {
        None
    };
    let found = match by_token {
        Some(by_token) => by_token,
        None => session_operator(&state.engine, &parts.headers).await,
    };
    let Some(operator) = found else {
        let mut stale_cookie = false;
        if let Some(token) = cookie(&parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty()) {
            let addr = parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string());
            stale_cookie = true;
            if let Err(e) = state.engine.refuse_session(token, addr.as_deref()).await {
                tracing::error!("auditing a refused session: {e}");
            }
        }
        return Err(Denied::Anonymous {
            api,
            path,
            stale_cookie,
            secure: is_https(state),
        });
    };
    if may(operator.role) {
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
        demand(parts, state, Role::may_read).await.map(Reader)
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Denied;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Denied> {
        demand(parts, state, Role::may_change).await.map(Admin)
    }
}

/// An admin or a responder (a SIEM or SOAR playbook's token): may suspend a person.
pub struct Suspender(pub Operator);
/// Anyone who may read suspensions: admins, auditors, responders.
pub struct SuspensionReader(pub Operator);

impl FromRequestParts<AppState> for Suspender {
    type Rejection = Denied;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Denied> {
        demand(parts, state, Role::may_suspend).await.map(Suspender)
    }
}

impl FromRequestParts<AppState> for SuspensionReader {
    type Rejection = Denied;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Denied> {
        demand(parts, state, Role::may_read_suspensions)
            .await
            .map(SuspensionReader)
    }
}

#[derive(Template)]
#[template(path = "pages/login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    next: &'a str,
    error: Option<&'a str>,
    /// The OpenID Connect button: the provider's name and the start link.
    oidc: Option<(&'a str, String)>,
    /// Whether the password form is shown (`[oidc] local_login`).
    local_login: bool,
}

#[derive(serde::Deserialize)]
struct Next {
    next: Option<String>,
}

/// Only same-site paths (see [`is_safe_next`]): never redirect a login to somewhere else.
/// Anything else is dropped, and the operator goes to their role's console.
pub(super) fn safe_next(next: Option<&str>) -> &str {
    next.filter(|n| is_safe_next(n)).unwrap_or("")
}

pub(super) fn login_form(
    state: &AppState,
    next: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let csrf = crate::engine::review::csrf_for(&format!("{:x}", rand::random::<u128>()));
    let oidc = state.engine.oidc().map(|o| {
        let href = if next.is_empty() {
            crate::oidc::config::START_PATH.to_string()
        } else {
            format!(
                "{}?next={}",
                crate::oidc::config::START_PATH,
                url_escape(next)
            )
        };
        (o.settings().display_name.as_str(), href)
    });
    let page = LoginPage {
        csrf: &csrf,
        next,
        error,
        oidc,
        local_login: state.engine.local_login(),
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

fn is_https(state: &AppState) -> bool {
    state.base_url.starts_with("https://")
}

pub(super) fn secure(state: &AppState) -> &'static str {
    if is_https(state) {
        "; Secure"
    } else {
        ""
    }
}

/// Where a signed-in operator starts: `next` when given, else their role's console.
pub(super) fn home(role: crate::domain::access::Role, next: &str) -> String {
    if !next.is_empty() {
        next.to_string()
    } else if role.may_change() {
        "/admin".to_string()
    } else {
        "/audit".to_string()
    }
}

/// The sign-in form; someone already signed in goes on to their console.
async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<Next>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if let Some(operator) = session_operator(&state.engine, &headers).await {
        return Redirect::to(&home(operator.role, next)).into_response();
    }
    login_form(&state, next, None, StatusCode::OK)
}

#[derive(serde::Deserialize)]
struct Credentials {
    email: String,
    password: String,
    csrf: Option<String>,
    next: Option<String>,
}

/// Signs in. Nothing here writes the audit log before the anti-forgery value checks out, and
/// the engine bounds what a refused login writes: an anonymous request cannot grow the log.
async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    form: Result<Form<Credentials>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => {
            let status = rejection.status();
            tracing::info!(client_addr = ?addr, "login form refused: {}", rejection.body_text());
            let text = if status == StatusCode::PAYLOAD_TOO_LARGE {
                too_large_text()
            } else {
                "The form was incomplete. Please enter your email and password again.".to_string()
            };
            return login_form(&state, "", Some(&text), status);
        }
    };
    let next = safe_next(form.next.as_deref()).to_string();
    let expected = cookie(&headers, LOGIN_COOKIE);
    let csrf_ok = matches!((expected, form.csrf.as_deref()), (Some(a), Some(b)) if crate::engine::review::same_secret(a, b));
    if !csrf_ok {
        // Not audited: nobody is named yet, and anyone can send this as often as they like.
        tracing::info!(client_addr = ?addr, "login form without a valid anti-forgery value");
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
        Ok(Ok(session)) => signed_in(&state, &session, &next),
        Ok(Err(LoginRefusal::LocalLoginOff)) => {
            tracing::info!(client_addr = ?addr, "password sign-in refused: local_login = false");
            login_form(
                &state,
                &next,
                Some("Password sign-in is switched off on this instance; use the single sign-on button."),
                StatusCode::FORBIDDEN,
            )
        }
        Ok(Err(LoginRefusal::WrongCredentials)) => login_form(
            &state,
            &next,
            Some("That email and password do not match an account."),
            StatusCode::UNAUTHORIZED,
        ),
        Ok(Err(LoginRefusal::Throttled { retry_after_secs })) => retry_after(
            login_form(
                &state,
                &next,
                Some(&format!(
                    "Too many failed sign-ins. Please wait {} and try again.",
                    wait_text(retry_after_secs)
                )),
                StatusCode::TOO_MANY_REQUESTS,
            ),
            retry_after_secs,
        ),
        Ok(Err(LoginRefusal::Busy { retry_after_secs })) => retry_after(
            login_form(
                &state,
                &next,
                Some("Too many sign-ins at once. Please try again in a few seconds."),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            retry_after_secs,
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

/// The answer to a sign-in that opened `session` (password or OpenID Connect): the session
/// cookie, and a redirect to `next` or the role's console.
pub(super) fn signed_in(
    state: &AppState,
    session: &crate::engine::accounts::IssuedSession,
    next: &str,
) -> Response {
    let target = home(session.role, next);
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, session_cookie(state, session)),
            (header::LOCATION, target),
        ],
    )
        .into_response()
}

/// The `Set-Cookie` value of a new session: HttpOnly, SameSite=Strict, until it expires.
pub(super) fn session_cookie(
    state: &AppState,
    session: &crate::engine::accounts::IssuedSession,
) -> String {
    let max_age = (session.expires_at - state.engine.now())
        .num_seconds()
        .max(0);
    format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        session.token,
        secure(state)
    )
}

/// `response` with `Retry-After: secs`.
fn retry_after(mut response: Response, secs: i64) -> Response {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(secs.max(1)));
    response
}

/// "1 second", "40 seconds", "5 minutes" (rounded up).
fn wait_text(secs: i64) -> String {
    match secs {
        ..=1 => "1 second".to_string(),
        2..=119 => format!("{secs} seconds"),
        _ => format!("{} minutes", (secs + 59) / 60),
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
        return super::error::forgery_refused(&state, &operator).await;
    }
    if let Err(e) = state.engine.logout(&operator).await {
        tracing::error!("logout: {e}");
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, clear_session_cookie(is_https(&state))),
            (header::LOCATION, "/login".to_string()),
        ],
    )
        .into_response()
}

/// A JSON body of the API, or its error.
pub type ApiResult<T> = Result<Json<T>, Response>;
