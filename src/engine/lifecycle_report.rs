//! The monthly lifecycle record (issue 17): every leaver and mover event detected in a month,
//! what each came to (the suspension that removed a leaver's eligibility and how many items it
//! removed; the campaigns a move launched), with the month's counts. `attest report lifecycle`,
//! `GET /api/v1/reports/lifecycle` and the auditor's CSV all read it from here.

use super::reports::month_bounds;
use super::{Engine, EngineError};
use crate::domain::leavers::LeaverOutcome;
use crate::domain::movers::launch_key;
use crate::domain::suspension::{ItemRemoval, SuspensionState};
use crate::store::{directory as dir, leavers, movers};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;

/// A month's leavers and movers.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct LifecycleReport {
    pub month: String,
    /// `[lifecycle] leaver_grace_days` of the instance that made the report.
    pub leaver_grace_days: u32,
    pub leavers: Vec<LeaverLine>,
    pub movers: Vec<MoverLine>,
    pub counts: LifecycleCounts,
}

/// The month's figures (each derived from the lines above, never counted twice).
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct LifecycleCounts {
    pub leavers: u64,
    /// Leavers whose eligibility was removed (a suspension).
    pub leavers_suspended: u64,
    pub leavers_nothing_held: u64,
    /// Enabled again within the grace period: nothing removed.
    pub leavers_reenabled: u64,
    /// Still within their grace period (or not yet handled).
    pub leavers_waiting: u64,
    /// Eligibilities removed (or found gone) by leavers' suspensions.
    pub eligibility_removed: u64,
    /// Removals that failed and are being retried.
    pub removals_failing: u64,
    pub movers: u64,
    /// Mover events handled (their campaigns launched, or nothing to review).
    pub movers_handled: u64,
    pub mover_campaigns: u64,
}

/// One person disabled.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct LeaverLine {
    pub event: i64,
    pub person: String,
    pub name: String,
    /// What disabled them: `import of FILE`, `prune of FILE` or `sync of SOURCE`.
    pub via: String,
    pub detected_at: DateTime<Utc>,
    /// When their eligibility is (or was) due to be removed, under today's grace period.
    pub due_at: DateTime<Utc>,
    pub handled_at: Option<DateTime<Utc>>,
    pub outcome: Option<LeaverOutcome>,
    pub suspension: Option<i64>,
    pub suspension_state: Option<SuspensionState>,
    /// Eligibilities the suspension removed or found gone.
    pub removed: u64,
    /// Removals still failing.
    pub failing: u64,
}

/// One change of manager.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct MoverLine {
    pub event: i64,
    pub person: String,
    pub old_manager: String,
    pub new_manager: String,
    pub via: String,
    pub detected_at: DateTime<Utc>,
    pub handled_at: Option<DateTime<Utc>>,
    /// The mover campaigns it launched.
    pub campaigns: Vec<i64>,
}

impl Engine {
    /// The lifecycle record of `month` (`YYYY-MM`, UTC).
    pub async fn lifecycle_report(&self, month: &str) -> Result<LifecycleReport, EngineError> {
        let (from, to) = month_bounds(month)?;
        let conn = self.store().conn();
        let leaver_events = leavers::between(conn, from, to).await?;
        let mover_events = movers::between(conn, from, to).await?;
        let mut ids: Vec<i64> = leaver_events.iter().map(|e| e.principal_id).collect();
        for e in &mover_events {
            ids.extend([e.principal_id, e.old_manager_id, e.new_manager_id]);
        }
        ids.sort_unstable();
        ids.dedup();
        let names = dir::names_by_id(conn, &ids).await?;
        let id_of = |id: i64| names.get(&id).map(|n| n.id.clone()).unwrap_or_default();
        let mut counts = LifecycleCounts::default();

        let mut leaver_lines = Vec::with_capacity(leaver_events.len());
        for e in leaver_events {
            let outcome = e
                .outcome
                .as_deref()
                .map(str::parse::<LeaverOutcome>)
                .transpose()
                .map_err(|err| EngineError::Io(format!("leaver_event #{}: {err}", e.id)))?;
            let (mut state, mut removed, mut failing) = (None, 0, 0);
            if let Some(id) = e.suspension_id {
                let view = self.suspension(id).await?;
                state = Some(view.state);
                for item in &view.items {
                    match item.removal_state {
                        s if s.done() => removed += 1,
                        ItemRemoval::Failed => failing += 1,
                        _ => {}
                    }
                }
            }
            counts.leavers += 1;
            match outcome {
                Some(LeaverOutcome::Suspended) => counts.leavers_suspended += 1,
                Some(LeaverOutcome::NothingHeld) => counts.leavers_nothing_held += 1,
                Some(LeaverOutcome::Reenabled) => counts.leavers_reenabled += 1,
                None => counts.leavers_waiting += 1,
            }
            counts.eligibility_removed += removed;
            counts.removals_failing += failing;
            leaver_lines.push(LeaverLine {
                event: e.id,
                person: id_of(e.principal_id),
                name: names
                    .get(&e.principal_id)
                    .map(|n| n.name.clone())
                    .unwrap_or_default(),
                via: e.via,
                detected_at: e.detected_at,
                due_at: self.lifecycle().due_at(e.detected_at),
                handled_at: e.handled_at,
                outcome,
                suspension: e.suspension_id,
                suspension_state: state,
                removed,
                failing,
            });
        }

        let keys: Vec<String> = mover_events.iter().map(|e| launch_key(e.id)).collect();
        let mut launched: HashMap<String, Vec<i64>> = HashMap::new();
        for (key, campaign) in movers::campaigns_launched(conn, &keys).await? {
            launched.entry(key).or_default().push(campaign);
        }
        let mut mover_lines = Vec::with_capacity(mover_events.len());
        for e in mover_events {
            let campaigns = launched.remove(&launch_key(e.id)).unwrap_or_default();
            counts.movers += 1;
            counts.movers_handled += u64::from(e.handled_at.is_some());
            counts.mover_campaigns += campaigns.len() as u64;
            mover_lines.push(MoverLine {
                event: e.id,
                person: id_of(e.principal_id),
                old_manager: id_of(e.old_manager_id),
                new_manager: id_of(e.new_manager_id),
                via: e.via,
                detected_at: e.detected_at,
                handled_at: e.handled_at,
                campaigns,
            });
        }
        Ok(LifecycleReport {
            month: month.to_string(),
            leaver_grace_days: self.lifecycle().leaver_grace_days,
            leavers: leaver_lines,
            movers: mover_lines,
            counts,
        })
    }
}
