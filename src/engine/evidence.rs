//! `attest evidence export` and the bundle made when a campaign completes: the population three
//! times (frozen at launch, every decision, re-read after remediation), the audit excerpt, the
//! report, and a signed manifest. Streamed: rows go from the database into the bundle as they
//! are read.

use super::{Engine, EngineError};
use crate::domain::audit_chain::ChainedEvent;
use crate::domain::evidence::{median_seconds, rubber_stamps, safe_cell, CONTROLS, FORMAT};
use crate::evidence::bundle::BundleWriter;
use crate::evidence::manifest::{self, FileEntry};
use crate::evidence::report::{RemovalLine, Report, TimelineLine};
use crate::store::campaigns::{self, CampaignRow};
use crate::store::evidence as ev;
use askama::Template;
use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::SigningKey;
use futures::TryStreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The columns of items.csv, in order.
pub const ITEM_COLUMNS: &[&str] = &[
    "item_id",
    "eligibility_id",
    "holder_id",
    "holder_name",
    "holder_email",
    "holder_kind",
    "role",
    "role_risk",
    "scope",
    "eligible_since",
    "last_activated_at",
    "recommendation",
    "recommendation_reason",
    "reviewer_id",
    "reviewer_name",
    "reviewer_reason",
    "escalated_from",
    "flagged",
    "flag_reason",
    "decision",
    "decided_by_kind",
    "decided_by",
    "acting_for",
    "decided_at",
    "channel",
    "justification",
    "outcome",
    "removal_state",
    "removal_attempts",
    "removal_receipt",
    "removed_at",
    "removal_verified_at",
    "removal_error",
];

const DECISION_COLUMNS: &[&str] = &[
    "decision_id",
    "item_id",
    "decision",
    "decided_by_kind",
    "decided_by",
    "acting_for",
    "decided_at",
    "channel",
    "client_addr",
    "justification",
    "supersedes_decision_id",
];

const AFTER_COLUMNS: &[&str] = &[
    "item_id",
    "eligibility_id",
    "holder_id",
    "role",
    "scope",
    "outcome",
    "expected_status",
    "status_now",
    "consistent",
];

#[derive(Debug, Clone, Copy, Default)]
pub struct ExportOptions {
    /// Start every CSV file of the bundle with a UTF-8 BOM, for spreadsheets that need one to
    /// read UTF-8.
    pub bom: bool,
    /// Replace an existing zip at the destination (`--force`); otherwise an existing file is
    /// refused. A folder is never emptied and a symbolic link never written through.
    pub replace: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub campaign_id: i64,
    pub path: PathBuf,
    pub generated_at: DateTime<Utc>,
    pub public_key: String,
    pub files: Vec<FileEntry>,
}

/// Appends one line of the population listing whose SHA-256 campaign.json records.
pub fn population_line(
    out: &mut String,
    eligibility_id: &str,
    holder_id: &str,
    role: &str,
    scope: &str,
) {
    out.push_str(eligibility_id);
    for cell in [holder_id, role, scope] {
        out.push(',');
        out.push_str(&safe_cell(cell));
    }
    out.push('\n');
}

fn io_err(e: impl std::fmt::Display) -> EngineError {
    EngineError::Io(e.to_string())
}

/// What the item pass learns on the way, for campaign.json and the report.
#[derive(Default)]
struct ItemFacts {
    count: u64,
    population_hash: Sha256,
    receipts: Vec<RemovalLine>,
    receipts_total: u64,
    failures: Vec<RemovalLine>,
    /// Items whose eligibility is not as their outcome requires.
    inconsistent: u64,
    /// Each reviewer's items by external id, for the reviewers' summaries: counted here rather
    /// than by a second read of every item (on SQLite that aggregate cost more than the
    /// decisions pass).
    reviewers: HashMap<String, ReviewerTally>,
}

/// One reviewer's share of the campaign's items, as `store::evidence::reviewer_summaries`
/// counts it.
#[derive(Default)]
struct ReviewerTally {
    items: i64,
    escalated_away: i64,
    decided: i64,
    attested: i64,
    revoked: i64,
    first_decision_at: Option<DateTime<Utc>>,
    last_decision_at: Option<DateTime<Utc>>,
}

impl ReviewerTally {
    fn add(&mut self, item: &ev::ItemView<'_>) {
        self.items += 1;
        if item.made_by != Some("human") {
            return;
        }
        self.decided += 1;
        match item.verdict {
            Some("attest") => self.attested += 1,
            Some("revoke") => self.revoked += 1,
            _ => {}
        }
        if let Some(at) = item.decided_at {
            self.first_decision_at = Some(self.first_decision_at.map_or(at, |t| t.min(at)));
            self.last_decision_at = Some(self.last_decision_at.map_or(at, |t| t.max(at)));
        }
    }

    fn fill(&self, summary: &mut ev::ReviewerSummary) {
        summary.items = self.items;
        summary.escalated_away = self.escalated_away;
        summary.decided = self.decided;
        summary.attested = self.attested;
        summary.revoked = self.revoked;
        summary.first_decision_at = self.first_decision_at;
        summary.last_decision_at = self.last_decision_at;
    }
}

impl ItemFacts {
    fn tally(&mut self, item: &ev::ItemView<'_>) {
        if let Some(from) = item.escalated_from {
            match self.reviewers.get_mut(from) {
                Some(tally) => tally.escalated_away += 1,
                None => {
                    let tally = ReviewerTally {
                        escalated_away: 1,
                        ..ReviewerTally::default()
                    };
                    self.reviewers.insert(from.to_string(), tally);
                }
            }
        }
        let Some(reviewer) = item.reviewer_id else {
            return;
        };
        match self.reviewers.get_mut(reviewer) {
            Some(tally) => tally.add(item),
            None => {
                let mut tally = ReviewerTally::default();
                tally.add(item);
                self.reviewers.insert(reviewer.to_string(), tally);
            }
        }
    }

    /// The campaign's reviewers with their tallies filled in.
    fn summaries(&self, mut roster: Vec<ev::ReviewerSummary>) -> Vec<ev::ReviewerSummary> {
        for reviewer in &mut roster {
            if let Some(tally) = self.reviewers.get(&reviewer.id) {
                tally.fill(reviewer);
            }
        }
        roster
    }
}

/// What the passes over the campaign's rows return for campaign.json and the report.
struct Passes {
    facts: ItemFacts,
    /// How many decisions decisions.csv lists.
    decisions: u64,
    /// (decided by, when) of each decision people made.
    human_decisions: Vec<(String, DateTime<Utc>)>,
    timeline: Vec<TimelineLine>,
}

/// At most this many receipts are listed in the report (all are in items.csv).
const REPORT_RECEIPTS: usize = 200;

/// How many reappeared items campaign.json and report.html list (all are counted).
const REAPPEARED_LISTED: u64 = 50;

/// How many handovers (escalations, admins' decisions) campaign.json and report.html list (all
/// are counted; items.csv has `escalated_from` for every item).
const HANDOVERS_LISTED: u64 = 200;

/// The public keys of the instance whose database is at `url`, to pin the signer of a bundle
/// being verified on the instance's own machine: `None` when there is no such database (it is
/// opened read-only, never created or migrated), it cannot be reached, or it has no key yet.
pub async fn instance_pin(url: &str) -> Option<crate::evidence::verify::Pin> {
    let conn = crate::store::Store::open_existing(url).await.ok()??;
    let keys = ev::public_keys(&conn).await.ok()?;
    (!keys.is_empty()).then(|| crate::evidence::verify::Pin {
        keys,
        from: format!(
            "this instance's key (read from {})",
            crate::config::mask_url(url)
        ),
    })
}

impl Engine {
    /// The instance's signing key, created on first use.
    pub async fn signing_key(&self) -> Result<SigningKey, EngineError> {
        let conn = self.store().conn();
        if let Some((_, secret)) = ev::signing_key(conn).await? {
            return manifest::key_from_hex(&secret).map_err(EngineError::Io);
        }
        let secret = super::random_bytes::<32>()?;
        let key = SigningKey::from_bytes(&secret);
        let now = self.now();
        let txn = self.store().begin().await?;
        ev::insert_signing_key(
            &txn,
            &hex::encode(key.verifying_key().to_bytes()),
            &hex::encode(secret),
            now,
        )
        .await?;
        crate::store::audit::append(
            &txn,
            now,
            "engine",
            "evidence.key_created",
            None,
            &serde_json::json!({ "public_key": hex::encode(key.verifying_key().to_bytes()) }),
        )
        .await?;
        txn.commit().await?;
        // Two instances creating a key at once: both use the newest, so read it back.
        match ev::signing_key(conn).await? {
            Some((_, secret)) => manifest::key_from_hex(&secret).map_err(EngineError::Io),
            None => Ok(key),
        }
    }

    /// Writes the campaign's evidence bundle to `out` (a folder, or a zip when it ends in .zip).
    pub async fn export_evidence(
        &self,
        campaign_id: i64,
        out: &Path,
        options: ExportOptions,
    ) -> Result<ExportReport, EngineError> {
        let campaign = self.campaign_row(campaign_id).await?;
        if matches!(
            campaign.state,
            crate::domain::lifecycle::CampaignState::Launching
        ) {
            return Err(EngineError::Conflict(format!(
                "campaign #{campaign_id} is still launching; export it once it is active"
            )));
        }
        let key = self.signing_key().await?;
        let generated_at = self.now();
        let mut bundle = BundleWriter::create(out, options.replace)
            .map_err(|e| EngineError::Invalid(format!("{}: {e}", out.display())))?;
        let conn = self.store().conn();
        // The counts are an aggregate over the same rows: the database computes them on a
        // connection of its own while the rows stream out, instead of after them.
        let (passes, counts, roster) = tokio::try_join!(
            self.write_passes(&mut bundle, campaign_id, options),
            async { Ok(campaigns::counts(conn, campaign_id).await?) },
            async { Ok(ev::reviewer_roster(conn, campaign_id).await?) },
        )?;
        let Passes {
            facts,
            decisions,
            human_decisions,
            timeline,
        } = passes;
        let inconsistent = facts.inconsistent;
        let reviewers = facts.summaries(roster);
        let stamps = rubber_stamps(&human_decisions);
        let launched = campaign.launched_at;
        let median = median_seconds(
            human_decisions
                .iter()
                .filter_map(|(_, at)| launched.map(|l| (*at - l).num_seconds()))
                .collect(),
        );
        // Access that came back after an earlier campaign removed it: a finding of this review.
        let (reappeared, reappeared_total) = match campaign.launched_at {
            Some(launched) => {
                crate::store::reappearance::in_campaign(
                    conn,
                    campaign_id,
                    launched,
                    REAPPEARED_LISTED,
                )
                .await?
            }
            None => (Vec::new(), 0),
        };
        let summary = campaign.summary(&counts);
        // Who had an item and who took it over: escalations, and items only an admin could
        // decide (their holder was the only candidate).
        let (handovers, handovers_total) =
            ev::handovers(conn, campaign_id, HANDOVERS_LISTED).await?;
        let population_sha = hex::encode(facts.population_hash.clone().finalize());
        let campaign_json = serde_json::json!({
            "format": FORMAT,
            "campaign": {
                "id": campaign.id, "definition": campaign.name, "definition_version": campaign.version,
                "period": campaign.period, "adhoc": campaign.adhoc, "state": campaign.state,
                "launched_at": campaign.launched_at, "due_at": campaign.due_at, "closed_at": campaign.closed_at,
                "completed_at": campaign.completed_at, "cancelled_at": campaign.cancelled_at,
                "created_by": campaign.created_by, "rail_reason": campaign.rail_reason,
                "closed_by": campaign.closed_by, "cancelled_by": campaign.cancelled_by,
            },
            "summary": summary,
            "definition": campaign.spec,
            "population": {
                "at_launch": {
                    "source": self.source().name(), "filter": campaign.spec.scope, "count": facts.count,
                    "sha256": population_sha,
                    "sha256_of": "one line per items.csv row, in order: its eligibility_id,holder_id,role,scope cells joined by commas",
                },
                "decisions": { "count": decisions, "by_people": human_decisions.len(), "file": "decisions.csv" },
                "after_remediation": { "count": facts.count, "inconsistent": inconsistent, "file": "after_remediation.csv" },
            },
            "counts": counts,
            "findings": {
                "reappeared": {
                    "count": reappeared_total,
                    "about": "items whose eligibility an earlier campaign removed and an import or sync listed again before this campaign launched",
                    "listed": reappeared,
                },
            },
            "handovers": { "count": handovers_total, "listed": handovers },
            "reviewers": reviewers,
            "median_seconds_to_decision": median,
            "rubber_stamp_flags": stamps,
            "timeline": timeline.iter().map(|t| serde_json::json!({"at": t.at, "action": t.action, "actor": t.actor})).collect::<Vec<_>>(),
            "controls": CONTROLS,
        });
        let text = serde_json::to_vec_pretty(&campaign_json).map_err(io_err)?;
        bundle.file("campaign.json", &text, false).map_err(io_err)?;

        let public_key = hex::encode(key.verifying_key().to_bytes());
        let on_no_response = campaign.spec.on_no_response.to_string();
        let when = |t: Option<DateTime<Utc>>| {
            t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_else(|| "—".into())
        };
        let report = Report {
            campaign_id,
            name: &campaign.name,
            version: campaign.version,
            period: &campaign.period,
            state: campaign.state.as_str(),
            description: campaign.spec.description.as_deref(),
            schedule: &campaign.spec.schedule,
            on_no_response: &on_no_response,
            launched_at: when(campaign.launched_at),
            due_at: when(campaign.due_at),
            closed_at: when(campaign.closed_at),
            completed_at: when(campaign.completed_at),
            generated_at: when(Some(generated_at)),
            public_key: &public_key,
            summary: &summary,
            figures: summary.figures(),
            handovers: &handovers,
            handovers_total,
            escalate_after_days: campaign.spec.escalate_after_days,
            reviewers: &reviewers,
            receipts: &facts.receipts,
            receipts_total: facts.receipts_total,
            failures: &facts.failures,
            inconsistent,
            reappeared: &reappeared,
            reappeared_total,
            timeline: &timeline,
            rubber_stamps: &stamps,
            controls: Report::controls(),
        };
        let html = report.render().map_err(io_err)?;
        bundle
            .file("report.html", html.as_bytes(), false)
            .map_err(io_err)?;

        let files = bundle.entries.clone();
        let signed = manifest::sign(&key, campaign_id, generated_at, files.clone());
        let text = serde_json::to_vec_pretty(&signed).map_err(io_err)?;
        bundle.file("manifest.json", &text, true).map_err(io_err)?;
        bundle.finish().map_err(io_err)?;
        Ok(ExportReport {
            campaign_id,
            path: out.to_path_buf(),
            generated_at,
            public_key,
            files,
        })
    }

    /// Writes the files that grow with the campaign, in the bundle's order: items.csv,
    /// decisions.csv, after_remediation.csv and audit.jsonl.
    async fn write_passes(
        &self,
        bundle: &mut BundleWriter,
        campaign_id: i64,
        options: ExportOptions,
    ) -> Result<Passes, EngineError> {
        // after_remediation.csv is made in the same pass as items.csv, but a zip holds one file
        // after the other: it waits in a temporary file (deleted when closed).
        let mut after = csv_writer(BufWriter::with_capacity(
            1 << 16,
            tempfile::tempfile().map_err(io_err)?,
        ));
        let facts = self
            .write_items(bundle, &mut after, campaign_id, options)
            .await?;
        let (decisions, human_decisions) =
            self.write_decisions(bundle, campaign_id, options).await?;
        Self::write_after_remediation(bundle, after, options)?;
        let timeline = self.write_audit(bundle, campaign_id).await?;
        Ok(Passes {
            facts,
            decisions,
            human_decisions,
            timeline,
        })
    }

    /// Writes items.csv, and after_remediation.csv beside it into `after`, in one pass over the
    /// items.
    async fn write_items(
        &self,
        bundle: &mut BundleWriter,
        after: &mut csv::Writer<BufWriter<File>>,
        campaign_id: i64,
        options: ExportOptions,
    ) -> Result<ItemFacts, EngineError> {
        let mut facts = ItemFacts::default();
        begin_csv(bundle, "items.csv", options)?;
        {
            let mut csv = csv_writer(&mut *bundle);
            csv.write_record(ITEM_COLUMNS).map_err(io_err)?;
            after.write_record(AFTER_COLUMNS).map_err(io_err)?;
            let mut cells = Cells::default();
            let mut listed = String::new();
            ev::each_item(self.store().conn(), campaign_id, |item| {
                facts.count += 1;
                facts.tally(item);
                write_item(&mut csv, &mut cells, item)?;
                // Over the cells as written, so a verifier can recompute it from items.csv alone.
                listed.clear();
                population_line(
                    &mut listed,
                    cells.int(item.eligibility_id),
                    item.holder_external_id,
                    item.role_name,
                    item.scope,
                );
                facts.population_hash.update(listed.as_bytes());
                facts.inconsistent += write_after(after, &mut cells, item)?;
                let line = |detail: &str| RemovalLine {
                    item_id: item.id,
                    holder: item.holder_external_id.to_string(),
                    role: item.role_name.to_string(),
                    scope: item.scope.to_string(),
                    detail: detail.to_string(),
                };
                if let Some(receipt) = item.removal_receipt {
                    facts.receipts_total += 1;
                    if facts.receipts.len() < REPORT_RECEIPTS {
                        facts.receipts.push(line(receipt));
                    }
                }
                if item.removal_state == Some("failed") {
                    facts
                        .failures
                        .push(line(item.removal_error.unwrap_or("failed")));
                }
                Ok::<_, EngineError>(())
            })
            .await?;
            csv.flush().map_err(io_err)?;
        }
        bundle.end(false).map_err(io_err)?;
        Ok(facts)
    }

    /// Writes decisions.csv; returns how many decisions, and (decided by, when) of people's.
    async fn write_decisions(
        &self,
        bundle: &mut BundleWriter,
        campaign_id: i64,
        options: ExportOptions,
    ) -> Result<(u64, Vec<(String, DateTime<Utc>)>), EngineError> {
        let mut human = Vec::new();
        let mut count = 0;
        begin_csv(bundle, "decisions.csv", options)?;
        {
            let mut csv = csv_writer(&mut *bundle);
            csv.write_record(DECISION_COLUMNS).map_err(io_err)?;
            let mut cells = Cells::default();
            ev::each_decision(self.store().conn(), campaign_id, |d| {
                count += 1;
                if d.made_by == "human" {
                    human.push((d.decided_by.unwrap_or("admin").to_string(), d.decided_at));
                }
                let by = match (d.decided_by, d.made_by) {
                    (Some(by), _) => by,
                    (None, "policy") => "policy",
                    (None, _) => "",
                };
                let w = &mut csv;
                text(w, cells.int(d.id))?;
                text(w, cells.int(d.item_id))?;
                text(w, d.verdict)?;
                text(w, d.made_by)?;
                text(w, by)?;
                text(w, d.acting_for.unwrap_or_default())?;
                text(w, cells.time(Some(d.decided_at)))?;
                text(w, d.channel)?;
                text(w, d.client_addr.unwrap_or_default())?;
                text(w, d.justification.unwrap_or_default())?;
                text(w, d.supersedes_id.map_or("", |s| cells.int(s)))?;
                end_record(w)
            })
            .await?;
            csv.flush().map_err(io_err)?;
        }
        bundle.end(false).map_err(io_err)?;
        Ok((count, human))
    }

    /// Copies after_remediation.csv, written during the item pass, into the bundle.
    fn write_after_remediation(
        bundle: &mut BundleWriter,
        after: csv::Writer<BufWriter<File>>,
        options: ExportOptions,
    ) -> Result<(), EngineError> {
        let mut file = after
            .into_inner()
            .map_err(|e| io_err(e.error()))?
            .into_inner()
            .map_err(|e| io_err(e.error()))?;
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        begin_csv(bundle, "after_remediation.csv", options)?;
        std::io::copy(
            &mut std::io::BufReader::with_capacity(1 << 18, file),
            &mut *bundle,
        )
        .map_err(io_err)?;
        bundle.end(false).map_err(io_err)
    }

    /// Writes audit.jsonl (the unbroken stretch of the chain that covers the campaign) and
    /// returns the campaign's own events, decisions aside, as its timeline.
    async fn write_audit(
        &self,
        bundle: &mut BundleWriter,
        campaign_id: i64,
    ) -> Result<Vec<TimelineLine>, EngineError> {
        let conn = self.store().conn();
        let target = format!("campaign:{campaign_id}");
        let mut timeline = Vec::new();
        bundle.begin("audit.jsonl").map_err(io_err)?;
        if let Some((first, last)) = ev::audit_range(conn, campaign_id).await? {
            let rows = ev::audit_rows(conn, first, last).await?;
            let mut rows = std::pin::pin!(rows);
            while let Some(row) = rows.try_next().await? {
                let event = ChainedEvent {
                    seq: row.try_get("", "seq")?,
                    at: row.try_get("", "at")?,
                    actor: row.try_get("", "actor")?,
                    action: row.try_get("", "action")?,
                    target: row.try_get("", "target")?,
                    details: row.try_get("", "details")?,
                    prev_hash: row.try_get("", "prev_hash")?,
                    hash: row.try_get("", "hash")?,
                };
                if event.target.as_deref() == Some(target.as_str())
                    && event.action != "decision.record"
                {
                    timeline.push(TimelineLine {
                        at: event.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        action: event.action.clone(),
                        actor: event.actor.clone(),
                    });
                }
                let mut line = serde_json::to_vec(&event).map_err(io_err)?;
                line.push(b'\n');
                bundle.write_all(&line).map_err(io_err)?;
            }
        }
        bundle.end(false).map_err(io_err)?;
        Ok(timeline)
    }

    /// Stores the bundle of every completed campaign that has none (a crash between completing
    /// and storing, or a store that failed): run on every scheduler tick and after the CLI's
    /// removals. Returns the campaigns whose bundle it stored; one that fails again is logged
    /// and tried at the next tick.
    pub async fn store_missing_evidence(&self) -> Result<Vec<i64>, EngineError> {
        let mut stored = Vec::new();
        for id in ev::completed_without_bundle(self.store().conn()).await? {
            match self
                .store_evidence(
                    id,
                    "completed (stored by recovery: none was stored at completion)",
                )
                .await
            {
                Ok(_) => stored.push(id),
                Err(e) => {
                    tracing::error!(campaign = id, "could not store the evidence bundle: {e}")
                }
            }
        }
        Ok(stored)
    }

    /// Generates the bundle of a completed campaign and keeps it in the database, so it stays
    /// downloadable for as long as the database lives (in 1 MiB chunks, so it streams).
    pub async fn store_evidence(
        &self,
        campaign_id: i64,
        reason: &str,
    ) -> Result<ev::StoredBundle, EngineError> {
        let dir = tempfile::tempdir().map_err(io_err)?;
        let path = dir
            .path()
            .join(format!("campaign-{campaign_id}-evidence.zip"));
        let report = self
            .export_evidence(campaign_id, &path, ExportOptions::default())
            .await?;
        let manifest = read_manifest_from_zip(&path)?;
        let (sha, bytes) = sha256_of_file(&path)?;
        let txn = self.store().begin().await?;
        let id = ev::insert_bundle(
            &txn,
            campaign_id,
            report.generated_at,
            &manifest,
            &sha,
            bytes as i64,
            reason,
        )
        .await?;
        let mut file = std::fs::File::open(&path).map_err(io_err)?;
        let mut seq = 0;
        loop {
            let mut chunk = vec![0u8; 1 << 20];
            let n = read_full(&mut file, &mut chunk).map_err(io_err)?;
            if n == 0 {
                break;
            }
            chunk.truncate(n);
            ev::insert_chunk(&txn, id, seq, chunk).await?;
            seq += 1;
        }
        crate::store::audit::append(
            &txn,
            self.now(),
            "engine",
            "evidence.stored",
            Some(&format!("campaign:{campaign_id}")),
            &serde_json::json!({ "bundle": id, "sha256": sha, "bytes": bytes, "reason": reason }),
        )
        .await?;
        txn.commit().await?;
        ev::latest_bundle(self.store().conn(), campaign_id)
            .await?
            .ok_or_else(|| EngineError::Io("the stored bundle vanished".into()))
    }
}

fn sha256_of_file(path: &Path) -> Result<(String, u64), EngineError> {
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher).map_err(io_err)?;
    Ok((hex::encode(hasher.finalize()), bytes))
}

fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn read_manifest_from_zip(path: &Path) -> Result<String, EngineError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut zip = zip::ZipArchive::new(file).map_err(io_err)?;
    let mut text = String::new();
    zip.by_name("manifest.json")
        .map_err(io_err)?
        .read_to_string(&mut text)
        .map_err(io_err)?;
    Ok(text)
}

/// Starts the bundle's next CSV file, with a BOM when the export asks for one: every CSV of a
/// bundle alike, since an auditor opens each in the same spreadsheet.
fn begin_csv(
    bundle: &mut BundleWriter,
    name: &str,
    options: ExportOptions,
) -> Result<(), EngineError> {
    bundle.begin(name).map_err(io_err)?;
    if options.bom {
        bundle.write_all("\u{feff}".as_bytes()).map_err(io_err)?;
    }
    Ok(())
}

fn csv_writer<W: Write>(to: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .buffer_capacity(1 << 16)
        .from_writer(to)
}

/// Writes one text cell, protected against spreadsheet formulas.
fn text<W: Write>(csv: &mut csv::Writer<W>, cell: &str) -> Result<(), EngineError> {
    csv.write_field(safe_cell(cell).as_bytes()).map_err(io_err)
}

fn end_record<W: Write>(csv: &mut csv::Writer<W>) -> Result<(), EngineError> {
    csv.write_record(None::<&[u8]>).map_err(io_err)
}

/// Scratch space for the cells that are not text in the database (numbers and times), reused
/// from row to row: formatting them through `std::fmt` was a noticeable share of an export.
#[derive(Default)]
struct Cells {
    int: itoa::Buffer,
    time: String,
}

impl Cells {
    fn int(&mut self, n: impl itoa::Integer) -> &str {
        self.int.format(n)
    }

    /// A timestamp as RFC 3339 in UTC with microseconds; empty for none.
    fn time(&mut self, at: Option<DateTime<Utc>>) -> &str {
        use chrono::{Datelike, Timelike};
        self.time.clear();
        match at {
            // What `to_rfc3339_opts(SecondsFormat::Micros, true)` writes, without allocating.
            Some(at) if (0..=9999).contains(&at.year()) && at.nanosecond() < 1_000_000_000 => {
                let out = &mut self.time;
                push_padded(out, at.year().unsigned_abs(), 4);
                for (separator, n) in [('-', at.month()), ('-', at.day()), ('T', at.hour())] {
                    out.push(separator);
                    push_padded(out, n, 2);
                }
                for n in [at.minute(), at.second()] {
                    out.push(':');
                    push_padded(out, n, 2);
                }
                out.push('.');
                push_padded(out, at.nanosecond() / 1000, 6);
                out.push('Z');
            }
            Some(at) => self.time = at.to_rfc3339_opts(SecondsFormat::Micros, true),
            None => {}
        }
        &self.time
    }
}

/// Appends `n` in decimal, zero-padded to `width` digits (`n` has no more than that).
fn push_padded(out: &mut String, n: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (n / 10u32.pow(place) % 10) as u8;
        out.push(char::from(b'0' + digit));
    }
}

/// One row of items.csv, in [`ITEM_COLUMNS`] order.
fn write_item<W: Write>(
    w: &mut csv::Writer<W>,
    cells: &mut Cells,
    item: &ev::ItemView<'_>,
) -> Result<(), EngineError> {
    let o = Option::unwrap_or_default;
    text(w, cells.int(item.id))?;
    text(w, cells.int(item.eligibility_id))?;
    text(w, item.holder_external_id)?;
    text(w, item.holder_name)?;
    text(w, o(item.holder_email))?;
    text(w, item.holder_kind)?;
    text(w, item.role_name)?;
    text(w, item.role_risk)?;
    text(w, item.scope)?;
    text(w, cells.time(item.since))?;
    text(w, cells.time(item.last_activated_at))?;
    text(w, item.recommendation)?;
    text(w, o(item.recommendation_reason))?;
    text(w, o(item.reviewer_id))?;
    text(w, o(item.reviewer_name))?;
    text(w, o(item.reviewer_reason))?;
    text(w, o(item.escalated_from))?;
    text(w, if item.flagged { "yes" } else { "no" })?;
    text(w, o(item.flag_reason))?;
    text(w, o(item.verdict))?;
    text(w, o(item.made_by))?;
    match item.made_by {
        Some("policy") => text(w, "policy")?,
        _ => text(w, o(item.decided_by))?,
    }
    text(w, o(item.acting_for))?;
    text(w, cells.time(item.decided_at))?;
    text(w, o(item.channel))?;
    text(w, o(item.justification))?;
    text(w, o(item.outcome))?;
    text(w, o(item.removal_state))?;
    text(w, item.removal_attempts.map_or("", |a| cells.int(a)))?;
    text(w, o(item.removal_receipt))?;
    text(w, cells.time(item.removed_at))?;
    text(w, cells.time(item.verified_at))?;
    text(w, o(item.removal_error))?;
    end_record(w)
}

/// One row of after_remediation.csv; returns 1 when the eligibility is not as its outcome
/// requires.
fn write_after<W: Write>(
    w: &mut csv::Writer<W>,
    cells: &mut Cells,
    item: &ev::ItemView<'_>,
) -> Result<u64, EngineError> {
    let expected = match item.outcome {
        Some("revoked" | "removed_by_policy")
            if item.removal_state != Some("awaiting_confirmation") =>
        {
            "removed"
        }
        Some(_) => "active",
        None => "",
    };
    let now = item.status_now.unwrap_or("missing");
    let consistent = expected.is_empty() || expected == now;
    text(w, cells.int(item.id))?;
    text(w, cells.int(item.eligibility_id))?;
    text(w, item.holder_external_id)?;
    text(w, item.role_name)?;
    text(w, item.scope)?;
    text(w, item.outcome.unwrap_or_default())?;
    text(w, expected)?;
    text(w, now)?;
    text(
        w,
        if expected.is_empty() {
            "open"
        } else if consistent {
            "yes"
        } else {
            "no"
        },
    )?;
    end_record(w)?;
    Ok(u64::from(!consistent))
}

/// Where a campaign's stored bundle can be written out for download.
pub fn bundle_file_name(campaign: &CampaignRow) -> String {
    format!(
        "attest-evidence-{}-{}-{}.zip",
        campaign.id,
        campaign.name,
        campaign.period.replace('/', "-")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_rfc3339_with_microseconds() {
        let mut cells = Cells::default();
        for text in [
            "2026-11-26T10:02:01.427825Z",
            "2024-01-01T00:00:00Z",
            "0001-02-03T04:05:06.000007Z",
            "2026-06-30T23:59:60.5Z",
            "2026-03-04T05:06:07.123456789+02:00",
        ] {
            let at = DateTime::parse_from_rfc3339(text)
                .expect("a time")
                .with_timezone(&Utc);
            assert_eq!(
                cells.time(Some(at)),
                at.to_rfc3339_opts(SecondsFormat::Micros, true)
            );
        }
        assert_eq!(cells.time(None), "");
    }
}
