//! The weekly activation review in the console (admins and auditors): a week picker, defaulting
//! to the last complete week, and the week's findings from the same engine function the CLI,
//! the API and the role owners' mail use.

use super::{render, Chrome};
use crate::engine::activations::ActivationReport;
use crate::web::auth::Reader;
use crate::web::error::console_failure;
use crate::web::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "pages/console/activations.html")]
struct ActivationsPage<'a> {
    chrome: Chrome<'a>,
    report: ActivationReport,
}

#[derive(Debug, Deserialize)]
pub(super) struct WeekQuery {
    week: Option<String>,
}

pub(super) async fn activations(
    State(state): State<AppState>,
    Reader(operator): Reader,
    Query(query): Query<WeekQuery>,
) -> Response {
    let week = query
        .week
        .filter(|w| !w.trim().is_empty())
        .unwrap_or_else(|| state.engine.last_complete_week());
    match state.engine.activation_review(&week).await {
        Ok(report) => render(ActivationsPage {
            chrome: Chrome::new(&operator, false, "activations"),
            report,
        }),
        Err(e) => console_failure(e),
    }
}
