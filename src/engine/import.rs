//! `attest import people|roles|eligibility|activations FILE`: a whole file or nothing.
//!
//! The file is read on a blocking thread and handed over in batches, so parsing and database
//! writes overlap and memory stays flat whatever the file's size. Everything happens in one
//! transaction; the first bad row stops all writing (reading goes on, to report up to
//! [`super::MAX_PROBLEMS_SHOWN`] problems), and the transaction is dropped, changing nothing.

mod activations;

pub use super::import_input::ImportInput;
use super::{Engine, EngineError, Progress, Rejection};
use crate::domain::limits::{clip, quote};
use crate::domain::movers::moves;
use crate::domain::records::{
    key_of, EligibilityRow, ImportKind, PersonRow, Record, RoleRow, RowError,
};
use crate::import_file::{read_records, FileSummary, ReadError};
use crate::store::{self, directory as dir, movers, reappearance};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;
use serde::Serialize;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Rows handed from the reader thread to the writer at a time.
const BATCH: usize = 1000;
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
        let mut seen: HashMap<u128, u64> = HashMap::new();
        let mut changed = 0;
        let mut records = Records::open(self.input, ImportKind::Eligibility);
        while let Some(batch) = records.next().await {
            self.count(batch.len(), &records);
            let mut rows = Vec::with_capacity(batch.len());
            for record in batch {
                match record.and_then(|r| EligibilityRow::parse(&r)) {
                    Err(problem) => self.problems.add(problem),
                    Ok(row) => match seen.entry(row.key()) {
                        Entry::Occupied(first) => self.problems.add(RowError::new(
                            row.line,
                            None,
                            format!(
                                "duplicate: line {} already lists {} × {} × {}",
                                first.get(),
                                clip(&row.principal),
                                clip(&row.role),
                                clip(&row.scope)
                            ),
                        )),
                        Entry::Vacant(slot) => {
                            slot.insert(row.line);
                            rows.push(row);
                        }
                    },
                }
            }
            let ids: Vec<&str> = rows.iter().map(|r| r.principal.as_str()).collect();
            let principals = dir::principal_refs(self.txn, &ids).await?;
            let mut writes = Vec::with_capacity(rows.len());
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
                    (Some(p), Some(role_id)) => writes.push(dir::EligibilityWrite {
                        principal_id: p.id,
                        role_id: *role_id,
                        scope: row.scope.clone(),
                        start: row.start,
                        end: row.end,
                        last_activated_at: row.last_activated_at,
                        assignment: row.assignment,
                    }),
                }
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
            let gone = dir::active_eligibility_not_kept(self.txn, self.source_id, |p, r, s| {
                seen.contains_key(&key_of(&[p, r, s]))
            })
            .await?;
            let reason = format!("import --prune: not listed in {}", self.report.file);
            self.report.pruned =
                dir::mark_eligibility_removed(self.txn, &gone, &reason, self.now).await?;
        }
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
        let mut seen: HashMap<u128, u64> = HashMap::new();
        let mut changed = 0;
        let mut records = Records::open(self.input, ImportKind::People);
        while let Some(batch) = records.next().await {
            self.count(batch.len(), &records);
            let mut rows = Vec::with_capacity(batch.len());
            for record in batch {
                match record.and_then(|r| PersonRow::parse(&r)) {
                    Err(problem) => self.problems.add(problem),
                    Ok(row) => match seen.entry(key_of(&[&row.external_id])) {
                        Entry::Occupied(first) => self.problems.add(duplicate(
                            row.line,
                            "id",
                            &row.external_id,
                            *first.get(),
                        )),
                        Entry::Vacant(slot) => {
                            slot.insert(row.line);
                            rows.push(row);
                        }
                    },
                }
            }
            if self.problems.is_empty() {
                changed +=
                    dir::upsert_people(self.txn, &rows, self.source_id, self.now, true).await?;
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
            let gone = dir::enabled_principals_not_kept(self.txn, self.source_id, |id| {
                seen.contains_key(&key_of(&[id]))
            })
            .await?;
            self.report.pruned = dir::disable_principals(self.txn, &gone, self.now).await?;
        }
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

/// The records of a file, read on a blocking thread and received in batches.
struct Records {
    rx: mpsc::Receiver<Batch>,
    reader: JoinHandle<Result<FileSummary, ReadError>>,
    /// The file's length, when it has one (an upload spooled to a file does).
    size: Option<u64>,
    /// How far the reader had got when it sent the last batch received.
    sample: Sample,
}

/// Records as the reader sends them, with how far into the file it had got.
struct Batch {
    records: Vec<Result<Record, RowError>>,
    sample: Sample,
}

/// Bytes of the file read and records parsed from them, taken when the parser asks for more
/// of the file (it has then parsed all it had): the ratio between the two is exact there,
/// where bytes read at any other moment include a buffer not yet parsed.
#[derive(Clone, Copy, Default)]
struct Sample {
    bytes: u64,
    records: u64,
}

/// Counts the bytes read through it and samples them against the records parsed so far.
struct Counting<R> {
    inner: R,
    bytes: u64,
    records: Arc<AtomicU64>,
    sample: Arc<std::sync::Mutex<Sample>>,
}

impl<R: std::io::Read> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.bytes > 0 {
            if let Ok(mut sample) = self.sample.lock() {
                *sample = Sample {
                    bytes: self.bytes,
                    records: self.records.load(Ordering::Relaxed),
                };
            }
        }
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

impl Records {
    fn open(input: &ImportInput, kind: ImportKind) -> Self {
        let (tx, rx) = mpsc::channel(4);
        let format = input.format.clone();
        let content = input.reader();
        let size = content
            .as_ref()
            .ok()
            .and_then(|f| f.metadata().ok())
            .map(|m| m.len())
            .filter(|&len| len > 0);
        let reader = tokio::task::spawn_blocking(move || {
            let format =
                format.map_err(|reason| ReadError::Invalid(RowError::new(0, None, reason)))?;
            let records = Arc::new(AtomicU64::new(0));
            let sample = Arc::new(std::sync::Mutex::new(Sample::default()));
            let content = Counting {
                inner: content?,
                bytes: 0,
                records: records.clone(),
                sample: sample.clone(),
            };
            let taken = || sample.lock().map(|s| *s).unwrap_or_default();
            let mut batch = Vec::with_capacity(BATCH);
            let summary = read_records(content, format, kind, |record| {
                batch.push(record);
                records.fetch_add(1, Ordering::Relaxed);
                if batch.len() < BATCH {
                    return true;
                }
                tx.blocking_send(Batch {
                    records: std::mem::replace(&mut batch, Vec::with_capacity(BATCH)),
                    sample: taken(),
                })
                .is_ok()
            });
            if !batch.is_empty() {
                // The receiver only hangs up when the import already failed.
                let _ = tx.blocking_send(Batch {
                    records: batch,
                    sample: taken(),
                });
            }
            summary
        });
        Self {
            rx,
            reader,
            size,
            sample: Sample::default(),
        }
    }

    async fn next(&mut self) -> Option<Vec<Result<Record, RowError>>> {
        let batch = self.rx.recv().await?;
        self.sample = batch.sample;
        Some(batch.records)
    }

    /// How many rows the file holds, at least the `rows` received so far: estimated from the
    /// records the reader had parsed from the bytes it had read (rows are about alike in
    /// length); `None` for a file of unknown length or before the reader's first sample.
    fn estimated_rows(&self, rows: u64) -> Option<u64> {
        let size = self.size?;
        let Sample { bytes, records } = self.sample;
        if bytes == 0 || records == 0 {
            return None;
        }
        let estimate = (records as u128 * size as u128 / bytes as u128) as u64;
        Some(estimate.max(rows))
    }

    /// Waits for the reader: `Ok(Err(problem))` when the file itself is malformed.
    async fn finish(self) -> Result<Result<FileSummary, RowError>, EngineError> {
        drop(self.rx);
        match self.reader.await {
            Ok(Ok(summary)) => Ok(Ok(summary)),
            Ok(Err(ReadError::Invalid(problem))) => Ok(Err(problem)),
            Ok(Err(ReadError::Io(e))) => Err(EngineError::Io(e.to_string())),
            Err(e) => Err(EngineError::Io(format!("reading the file failed: {e}"))),
        }
    }
}
