//! Writes the bundle's files that grow with the campaign (items.csv, decisions.csv,
//! after_remediation.csv, carried_forward.csv of delta-only campaigns and audit.jsonl), streaming rows from the database into the bundle.

use super::item_facts::ItemFacts;
use super::rows::{
    begin_csv, csv_writer, end_record, population_line, text, write_after, write_item, Cells,
    AFTER_COLUMNS, DECISION_COLUMNS, ITEM_COLUMNS,
};
use super::{io_err, ExportOptions};
use crate::domain::audit_chain::ChainedEvent;
use crate::domain::evidence::DecisionTimes;
use crate::engine::{Engine, EngineError, Progress};
use crate::evidence::bundle::BundleWriter;
use crate::evidence::report::{RemovalLine, TimelineLine};
use crate::store::evidence as ev;
use futures::TryStreamExt;
use sha2::Digest;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};

/// What the passes over the campaign's rows return for campaign.json and the report.
pub(super) struct Passes {
    pub(super) facts: ItemFacts,
    /// How many decisions decisions.csv lists.
    pub(super) decisions: u64,
    /// When each decision people made was made, by whom.
    pub(super) human_decisions: DecisionTimes,
    /// How many decisions carried_forward.csv lists (delta-only campaigns; `None`: no file).
    pub(super) carried: Option<u64>,
    pub(super) timeline: Vec<TimelineLine>,
}

/// Items written between two reports to the progress bar.
const PROGRESS_EVERY: u64 = 4096;

impl Engine {
    /// Writes the files that grow with the campaign, in the bundle's order: items.csv,
    /// decisions.csv, after_remediation.csv and audit.jsonl.
    pub(super) async fn write_passes(
        &self,
        bundle: &mut BundleWriter,
        campaign_id: i64,
        options: ExportOptions,
        progress: &dyn Progress,
    ) -> Result<Passes, EngineError> {
        // after_remediation.csv is made in the same pass as items.csv, but a zip holds one file
        // after the other: it waits in a temporary file (deleted when closed).
        let mut after = csv_writer(BufWriter::with_capacity(
            1 << 16,
            tempfile::tempfile().map_err(io_err)?,
        ));
        progress.stage("items.csv");
        let facts = self
            .write_items(bundle, &mut after, campaign_id, options, progress)
            .await?;
        progress.stage("decisions.csv");
        let (decisions, human_decisions) =
            self.write_decisions(bundle, campaign_id, options).await?;
        Self::write_after_remediation(bundle, after, options)?;
        let delta_only = self.campaign_row(campaign_id).await?.spec.review
            == crate::domain::delta::ReviewMode::Changes;
        let carried = if delta_only {
            progress.stage("carried_forward.csv");
            Some(self.write_carried(bundle, campaign_id, options).await?)
        } else {
            None
        };
        progress.stage("audit excerpt");
        let timeline = self.write_audit(bundle, campaign_id).await?;
        Ok(Passes {
            facts,
            decisions,
            human_decisions,
            carried,
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
        progress: &dyn Progress,
    ) -> Result<ItemFacts, EngineError> {
        let mut facts = ItemFacts::default();
        let campaign = self.campaign_row(campaign_id).await?;
        progress.total(u64::try_from(campaign.items_created).unwrap_or(0));
        let context = campaign.spec.context;
        begin_csv(bundle, "items.csv", options)?;
        {
            let mut csv = csv_writer(&mut *bundle);
            csv.write_record(ITEM_COLUMNS).map_err(io_err)?;
            after.write_record(AFTER_COLUMNS).map_err(io_err)?;
            let mut cells = Cells::default();
            let mut listed = String::new();
            ev::each_item(self.store().conn(), campaign_id, |item| {
                facts.count += 1;
                if facts.count % PROGRESS_EVERY == 0 {
                    progress.update(facts.count);
                }
                facts.tally(item);
                write_item(&mut csv, &mut cells, item, &context)?;
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
                    facts.receipts.push(|| line(receipt));
                }
                if item.removal_state == Some("failed") {
                    facts
                        .failures
                        .push(|| line(item.removal_error.unwrap_or("failed")));
                }
                Ok::<_, EngineError>(())
            })
            .await?;
            csv.flush().map_err(io_err)?;
        }
        bundle.end(false).map_err(io_err)?;
        Ok(facts)
    }

    /// Writes decisions.csv; returns how many decisions, and when people made theirs.
    async fn write_decisions(
        &self,
        bundle: &mut BundleWriter,
        campaign_id: i64,
        options: ExportOptions,
    ) -> Result<(u64, DecisionTimes), EngineError> {
        let mut human = DecisionTimes::default();
        let mut count = 0;
        begin_csv(bundle, "decisions.csv", options)?;
        {
            let mut csv = csv_writer(&mut *bundle);
            csv.write_record(DECISION_COLUMNS).map_err(io_err)?;
            let mut cells = Cells::default();
            ev::each_decision(self.store().conn(), campaign_id, |d| {
                count += 1;
                if d.made_by == "human" {
                    human.add(d.decided_by.unwrap_or("admin"), d.decided_at);
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
                text(w, cells.int(i64::from(d.stage)))?;
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
}
