//! Writes a source's snapshot into attest's tables in one transaction: people, roles and
//! eligibility as that source's rows, what it no longer lists removed or disabled, and what a
//! campaign had removed recorded as reappeared.

use super::{SyncReport, MASS_REMOVAL};
use crate::domain::limits::{
    check_text, Lines, DESCRIPTION_MAX_CHARS, EMAIL_MAX_CHARS, ID_MAX_CHARS, NAME_MAX_CHARS,
    SCOPE_MAX_CHARS,
};
use crate::domain::records::{key_of, PersonRow, RoleRow};
use crate::engine::{leavers, Engine, EngineError, Progress};
use crate::sources::connector::Snapshot;
use crate::sources::SourceError;
use crate::store::reappearance::{self, Reappeared};
use crate::store::sources as src_store;
use crate::store::{self, directory as dir};
use chrono::{DateTime, Utc};
use std::collections::HashSet;

/// Rows per multi-row statement of a sync (well under SQLite's placeholder limit).
const CHUNK: usize = 1000;

fn is_mass_removal(gone: u64, had: u64) -> bool {
    gone > MASS_REMOVAL && gone * 2 > had
}

/// How many reappeared eligibilities a sync's report lists (all are counted and recorded).
const REAPPEARED_EXAMPLES: usize = 10;
/// How many warnings a sync's report keeps (the rest are counted).
const WARNINGS_SHOWN: usize = 20;

/// One sync being applied: which source, who asked, whether a mass removal is let through,
/// and who hears how far it has got.
#[derive(Clone, Copy)]
pub(super) struct SyncRun<'a> {
    pub name: &'a str,
    pub source_id: i64,
    pub actor: &'a str,
    pub force: bool,
    pub progress: &'a dyn Progress,
}

impl Engine {
    /// Writes the snapshot in one transaction; returns the reappeared eligibilities and the
    /// time they were recorded at.
    pub(super) async fn apply_snapshot(
        &self,
        run: SyncRun<'_>,
        snapshot: Snapshot,
        report: &mut SyncReport,
    ) -> Result<(Vec<Reappeared>, DateTime<Utc>), EngineError> {
        let SyncRun {
            name,
            source_id,
            actor,
            force,
            progress,
        } = run;
        let Snapshot {
            people,
            roles,
            eligibility,
            activations,
            mut warnings,
        } = snapshot;
        let now = self.now();
        let txn = self.store().begin().await?;
        // Rows written: each person, role and eligibility once.
        progress.stage(&format!("writing what {name} lists"));
        progress.total((people.len() + roles.len() + eligibility.len()) as u64);
        let mut written = 0u64;

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
                // A source carries no attributes; the upsert leaves them alone.
                attributes: None,
            });
        }
        report.people = rows.len() as u64;
        let via = format!("sync of {name}");
        for chunk in rows.chunks(CHUNK) {
            let (changed, leavers) =
                leavers::upsert_people(&txn, chunk, (source_id, false), &via, now).await?;
            report.people_changed += changed;
            report.leavers += leavers;
            written += chunk.len() as u64;
            progress.update(written);
        }
        for chunk in rows.chunks(CHUNK) {
            let mut wanted: Vec<&str> = chunk.iter().map(|r| r.external_id.as_str()).collect();
            wanted.extend(chunk.iter().filter_map(|r| r.manager.as_deref()));
            let refs = dir::principal_refs(&txn, &wanted).await?;
            let mut changes = Vec::new();
            let mut moved = Vec::new();
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
                    moved.push((person.id, person.manager_id, manager));
                }
            }
            dir::set_managers(&txn, &changes, now).await?;
            crate::store::movers::record(&txn, &crate::domain::movers::moves(moved), &via, now)
                .await?;
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
        written += report.roles;
        progress.update(written);

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
                    assignment: e.assignment,
                });
            }
            let back = reappearance::removed_by_campaign(&txn, &writes).await?;
            let action = "flagged";
            reappearance::record(&txn, &back, &via, action, now).await?;
            self.emit(
                &txn,
                crate::engine::webhook_events::reappeared(&back, &via, now),
            )
            .await?;
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
            written += chunk.len() as u64;
            progress.update(written);
        }
        report.eligibility = listed.len() as u64;
        progress.stage(&format!("marking what {name} no longer lists"));
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
        report.people_disabled = leavers::disable(&txn, &gone, &via, now).await?;
        report.leavers += gone.len() as u64;
        report.activations_new =
            record_activations(&txn, name, &activations, &mut warnings, now).await?;

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

/// Records the source's activations not recorded yet (as history: a later sync that no longer
/// lists one forgets nothing) and moves each eligibility's `last_activated_at` forward to its
/// latest. Returns how many were new.
async fn record_activations(
    txn: &sea_orm::DatabaseTransaction,
    source: &str,
    activations: &[crate::sources::connector::SyncActivation],
    warnings: &mut Vec<String>,
    now: DateTime<Utc>,
) -> Result<u64, EngineError> {
    use crate::store::activations::{self as history, ActivationWrite};
    let roles = dir::role_ids(txn).await?;
    let via = format!("sync of {source}");
    let mut new = 0;
    let mut latest = std::collections::HashMap::new();
    for chunk in activations.chunks(CHUNK) {
        let ids: Vec<&str> = chunk.iter().map(|a| a.principal.as_str()).collect();
        let refs = dir::principal_refs(txn, &ids).await?;
        let mut writes = Vec::with_capacity(chunk.len());
        for a in chunk {
            let (Some(p), Some(role_id)) = (refs.get(&a.principal), roles.get(&a.role)) else {
                warnings.push(format!(
                    "an activation of {:?} as {:?} skipped: its person or role is not listed",
                    clip_id(&a.principal),
                    clip_id(&a.role)
                ));
                continue;
            };
            if let Err(reason) = check_text(&a.scope, SCOPE_MAX_CHARS, Lines::Single) {
                warnings.push(format!(
                    "an activation of {:?} skipped: scope {reason}",
                    clip_id(&a.principal)
                ));
                continue;
            }
            let justification = a.justification.as_ref().filter(|j| {
                check_text(
                    j,
                    crate::domain::limits::JUSTIFICATION_MAX_CHARS,
                    Lines::Multi,
                )
                .is_ok()
            });
            let at = latest
                .entry((p.id, *role_id, a.scope.clone()))
                .or_insert(a.activated_at);
            *at = (*at).max(a.activated_at);
            writes.push(ActivationWrite {
                principal_id: p.id,
                role_id: *role_id,
                scope: a.scope.clone(),
                activated_at: a.activated_at,
                ended_at: a.ended_at,
                justification: justification.cloned(),
            });
        }
        new += history::insert(txn, &writes, &via, now).await?;
    }
    for ((principal_id, role_id, scope), at) in latest {
        history::advance_last_activated(txn, principal_id, role_id, &scope, at, now).await?;
    }
    Ok(new)
}
