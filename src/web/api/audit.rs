//! The audit log (newest first, paged backwards from any event) and its verification, and the
//! reports across campaigns.

use super::support::{in_range, ApiQuery, AuthErrors, Paging};
use crate::domain::audit_chain::ChainedEvent;
use crate::engine::activations::ActivationReport;
use crate::engine::lifecycle_report::LifecycleReport;
use crate::engine::reports::{MonthlyReport, RoleCoverage};
use crate::web::auth::Reader;
use crate::web::error::{ApiError, ApiResult, ErrorBody};
use crate::web::AppState;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only events older than this sequence number (default: from the newest). `page` counts
    /// from here.
    before: Option<i64>,
}

/// One page of the audit log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub items: Vec<ChainedEvent>,
    pub page: u64,
    pub per_page: u64,
    /// How many events there are older than `before` (all of them without it): sequence
    /// numbers run from 1 without gaps, as `GET /api/v1/audit/verify` checks.
    pub total: u64,
    /// Pass as `before` for the next (older) page; null on the last page.
    pub next_before: Option<i64>,
}

/// The audit log, newest first.
///
/// Every change, by whom, with its hash-chain fields (`details` is the JSON text exactly as
/// hashed, so a client can check each event's hash).
#[utoipa::path(
    get,
    path = "/api/v1/audit/events",
    tag = "audit",
    params(Paging, EventQuery),
    responses(
        (status = 200, description = "A page of events, newest first.", body = EventPage),
        (status = 400, description = "A query parameter is malformed or out of range (`field` names it).", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn events(
    State(state): State<AppState>,
    _reader: Reader,
    ApiQuery(paging): ApiQuery<Paging>,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> ApiResult<Json<EventPage>> {
    let newest = state
        .engine
        .audit_events(None, 1)
        .await?
        .first()
        .map_or(0, |e| e.seq);
    // Sequence numbers are 1..=newest, so "older than `before`, skipping `offset`" is "older
    // than `before - offset`": one indexed query whatever the page.
    let before = q.before.unwrap_or(newest + 1).min(newest + 1).max(1);
    let total = (before - 1).max(0) as u64;
    let (page, per_page) = paging.resolve();
    let offset = i64::try_from(paging.offset()).unwrap_or(i64::MAX);
    let from = before.saturating_sub(offset).max(1);
    let items = state.engine.audit_events(Some(from), per_page).await?;
    let next_before = items.last().map(|e| e.seq).filter(|seq| *seq > 1);
    Ok(Json(EventPage {
        items,
        page,
        per_page,
        total,
        next_before,
    }))
}

/// The outcome of walking the audit log's hash chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainCheck {
    /// Every event is unaltered, linked to the one before, and none is missing.
    pub intact: bool,
    /// How many events were checked (when intact).
    pub events: Option<u64>,
    /// The first break found (when not intact).
    pub problem: Option<String>,
}

/// Walks the audit log's hash chain from the first event (`attest audit verify`).
#[utoipa::path(
    get,
    path = "/api/v1/audit/verify",
    tag = "audit",
    responses(
        (status = 200, description = "Whether the chain is intact; the first break if not.", body = ChainCheck),
        AuthErrors,
    )
)]
pub async fn verify(State(state): State<AppState>, _reader: Reader) -> ApiResult<Json<ChainCheck>> {
    Ok(Json(match state.engine.verify_audit_log().await? {
        Ok(n) => ChainCheck {
            intact: true,
            events: Some(n),
            problem: None,
        },
        Err(broken) => ChainCheck {
            intact: false,
            events: None,
            problem: Some(broken.to_string()),
        },
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOfQuery {
    /// The day, `YYYY-MM-DD` (UTC): coverage at its end, from the eligibility that existed and
    /// the campaigns completed by then (default: now).
    #[param(
        pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
        example = "2026-09-30"
    )]
    as_of: Option<String>,
}

/// Coverage of every role.
///
/// Each role's holders, its last completed review and whether that is within its cadence, now
/// or as of the end of a past day.
#[utoipa::path(
    get,
    path = "/api/v1/reports/coverage",
    tag = "reports",
    params(AsOfQuery),
    responses(
        (status = 200, description = "One entry a role, by name.", body = Vec<RoleCoverage>),
        (status = 400, description = "A query parameter is malformed (`field` names it).", body = ErrorBody),
        (status = 422, description = "`as_of` is not a date `YYYY-MM-DD`, or is in the future.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn coverage(
    State(state): State<AppState>,
    _reader: Reader,
    ApiQuery(q): ApiQuery<AsOfQuery>,
) -> ApiResult<Json<Vec<RoleCoverage>>> {
    let coverage = state
        .engine
        .coverage_on(q.as_of.as_deref())
        .await
        .map_err(|e| ApiError::from(e).field_if_invalid("as_of"))?;
    Ok(Json(coverage))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonthQuery {
    /// The month, `YYYY-MM` (UTC; default: the current month).
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2026-10")]
    month: Option<String>,
}

/// The monthly metrics.
///
/// Eligibility by role and risk, campaigns completed (on time), completion and revocation
/// rates, automatic removals, median time to decision.
#[utoipa::path(
    get,
    path = "/api/v1/reports/monthly",
    tag = "reports",
    params(MonthQuery),
    responses(
        (status = 200, description = "The month's metrics.", body = MonthlyReport),
        (status = 400, description = "A query parameter is malformed or out of range (`field` names it).", body = ErrorBody),
        (status = 422, description = "`month` is not `YYYY-MM`.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn monthly(
    State(state): State<AppState>,
    _reader: Reader,
    ApiQuery(q): ApiQuery<MonthQuery>,
) -> ApiResult<Json<MonthlyReport>> {
    let month = q
        .month
        .unwrap_or_else(|| state.engine.now().format("%Y-%m").to_string());
    let report = state
        .engine
        .monthly(&month)
        .await
        .map_err(|e| ApiError::from(e).field_if_invalid("month"))?;
    Ok(Json(report))
}

/// The monthly lifecycle record.
///
/// Every leaver (a person an import, a prune or a sync disabled) detected in the month and
/// what their eligibility came to (the suspension that removed it, after the `[lifecycle]`
/// grace period), and every mover with the campaigns the move launched.
#[utoipa::path(
    get,
    path = "/api/v1/reports/lifecycle",
    tag = "reports",
    params(MonthQuery),
    responses(
        (status = 200, description = "The month's leavers and movers.", body = LifecycleReport),
        (status = 400, description = "A query parameter is malformed or out of range (`field` names it).", body = ErrorBody),
        (status = 422, description = "`month` is not `YYYY-MM`.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn lifecycle(
    State(state): State<AppState>,
    _reader: Reader,
    ApiQuery(q): ApiQuery<MonthQuery>,
) -> ApiResult<Json<LifecycleReport>> {
    let month = q
        .month
        .unwrap_or_else(|| state.engine.now().format("%Y-%m").to_string());
    let report = state
        .engine
        .lifecycle_report(&month)
        .await
        .map_err(|e| ApiError::from(e).field_if_invalid("month"))?;
    Ok(Json(report))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WeekQuery {
    /// The ISO week, `YYYY-Www` (weeks start Monday 00:00 UTC; default: the last complete
    /// week).
    #[param(
        pattern = r"^[0-9]{4}-W(0[1-9]|[1-4][0-9]|5[0-3])$",
        example = "2026-W47"
    )]
    week: Option<String>,
}

/// The weekly activation review.
///
/// For one ISO week: every break-glass activation, activations outside the holder's working
/// hours (Monday to Friday, 08:00 to 18:00 in their time zone), holders activating a role far
/// more or less often than its other holders over the week and the four before it, and active
/// eligibility not activated since the latest completed campaign that reviewed it.
#[utoipa::path(
    get,
    path = "/api/v1/reports/activations",
    tag = "reports",
    params(WeekQuery),
    responses(
        (status = 200, description = "The week's findings.", body = ActivationReport),
        (status = 400, description = "A query parameter is malformed (`field` names it).", body = ErrorBody),
        (status = 422, description = "`week` is not `YYYY-Www`, names a week its year does not have, or has not started.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn activations(
    State(state): State<AppState>,
    _reader: Reader,
    ApiQuery(q): ApiQuery<WeekQuery>,
) -> ApiResult<Json<ActivationReport>> {
    let week = q.week.unwrap_or_else(|| state.engine.last_complete_week());
    let report = state
        .engine
        .activation_review(&week)
        .await
        .map_err(|e| ApiError::from(e).field_if_invalid("week"))?;
    Ok(Json(report))
}

/// Reappeared eligibility, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReappearedPage {
    pub items: Vec<crate::store::reappearance::ReappearanceView>,
    /// How many reappearances were recorded in all.
    pub total: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReappearedQuery {
    /// How many to list, newest first (default 50, at most 1,000).
    #[serde(default, deserialize_with = "reappeared_limit")]
    #[param(minimum = 0, maximum = 1000)]
    limit: Option<u64>,
}

/// The most reappearances one answer lists.
const REAPPEARED_MAX: u64 = 1000;

fn reappeared_limit<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    in_range(d, 0, REAPPEARED_MAX)
}

/// Findings: eligibility a campaign removed that an import or sync listed again.
///
/// Each row names the campaign that had removed it, when, its removal receipt, when and what
/// brought it back, and the eligibility's status now.
#[utoipa::path(
    get,
    path = "/api/v1/findings/reappeared",
    tag = "audit",
    params(ReappearedQuery),
    responses(
        (status = 200, description = "The newest reappearances and their total.", body = ReappearedPage),
        (status = 400, description = "A query parameter is malformed or out of range (`field` names it).", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn reappeared(
    State(state): State<AppState>,
    _reader: Reader,
    ApiQuery(q): ApiQuery<ReappearedQuery>,
) -> ApiResult<Json<ReappearedPage>> {
    let (items, total) = state.engine.reappearances(q.limit.unwrap_or(50)).await?;
    Ok(Json(ReappearedPage { items, total }))
}
