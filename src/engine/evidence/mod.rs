//! The evidence use cases: `attest evidence export` and the bundle made when a campaign
//! completes: the population three times (frozen at launch, every decision, re-read after
//! remediation), the audit excerpt, the report, and a signed manifest. Streamed: rows go from
//! the database into the bundle as they are read.
//!
//! This file holds the export's entry point and its public types; the streamed files are
//! written by `writer` (their rows by `rows`, the item pass's tallies by `item_facts`), the
//! instance's key is in `signing_key`, bundles kept in the database in `stored`, and
//! downloads in `download`.

mod campaign_json;
mod carried;
mod challenges;
pub mod download;
mod item_facts;
mod rows;
mod signing_key;
mod stored;
mod suspensions;
mod writer;

pub use carried::CARRIED_COLUMNS;
pub use rows::{population_line, ITEM_COLUMNS};
pub use signing_key::instance_pin;

use super::{Engine, EngineError, NoProgress, Progress};
use crate::domain::evidence::{CONTROLS, FORMAT};
use crate::evidence::bundle::BundleWriter;
use crate::evidence::manifest::FileEntry;
use crate::evidence::report::Report;
use crate::store::campaigns;
use crate::store::evidence as ev;
use askama::Template;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::Digest;
use std::path::{Path, PathBuf};
use writer::Passes;

/// How an export writes its bundle.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportOptions {
    /// Start every CSV file of the bundle with a UTF-8 BOM, for spreadsheets that need one to
    /// read UTF-8.
    pub bom: bool,
    /// Replace an existing zip at the destination (`--force`); otherwise an existing file is
    /// refused. A folder is never emptied and a symbolic link never written through.
    pub replace: bool,
}

/// What an export wrote, and with which key it signed it.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub campaign_id: i64,
    pub path: PathBuf,
    pub generated_at: DateTime<Utc>,
    pub public_key: String,
    pub files: Vec<FileEntry>,
}

fn io_err(e: impl std::fmt::Display) -> EngineError {
    EngineError::Io(e.to_string())
}

/// How many reappeared items campaign.json and report.html list (all are counted).
const REAPPEARED_LISTED: u64 = 50;

/// How many handovers (escalations, admins' decisions) campaign.json and report.html list (all
/// are counted; items.csv has `escalated_from` for every item).
const HANDOVERS_LISTED: u64 = 200;

impl Engine {
    /// Writes the campaign's evidence bundle to `out` (a folder, or a zip when it ends in .zip).
    pub async fn export_evidence(
        &self,
        campaign_id: i64,
        out: &Path,
        options: ExportOptions,
    ) -> Result<ExportReport, EngineError> {
        self.export_evidence_with(campaign_id, out, options, &NoProgress)
            .await
    }

    /// The same; `progress` hears how many of the campaign's items are written.
    pub async fn export_evidence_with(
        &self,
        campaign_id: i64,
        out: &Path,
        options: ExportOptions,
        progress: &dyn Progress,
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
            self.write_passes(&mut bundle, campaign_id, options, progress),
            async { Ok(campaigns::counts(conn, campaign_id).await?) },
            async { Ok(ev::reviewer_roster(conn, campaign_id).await?) },
        )?;
        let Passes {
            facts,
            decisions,
            mut human_decisions,
            carried,
            timeline,
        } = passes;
        let inconsistent = facts.inconsistent;
        let reviewers = facts.summaries(roster);
        let stamps = human_decisions.rubber_stamps();
        let median = campaign
            .launched_at
            .and_then(|launched| human_decisions.median_seconds_after(launched));
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
        let reruns = campaigns::rounds(conn, campaign_id).await?;
        let population_sha = hex::encode(facts.population_hash.clone().finalize());
        // Suspensions of the campaign's holders (issue 19): their own file, counted here.
        let suspended = self.campaign_suspensions(campaign_id).await?;
        suspensions::write(&mut bundle, &suspended, options)?;
        // The challenge period (definitions with `challenge_days`): its own file, counted here.
        let challenged = match campaign.spec.challenge_days {
            Some(days) => {
                let list = crate::store::challenges::of_campaign(conn, campaign_id).await?;
                challenges::write(&mut bundle, &list, options)?;
                Some(serde_json::json!({
                    "count": list.len(), "file": "challenges.csv", "days": days,
                    "about": "every revocation whose removal was held at close for the challenge period: the holder's reason, the reviewer's or an admin's answer (kept = kept after challenge, upheld), expired (a reason nobody answered) or lapsed (no reason) when the period ended, and the removal's state",
                }))
            }
            None => None,
        };
        let mut document = serde_json::json!({
            "format": FORMAT,
            "campaign": {
                "id": campaign.id, "definition": campaign.name, "definition_version": campaign.version,
                "period": campaign.period, "adhoc": campaign.adhoc, "state": campaign.state,
                "launched_at": campaign.launched_at, "due_at": campaign.due_at, "closed_at": campaign.closed_at,
                "completed_at": campaign.completed_at, "cancelled_at": campaign.cancelled_at,
                "created_by": campaign.created_by, "rail_reason": campaign.rail_reason,
                "closed_by": campaign.closed_by, "cancelled_by": campaign.cancelled_by,
                "round": campaign.round, "round_started_at": campaign.round_started_at,
            },
            "reruns": reruns,
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
                "carried_forward": carried.map(|count| serde_json::json!({
                    "count": count, "file": "carried_forward.csv",
                    "about": "review = \"changes\": eligibilities in scope not asked about again, because a person kept them in an earlier campaign (named in each row) no longer ago than carry_max_days and they have not changed since; not part of the population",
                })),
                "standing_access": {
                    "count": facts.standing_access, "file": "items.csv", "column": "assignment",
                    "about": "items that are standing access: active assignments (permanent or time-bound, held without activation), each a finding recommended to be converted to eligible; the rest are eligibilities",
                },
                "previous_review": {
                    "new_since_last_review": facts.new_since_last_review,
                    "reviewed_before": facts.count - facts.new_since_last_review,
                    "about": "each item's last review: the latest campaign completed before this one launched that reviewed the same eligibility (items.csv, previous_* columns)",
                },
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
            "suspensions": {
                "count": suspended.len(),
                "file": "suspensions.csv",
                "about": "every suspension on a signal of a person who holds an item of this campaign, one row per eligibility it removed, with the removal's and the restore's state and receipts",
            },
            "median_seconds_to_decision": median,
            "rubber_stamp_flags": stamps,
            "timeline": timeline.iter().map(|t| serde_json::json!({"at": t.at, "action": t.action, "actor": t.actor})).collect::<Vec<_>>(),
            "controls": CONTROLS,
        });
        if let Some(challenged) = challenged {
            document["challenges"] = challenged;
        }
        if campaign.stages > 1 {
            document["stages"] = serde_json::json!({
                "count": campaign.stages,
                "reached": campaign.stage,
                "outcome_rule": campaign.spec.stage_outcome,
                "opened": campaigns::stage_rows(conn, &campaign).await?,
                "about": "a multi-stage review: each stage's decisions are in decisions.csv (column stage); when the last stage ended, the outcome rule chose each item's decision in force (items.csv decided_in_stage), or left it to on_no_response",
            });
        }
        let serde_json::Value::Object(rest) = document else {
            return Err(io_err("campaign.json is not a JSON object"));
        };
        campaign_json::CampaignJson {
            rest,
            reviewers: &reviewers,
        }
        .write(&mut bundle)
        .map_err(io_err)?;

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
            receipts: &facts.receipts.listed,
            receipts_total: facts.receipts.total,
            failures: &facts.failures.listed,
            failures_total: facts.failures.total,
            inconsistent,
            reappeared: &reappeared,
            reappeared_total,
            suspensions: &suspended,
            timeline: &timeline,
            reruns: &reruns,
            rubber_stamps: &stamps,
            controls: Report::controls(),
        };
        // Written as it is rendered: at ten million items its reviewers' table alone is 26 MB.
        bundle
            .file_written_by("report.html", |out| report.write_into(out))
            .map_err(io_err)?;

        let files = bundle.entries.clone();
        let signed = crate::evidence::signing::sign(&key, campaign_id, generated_at, files.clone());
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
}
