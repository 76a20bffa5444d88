//! Reports across campaigns: coverage (was every privileged role reviewed on schedule?) and the
//! small, consistent set of monthly metrics PIM operating guidance asks admins to report.

use super::{Engine, EngineError};
use crate::domain::definition::CampaignSpec;
use crate::domain::eligibility::Assignment;
use crate::domain::evidence::median_seconds;
use crate::store::reports;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoleCoverage {
    pub role: String,
    pub risk: String,
    pub active_holders: i64,
    pub last_campaign_id: Option<i64>,
    pub last_campaign: Option<String>,
    pub last_period: Option<String>,
    pub last_reviewed_at: Option<DateTime<Utc>>,
    /// How old the last review may be under its definition's cadence (plus its duration).
    pub allowed_days: Option<i64>,
    pub days_since: Option<i64>,
    /// Reviewed within its cadence, or holds no one (nothing to review).
    pub within_cadence: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MonthlyReport {
    pub month: String,
    pub eligible_by_role: Vec<RoleCount>,
    pub eligible_by_risk: Vec<RiskCount>,
    pub campaigns_completed: i64,
    pub campaigns_completed_on_time: i64,
    pub items_closed: i64,
    pub completion_rate: Option<f64>,
    pub revocation_rate: Option<f64>,
    pub auto_removals: i64,
    pub median_hours_to_decision: Option<f64>,
    /// Eligibilities a campaign had removed that an import or sync listed again this month
    /// (each a finding: the removal did not hold in the source, or access was granted again).
    pub reappeared: i64,
    /// Standing access that remains at the end of the month (for the current month: now):
    /// active assignments, held without activation, that no review converted or removed.
    pub standing_access: i64,
    /// `standing_access` by role.
    pub standing_by_role: Vec<StandingCount>,
}

/// Active assignments (standing access) of one role.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StandingCount {
    pub role: String,
    pub risk: String,
    pub active: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoleCount {
    pub role: String,
    pub risk: String,
    pub eligible: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RiskCount {
    pub risk: String,
    pub eligible: i64,
}

impl Engine {
    /// Coverage at the end of `date` (`YYYY-MM-DD`, UTC; today: as of now; `None`: now).
    pub async fn coverage_on(&self, date: Option<&str>) -> Result<Vec<RoleCoverage>, EngineError> {
        let Some(text) = date else {
            return self.coverage(None).await;
        };
        let day = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .ok()
            .filter(|_| text.trim().len() == 10)
            .ok_or_else(|| {
                EngineError::Invalid(format!(
                    "as of {}: not a date YYYY-MM-DD",
                    crate::domain::limits::quote(text)
                ))
            })?;
        let now = self.now();
        if day > now.date_naive() {
            return Err(EngineError::Invalid(format!(
                "as of {day}: that is in the future"
            )));
        }
        let end = day
            .and_hms_opt(23, 59, 59)
            .map(|t| t.and_utc())
            .unwrap_or(now)
            .min(now);
        self.coverage(Some(end)).await
    }

    /// Coverage as of `as_of` (now when `None`): the eligibility that existed then and had not
    /// been removed by then, and the campaigns completed by then, so a report for a past date
    /// does not change with today's data.
    pub async fn coverage(
        &self,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<RoleCoverage>, EngineError> {
        let conn = self.store().conn();
        let now = match as_of {
            Some(at) if at > self.now() => {
                return Err(EngineError::Invalid(format!(
                    "as of {}: that is in the future",
                    at.format("%Y-%m-%d %H:%M UTC")
                )))
            }
            Some(at) => at,
            None => self.now(),
        };
        let mut coverage = Vec::new();
        for role in reports::roles_with_holders(conn, now).await? {
            let mut entry = RoleCoverage {
                role: role.name,
                risk: role.risk,
                active_holders: role.holders,
                last_campaign_id: None,
                last_campaign: None,
                last_period: None,
                last_reviewed_at: None,
                allowed_days: None,
                days_since: None,
                within_cadence: role.holders == 0,
            };
            if let Some(last) = reports::last_review(conn, role.id, now).await? {
                let completed = last.completed_at;
                let allowed = serde_json::from_str::<CampaignSpec>(&last.frozen_definition)
                    .ok()
                    .and_then(|spec| {
                        let schedule = spec.launch_schedule().ok()?;
                        Some(
                            schedule.cadence_days(completed.unwrap_or(now))
                                + i64::from(spec.duration_days),
                        )
                    });
                let days = completed.map(|c| (now - c).num_days());
                entry.within_cadence =
                    entry.within_cadence || matches!((days, allowed), (Some(d), Some(a)) if d <= a);
                entry.last_campaign_id = Some(last.campaign_id);
                entry.last_campaign = Some(last.definition_name);
                entry.last_period = Some(last.period);
                entry.last_reviewed_at = completed;
                entry.allowed_days = allowed;
                entry.days_since = days;
            }
            coverage.push(entry);
        }
        Ok(coverage)
    }

    /// The newest `limit` reappearances (eligibility a campaign removed that an import or sync
    /// listed again), newest first, with how many there are in all: a finding for admins and
    /// auditors.
    pub async fn reappearances(
        &self,
        limit: u64,
    ) -> Result<(Vec<crate::store::reappearance::ReappearanceView>, i64), EngineError> {
        Ok(crate::store::reappearance::recent(self.store().conn(), limit).await?)
    }

    /// The monthly metrics for `month` (`YYYY-MM`, UTC).
    pub async fn monthly(&self, month: &str) -> Result<MonthlyReport, EngineError> {
        let (from, to) = month_bounds(month)?;
        let conn = self.store().conn();
        // Eligibility as of the end of the month, not as of today: what existed by then and was
        // not removed before then (a past month's report does not change with today's data).
        let mut eligible_by_role = Vec::new();
        let mut by_risk: std::collections::BTreeMap<String, i64> =
            std::collections::BTreeMap::new();
        for (role, risk, n) in reports::eligible_by_role(conn, to, Assignment::Eligible).await? {
            *by_risk.entry(risk.clone()).or_default() += n;
            eligible_by_role.push(RoleCount {
                role,
                risk,
                eligible: n,
            });
        }
        let standing_by_role: Vec<StandingCount> =
            reports::eligible_by_role(conn, to, Assignment::Active)
                .await?
                .into_iter()
                .map(|(role, risk, active)| StandingCount { role, risk, active })
                .collect();
        let (campaigns_completed, on_time) = reports::campaigns_completed(conn, from, to).await?;
        let closed = reports::closed_items(conn, from, to).await?;
        let waits = reports::decision_waits(conn, from, to).await?;
        let reappeared = crate::store::reappearance::count_between(conn, from, to).await?;
        let rate = |part: i64, whole: i64| (whole > 0).then(|| part as f64 / whole as f64);
        Ok(MonthlyReport {
            month: month.to_string(),
            eligible_by_role,
            eligible_by_risk: by_risk
                .into_iter()
                .map(|(risk, eligible)| RiskCount { risk, eligible })
                .collect(),
            campaigns_completed,
            campaigns_completed_on_time: on_time,
            items_closed: closed.items,
            completion_rate: rate(closed.human, closed.items),
            revocation_rate: rate(closed.revoked, closed.human),
            auto_removals: closed.auto_removed,
            median_hours_to_decision: median_seconds(waits).map(|s| s / 3600.0),
            reappeared,
            standing_access: standing_by_role.iter().map(|r| r.active).sum(),
            standing_by_role,
        })
    }
}

/// The first instant of `month` (`YYYY-MM`, UTC) and of the month after.
pub fn month_bounds(month: &str) -> Result<(DateTime<Utc>, DateTime<Utc>), EngineError> {
    // Exactly four digits, a dash and two (chrono alone would also take `2026-1` or
    // `+2026-01`): the API documents this pattern.
    let bytes = month.as_bytes();
    let well_formed = bytes.len() == 7
        && bytes[4] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || b.is_ascii_digit());
    let start = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .ok()
        .filter(|_| well_formed)
        .ok_or_else(|| {
            EngineError::Invalid(format!(
                "month {} is not YYYY-MM",
                crate::domain::limits::quote(month)
            ))
        })?;
    let next = if start.month() == 12 {
        NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)
    }
    .ok_or_else(|| EngineError::Invalid(format!("--month \"{month}\" is out of range")))?;
    Ok((
        start.and_time(chrono::NaiveTime::MIN).and_utc(),
        next.and_time(chrono::NaiveTime::MIN).and_utc(),
    ))
}
