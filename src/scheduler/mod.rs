//! The scheduler: one [`tick`] runs everything that is due at the engine's `now`, once. `attest
//! serve` calls it in a loop; tests call it with a manual clock and drive a quarter in
//! milliseconds. Several instances may tick against one PostgreSQL database: launches are
//! unique per period, launches and removals are leased, mails are keyed.

use crate::engine::{Engine, EngineError, NoProgress};
use serde::Serialize;
use std::time::Duration;

/// How many remediation steps one tick may take before yielding to the rest.
const MAX_REMEDIATION_STEPS: usize = 10_000;

/// What a tick did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TickReport {
    /// Sources synced on their schedule.
    pub synced: Vec<String>,
    /// Campaigns launched (or whose interrupted launch was finished).
    pub launched: Vec<i64>,
    pub reminders: u64,
    pub escalated_items: u64,
    pub closed: Vec<i64>,
    pub removals_handled: usize,
    /// Leaver events handled (grace period over: suspended, or nothing to remove).
    pub leavers_handled: usize,
    /// Suspension items removed now (finishing suspensions a failed source or a crash left).
    pub suspension_removals: usize,
    pub completed: Vec<i64>,
    /// Completed campaigns whose missing evidence bundle was stored.
    pub evidence_stored: Vec<i64>,
    /// The week whose activation review was queued to role owners, with how many mails.
    pub activation_review: Option<(String, u64)>,
}

impl TickReport {
    pub fn is_idle(&self) -> bool {
        *self == TickReport::default()
    }
}

/// Runs every piece of work due now: scheduled syncs, launches, reminders and escalations, closes at the
/// deadline, removals, leavers past their grace period, suspensions' owed removals, completions, the evidence of any completed campaign without it, and,
/// once a week is over, its activation review to the role owners.
pub async fn tick(engine: &Engine) -> Result<TickReport, EngineError> {
    let synced = engine.sync_due().await?;
    let mut launched = engine.launch_due(&NoProgress).await?;
    launched.extend(engine.launch_movers(&NoProgress).await?);
    let reminded = engine.remind_step().await?;
    let closed = engine.close_due().await?;
    let mut removals_handled = 0;
    for _ in 0..MAX_REMEDIATION_STEPS {
        let handled = engine.remediate_step().await?;
        if handled == 0 {
            break;
        }
        removals_handled += handled;
    }
    let leavers_handled = engine.leaver_step().await?;
    let suspension_removals = engine.suspension_step().await?;
    let completed = engine.complete_finished().await?;
    let evidence_stored = engine.store_missing_evidence().await?;
    let activation_review = engine.queue_activation_review().await?;
    Ok(TickReport {
        synced,
        launched: launched.iter().map(|c| c.id).collect(),
        reminders: reminded.reminders,
        escalated_items: reminded.escalated_items,
        closed,
        removals_handled,
        leavers_handled,
        suspension_removals,
        completed,
        evidence_stored,
        activation_review,
    })
}

/// Ticks every `interval` until `shutdown` resolves. A failed tick is logged and retried at the
/// next one: nothing it half-did is lost, because every step commits what it finished.
pub async fn run(
    engine: &Engine,
    interval: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        match tick(engine).await {
            Ok(report) if !report.is_idle() => tracing::info!(?report, "scheduler tick"),
            Ok(_) => {}
            Err(e) => tracing::error!("scheduler tick failed: {e}"),
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
