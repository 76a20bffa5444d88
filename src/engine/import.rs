//! `attest import people|roles|eligibility|activations FILE`: a whole file or nothing.
//!
//! The file is read on a blocking thread and handed over in batches, so parsing and database
//! writes overlap and memory stays flat whatever the file's size. Everything happens in one
//! transaction; the first bad row stops all writing (reading goes on, to report up to
//! [`super::MAX_PROBLEMS_SHOWN`] problems), and the transaction is dropped, changing nothing.

mod activations;
mod records;

pub use super::import_input::ImportInput;
use super::{leavers, Engine, EngineError, Progress, Rejection};
use crate::domain::limits::{clip, quote};
use crate::domain::movers::moves;
use crate::domain::records::{key_of, EligibilityRow, ImportKind, PersonRow, RoleRow, RowError};
use crate::import_file::FileSummary;
use crate::store::directory::listed::{self, Listed, Listing};
use crate::store::{self, directory as dir, movers, reappearance};
use chrono::{DateTime, Utc};
use records::Records;
use sea_orm::DatabaseTransaction;
use serde::Serialize;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
/// How many reappeared eligibilities an import's report lists (all are counted and recorded).
const REAPPEARED_EXAMPLES: usize = 10;

#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Full sync: what the file no longer lists is removed (eligibility) or disabled (people).
    pub prune: bool,
}

/// What an import did; also the details of its audit event.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub kind: String,
    pub file: String,
    pub sha256: String,
    pub rows: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// People only: manager links set or changed.
    pub managers_changed: u64,
    /// People whose manager changed from one to another (each a mover event: `domain::movers`).
    pub movers: u64,
    /// People the import disabled (each a leaver event: `domain::leavers`).
    pub leavers: u64,
    /// Activations only: eligibilities whose `last_activated_at` an imported activation moved
    /// forward.
    pub last_activation_advanced: u64,
    /// With `--prune`: eligibilities removed or people disabled because the file no longer lists them.
    pub pruned: u64,
    /// Eligibility only: how many the file lists that a campaign had removed. They are active
    /// again (the file says they exist), and each is recorded as a reappearance finding.
    pub reappeared: u64,
    /// The first few of them, with the campaign that had removed each.
    pub reappeared_examples: Vec<crate::store::reappearance::Reappeared>,
    pub prune: bool,
    pub warnings: Vec<String>,
    pub audit_seq: i64,
}

impl Engine {
    /// Imports `input` as a file of `kind`: all of it, or nothing when a row is bad.
    pub async fn import(
        &self,
        kind: ImportKind,
        input: ImportInput,
        options: ImportOptions,
        actor: &str,
        progress: &dyn Progress,
    ) -> Result<ImportReport, EngineError> {
        let name = input.name.clone();
        if options.prune && kind == ImportKind::Roles {
            return Err(EngineError::Invalid(
                "--prune applies to people and eligibility files; an import never deletes roles"
                    .into(),
            ));
        }
        if options.prune && kind == ImportKind::Activations {
            return Err(EngineError::Invalid(
                "--prune applies to people and eligibility files; activation history is only added to"
                    .into(),
            ));
        }
        let now = self.now();
        let txn = self.store().begin().await?;
        let source_id = dir::ensure_source(&txn, dir::BUILTIN_SOURCE, "builtin", now).await?;
        let mut job = Job {
            txn: &txn,
            input: &input,
            now,
            source_id,
            progress,
            problems: Rejection::new(&name),
            report: ImportReport {
                kind: kind.as_str().into(),
                file: name.to_string(),
                prune: options.prune,
                ..ImportReport::default()
            },
            events: Vec::new(),
        };
        let ran = match kind {
            ImportKind::People => job.people(options).await,
            ImportKind::Roles => job.roles().await,
            ImportKind::Eligibility => job.eligibility(options).await,
            ImportKind::Activations => job.activations().await,
        };
        if let Err(e) = ran {
            // A dropped transaction is only rolled back when its connection is next used; until
            // then, on PostgreSQL, its locks (the source row, rows written before the bad one)
            // would hold up the next import of the same rows.
            drop(job);
            if let Err(rollback) = txn.rollback().await {
                tracing::warn!("rolling back a rejected import: {rollback}");
            }
            return Err(e);
        }
        let events = std::mem::take(&mut job.events);
        let mut report = job.report;
        self.emit(&txn, events).await?;
        for warning in &report.warnings {
            tracing::warn!(file = %report.file, "{warning}");
        }
        let details = serde_json::to_value(&report).map_err(|e| EngineError::Io(e.to_string()))?;
        let event = store::audit::append(
            &txn,
            now,
            actor,
            &format!("import.{}", kind.as_str()),
            Some(&report.file),
            &details,
        )
        .await?;
        txn.commit().await?;
        report.audit_seq = event.seq;
        store::refresh_statistics(self.store().conn(), &["principal", "role", "eligibility"])
            .await?;
        Ok(report)
    }
}

/// One import in progress.
struct Job<'a> {
    txn: &'a DatabaseTransaction,
    input: &'a ImportInput,
    now: DateTime<Utc>,
    source_id: i64,
    progress: &'a dyn Progress,
    problems: Rejection,
    report: ImportReport,
    /// `eligibility.reappeared` events, queued with the import's commit.
    events: Vec<crate::engine::webhooks::Event>,
}

impl Job<'_> {
    /// Fails the import if any row was bad; the caller's transaction is then dropped unused.
    fn check(&mut self) -> Result<(), EngineError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(EngineError::Rejected(std::mem::replace(
                &mut self.problems,
                Rejection::new(""),
            )))
        }
    }

    /// Waits for the reader; a file-level problem (bad header, malformed JSON) rejects the import.
    async fn finish(&mut self, records: Records) -> Result<FileSummary, EngineError> {
        records.finish().await?.map_err(|problem| {
            self.problems.add(problem);
            EngineError::Rejected(std::mem::replace(&mut self.problems, Rejection::new("")))
        })
    }

    /// Counts a batch of rows read from `records`, for the report and the progress shown.
    fn count(&mut self, rows: usize, records: &Records) {
        self.report.rows += rows as u64;
        if let Some(total) = records.estimated_rows(self.report.rows) {
            self.progress.total(total);
        }
        self.progress.update(self.report.rows);
    }

    fn tally(&mut self, before: i64, after: i64, changed: u64, summary: FileSummary) {
        let inserted = (after - before).max(0) as u64;
        self.report.inserted = inserted;
        self.report.updated = changed.saturating_sub(inserted);
        self.report.unchanged = self.report.rows.saturating_sub(changed);
        self.report.sha256 = summary.sha256;
        self.report.warnings = summary.warnings;
    }

    async fn eligibility(&mut self, options: ImportOptions) -> Result<(), EngineError> {
        let before = dir::count(self.txn, "eligibility").await?;
        let roles = dir::role_ids(self.txn).await?;
        listed::begin(self.txn, Listing::Eligibility).await?;
        let mut changed = 0;
        let mut records = Records::open(self.input, ImportKind::Eligibility);
        while let Some(batch) = records.next().await {
            self.count(batch.len(), &records);
            let mut rows = Vec::with_capacity(batch.len());
            for record in batch {
                match record.and_then(|r| EligibilityRow::parse(&r)) {
                    Err(problem) => self.problems.add(problem),
                    Ok(row) => rows.push(row),
                }
            }
            let ids: Vec<&str> = rows.iter().map(|r| r.principal.as_str()).collect();
            let principals = dir::principal_refs(self.txn, &ids).await?;
            let mut writes = Vec::with_capacity(rows.len());
            let mut lines = Vec::with_capacity(rows.len());
            for row in &rows {
                match (principals.get(&row.principal), roles.get(&row.role)) {
                    (None, _) => self.problems.add(unknown(
                        row.line,
                        "principal_id",
                        "person",
                        &row.principal,
                    )),
                    (_, None) => self
                        .problems
                        .add(unknown(row.line, "role", "role", &row.role)),
                    (Some(p), Some(role_id)) => {
                        writes.push(dir::EligibilityWrite {
                            principal_id: p.id,
                            role_id: *role_id,
                            scope: row.scope.clone(),
                            start: row.start,
                            end: row.end,
                            last_activated_at: row.last_activated_at,
                            assignment: row.assignment,
                        });
                        lines.push(row);
                    }
                }
            }
            let listing: Vec<Listed> = writes
                .iter()
                .zip(&lines)
                .map(|(w, row)| Listed::Eligibility {
                    principal_id: w.principal_id,
                    role_id: w.role_id,
                    scope: &w.scope,
                    line: row.line,
                })
                .collect();
            for twice in listed::add(self.txn, Listing::Eligibility, &listing).await? {
                let row = lines.iter().find(|r| r.line == twice.line);
                let (principal, role, scope) =
                    row.map_or(("", "", ""), |r| (&*r.principal, &*r.role, &*r.scope));
                self.problems.add(RowError::new(
                    twice.line,
                    None,
                    format!(
                        "duplicate: line {} already lists {} × {} × {}",
                        twice.first,
                        clip(principal),
                        clip(role),
                        clip(scope)
                    ),
                ));
            }
            if self.problems.is_empty() {
                // Before the upsert makes them active again: what a campaign removed and the
                // file lists anyway is never reinstated silently.
                let back = reappearance::removed_by_campaign(self.txn, &writes).await?;
                let via = format!("import of {}", self.report.file);
                reappearance::record(self.txn, &back, &via, "flagged", self.now).await?;
                self.events
                    .extend(crate::engine::webhook_events::reappeared(
                        &back, &via, self.now,
                    ));
                self.report.reappeared += back.len() as u64;
                let room =
                    REAPPEARED_EXAMPLES.saturating_sub(self.report.reappeared_examples.len());
                self.report
                    .reappeared_examples
                    .extend(back.into_iter().take(room));
                changed += dir::upsert_eligibility(
                    self.txn,
                    &writes,
                    self.source_id,
                    "import",
                    dir::Activation::AsListed,
                    self.now,
                )
                .await?;
            }
        }
        let summary = self.finish(records).await?;
        self.check()?;
        let after = dir::count(self.txn, "eligibility").await?;
        self.tally(before, after, changed, summary);
        if options.prune {
            let gone = listed::eligibility_not_listed(self.txn, self.source_id).await?;
            let reason = format!("import --prune: not listed in {}", self.report.file);
            self.report.pruned =
                dir::mark_eligibility_removed(self.txn, &gone, &reason, self.now).await?;
        }
        listed::end(self.txn, Listing::Eligibility).await?;
        Ok(())
    }

    async fn roles(&mut self) -> Result<(), EngineError> {
        let before = dir::count(self.txn, "role").await?;
        let mut seen: HashMap<u128, u64> = HashMap::new();
        let mut changed = 0;
        let mut records = Records::open(self.input, ImportKind::Roles);
        while let Some(batch) = records.next().await {
            self.count(batch.len(), &records);
            let mut rows = Vec::with_capacity(batch.len());
            for record in batch {
                match record.and_then(|r| RoleRow::parse(&r)) {
                    Err(problem) => self.problems.add(problem),
                    Ok(row) => match seen.entry(key_of(&[&row.name])) {
                        Entry::Occupied(first) => {
                            self.problems
                                .add(duplicate(row.line, "name", &row.name, *first.get()))
                        }
                        Entry::Vacant(slot) => {
                            slot.insert(row.line);
                            rows.push(row);
                        }
                    },
                }
            }
            let owners: Vec<&str> = rows.iter().filter_map(|r| r.owner.as_deref()).collect();
            let principals = dir::principal_refs(self.txn, &owners).await?;
            let mut writes = Vec::with_capacity(rows.len());
            for row in rows {
                let owner = match &row.owner {
                    None => None,
                    Some(owner) => match principals.get(owner) {
                        Some(p) => Some(p.id),
                        None => {
                            self.problems
                                .add(unknown(row.line, "owner_id", "person", owner));
                            continue;
                        }
                    },
                };
                writes.push((row, owner));
            }
            if self.problems.is_empty() {
                changed += dir::upsert_roles(self.txn, &writes, self.source_id, self.now).await?;
            }
        }
        let summary = self.finish(records).await?;
        self.check()?;
        let after = dir::count(self.txn, "role").await?;
        self.tally(before, after, changed, summary);
        Ok(())
    }

    /// Two passes: people first, then manager links, because a manager may appear anywhere in
    /// the file. The second pass re-reads the file rather than keeping it in memory.
    async fn people(&mut self, options: ImportOptions) -> Result<(), EngineError> {
        let before = dir::count(self.txn, "principal").await?;
        listed::begin(self.txn, Listing::People).await?;
        let mut changed = 0;
        let mut records = Records::open(self.input, ImportKind::People);
        while let Some(batch) = records.next().await {
            self.count(batch.len(), &records);
            let mut rows = Vec::with_capacity(batch.len());
            for record in batch {
                match record.and_then(|r| PersonRow::parse(&r)) {
                    Err(problem) => self.problems.add(problem),
                    Ok(row) => rows.push(row),
                }
            }
            let listing: Vec<Listed> = rows
                .iter()
                .map(|row| Listed::Person {
                    external_id: &row.external_id,
                    line: row.line,
                })
                .collect();
            let twice = listed::add(self.txn, Listing::People, &listing).await?;
            for d in &twice {
                if let Some(row) = rows.iter().find(|r| r.line == d.line) {
                    self.problems
                        .add(duplicate(d.line, "id", &row.external_id, d.first));
                }
            }
            if self.problems.is_empty() {
                let via = format!("import of {}", self.report.file);
                let (written, leavers) =
                    leavers::upsert_people(self.txn, &rows, (self.source_id, true), &via, self.now)
                        .await?;
                changed += written;
                self.report.leavers += leavers;
            }
        }
        let summary = self.finish(records).await?;
        self.check()?;

        self.progress.stage("linking managers");
        let mut records = Records::open(self.input, ImportKind::People);
        while let Some(batch) = records.next().await {
            let rows: Vec<PersonRow> = batch
                .into_iter()
                .filter_map(|r| r.and_then(|r| PersonRow::parse(&r)).ok())
                .collect();
            let mut wanted: Vec<&str> = rows.iter().map(|r| r.external_id.as_str()).collect();
            wanted.extend(rows.iter().filter_map(|r| r.manager.as_deref()));
            let principals = dir::principal_refs(self.txn, &wanted).await?;
            let mut changes = Vec::new();
            let mut moved = Vec::new();
            for row in &rows {
                let Some(person) = principals.get(&row.external_id) else {
                    self.problems.add(RowError::new(
                        row.line,
                        Some("id"),
                        "the file changed during the import",
                    ));
                    continue;
                };
                let manager = match &row.manager {
                    None => None,
                    Some(m) => match principals.get(m) {
                        Some(found) => Some(found.id),
                        None => {
                            self.problems
                                .add(unknown(row.line, "manager_id", "person", m));
                            continue;
                        }
                    },
                };
                if person.manager_id != manager {
                    changes.push((person.id, manager));
                    moved.push((person.id, person.manager_id, manager));
                }
            }
            if self.problems.is_empty() {
                self.report.managers_changed +=
                    dir::set_managers(self.txn, &changes, self.now).await?;
                let via = format!("import of {}", self.report.file);
                self.report.movers +=
                    movers::record(self.txn, &moves(moved), &via, self.now).await?;
            }
        }
        let second = self.finish(records).await?;
        if second.sha256 != summary.sha256 {
            self.problems
                .add(RowError::new(0, None, "the file changed during the import"));
        }
        self.check()?;
        let after = dir::count(self.txn, "principal").await?;
        self.tally(before, after, changed, summary);
        if options.prune {
            let gone = listed::people_not_listed(self.txn, self.source_id).await?;
            let via = format!("prune of {}", self.report.file);
            self.report.pruned = leavers::disable(self.txn, &gone, &via, self.now).await?;
            self.report.leavers += gone.len() as u64;
        }
        listed::end(self.txn, Listing::People).await?;
        Ok(())
    }
}

pub(super) fn unknown(line: u64, field: &str, what: &str, value: &str) -> RowError {
    RowError::new(
        line,
        Some(field),
        format!("unknown {what} {} (not in the database)", quote(value)),
    )
}

fn duplicate(line: u64, field: &str, value: &str, first: u64) -> RowError {
    RowError::new(
        line,
        Some(field),
        format!("duplicate: {} is already on line {first}", quote(value)),
    )
}
