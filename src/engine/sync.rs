//! `attest source list | test | sync`: configured sources (README, "Sources").
//!
//! A sync reads the source's whole population through its connector, then, in one transaction,
//! writes it into attest's tables as that source's rows: people (and their managers), roles,
//! eligibility; what the source no longer lists is marked removed (eligibility) or disabled
//! (people). An eligibility a campaign removed that the source lists again is never reinstated
//! silently: it is recorded as reappeared, counted, audited and, where the source says
//! `on_reappearance = "remove"`, removed again through the source after the commit.

use super::{Engine, EngineError};
use crate::domain::eligibility::SourceKind;
use crate::domain::limits::{
    check_text, Lines, DESCRIPTION_MAX_CHARS, EMAIL_MAX_CHARS, ID_MAX_CHARS, NAME_MAX_CHARS,
    SCOPE_MAX_CHARS,
};
use crate::domain::records::{key_of, PersonRow, RoleRow};
use crate::domain::schedule::LaunchSchedule;
use crate::sources::config::{OnReappearance, SourceConfig};
use crate::sources::connector::{Probe, Snapshot};
use crate::sources::{Removal, RemovalTarget, SourceError};
use crate::store::reappearance::{self, Reappeared};
use crate::store::sources::{self as src_store, SourceState};
use crate::store::{self, directory as dir};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// Rows per multi-row statement of a sync (well under SQLite's placeholder limit).
const CHUNK: usize = 1000;
/// A sync that would mark more than half of a source's active eligibility removed, and more
/// than this many, is refused unless forced: an empty search result from a broken filter
/// must not look like everyone losing their access.
pub const MASS_REMOVAL: u64 = 10;

fn is_mass_removal(gone: u64, had: u64) -> bool {
    gone > MASS_REMOVAL && gone * 2 > had
}

/// How many reappeared eligibilities a sync's report lists (all are counted and recorded).
const REAPPEARED_EXAMPLES: usize = 10;
/// How many warnings a sync's report keeps (the rest are counted).
const WARNINGS_SHOWN: usize = 20;

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
    /// People and roles inserted or changed.
    pub people_changed: u64,
    pub roles_changed: u64,
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

/// What `attest source test` found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TestReport {
    pub source: String,
    pub kind: String,
    pub checks: Vec<String>,
    pub people: Option<u64>,
    pub eligibility: Option<u64>,
}

/// A configured source with its state, for `attest source list` and the console.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SourceListing {
    pub name: String,
    pub kind: String,
    /// The server it talks to (never a secret).
    pub endpoint: String,
    /// The environment variable its secret comes from, and whether it is set.
    pub secret_env: String,
    pub secret_set: bool,
    pub sync_schedule: Option<String>,
    pub on_reappearance: String,
    /// `None` until its first sync.
    pub state: Option<SourceState>,
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

    fn source_config(&self, name: &str) -> Result<&SourceConfig, EngineError> {
        self.sources().config(name).ok_or_else(|| {
            let known: Vec<&str> = self
                .sources()
                .configs()
                .keys()
                .map(String::as_str)
                .collect();
            EngineError::NotFound(if known.is_empty() {
                format!("no source {name:?}: attest.toml configures no [sources.NAME]")
            } else {
                format!(
                    "no source {name:?} (attest.toml configures: {})",
                    known.join(", ")
                )
            })
        })
    }

    /// The configured sources and what their last sync did.
    pub async fn list_sources(&self) -> Result<Vec<SourceListing>, EngineError> {
        let states: HashMap<String, SourceState> = src_store::states(self.store().conn())
            .await?
            .into_iter()
            .map(|s| (s.name.clone(), s))
            .collect();
        Ok(self
            .sources()
            .configs()
            .iter()
            .map(|(name, config)| SourceListing {
                name: name.clone(),
                kind: config.kind().to_string(),
                endpoint: config.endpoint().to_string(),
                secret_env: config.secret_env().to_string(),
                secret_set: std::env::var(config.secret_env()).is_ok_and(|v| !v.is_empty()),
                sync_schedule: config.sync_schedule().map(str::to_string),
                on_reappearance: config.on_reappearance().as_str().to_string(),
                state: states.get(name).cloned(),
            })
            .collect())
    }

    /// Connects, authenticates, checks the permissions removal needs and counts; changes
    /// nothing in the source. Audited (who tested which source, and what it found).
    pub async fn test_source(&self, name: &str, actor: &str) -> Result<TestReport, EngineError> {
        let config = self.source_config(name)?;
        let probe = match self.sources().connector(name) {
            Ok(connector) => connector.test().await,
            Err(e) => Err(e),
        };
        let details = match &probe {
            Ok(p) => {
                serde_json::json!({ "ok": true, "checks": p.checks, "people": p.people, "eligibility": p.eligibility })
            }
            Err(e) => serde_json::json!({ "ok": false, "error": e.0 }),
        };
        let now = self.now();
        let txn = self.store().begin().await?;
        store::audit::append(
            &txn,
            now,
            actor,
            "source.test",
            Some(&format!("source:{name}")),
            &details,
        )
        .await?;
        txn.commit().await?;
        let Probe {
            checks,
            people,
            eligibility,
        } = probe?;
        Ok(TestReport {
            source: name.to_string(),
            kind: config.kind().to_string(),
            checks,
            people,
            eligibility,
        })
    }

    /// Pulls the source's population into attest's tables (see the module header), refusing a
    /// sync that would mark most of the source's eligibility removed (see [`MASS_REMOVAL`]).
    pub async fn sync_source(&self, name: &str, actor: &str) -> Result<SyncReport, EngineError> {
        self.sync_source_with(name, actor, false).await
    }

    /// The same; `force` lets a sync through that no longer lists most of what it listed
    /// (the source really did shrink).
    pub async fn sync_source_with(
        &self,
        name: &str,
        actor: &str,
        force: bool,
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
            .apply_snapshot(name, source_id, snapshot, &mut report, actor, force)
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

    /// Writes the snapshot in one transaction; returns the reappeared eligibilities and the
    /// time they were recorded at.
    async fn apply_snapshot(
        &self,
        name: &str,
        source_id: i64,
        snapshot: Snapshot,
        report: &mut SyncReport,
        actor: &str,
        force: bool,
    ) -> Result<(Vec<Reappeared>, DateTime<Utc>), EngineError> {
        let Snapshot {
            people,
            roles,
            eligibility,
            mut warnings,
        } = snapshot;
        let now = self.now();
        let txn = self.store().begin().await?;

        // People first (managers and owners refer to them), then the manager links.
        let mut rows = Vec::with_capacity(people.len());
        let mut listed_people = HashSet::new();
        for p in people {
            if let Err(reason) = check_person(&p) {
                warnings.push(format!(
                    "person {:?} skipped: {reason}",
                    clip_id(&p.external_id)
                ));
                continue;
            }
            if !listed_people.insert(p.external_id.clone()) {
                warnings.push(format!("person {:?} listed twice", clip_id(&p.external_id)));
                continue;
            }
            rows.push(PersonRow {
                line: 0,
                external_id: p.external_id,
                name: p.name,
                email: p.email,
                manager: p.manager,
                kind: p.kind,
                enabled: p.enabled,
                timezone: None,
            });
        }
        report.people = rows.len() as u64;
        for chunk in rows.chunks(CHUNK) {
            report.people_changed += dir::upsert_people(&txn, chunk, source_id, now).await?;
        }
        for chunk in rows.chunks(CHUNK) {
            let mut wanted: Vec<&str> = chunk.iter().map(|r| r.external_id.as_str()).collect();
            wanted.extend(chunk.iter().filter_map(|r| r.manager.as_deref()));
            let refs = dir::principal_refs(&txn, &wanted).await?;
            let mut changes = Vec::new();
            for row in chunk {
                let Some(person) = refs.get(&row.external_id) else {
                    continue;
                };
                let manager = match &row.manager {
                    Some(m) => match refs.get(m) {
                        Some(found) => Some(found.id),
                        None => {
                            warnings.push(format!(
                                "the manager {:?} of {:?} is not one of the people the source lists",
                                clip_id(m),
                                clip_id(&row.external_id)
                            ));
                            None
                        }
                    },
                    None => None,
                };
                if person.manager_id != manager {
                    changes.push((person.id, manager));
                }
            }
            dir::set_managers(&txn, &changes, now).await?;
        }

        // Roles.
        let owners: Vec<&str> = roles.iter().filter_map(|r| r.owner.as_deref()).collect();
        let owner_refs = dir::principal_refs(&txn, &owners).await?;
        let mut role_rows = Vec::with_capacity(roles.len());
        for role in roles {
            if let Err(reason) =
                check_text(&role.name, NAME_MAX_CHARS, Lines::Single).and_then(|()| {
                    match &role.description {
                        Some(d) => check_text(d, DESCRIPTION_MAX_CHARS, Lines::Multi),
                        None => Ok(()),
                    }
                })
            {
                warnings.push(format!("role {:?} skipped: {reason}", clip_id(&role.name)));
                continue;
            }
            let owner = match &role.owner {
                Some(o) => match owner_refs.get(o) {
                    Some(found) => Some(found.id),
                    None => {
                        warnings.push(format!(
                            "the owner {:?} of role {:?} is not one of the people",
                            clip_id(o),
                            clip_id(&role.name)
                        ));
                        None
                    }
                },
                None => None,
            };
            role_rows.push((
                RoleRow {
                    line: 0,
                    name: role.name,
                    owner: role.owner,
                    risk: role.risk,
                    description: role.description,
                },
                owner,
            ));
        }
        report.roles = role_rows.len() as u64;
        for chunk in role_rows.chunks(CHUNK) {
            report.roles_changed += dir::upsert_roles(&txn, chunk, source_id, now).await?;
        }

        // Eligibility: reappearances found before the upsert makes them active again.
        let before = dir::count(&txn, "eligibility").await?;
        let role_ids = dir::role_ids(&txn).await?;
        let mut listed = HashSet::new();
        let mut back_all = Vec::new();
        let mut changed = 0;
        let via = format!("sync of {name}");
        for chunk in eligibility.chunks(CHUNK) {
            let ids: Vec<&str> = chunk.iter().map(|e| e.principal.as_str()).collect();
            let refs = dir::principal_refs(&txn, &ids).await?;
            let mut writes = Vec::with_capacity(chunk.len());
            for e in chunk {
                if let Err(reason) = check_text(&e.scope, SCOPE_MAX_CHARS, Lines::Single) {
                    warnings.push(format!(
                        "an eligibility of {:?} skipped: scope {reason}",
                        clip_id(&e.principal)
                    ));
                    continue;
                }
                let (Some(p), Some(role_id)) = (refs.get(&e.principal), role_ids.get(&e.role))
                else {
                    warnings.push(format!(
                        "an eligibility of {:?} as {:?} skipped: its person or role is not listed",
                        clip_id(&e.principal),
                        clip_id(&e.role)
                    ));
                    continue;
                };
                if !listed.insert(key_of(&[&e.principal, &e.role, &e.scope])) {
                    continue;
                }
                writes.push(dir::EligibilityWrite {
                    principal_id: p.id,
                    role_id: *role_id,
                    scope: e.scope.clone(),
                    start: e.start,
                    end: e.end,
                    last_activated_at: e.last_activated_at,
                });
            }
            let back = reappearance::removed_by_campaign(&txn, &writes).await?;
            let action = "flagged";
            reappearance::record(&txn, &back, &via, action, now).await?;
            back_all.extend(back);
            changed += dir::upsert_eligibility(
                &txn,
                &writes,
                source_id,
                &format!("sync:{name}"),
                dir::Activation::KeepLatest,
                now,
            )
            .await?;
        }
        report.eligibility = listed.len() as u64;
        let after = dir::count(&txn, "eligibility").await?;
        report.new = (after - before).max(0) as u64;
        report.changed = changed.saturating_sub(report.new);
        report.reappeared = back_all.len() as u64;
        report.reappeared_examples = back_all.iter().take(REAPPEARED_EXAMPLES).cloned().collect();

        // What the source no longer lists.
        let gone = dir::active_eligibility_not_kept(&txn, source_id, |p, r, s| {
            listed.contains(&key_of(&[p, r, s]))
        })
        .await?;
        let had = dir::active_eligibility_count(&txn, source_id).await? as u64;
        if !force && is_mass_removal(gone.len() as u64, had) {
            drop(txn);
            return Err(EngineError::Source(SourceError(format!(
                "source {name}: this sync would mark {} of its {had} active eligibilities removed (no longer listed); \
                 nothing was changed. A filter or group that went wrong looks like this; if the source really lists \
                 that few now, run `attest source sync {name} --force`",
                gone.len()
            ))));
        }
        report.removed = dir::mark_eligibility_removed(
            &txn,
            &gone,
            &format!("sync of {name}: no longer listed"),
            now,
        )
        .await?;
        let gone =
            dir::enabled_principals_not_kept(&txn, source_id, |id| listed_people.contains(id))
                .await?;
        report.people_disabled = dir::disable_principals(&txn, &gone, now).await?;

        if warnings.len() > WARNINGS_SHOWN {
            let more = warnings.len() - WARNINGS_SHOWN;
            warnings.truncate(WARNINGS_SHOWN);
            warnings.push(format!("… and {more} more"));
        }
        report.warnings = warnings;
        let details = serde_json::to_value(&*report).map_err(|e| EngineError::Io(e.to_string()))?;
        src_store::record_sync(&txn, source_id, Ok(&details), now).await?;
        let event = store::audit::append(
            &txn,
            now,
            actor,
            "source.sync",
            Some(&format!("source:{name}")),
            &details,
        )
        .await?;
        txn.commit().await?;
        report.audit_seq = event.seq;
        store::refresh_statistics(self.store().conn(), &["principal", "role", "eligibility"])
            .await?;
        Ok((back_all, now))
    }

    /// `on_reappearance = "remove"`: removes each reappeared eligibility again through the
    /// source, naming the campaign that had removed it, and records what happened.
    async fn remove_again(
        &self,
        name: &str,
        back: &[Reappeared],
        recorded_at: DateTime<Utc>,
        report: &mut SyncReport,
        actor: &str,
    ) -> Result<(), EngineError> {
        let connector = self.sources().connector(name)?;
        for item in back {
            let Some(campaign_id) = item.campaign_id else {
                continue;
            };
            let item_id = src_store::item_of(self.store().conn(), campaign_id, item.eligibility_id)
                .await?
                .unwrap_or(0);
            let target = RemovalTarget {
                eligibility_id: item.eligibility_id,
                item_id,
                principal_external_id: item.holder.clone(),
                role_name: item.role.clone(),
                scope: item.scope.clone(),
                campaign_id,
            };
            let outcome = match connector.remove(&target).await {
                Ok(Removal::Removed { receipt } | Removal::AlreadyGone { receipt }) => {
                    match connector.is_present(&target).await {
                        Ok(Some(true)) => Err(format!(
                            "still present in the source after its removal ({receipt})"
                        )),
                        Ok(_) => Ok(receipt),
                        Err(e) => Err(format!(
                            "removed ({receipt}), but reading it back failed: {e}"
                        )),
                    }
                }
                Err(e) => Err(e.0),
            };
            let now = self.now();
            let txn = self.store().begin().await?;
            let (action, details) = match &outcome {
                Ok(receipt) => {
                    src_store::mark_removed(
                        &txn,
                        item.eligibility_id,
                        campaign_id,
                        &format!(
                            "removed again by sync of {name}: reappeared after campaign #{campaign_id} removed it"
                        ),
                        receipt,
                        now,
                    )
                    .await?;
                    report.removed_again += 1;
                    ("removed_again", serde_json::json!({ "receipt": receipt }))
                }
                Err(error) => {
                    report.removal_failures.push(format!(
                        "{} as {} at {}: {error}",
                        item.holder, item.role, item.scope
                    ));
                    ("removal_failed", serde_json::json!({ "error": error }))
                }
            };
            src_store::set_reappearance_action(&txn, item.eligibility_id, recorded_at, action)
                .await?;
            store::audit::append(
                &txn,
                now,
                actor,
                &format!("source.reappearance_{action}"),
                Some(&format!("eligibility:{}", item.eligibility_id)),
                &serde_json::json!({
                    "source": name, "holder": item.holder, "role": item.role, "scope": item.scope,
                    "removed_by_campaign": campaign_id, "details": details,
                }),
            )
            .await?;
            txn.commit().await?;
        }
        Ok(())
    }
}

fn clip_id(text: &str) -> String {
    crate::domain::limits::clip(text).into_owned()
}

fn check_person(p: &crate::sources::connector::SyncPerson) -> Result<(), String> {
    check_text(&p.external_id, ID_MAX_CHARS, Lines::Single).map_err(|r| format!("id {r}"))?;
    check_text(&p.name, NAME_MAX_CHARS, Lines::Single).map_err(|r| format!("name {r}"))?;
    if let Some(email) = &p.email {
        check_text(email, EMAIL_MAX_CHARS, Lines::Single).map_err(|r| format!("email {r}"))?;
    }
    if p.external_id.trim().is_empty() {
        return Err("empty id".into());
    }
    Ok(())
}
