//! The audit log, newest first, a page at a time, with the state of its hash chain.

use super::{query, render, Chrome};
use crate::domain::audit_chain::ChainedEvent;
use crate::engine::accounts::Operator;
use crate::web::auth::{Admin, Reader};
use crate::web::error::console_failure;
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
    events: Vec<LogRow>,
    newest: Option<String>,
    older: Option<String>,
}

/// One event as the page shows it: its details as `name: value` lines that wrap in their cell,
/// not one line of raw JSON running off the screen.
struct LogRow {
    event: ChainedEvent,
    details: Vec<(String, String)>,
    /// A reviewer's name and external id beside their `reviewer:ID` actor (empty otherwise).
    who: String,
}

impl LogRow {
    fn new(event: ChainedEvent, names: &std::collections::HashMap<String, String>) -> Self {
        let details = detail_lines(&event.details);
        let who = names.get(&event.actor).cloned().unwrap_or_default();
        Self {
            event,
            details,
            who,
        }
    }
}

/// The details' top-level fields, each value as text (strings without their quotes, anything
/// else as compact JSON); details that are not a JSON object are shown as they are.
fn detail_lines(details: &str) -> Vec<(String, String)> {
    match serde_json::from_str::<serde_json::Value>(details) {
        Ok(serde_json::Value::Object(fields)) => fields
            .into_iter()
            .map(|(name, value)| {
                let text = match value {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (name, text)
            })
            .collect(),
        Ok(serde_json::Value::Null) => Vec::new(),
        _ if details.trim().is_empty() => Vec::new(),
        _ => vec![(String::new(), details.to_string())],
    }
}

async fn log_page(state: &AppState, operator: &Operator, admin: bool, q: LogQuery) -> Response {
    let before = q
        .before
        .as_deref()
        .and_then(|b| b.trim().parse::<i64>().ok());
    let mut events = match state.engine.audit_events(before, PER_PAGE + 1).await {
        Ok(events) => events,
        Err(e) => return console_failure(e),
    };
    let more = events.len() as u64 > PER_PAGE;
    events.truncate(PER_PAGE as usize);
    let (chain, chain_intact) = match state.engine.verify_audit_log().await {
        Ok(Ok(1)) => ("Hash chain intact over its one event.".to_string(), true),
        Ok(Ok(n)) => (format!("Hash chain intact over all {n} events."), true),
        Ok(Err(broken)) => (format!("HASH CHAIN BROKEN: {broken}"), false),
        Err(e) => (format!("The chain could not be checked: {e}"), false),
    };
    let names = match state
        .engine
        .actor_names(events.iter().map(|e| e.actor.as_str()))
        .await
    {
        Ok(names) => names,
        Err(e) => return console_failure(e),
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
        events: events.into_iter().map(|e| LogRow::new(e, &names)).collect(),
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

#[cfg(test)]
mod tests {
    use super::detail_lines;

    #[test]
    fn details_become_name_value_lines() {
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            detail_lines(r#"{"file":"people.csv","rows":3,"ids":[1,2]}"#),
            vec![
                pair("file", "people.csv"),
                pair("ids", "[1,2]"),
                pair("rows", "3")
            ]
        );
        assert_eq!(detail_lines("{}"), Vec::<(String, String)>::new());
        assert_eq!(detail_lines("null"), Vec::<(String, String)>::new());
        assert_eq!(detail_lines("not json"), vec![pair("", "not json")]);
    }
}
