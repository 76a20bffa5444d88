//! The monthly lifecycle record in the console (admins and auditors): a month picker,
//! defaulting to this month, and its leavers and movers from the same engine function the CLI
//! and the API use.

use super::{render, Chrome};
use crate::engine::lifecycle_report::LifecycleReport;
use crate::web::auth::Reader;
use crate::web::error::console_failure;
use crate::web::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "pages/console/lifecycle.html")]
struct LifecyclePage<'a> {
    chrome: Chrome<'a>,
    report: LifecycleReport,
}

#[derive(Debug, Deserialize)]
pub(super) struct MonthQuery {
    month: Option<String>,
}

pub(super) async fn lifecycle(
    State(state): State<AppState>,
    Reader(operator): Reader,
    Query(query): Query<MonthQuery>,
) -> Response {
    let month = query
        .month
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| state.engine.now().format("%Y-%m").to_string());
    match state.engine.lifecycle_report(&month).await {
        Ok(report) => render(LifecyclePage {
            chrome: Chrome::new(&operator, false, "lifecycle"),
            report,
        }),
        Err(e) => console_failure(e),
    }
}
