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
use sea_orm::QueryResult;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Write;
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
    /// Start items.csv with a UTF-8 BOM, for spreadsheets that need one to read UTF-8.
    pub bom: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub campaign_id: i64,
    pub path: PathBuf,
    pub generated_at: DateTime<Utc>,
    pub public_key: String,
    pub files: Vec<FileEntry>,
}

/// One line of the population listing whose SHA-256 campaign.json records.
pub fn population_line(eligibility_id: &str, holder_id: &str, role: &str, scope: &str) -> String {
    format!(
        "{eligibility_id},{},{},{}\n",
        safe_cell(holder_id),
        safe_cell(role),
        safe_cell(scope)
    )
}

fn ts(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true))
        .unwrap_or_default()
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
}

/// At most this many receipts are listed in the report (all are in items.csv).
const REPORT_RECEIPTS: usize = 200;

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
        let mut bundle = BundleWriter::create(out)
            .map_err(|e| EngineError::Invalid(format!("{}: {e}", out.display())))?;
        let facts = self.write_items(&mut bundle, campaign_id, options).await?;
        let (decisions, human_decisions) = self.write_decisions(&mut bundle, campaign_id).await?;
        let inconsistent = self
            .write_after_remediation(&mut bundle, campaign_id)
            .await?;
        let timeline = self.write_audit(&mut bundle, campaign_id).await?;
        let conn = self.store().conn();
        let counts = campaigns::counts(conn, campaign_id).await?;
        let reviewers = ev::reviewer_summaries(conn, campaign_id).await?;
        let stamps = rubber_stamps(&human_decisions);
        let launched = campaign.launched_at;
        let median = median_seconds(
            human_decisions
                .iter()
                .filter_map(|(_, at)| launched.map(|l| (*at - l).num_seconds()))
                .collect(),
        );
        let population_sha = hex::encode(facts.population_hash.clone().finalize());
        let campaign_json = serde_json::json!({
            "format": FORMAT,
            "campaign": {
                "id": campaign.id, "definition": campaign.name, "definition_version": campaign.version,
                "period": campaign.period, "adhoc": campaign.adhoc, "state": campaign.state,
                "launched_at": campaign.launched_at, "due_at": campaign.due_at, "closed_at": campaign.closed_at,
                "completed_at": campaign.completed_at, "cancelled_at": campaign.cancelled_at,
                "created_by": campaign.created_by, "rail_reason": campaign.rail_reason,
            },
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
            "reviewers": reviewers,
            "median_seconds_to_decision": median,
            "rubber_stamp_flags": stamps,
            "timeline": timeline.iter().map(|t| serde_json::json!({"at": t.at, "action": t.action, "actor": t.actor})).collect::<Vec<_>>(),
            "controls": CONTROLS,
        });
        let text = serde_json::to_vec_pretty(&campaign_json).map_err(io_err)?;
        bundle.file("campaign.json", &text, false).map_err(io_err)?;

        let population = facts.count;
        let decided_share = if population == 0 {
            0.0
        } else {
            counts.decided as f64 * 100.0 / population as f64
        };
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
            population,
            completion_percent: format!("{decided_share:.1}%"),
            counts: &counts,
            reviewers: &reviewers,
            receipts: &facts.receipts,
            receipts_total: facts.receipts_total,
            failures: &facts.failures,
            inconsistent,
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

    async fn write_items(
        &self,
        bundle: &mut BundleWriter,
        campaign_id: i64,
        options: ExportOptions,
    ) -> Result<ItemFacts, EngineError> {
        let conn = self.store().conn();
        let mut facts = ItemFacts::default();
        bundle.begin("items.csv").map_err(io_err)?;
        if options.bom {
            bundle.write_all("\u{feff}".as_bytes()).map_err(io_err)?;
        }
        {
            let mut csv = csv::Writer::from_writer(&mut *bundle);
            csv.write_record(ITEM_COLUMNS).map_err(io_err)?;
            let rows = ev::item_rows(conn, campaign_id).await?;
            let mut rows = std::pin::pin!(rows);
            while let Some(row) = rows.try_next().await? {
                let item = ItemRow::read(&row)?;
                facts.count += 1;
                // Over the cells as written, so a verifier can recompute it from items.csv alone.
                let listed = population_line(
                    &item.eligibility_id.to_string(),
                    &item.holder_id,
                    &item.role,
                    &item.scope,
                );
                facts.population_hash.update(listed.as_bytes());
                let line = |detail: &str| RemovalLine {
                    item_id: item.id,
                    holder: item.holder_id.clone(),
                    role: item.role.clone(),
                    scope: item.scope.clone(),
                    detail: detail.to_string(),
                };
                if let Some(receipt) = &item.removal_receipt {
                    facts.receipts_total += 1;
                    if facts.receipts.len() < REPORT_RECEIPTS {
                        facts.receipts.push(line(receipt));
                    }
                }
                if item.removal_state.as_deref() == Some("failed") {
                    facts
                        .failures
                        .push(line(item.removal_error.as_deref().unwrap_or("failed")));
                }
                csv.write_record(item.cells().iter().map(|c| safe_cell(c).into_owned()))
                    .map_err(io_err)?;
            }
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
    ) -> Result<(u64, Vec<(String, DateTime<Utc>)>), EngineError> {
        let conn = self.store().conn();
        let mut human = Vec::new();
        let mut count = 0;
        bundle.begin("decisions.csv").map_err(io_err)?;
        {
            let mut csv = csv::Writer::from_writer(&mut *bundle);
            csv.write_record(DECISION_COLUMNS).map_err(io_err)?;
            let rows = ev::decision_rows(conn, campaign_id).await?;
            let mut rows = std::pin::pin!(rows);
            while let Some(row) = rows.try_next().await? {
                count += 1;
                let id: i64 = row.try_get("", "id")?;
                let item: i64 = row.try_get("", "item_id")?;
                let verdict: String = row.try_get("", "verdict")?;
                let made_by: String = row.try_get("", "made_by")?;
                let by: Option<String> = row.try_get("", "decided_by")?;
                let acting: Option<String> = row.try_get("", "acting_for")?;
                let at: DateTime<Utc> = row.try_get("", "decided_at")?;
                let channel: String = row.try_get("", "channel")?;
                let addr: Option<String> = row.try_get("", "client_addr")?;
                let why: Option<String> = row.try_get("", "justification")?;
                let supersedes: Option<i64> = row.try_get("", "supersedes_id")?;
                if made_by == "human" {
                    human.push((by.clone().unwrap_or_else(|| "admin".into()), at));
                }
                let cells = [
                    id.to_string(),
                    item.to_string(),
                    verdict,
                    made_by.clone(),
                    by.unwrap_or_else(|| {
                        if made_by == "policy" {
                            "policy".into()
                        } else {
                            String::new()
                        }
                    }),
                    acting.unwrap_or_default(),
                    ts(Some(at)),
                    channel,
                    addr.unwrap_or_default(),
                    why.unwrap_or_default(),
                    supersedes.map(|s| s.to_string()).unwrap_or_default(),
                ];
                csv.write_record(cells.iter().map(|c| safe_cell(c).into_owned()))
                    .map_err(io_err)?;
            }
            csv.flush().map_err(io_err)?;
        }
        bundle.end(false).map_err(io_err)?;
        Ok((count, human))
    }

    /// Writes after_remediation.csv; returns how many eligibilities are not as their outcome requires.
    async fn write_after_remediation(
        &self,
        bundle: &mut BundleWriter,
        campaign_id: i64,
    ) -> Result<u64, EngineError> {
        let conn = self.store().conn();
        let mut inconsistent = 0;
        bundle.begin("after_remediation.csv").map_err(io_err)?;
        {
            let mut csv = csv::Writer::from_writer(&mut *bundle);
            csv.write_record(AFTER_COLUMNS).map_err(io_err)?;
            let rows = ev::item_rows(conn, campaign_id).await?;
            let mut rows = std::pin::pin!(rows);
            while let Some(row) = rows.try_next().await? {
                let item = ItemRow::read(&row)?;
                let expected = match item.outcome.as_deref() {
                    Some("revoked" | "removed_by_policy")
                        if item.removal_state.as_deref() != Some("awaiting_confirmation") =>
                    {
                        "removed"
                    }
                    Some(_) => "active",
                    None => "",
                };
                let now = item.status_now.clone().unwrap_or_else(|| "missing".into());
                let consistent = expected.is_empty() || expected == now;
                inconsistent += u64::from(!consistent);
                let cells = [
                    item.id.to_string(),
                    item.eligibility_id.to_string(),
                    item.holder_id,
                    item.role,
                    item.scope,
                    item.outcome.unwrap_or_default(),
                    expected.to_string(),
                    now,
                    if expected.is_empty() {
                        "open".into()
                    } else if consistent {
                        "yes".into()
                    } else {
                        "no".into()
                    },
                ];
                csv.write_record(cells.iter().map(|c| safe_cell(c).into_owned()))
                    .map_err(io_err)?;
            }
            csv.flush().map_err(io_err)?;
        }
        bundle.end(false).map_err(io_err)?;
        Ok(inconsistent)
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

/// One row of items.csv, read from the database.
struct ItemRow {
    id: i64,
    eligibility_id: i64,
    holder_id: String,
    role: String,
    scope: String,
    outcome: Option<String>,
    removal_state: Option<String>,
    removal_receipt: Option<String>,
    removal_error: Option<String>,
    status_now: Option<String>,
    cells: Vec<String>,
}

impl ItemRow {
    fn read(row: &QueryResult) -> Result<Self, EngineError> {
        let s = |name: &str| -> Result<String, EngineError> {
            Ok(row.try_get::<Option<String>>("", name)?.unwrap_or_default())
        };
        let t = |name: &str| -> Result<String, EngineError> {
            Ok(ts(row.try_get::<Option<DateTime<Utc>>>("", name)?))
        };
        let id: i64 = row.try_get("", "id")?;
        let eligibility_id: i64 = row.try_get("", "eligibility_id")?;
        let flagged: bool = row.try_get("", "flagged")?;
        let attempts: Option<i32> = row.try_get("", "removal_attempts")?;
        let made_by = s("made_by")?;
        let decided_by = match made_by.as_str() {
            "policy" => "policy".to_string(),
            _ => s("decided_by")?,
        };
        let cells = vec![
            id.to_string(),
            eligibility_id.to_string(),
            s("holder_external_id")?,
            s("holder_name")?,
            s("holder_email")?,
            s("holder_kind")?,
            s("role_name")?,
            s("role_risk")?,
            s("scope")?,
            t("since")?,
            t("last_activated_at")?,
            s("recommendation")?,
            s("recommendation_reason")?,
            s("reviewer_id")?,
            s("reviewer_name")?,
            s("reviewer_reason")?,
            s("escalated_from")?,
            if flagged { "yes".into() } else { "no".into() },
            s("flag_reason")?,
            s("verdict")?,
            made_by,
            decided_by,
            s("acting_for")?,
            t("decided_at")?,
            s("channel")?,
            s("justification")?,
            s("outcome")?,
            s("removal_state")?,
            attempts.map(|a| a.to_string()).unwrap_or_default(),
            s("removal_receipt")?,
            t("removed_at")?,
            t("verified_at")?,
            s("removal_error")?,
        ];
        Ok(Self {
            id,
            eligibility_id,
            holder_id: s("holder_external_id")?,
            role: s("role_name")?,
            scope: s("scope")?,
            outcome: row.try_get("", "outcome")?,
            removal_state: row.try_get("", "removal_state")?,
            removal_receipt: row.try_get("", "removal_receipt")?,
            removal_error: row.try_get("", "removal_error")?,
            status_now: row.try_get("", "status_now")?,
            cells,
        })
    }

    fn cells(&self) -> &[String] {
        &self.cells
    }
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
