//! Sources in the console: each configured source (`[sources.NAME]`) with its server, where its
//! secret comes from (never the secret), its last sync, what it holds and its last error; admins
//! can test one (changes nothing) or sync it now.

use super::{datetime, forged, render, Chrome};
use crate::engine::sync::SourceListing;
use crate::engine::EngineError;
use crate::web::auth::{Admin, Reader};
use crate::web::error::{console_failure, message_page};
use crate::web::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;

struct SourceLine {
    s: SourceListing,
    last_sync: String,
    last_success: String,
    error: Option<String>,
    people: i64,
    roles: i64,
    eligibility: i64,
}

#[derive(Template)]
#[template(path = "pages/console/sources.html")]
struct SourcesPage<'a> {
    chrome: Chrome<'a>,
    sources: Vec<SourceLine>,
}

async fn page(state: &AppState, chrome: Chrome<'_>) -> Response {
    let listed = match state.engine.list_sources().await {
        Ok(listed) => listed,
        Err(e) => return console_failure(e),
    };
    let sources = listed
        .into_iter()
        .map(|s| {
            let state = s.state.clone();
            SourceLine {
                last_sync: datetime(state.as_ref().and_then(|t| t.last_sync_at)),
                last_success: datetime(state.as_ref().and_then(|t| t.last_success_at)),
                error: state.as_ref().and_then(|t| t.last_sync_error.clone()),
                people: state.as_ref().map_or(0, |t| t.people),
                roles: state.as_ref().map_or(0, |t| t.roles),
                eligibility: state.as_ref().map_or(0, |t| t.eligibility_active),
                s,
            }
        })
        .collect();
    render(SourcesPage { chrome, sources })
}

pub(super) async fn admin_sources(
    State(state): State<AppState>,
    Admin(operator): Admin,
) -> Response {
    page(&state, Chrome::new(&operator, true, "sources")).await
}

pub(super) async fn audit_sources(
    State(state): State<AppState>,
    Reader(operator): Reader,
) -> Response {
    page(&state, Chrome::new(&operator, false, "sources")).await
}

#[derive(serde::Deserialize)]
pub(super) struct CsrfForm {
    csrf: Option<String>,
}

/// A source's own error (unreachable, refused, missing permission) is the admin's to read; it
/// names no secret.
fn source_failure(name: &str, what: &str, e: EngineError) -> Response {
    match e {
        EngineError::Source(e) => message_page(
            StatusCode::BAD_GATEWAY,
            &format!("Source {name} could not be {what}"),
            &format!("{}. Nothing was changed.", e.0.trim_end_matches('.')),
        ),
        other => console_failure(other),
    }
}

/// `POST /admin/sources/{name}/{action}`: `test` (changes nothing) or `sync`.
pub(super) async fn source_action(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Path((name, action)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = forged(&state, &operator, form.csrf.as_deref()).await {
        return refused;
    }
    match action.as_str() {
        "test" => match state.engine.test_source(&name, &operator.actor).await {
            Ok(report) => {
                let mut lines = report.checks.join("; ");
                if let Some(n) = report.people {
                    lines.push_str(&format!("; {n} people"));
                }
                if let Some(n) = report.eligibility {
                    lines.push_str(&format!("; {n} eligibilities"));
                }
                message_page(
                    StatusCode::OK,
                    &format!("Source {name} works"),
                    &format!("{lines}. Nothing was changed."),
                )
            }
            Err(e) => source_failure(&name, "tested", e),
        },
        "sync" => match state.engine.sync_source(&name, &operator.actor).await {
            Ok(r) => message_page(
                StatusCode::OK,
                &format!("Source {name} synced"),
                &format!(
                    "{} people, {} roles, {} eligibilities listed: {} new, {} changed, {} removed (no longer listed), {} reappeared after a campaign removed them{}.",
                    r.people,
                    r.roles,
                    r.eligibility,
                    r.new,
                    r.changed,
                    r.removed,
                    r.reappeared,
                    if r.on_reappearance == "remove" {
                        format!(" ({} removed again)", r.removed_again)
                    } else {
                        String::new()
                    }
                ),
            ),
            Err(e) => source_failure(&name, "synced", e),
        },
        _ => message_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "A source can be tested or synced.",
        ),
    }
}
