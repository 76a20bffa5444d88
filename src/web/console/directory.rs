//! The eligibility browser: who may activate which role where, searched by person, role or
//! scope, a page at a time.

use super::{datetime, page_number, query, render, Chrome};
use crate::store::directory::EligibilityFilter;
use crate::web::auth::Admin;
use crate::web::error::console_failure;
use crate::web::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;

/// Rows per page of the browser.
const PER_PAGE: u64 = 50;

#[derive(serde::Deserialize, Default)]
pub(super) struct EligibilityQuery {
    /// Free text: a person's id or name, a role, a scope.
    q: Option<String>,
    /// Exactly this principal (external id).
    principal: Option<String>,
    role: Option<String>,
    /// `yes` to list removed eligibility too.
    all: Option<String>,
    page: Option<String>,
}

struct Line {
    principal: String,
    principal_name: String,
    role: String,
    risk: String,
    scope: String,
    start: String,
    end: String,
    last_activated: String,
    status: String,
    removal_reason: String,
}

#[derive(Template)]
#[template(path = "pages/console/eligibility.html")]
struct EligibilityPage<'a> {
    chrome: Chrome<'a>,
    q: String,
    principal: String,
    role: String,
    all: bool,
    roles: Vec<String>,
    rows: Vec<Line>,
    page: u64,
    first_shown: u64,
    prev: Option<String>,
    next: Option<String>,
}

fn date(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

pub(super) async fn eligibility(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Query(params): Query<EligibilityQuery>,
) -> Response {
    let clean = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let q = clean(params.q);
    let principal = clean(params.principal);
    let role = clean(params.role);
    let all = params.all.as_deref() == Some("yes");
    let page = page_number(params.page.as_deref());
    let roles = match state.engine.role_names().await {
        Ok(roles) => roles,
        Err(e) => return console_failure(e),
    };
    // One row more than a page says whether there is a next one.
    let filter = EligibilityFilter {
        principal: principal.clone(),
        role: role.clone(),
        all,
        search: q.clone(),
        limit: Some(PER_PAGE + 1),
        offset: (page - 1) * PER_PAGE,
    };
    let mut found = match state.engine.eligibility(&filter).await {
        Ok(found) => found,
        Err(e) => return console_failure(e),
    };
    let more = found.len() as u64 > PER_PAGE;
    found.truncate(PER_PAGE as usize);
    let (q, principal, role) = (
        q.unwrap_or_default(),
        principal.unwrap_or_default(),
        role.unwrap_or_default(),
    );
    let link = |p: u64| {
        let p = p.to_string();
        format!(
            "/admin/eligibility{}",
            query(&[
                ("q", &q),
                ("principal", &principal),
                ("role", &role),
                ("all", if all { "yes" } else { "" }),
                ("page", &p),
            ])
        )
    };
    let rows: Vec<Line> = found
        .into_iter()
        .map(|e| Line {
            principal: e.principal,
            principal_name: e.principal_name,
            role: e.role,
            risk: e.risk,
            scope: e.scope,
            start: date(e.start),
            end: date(e.end),
            last_activated: datetime(e.last_activated_at),
            status: e.status,
            removal_reason: e.removal_reason.unwrap_or_default(),
        })
        .collect();
    render(EligibilityPage {
        chrome: Chrome::new(&operator, true, "eligibility"),
        first_shown: if rows.is_empty() {
            0
        } else {
            (page - 1) * PER_PAGE + 1
        },
        prev: (page > 1).then(|| link(page - 1)),
        next: more.then(|| link(page + 1)),
        q: q.clone(),
        principal: principal.clone(),
        role: role.clone(),
        all,
        roles,
        rows,
        page,
    })
}
