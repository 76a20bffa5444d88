//! Leavers (issue 17): imports, prunes and syncs record a `leaver_event` for each person they
//! disable, in their own transaction; [`Engine::leaver_step`] (the scheduler's worker) removes
//! the person's eligibility through its sources once the `[lifecycle]` grace period has passed,
//! as a suspension whose reason names the event (so the removal is read back, retried, shown on
//! the person page, in every campaign's `suspensions.csv`, and restorable with an admin's
//! approval), and marks the event handled with its outcome.

use super::{Engine, EngineError};
use crate::domain::leavers::{self, LeaverOutcome, LifecycleSettings};
use crate::domain::records::PersonRow;
use crate::store::{self as st, directory as dir, leavers as store, suspensions};
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

/// The actor leaver suspensions and their audit events name.
pub const ACTOR: &str = "lifecycle";
/// The mail to a leaver's manager saying what was removed.
pub const MAIL_TEMPLATE: &str = "leaver";

/// Writes `rows` of people (an import's or a sync's) and records a leaver event for each person
/// they disable; returns (people written or changed, leavers recorded).
pub(crate) async fn upsert_people(
    txn: &impl ConnectionTrait,
    rows: &[PersonRow],
    (source_id, attributes): (i64, bool),
    via: &str,
    now: DateTime<Utc>,
) -> Result<(u64, u64), EngineError> {
    let leaving = store::disabled_by(txn, rows).await?;
    let changed = dir::upsert_people(txn, rows, source_id, now, attributes).await?;
    let recorded = store::record(txn, &leaving, via, now).await?;
    Ok((changed, recorded))
}

/// Disables `people` (a prune: the file or the source no longer lists them), each a leaver;
/// returns how many were disabled.
pub(crate) async fn disable(
    txn: &impl ConnectionTrait,
    people: &[i64],
    via: &str,
    now: DateTime<Utc>,
) -> Result<u64, EngineError> {
    let disabled = dir::disable_principals(txn, people, now).await?;
    store::record(txn, people, via, now).await?;
    Ok(disabled)
}

impl Engine {
    /// The same engine with `[lifecycle]` of attest.toml.
    pub fn with_lifecycle(mut self, settings: LifecycleSettings) -> Self {
        self.lifecycle = settings;
        self
    }

    pub fn lifecycle(&self) -> LifecycleSettings {
        self.lifecycle
    }

    /// Handles the leaver events whose grace period is over: a person enabled again keeps
    /// everything; one holding eligibility is suspended. Returns how many events it handled.
    pub async fn leaver_step(&self) -> Result<usize, EngineError> {
        let now = self.now();
        let cutoff = now - self.lifecycle.grace();
        let conn = self.store().conn();
        let mut handled = 0;
        for event in store::due(conn, cutoff, leavers::EVENTS_PER_TICK).await? {
            let enabled = store::enabled(conn, event.principal_id).await?;
            let held = suspensions::held_by(conn, event.principal_id).await?.len();
            let person = suspensions::external_id(conn, event.principal_id)
                .await?
                .unwrap_or_default();
            let (outcome, suspension) = match leavers::settle(enabled, held) {
                Some(outcome) => (outcome, None),
                None => {
                    let reason =
                        leavers::suspension_reason(event.id, &event.via, event.detected_at);
                    // An open suspension (a SOC's, or this event's before a crash) is reused:
                    // `suspend` answers with it rather than opening a second one.
                    let (view, _) = self.suspend(&person, &reason, ACTOR).await?;
                    (LeaverOutcome::Suspended, Some(view))
                }
            };
            let txn = self.store().begin().await?;
            let suspension_id = suspension.as_ref().map(|v| v.id);
            if store::mark_handled(&txn, event.id, outcome, suspension_id, now).await? {
                if let Some(view) = &suspension {
                    self.mail_manager(&txn, event.id, event.principal_id, &event.via, view, now)
                        .await?;
                }
                st::audit::append(
                    &txn,
                    now,
                    ACTOR,
                    "principal.leaver",
                    Some(&format!("principal:{person}")),
                    &serde_json::json!({
                        "event": event.id,
                        "via": event.via,
                        "detected_at": event.detected_at,
                        "grace_days": self.lifecycle.leaver_grace_days,
                        "outcome": outcome,
                        "suspension": suspension_id,
                        "eligibilities_held": held,
                    }),
                )
                .await?;
                handled += 1;
            }
            txn.commit().await?;
        }
        Ok(handled)
    }

    /// Tells the leaver's manager (when they have one) what was removed, once per event.
    async fn mail_manager(
        &self,
        txn: &impl ConnectionTrait,
        event: i64,
        principal: i64,
        via: &str,
        view: &crate::engine::suspend::SuspensionView,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let Some(who) = store::person_and_manager(txn, principal).await? else {
            return Ok(());
        };
        let Some((manager, manager_name)) = who.manager else {
            return Ok(());
        };
        let removed: Vec<(String, String)> = view
            .items
            .iter()
            .map(|i| {
                (
                    format!("{} at {}", i.role, i.scope),
                    format!("{} ({})", i.removal_state, i.source),
                )
            })
            .collect();
        crate::store::outbox::queue_to_principal(
            txn,
            &format!("{MAIL_TEMPLATE}/{event}"),
            None,
            manager,
            MAIL_TEMPLATE,
            &serde_json::json!({
                "manager_name": manager_name,
                "person": view.principal,
                "person_name": who.name,
                "via": format!("disabled by {via}"),
                "count": removed.len(),
                "removed": removed,
            }),
            now,
        )
        .await?;
        Ok(())
    }
}
