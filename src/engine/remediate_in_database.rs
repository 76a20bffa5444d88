//! The remediation worker's step for campaigns whose source is attest's own database (the
//! built-in source): no network call stands between a removal and its record, so a whole step
//! of removals is carried out, read back and settled by a few set-based statements in one
//! transaction (`store::remediation_in_database`), with no lease and no row sent to the process.
//! Everything else (configured sources, conversions, removals the read-back denies, and any
//! step while a webhook endpoint wants an event per removal) goes through the general step.

use super::{Engine, EngineError};
use crate::domain::lifecycle::CampaignState;
use crate::domain::webhooks::EventKind;
use crate::store::{campaigns, remediation_in_database};
use sea_orm::ConnectionTrait;

/// Removals per in-database step: a step holds SQLite's one writer for its transaction (about
/// 0.2 s on 2 cores, measured at a million removals: other writers wait that long at most), yet
/// is long enough that a million removals take a hundred commits rather than a thousand.
const IN_DATABASE_STEP: u64 = 10_000;

impl Engine {
    /// Carries out one step of due removals of the remediating campaigns on the built-in source;
    /// returns how many it settled (0: none it could settle, and the general step goes on).
    pub(super) async fn remediate_in_database_step(&self) -> Result<usize, EngineError> {
        // An engine given another source for the built-in campaigns (as tests do) removes
        // through it; and removal events are built per removal by the general step.
        let per_removal_events = [
            EventKind::RemovalDone,
            EventKind::RemovalFailed,
            EventKind::RemovalGivenUp,
        ]
        .into_iter()
        .any(|kind| self.wants_event(kind));
        if !self.source().in_database() || per_removal_events {
            return Ok(0);
        }
        // Most ticks have nothing of this kind to do: found out on the read pool, so that they
        // do not also take a write transaction (SQLite's one writer) to learn it.
        if builtin_remediating(self.store().conn()).await?.is_empty() {
            return Ok(0);
        }
        let now = self.now();
        let txn = self.store().begin().await?;
        // Again inside the transaction, which the step's removals are judged in.
        let builtin = builtin_remediating(&txn).await?;
        let step =
            remediation_in_database::remove_due(&txn, &builtin, IN_DATABASE_STEP, now).await?;
        txn.commit().await?;
        crate::telemetry::removals("removed", step.removed);
        crate::telemetry::removals("already_gone", step.already_gone);
        Ok(step.settled() as usize)
    }
}

/// The remediating campaigns whose source is the built-in one.
async fn builtin_remediating(conn: &impl ConnectionTrait) -> Result<Vec<i64>, EngineError> {
    Ok(campaigns::campaigns(conn, &[CampaignState::Remediating])
        .await?
        .into_iter()
        .filter(|c| c.spec.scope.source.is_none())
        .map(|c| c.id)
        .collect())
}
