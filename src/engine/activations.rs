//! The weekly activation review: for one ISO week, the activation patterns worth a look (every
//! break-glass activation, activations outside the holder's working hours, holders activating a
//! role far more or less often than its other holders, reviewed eligibility not activated since
//! that review). One function computes it; the CLI, the API, the console and the role owners'
//! weekly mail all show what it returns. The scheduler queues the mail once per week.

use super::{Engine, EngineError};
use crate::domain::activations::{
    frequency_outliers, mail_lines, outside_working_hours, Frequency, IsoWeek, WORKING_HOURS_END,
    WORKING_HOURS_START,
};
use crate::store::activations::{self as store, ActivationView};
use crate::store::{audit, outbox};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One role's name, owner, and each holder's name and activations (by external id).
type RoleActivity = (String, Option<i64>, BTreeMap<String, (String, u32)>);

/// The mail template of the weekly review to role owners.
pub const MAIL_TEMPLATE: &str = "activation_review";

/// One week's findings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ActivationReport {
    /// `2026-W47`.
    pub week: String,
    /// Monday 00:00 UTC of the week, and of the week after.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Activations recorded in the week.
    pub activations: usize,
    /// The working hours the after-hours finding uses.
    pub working_hours: String,
    /// Every activation by a break-glass account in the week.
    pub break_glass: Vec<ActivationFinding>,
    /// Activations outside working hours in the holder's time zone.
    pub after_hours: Vec<ActivationFinding>,
    /// Holders activating a role far more or far less often than its other holders, over the
    /// week and the four before it.
    pub frequency: Vec<FrequencyFinding>,
    /// Active eligibility whose last activation is before the launch of the latest completed
    /// campaign that reviewed it (or that was never activated).
    pub not_activated_since_review: Vec<DormantFinding>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ActivationFinding {
    pub holder: String,
    pub holder_name: String,
    pub role: String,
    pub scope: String,
    pub activated_at: DateTime<Utc>,
    /// When it was where the holder is: `Sat 23:40`.
    pub local_time: String,
    /// The holder's time zone (UTC when they have none).
    pub timezone: String,
    pub justification: Option<String>,
    #[serde(skip)]
    pub owner_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FrequencyFinding {
    pub holder: String,
    pub holder_name: String,
    pub role: String,
    /// The holder's activations of the role over the five weeks.
    pub activations: u32,
    /// The median over the role's holders.
    pub role_median: f64,
    pub holders: usize,
    pub frequency: Frequency,
    #[serde(skip)]
    pub owner_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DormantFinding {
    pub holder: String,
    pub holder_name: String,
    pub role: String,
    pub scope: String,
    /// The later of the eligibility's `last_activated_at` and the recorded activations.
    pub last_activated_at: Option<DateTime<Utc>>,
    pub reviewed_in_campaign: i64,
    pub review_launched_at: DateTime<Utc>,
    #[serde(skip)]
    pub owner_id: Option<i64>,
}

impl ActivationReport {
    /// How many findings in all.
    pub fn findings(&self) -> usize {
        self.break_glass.len()
            + self.after_hours.len()
            + self.frequency.len()
            + self.not_activated_since_review.len()
    }
}

fn finding(a: &ActivationView) -> ActivationFinding {
    let (_, local_time) = outside_working_hours(a.activated_at, a.timezone.as_deref());
    ActivationFinding {
        holder: a.holder.clone(),
        holder_name: a.holder_name.clone(),
        role: a.role.clone(),
        scope: a.scope.clone(),
        activated_at: a.activated_at,
        local_time,
        timezone: a
            .timezone
            .as_deref()
            .and_then(|t| t.parse::<chrono_tz::Tz>().ok())
            .map_or("UTC", |tz| tz.name())
            .to_string(),
        justification: a.justification.clone(),
        owner_id: a.role_owner_id,
    }
}

impl Engine {
    /// The review of `week` (`YYYY-Www`); a week that has not started is refused.
    pub async fn activation_review(&self, week: &str) -> Result<ActivationReport, EngineError> {
        let week = IsoWeek::parse(week.trim()).map_err(EngineError::Invalid)?;
        if week.start() > self.now() {
            return Err(EngineError::Invalid(format!(
                "week {week} has not started yet"
            )));
        }
        self.activation_review_of(week).await
    }

    /// The last week that is over: what the console shows first.
    pub fn last_complete_week(&self) -> String {
        IsoWeek::last_complete(self.now()).to_string()
    }

    async fn activation_review_of(&self, week: IsoWeek) -> Result<ActivationReport, EngineError> {
        let conn = self.store().conn();
        let (from, to) = (week.start(), week.end());
        let window = store::between(conn, week.window_start(), to).await?;
        let in_week: Vec<&ActivationView> =
            window.iter().filter(|a| a.activated_at >= from).collect();
        let break_glass = in_week
            .iter()
            .filter(|a| a.kind == crate::domain::directory::PrincipalKind::BreakGlass.as_str())
            .map(|a| finding(a))
            .collect();
        let after_hours = in_week
            .iter()
            .filter(|a| outside_working_hours(a.activated_at, a.timezone.as_deref()).0)
            .map(|a| finding(a))
            .collect();

        // Per role: every holder of active eligibility, and everyone who activated it, with
        // their count over the five weeks.
        let mut roles: BTreeMap<i64, RoleActivity> = BTreeMap::new();
        for a in &window {
            let role = roles
                .entry(a.role_id)
                .or_insert_with(|| (a.role.clone(), a.role_owner_id, BTreeMap::new()));
            role.2
                .entry(a.holder.clone())
                .or_insert_with(|| (a.holder_name.clone(), 0))
                .1 += 1;
        }
        for (role_id, _, holder, name) in
            store::holders_of_activated_roles(conn, week.window_start(), to).await?
        {
            if let Some(role) = roles.get_mut(&role_id) {
                role.2.entry(holder).or_insert((name, 0));
            }
        }
        let mut frequency = Vec::new();
        for (role, owner_id, holders) in roles.into_values() {
            let counts: Vec<(String, u32)> =
                holders.iter().map(|(h, (_, n))| (h.clone(), *n)).collect();
            let (median, outliers) = frequency_outliers(&counts);
            for (holder, n, kind) in outliers {
                frequency.push(FrequencyFinding {
                    holder_name: holders
                        .get(&holder)
                        .map(|h| h.0.clone())
                        .unwrap_or_default(),
                    holder,
                    role: role.clone(),
                    activations: n,
                    role_median: median,
                    holders: counts.len(),
                    frequency: kind,
                    owner_id,
                });
            }
        }

        let not_activated_since_review = store::reviewed_eligibility(conn, to)
            .await?
            .into_iter()
            .filter_map(|r| {
                let last = r.last_activated_at.max(r.last_recorded);
                let dormant = last.is_none_or(|at| at < r.reviewed_launch);
                dormant.then_some(DormantFinding {
                    holder: r.holder,
                    holder_name: r.holder_name,
                    role: r.role,
                    scope: r.scope,
                    last_activated_at: last,
                    reviewed_in_campaign: r.campaign_id,
                    review_launched_at: r.reviewed_launch,
                    owner_id: r.role_owner_id,
                })
            })
            .collect();
        Ok(ActivationReport {
            week: week.to_string(),
            from,
            to,
            activations: in_week.len(),
            working_hours: format!(
                "Monday to Friday, {WORKING_HOURS_START:02}:00 to {WORKING_HOURS_END:02}:00 in the holder's time zone"
            ),
            break_glass,
            after_hours,
            frequency,
            not_activated_since_review,
        })
    }

    /// Once the week is over: queues one mail per role owner with findings in their roles
    /// (keyed on week and owner) and audits it, once per week whichever instance gets there
    /// first. Nothing until activation history has been recorded: without it every reviewed
    /// eligibility would read as never activated. Returns the week and the mails queued when
    /// this call queued them.
    pub async fn queue_activation_review(&self) -> Result<Option<(String, u64)>, EngineError> {
        let now = self.now();
        let week = IsoWeek::last_complete(now);
        let conn = self.store().conn();
        // Cheap checks first: the report itself reads every reviewed eligibility.
        if store::week_queued(conn, &week.to_string()).await?
            || !store::any_recorded(conn, week.end()).await?
        {
            return Ok(None);
        }
        let report = self.activation_review_of(week).await?;
        let mut by_owner: BTreeMap<i64, Vec<(String, String)>> = BTreeMap::new();
        let mut line = |owner: Option<i64>, label: &str, text: String| {
            if let Some(owner) = owner {
                by_owner
                    .entry(owner)
                    .or_default()
                    .push((label.to_string(), text));
            }
        };
        for f in &report.break_glass {
            line(f.owner_id, "Break-glass activation", describe(f));
        }
        for f in &report.after_hours {
            line(f.owner_id, "Outside working hours", describe(f));
        }
        for f in &report.frequency {
            let how = match f.frequency {
                Frequency::FarMore => "far more often than",
                Frequency::FarLess => "far less often than",
            };
            line(
                f.owner_id,
                "Unusual frequency",
                format!(
                    "{} ({}) activated {} {} times in five weeks, {how} the role's median of {}",
                    f.holder_name, f.holder, f.role, f.activations, f.role_median
                ),
            );
        }
        for f in &report.not_activated_since_review {
            let last = f
                .last_activated_at
                .map_or("never activated".to_string(), |at| {
                    format!("last activated {}", at.format("%Y-%m-%d"))
                });
            line(
                f.owner_id,
                "Not activated since the last review",
                format!(
                    "{} ({}) holds {} at {}: {last}, reviewed in campaign #{} launched {}",
                    f.holder_name,
                    f.holder,
                    f.role,
                    f.scope,
                    f.reviewed_in_campaign,
                    f.review_launched_at.format("%Y-%m-%d")
                ),
            );
        }
        let txn = self.store().begin().await?;
        if !store::claim_week(&txn, &report.week, now).await? {
            txn.rollback().await?;
            return Ok(None);
        }
        let mut mails = 0;
        let owners: BTreeSet<i64> = by_owner.keys().copied().collect();
        for (owner, lines) in by_owner {
            let name = crate::store::directory::display_name(&txn, owner)
                .await?
                .unwrap_or_default();
            let total = lines.len();
            let payload = serde_json::json!({
                "week": report.week, "owner_name": name, "findings": mail_lines(lines),
                "total": total,
            });
            let key = format!("{MAIL_TEMPLATE}/{}/{owner}", report.week);
            if outbox::queue_to_principal(&txn, &key, None, owner, MAIL_TEMPLATE, &payload, now)
                .await?
            {
                mails += 1;
            }
        }
        store::set_week_mails(&txn, &report.week, mails as i64).await?;
        audit::append(
            &txn,
            now,
            "scheduler",
            "report.activations.queued",
            Some(&report.week),
            &serde_json::json!({
                "week": report.week,
                "mails": mails,
                "owners": owners.len(),
                "activations": report.activations,
                "break_glass": report.break_glass.len(),
                "after_hours": report.after_hours.len(),
                "frequency": report.frequency.len(),
                "not_activated_since_review": report.not_activated_since_review.len(),
            }),
        )
        .await?;
        txn.commit().await?;
        Ok(Some((report.week, mails)))
    }
}

fn describe(f: &ActivationFinding) -> String {
    format!(
        "{} ({}) activated {} at {} on {} UTC ({} {})",
        f.holder_name,
        f.holder,
        f.role,
        f.scope,
        f.activated_at.format("%Y-%m-%d %H:%M"),
        f.local_time,
        f.timezone
    )
}
