//! A person's page (issue 19): their eligibility and their suspensions, each item with its
//! removal and restore and the receipts, and for admins the button that approves a requested
//! restore. `/admin/people/{id}` and the read-only `/audit/people/{id}`.

use super::{datetime, done_url, forged, render, Chrome};
use crate::domain::suspension::SuspensionState;
use crate::engine::suspend::SuspensionView;
use crate::store::directory::{EligibilityFilter, EligibilityView};
use crate::web::auth::{Admin, Reader};
use crate::web::error::console_failure;
use crate::web::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

/// The most eligibility rows the page lists.
const ROWS_MAX: u64 = 500;

struct Item {
    role: String,
    scope: String,
    source: String,
    removal: String,
    removal_receipt: String,
    restore: String,
    restore_receipt: String,
}

struct Suspension {
    id: i64,
    state: String,
    reason: String,
    requested_by: String,
    created: String,
    restore_requested_by: String,
    approved_by: String,
    approvable: bool,
    items: Vec<Item>,
}

#[derive(Template)]
#[template(path = "pages/console/person.html")]
struct PersonPage<'a> {
    chrome: Chrome<'a>,
    principal: String,
    name: String,
    eligibility: Vec<EligibilityView>,
    suspensions: Vec<Suspension>,
}

fn suspension(s: SuspensionView) -> Suspension {
    Suspension {
        id: s.id,
        approvable: matches!(
            s.state,
            SuspensionState::RestoreRequested | SuspensionState::RestoreFailed
        ),
        state: s.state.to_string(),
        reason: s.reason,
        requested_by: s.requested_by,
        created: datetime(Some(s.created_at)),
        restore_requested_by: s.restore_requested_by.unwrap_or_default(),
        approved_by: s.approved_by.unwrap_or_default(),
        items: s
            .items
            .into_iter()
            .map(|i| Item {
                role: i.role,
                scope: i.scope,
                source: i.source,
                removal: i.removal_state.to_string(),
                removal_receipt: i.removal_receipt.or(i.removal_error).unwrap_or_default(),
                restore: i.restore_state.map(|r| r.to_string()).unwrap_or_default(),
                restore_receipt: i.restore_receipt.or(i.restore_error).unwrap_or_default(),
            })
            .collect(),
    }
}

/// What a path segment escapes: everything but RFC 3986's unreserved characters.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A principal id as one path segment.
pub(super) fn path_segment(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, SEGMENT).to_string()
}

async fn page(
    state: &AppState,
    operator: &crate::engine::accounts::Operator,
    admin: bool,
    id: &str,
) -> Response {
    let suspensions = match state.engine.suspensions_of(id).await {
        Ok(s) => s,
        Err(e) => return console_failure(e),
    };
    let filter = EligibilityFilter {
        principal: Some(id.to_string()),
        all: true,
        limit: Some(ROWS_MAX),
        ..Default::default()
    };
    let eligibility = match state.engine.eligibility(&filter).await {
        Ok(e) => e,
        Err(e) => return console_failure(e),
    };
    let name = eligibility
        .first()
        .map(|e| e.principal_name.clone())
        .unwrap_or_default();
    render(PersonPage {
        chrome: Chrome::new(operator, admin, "eligibility"),
        principal: id.to_string(),
        name,
        eligibility,
        suspensions: suspensions.into_iter().map(suspension).collect(),
    })
}

pub(super) async fn admin_person(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Path(id): Path<String>,
) -> Response {
    page(&state, &operator, true, &id).await
}

pub(super) async fn audit_person(
    State(state): State<AppState>,
    Reader(operator): Reader,
    Path(id): Path<String>,
) -> Response {
    page(&state, &operator, false, &id).await
}

#[derive(serde::Deserialize)]
pub(super) struct ApproveForm {
    csrf: Option<String>,
}

/// Approves a requested restore from the person's page.
pub(super) async fn approve(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Path(id): Path<i64>,
    Form(form): Form<ApproveForm>,
) -> Response {
    if let Some(refused) = forged(&state, &operator, form.csrf.as_deref()).await {
        return refused;
    }
    match state.engine.approve_restore(id, &operator.actor).await {
        Ok(view) => {
            let path = format!("/admin/people/{}", path_segment(&view.principal));
            Redirect::to(&done_url(&path, &[("done", view.state.as_str())])).into_response()
        }
        Err(e) => console_failure(e),
    }
}
