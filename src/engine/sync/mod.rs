//! `attest source list | test | sync`: configured sources (README, "Sources").
//!
//! A sync reads the source's whole population through its connector, then, in one transaction,
//! writes it into attest's tables as that source's rows: people (and their managers), roles,
//! eligibility; what the source no longer lists is marked removed (eligibility) or disabled
//! (people). An eligibility a campaign removed that the source lists again is never reinstated
//! silently: it is recorded as reappeared, counted, audited and, where the source says
//! `on_reappearance = "remove"`, removed again through the source after the commit.
//!
//! This file is the sync use case; `apply` writes a snapshot, `reappearance` removes what
//! came back again, `configured` lists and tests the configured sources.

mod apply;
mod configured;
mod reappearance;

pub use configured::{SourceListing, TestReport};

use super::{Engine, EngineError, NoProgress, Progress};
use crate::domain::eligibility::SourceKind;
use crate::domain::schedule::LaunchSchedule;
use crate::sources::config::{OnReappearance, SourceConfig};
use crate::sources::SourceError;
use crate::store::reappearance::Reappeared;
use crate::store::sources as src_store;
use crate::store::{self, directory as dir};

use serde::Serialize;
use std::collections::HashSet;

/// A sync that would mark more than half of a source's active eligibility removed, and more
/// than this many, is refused unless forced: an empty search result from a broken filter
/// must not look like everyone losing their access.
pub const MASS_REMOVAL: u64 = 10;

/// What a sync did; also the details of its audit event and the source's last report.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct SyncReport {
    pub source: String,
    pub kind: String,
    /// What the source lists now.
    pub people: u64,
    pub roles: u64,
    pub eligibility: u64,
    /// Eligibility rows new to attest.
    pub new: u64,
    /// Eligibility rows that existed and changed (dates, activation, or back from removed).
    pub changed: u64,
    /// Eligibility the source no longer lists, marked removed.
    pub removed: u64,
    /// People the source no longer lists, disabled.
    pub people_disabled: u64,
    /// People this sync disabled (listed as disabled, or no longer listed): each a leaver
    /// event (`domain::leavers`).
    pub leavers: u64,
    /// People and roles inserted or changed.
    pub people_changed: u64,
    pub roles_changed: u64,
    /// Activations the source reported that were not recorded yet (Entra: PIM activation
    /// requests), for the weekly activation review.
    pub activations_new: u64,
    /// Listed again after a campaign removed them; each recorded as a finding.
    pub reappeared: u64,
    pub reappeared_examples: Vec<Reappeared>,
    /// What `on_reappearance` says: `flag` or `remove`.
    pub on_reappearance: String,
    /// With `remove`: removed again through the source, and those whose removal failed.
    pub removed_again: u64,
    pub removal_failures: Vec<String>,
    pub warnings: Vec<String>,
    pub audit_seq: i64,
}

fn kind_of(config: &SourceConfig) -> SourceKind {
    match config {
        SourceConfig::Entra(_) => SourceKind::Graph,
        SourceConfig::Ldap(_) => SourceKind::Ldap,
        SourceConfig::Webhook(_) => SourceKind::Webhook,
    }
}

/// How long a launch waits after a failed sync of its source before trying the source again
/// (the scheduler asks every tick; a directory should not see a bad password every 30 s).
pub const SYNC_RETRY_AFTER: chrono::Duration = chrono::Duration::minutes(5);

/// A source's sync schedule: `hourly`, `daily`, or a 5-field crontab expression (UTC).
pub fn sync_schedule(text: &str) -> Result<LaunchSchedule, String> {
    let crontab = match text.trim() {
        "hourly" => "0 * * * *",
        "daily" => "0 6 * * *",
        other => other,
    };
    LaunchSchedule::parse(crontab, chrono_tz::UTC)
}

impl Engine {
    /// `serve`: syncs every source whose schedule fired since its last sync (one instance per
    /// firing). Returns the names synced; a failed sync is recorded on the source, logged, and
    /// tried again at the next firing.
    pub async fn sync_due(&self) -> Result<Vec<String>, EngineError> {
        let mut synced = Vec::new();
        let configs: Vec<(String, SourceConfig)> = self
            .sources()
            .configs()
            .iter()
            .map(|(n, c)| (n.clone(), c.clone()))
            .collect();
        // Read once for all sources: those synced before (a source without a row never was).
        let synced_before: HashSet<String> = src_store::states(self.store().conn())
            .await?
            .into_iter()
            .filter(|s| s.last_sync_at.is_some())
            .map(|s| s.name)
            .collect();
        for (name, config) in configs {
            let Some(text) = config.sync_schedule() else {
                continue;
            };
            let schedule = match sync_schedule(text) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(source = %name, "sync_schedule: {e}");
                    continue;
                }
            };
            let now = self.now();
            let Some(firing) = schedule.latest_until(now) else {
                continue;
            };
            dir::ensure_source(self.store().conn(), &name, kind_of(&config).as_str(), now).await?;
            let firing = if synced_before.contains(&name) {
                firing
            } else {
                now
            };
            if !src_store::claim_scheduled_sync(self.store().conn(), &name, firing, now).await? {
                continue;
            }
            match self.sync_source(&name, "scheduler").await {
                Ok(_) => synced.push(name),
                Err(e) => tracing::error!(source = %name, "scheduled sync failed: {e}"),
            }
        }
        Ok(synced)
    }

    /// Pulls the source's population into attest's tables (see the module header), refusing a
    /// sync that would mark most of the source's eligibility removed (see [`MASS_REMOVAL`]).
    pub async fn sync_source(&self, name: &str, actor: &str) -> Result<SyncReport, EngineError> {
        self.sync_source_with(name, actor, false, &NoProgress).await
    }

    /// The same; `force` lets a sync through that no longer lists most of what it listed
    /// (the source really did shrink); `progress` hears how far the writing has got.
    pub async fn sync_source_with(
        &self,
        name: &str,
        actor: &str,
        force: bool,
        progress: &dyn Progress,
    ) -> Result<SyncReport, EngineError> {
        let synced = self
            .sync_configured_source(name, actor, force, progress)
            .await;
        // Counted per configured source only: an unknown name is no sync (and no new series).
        if self.source_config(name).is_ok() {
            crate::telemetry::source_sync(name, synced.is_ok());
        }
        synced
    }

    async fn sync_configured_source(
        &self,
        name: &str,
        actor: &str,
        force: bool,
        progress: &dyn Progress,
    ) -> Result<SyncReport, EngineError> {
        let config = self.source_config(name)?.clone();
        if !config.syncs() {
            return Err(EngineError::Invalid(format!(
                "source {name} is a webhook: it only removes; its population comes from imported files (attest import)"
            )));
        }
        let kind = kind_of(&config);
        let now = self.now();
        let source_id = dir::ensure_source(self.store().conn(), name, kind.as_str(), now).await?;
        // A connector reads its whole listing before anything is written (paging through
        // Graph or LDAP): a spinner with the time spent, then rows written against their total.
        progress.stage(&format!("reading {name}"));
        let snapshot = match self.sources().connector(name) {
            Ok(connector) => connector.snapshot().await,
            Err(e) => Err(e),
        };
        let snapshot = match snapshot {
            Ok(snapshot) => snapshot,
            Err(e) => {
                self.record_failed_sync(name, source_id, actor, &e).await?;
                return Err(e.into());
            }
        };
        let mut report = SyncReport {
            source: name.to_string(),
            kind: config.kind().to_string(),
            on_reappearance: config.on_reappearance().as_str().to_string(),
            ..SyncReport::default()
        };
        let applied = self
            .apply_snapshot(
                apply::SyncRun {
                    name,
                    source_id,
                    actor,
                    force,
                    progress,
                },
                snapshot,
                &mut report,
            )
            .await;
        let (back, recorded_at) = match applied {
            Err(EngineError::Source(e)) => {
                self.record_failed_sync(name, source_id, actor, &e).await?;
                return Err(EngineError::Source(e));
            }
            other => other?,
        };
        if config.on_reappearance() == OnReappearance::Remove && !back.is_empty() {
            self.remove_again(name, &back, recorded_at, &mut report, actor)
                .await?;
        }
        Ok(report)
    }

    async fn record_failed_sync(
        &self,
        name: &str,
        source_id: i64,
        actor: &str,
        error: &SourceError,
    ) -> Result<(), EngineError> {
        let now = self.now();
        let txn = self.store().begin().await?;
        src_store::record_sync(&txn, source_id, Err(&error.0), now).await?;
        store::audit::append(
            &txn,
            now,
            actor,
            "source.sync_failed",
            Some(&format!("source:{name}")),
            &serde_json::json!({ "error": error.0 }),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}
