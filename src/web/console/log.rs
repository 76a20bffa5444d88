//! The audit log, newest first, a page at a time, with the state of its hash chain.

use super::{failure, query, render, Chrome};
use crate::domain::audit_chain::ChainedEvent;
use crate::engine::accounts::Operator;
use crate::web::auth::{Admin, Reader};
use crate::web::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;

/// Events per page.
const PER_PAGE: u64 = 100;

#[derive(serde::Deserialize, Default)]
pub(super) struct LogQuery {
    /// Events older than this sequence number (the newest when absent).
    before: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/console/audit_log.html")]
struct AuditLogPage<'a> {
    chrome: Chrome<'a>,
    chain: String,
    chain_intact: bool,
    events: Vec<ChainedEvent>,
    newest: Option<String>,
    older: Option<String>,
}

async fn log_page(state: &AppState, operator: &Operator, admin: bool, q: LogQuery) -> Response {
    let before = q
        .before
        .as_deref()
        .and_then(|b| b.trim().parse::<i64>().ok());
    let mut events =
        match crate::store::audit::page(state.engine.store().conn(), before, PER_PAGE + 1).await {
            Ok(events) => events,
            Err(e) => return failure(e.into()),
        };
    let more = events.len() as u64 > PER_PAGE;
    events.truncate(PER_PAGE as usize);
    let (chain, chain_intact) = match state.engine.verify_audit_log().await {
        Ok(Ok(n)) => (format!("Hash chain intact over all {n} events."), true),
        Ok(Err(broken)) => (format!("HASH CHAIN BROKEN: {broken}"), false),
        Err(e) => (format!("The chain could not be checked: {e}"), false),
    };
    let chrome = Chrome::new(operator, admin, "log");
    let path = format!("{}/log", chrome.base());
    let older = events
        .last()
        .filter(|_| more)
        .map(|e| format!("{path}{}", query(&[("before", &e.seq.to_string())])));
    render(AuditLogPage {
        newest: before.map(|_| path.clone()),
        older,
        chrome,
        chain,
        chain_intact,
        events,
    })
}

pub(super) async fn admin_log(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Query(q): Query<LogQuery>,
) -> Response {
    log_page(&state, &operator, true, q).await
}

pub(super) async fn audit_log(
    State(state): State<AppState>,
    Reader(operator): Reader,
    Query(q): Query<LogQuery>,
) -> Response {
    log_page(&state, &operator, false, q).await
}
