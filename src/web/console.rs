//! The console: `/admin` for admins (campaigns and their actions, definitions, the eligibility
//! browser, the audit log, accounts and API tokens) and `/audit` for auditors and admins
//! (read-only: campaigns, their completeness, items with decisions, the audit log, evidence
//! downloads); `/account/password` for anyone signed in.
//!
//! Server-rendered, no JavaScript: every page works with a keyboard and without scripts. Every
//! form carries the session's anti-forgery value (a form without it is refused and audited),
//! destructive actions need a ticked confirmation, and every change goes through the engine,
//! which audits it under the signed-in account's name.

mod activations;
mod campaigns;
mod coverage;
mod credentials;
mod definitions;
mod directory;
mod lifecycle;
mod log;
mod people;
mod queue;
mod sources;

use super::AppState;
use crate::engine::accounts::Operator;
use crate::engine::{Engine, EngineError};
use crate::web::error::{console_failure, forgery_refused, message_page};
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(campaigns::admin_dashboard))
        .route("/admin/campaigns/{id}", get(campaigns::admin_campaign))
        .route("/admin/queue", get(queue::page))
        .route("/admin/queue/{item}", post(queue::decide))
        .route("/admin/campaigns/{id}/resend", post(campaigns::resend))
        .route("/admin/campaigns/{id}/rerun", post(campaigns::rerun))
        .route(
            "/admin/campaigns/{id}/challenges/{challenge}/{answer}",
            post(campaigns::answer_challenge),
        )
        .route(
            "/admin/campaigns/{id}/revoke-links",
            post(credentials::revoke_links),
        )
        .route("/admin/accounts", get(credentials::accounts))
        .route(
            "/admin/accounts/{id}/{action}",
            post(credentials::account_action),
        )
        .route("/admin/tokens/{id}/revoke", post(credentials::revoke_token))
        .route(
            "/account/password",
            get(credentials::own_password_form).post(credentials::own_password),
        )
        .route("/admin/campaigns/{id}/{action}", post(campaigns::action))
        .route(
            "/admin/definitions",
            get(definitions::list).post(definitions::upload),
        )
        .route("/admin/definitions/{name}", get(definitions::show))
        .route(
            "/admin/definitions/{name}/preview",
            get(definitions::preview),
        )
        .route(
            "/admin/definitions/{name}/launch",
            post(definitions::launch),
        )
        .route("/admin/eligibility", get(directory::eligibility))
        .route("/admin/people/{id}", get(people::admin_person))
        .route("/audit/people/{id}", get(people::audit_person))
        .route("/admin/suspensions/{id}/approve", post(people::approve))
        .route("/admin/sources", get(sources::admin_sources))
        .route(
            "/admin/sources/{name}/{action}",
            post(sources::source_action),
        )
        .route("/audit/sources", get(sources::audit_sources))
        .route("/admin/log", get(log::admin_log))
        .route("/audit", get(campaigns::audit_dashboard))
        .route("/audit/campaigns/{id}", get(campaigns::audit_campaign))
        .route(
            "/audit/campaigns/{id}/evidence.zip",
            get(campaigns::evidence_download),
        )
        .route("/audit/log", get(log::audit_log))
        .route("/audit/coverage", get(coverage::coverage))
        .route("/audit/activations", get(activations::activations))
        .route("/audit/lifecycle", get(lifecycle::lifecycle))
}

/// What every console page shows around its content: the navigation, who is signed in, and
/// the sign-out form with the session's anti-forgery value.
pub struct Chrome<'a> {
    /// Admin pages (with the admin navigation and actions) or the read-only auditor view.
    pub admin: bool,
    pub csrf: &'a str,
    pub actor: &'a str,
    /// Which navigation entry is the current page.
    pub here: &'static str,
}

impl<'a> Chrome<'a> {
    fn new(operator: &'a Operator, admin: bool, here: &'static str) -> Self {
        Self {
            admin,
            csrf: operator.csrf.as_deref().unwrap_or(""),
            actor: &operator.actor,
            here,
        }
    }

    /// `/admin` or `/audit`: where this view's links point.
    pub fn base(&self) -> &'static str {
        if self.admin {
            "/admin"
        } else {
            "/audit"
        }
    }

    /// `aria-current="page"` on the current navigation entry.
    pub fn current(&self, entry: &str) -> &'static str {
        if self.here == entry {
            "page"
        } else {
            "false"
        }
    }
}

/// The refusal of a form without the session's anti-forgery value (`None`: it has it).
async fn forged(state: &AppState, operator: &Operator, csrf: Option<&str>) -> Option<Response> {
    if Engine::csrf_ok(operator, csrf) {
        None
    } else {
        Some(forgery_refused(state, operator).await)
    }
}

/// A destructive action goes ahead only with its confirmation box ticked: the refusal when it
/// is not (`None`: it is).
fn unconfirmed(confirm: Option<&str>) -> Option<Response> {
    if confirm == Some("yes") {
        None
    } else {
        Some(message_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Please confirm",
            "Tick the confirmation box to go ahead. Nothing was changed.",
        ))
    }
}

fn render(template: impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => console_failure(EngineError::Io(format!("rendering: {e}"))),
    }
}

/// A form-urlencoded query string from the pairs whose value is not empty.
fn query(pairs: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        q.append_pair(k, v);
    }
    let q = q.finish();
    if q.is_empty() {
        q
    } else {
        format!("?{q}")
    }
}

/// `/path?done=…`: where an action sends the browser back to, saying what it did.
fn done_url(path: &str, what: &[(&str, &str)]) -> String {
    format!("{path}{}", query(what))
}

fn datetime(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// Pages of a list: which one is shown, and the links to its neighbours.
pub struct Pager {
    pub page: u64,
    pub pages: u64,
    pub total: u64,
    pub first_shown: u64,
    pub last_shown: u64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// Page `page` (1-based) of `total` rows at `per_page`; `link(n)` is page n's address.
    fn new(
        page: u64,
        per_page: u64,
        total: u64,
        shown: usize,
        link: impl Fn(u64) -> String,
    ) -> Self {
        let pages = total.div_ceil(per_page).max(1);
        let page = page.clamp(1, pages);
        let first_shown = if shown == 0 {
            0
        } else {
            (page - 1) * per_page + 1
        };
        Self {
            page,
            pages,
            total,
            first_shown,
            last_shown: (first_shown + shown as u64).saturating_sub(1),
            prev: (page > 1).then(|| link(page - 1)),
            next: (page < pages).then(|| link(page + 1)),
        }
    }
}

/// A page number from a query parameter: 1 when absent or nonsense.
fn page_number(raw: Option<&str>) -> u64 {
    raw.and_then(|p| p.trim().parse::<u64>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1)
}
