//! Opening a review link, or the page that says why it does not open.

use crate::domain::lifecycle::CampaignState;
use crate::engine::review::{LinkProblem, ReviewerAccess};
use crate::web::error::{problem_page, review_failure};
use crate::web::AppState;
use axum::http::StatusCode;
use axum::response::Response;
use std::time::Duration;

/// Problem pages answer no faster than this, so timing tells nothing about which tokens exist.
const PROBLEM_FLOOR: Duration = Duration::from_millis(60);

/// Opens the link, or answers with the page that says why it does not open, no faster than
/// [`PROBLEM_FLOOR`] so that timing tells nothing about which tokens exist.
pub(super) async fn open(state: &AppState, token: &str) -> Result<ReviewerAccess, Response> {
    let started = tokio::time::Instant::now();
    let problem = match state.engine.open_link(token).await {
        Ok(Ok(access)) => return Ok(access),
        Ok(Err(problem)) => link_problem(problem),
        Err(e) => review_failure(e),
    };
    tokio::time::sleep_until(started + PROBLEM_FLOOR).await;
    Err(problem)
}

fn link_problem(problem: LinkProblem) -> Response {
    let day = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map(|t| format!(" on {}", t.format("%-d %B %Y")))
            .unwrap_or_default()
    };
    match problem {
        LinkProblem::Unknown => problem_page(
            StatusCode::NOT_FOUND,
            "This link is not valid",
            "Check that you opened the whole link from your mail. If it still does not work, ask the person who runs the review for a new one.",
        ),
        LinkProblem::Expired { at } => problem_page(
            StatusCode::GONE,
            "This link has expired",
            &format!("It was valid until {}. The review is over; nothing more can be decided with it.", at.format("%-d %B %Y %H:%M UTC")),
        ),
        LinkProblem::Closed { state: CampaignState::Cancelled, at } => problem_page(
            StatusCode::GONE,
            "This review was cancelled",
            &format!("The review was cancelled{}; nothing needs your decision any more.", day(at)),
        ),
        LinkProblem::Closed { state: CampaignState::Scheduled | CampaignState::Launching, .. } => problem_page(
            StatusCode::CONFLICT,
            "This review has not opened yet",
            "Please try again in a few minutes.",
        ),
        LinkProblem::Closed { at, .. } => problem_page(
            StatusCode::GONE,
            "This review has closed",
            &format!("It closed{}. Decisions can no longer be made or changed; thank you for taking part.", day(at)),
        ),
        LinkProblem::Revoked => problem_page(
            StatusCode::GONE,
            "This link was withdrawn",
            "An administrator withdrew it; nothing can be decided with it. If you still have items to review, use the link in your newest mail from attest, or ask the person who runs the review for a new one.",
        ),
    }
}
