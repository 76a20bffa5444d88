//! Coverage across campaigns: for every role, its last review and whether that is within its
//! definition's cadence — the proof that every privileged role was reviewed on schedule.

use super::{render, Chrome};
use crate::engine::reports::RoleCoverage;
use crate::web::auth::Reader;
use crate::web::error::console_failure;
use crate::web::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::Response;

#[derive(Template)]
#[template(path = "pages/console/coverage.html")]
struct CoveragePage<'a> {
    chrome: Chrome<'a>,
    roles: Vec<RoleCoverage>,
    overdue: usize,
}

pub(super) async fn coverage(State(state): State<AppState>, Reader(operator): Reader) -> Response {
    let roles = match state.engine.coverage(None).await {
        Ok(roles) => roles,
        Err(e) => return console_failure(e),
    };
    let overdue = roles.iter().filter(|r| !r.within_cadence).count();
    render(CoveragePage {
        chrome: Chrome::new(&operator, false, "coverage"),
        roles,
        overdue,
    })
}
