//! The batched writing of a launch: the population read and frozen as items batch by batch
//! (reads overlapping writes), then the launch finished with its reviewers and invitations.

use super::carry::CarryPlan;
use super::reviewers::Rules;
use super::{lease, LAUNCH_BATCH};
use crate::engine::{Engine, EngineError, Progress};
use crate::sources::SourceEligibility;
use crate::store::campaigns;
use crate::store::items::{self, NewItem};
use crate::store::outbox::{self, template};
use crate::store::{self as st, launch_batch};
use futures::TryStreamExt;
use std::pin::pin;

impl Engine {
    pub(super) async fn run_launch(
        &self,
        id: i64,
        progress: &dyn Progress,
    ) -> Result<(), EngineError> {
        let conn = self.store().conn();
        // A bulk copy commits before its batch is recorded: resume after the last item there is.
        campaigns::reconcile_launch(conn, id).await?;
        let campaign = campaigns::campaign(conn, id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no campaign #{id}")))?;
        let spec = &campaign.spec;
        let rules = self.rules(spec).await?;
        let carry = self.carry_plan(id, spec).await?;
        // PostgreSQL takes many batches per COPY (see store::launch_batch); SQLite one per
        // transaction.
        let rows_per_write = launch_batch::rows_per_write(self.store());
        // Reading the next batch from the source overlaps with writing the last one: on SQLite
        // they run on different connections (readers never wait for the writer), on PostgreSQL
        // on different server processes. The queue holds a whole write's worth, so the reader
        // goes on during a COPY instead of stopping two batches into it: with two, a launch
        // took as long as its reads and its COPYs added up.
        let queued = (rows_per_write / LAUNCH_BATCH as usize).max(2);
        let (batches, mut to_write) = tokio::sync::mpsc::channel::<Vec<SourceEligibility>>(queued);
        let mut done = campaign.items_created as u64;
        let scope = self.population_scope(&spec.scope)?;
        let scope = &scope;
        if progress.watched() {
            // The population may still change while the launch reads it: the total is close,
            // not exact, which is all a bar needs.
            if let Some(total) = self.source().count(scope).await? {
                progress.total(total.max(done));
            }
        }
        let read = async move {
            let mut population = pin!(self.population(scope, campaign.launch_cursor));
            while let Some(batch) = population.try_next().await? {
                if batches.send(batch).await.is_err() {
                    return Ok(()); // the writer stopped with an error of its own
                }
            }
            Ok::<_, EngineError>(())
        };
        let write = async {
            let written = async {
                let mut pending: Vec<SourceEligibility> = Vec::new();
                // Decisions carried forward count towards the progress (they were read from
                // the population too), not towards the items.
                let mut carried = 0;
                while let Some(batch) = to_write.recv().await {
                    pending.extend(batch);
                    if pending.len() >= rows_per_write {
                        let (items, carried_now) =
                            self.freeze_items(id, &rules, carry, &pending).await?;
                        done += items;
                        carried += carried_now;
                        pending.clear();
                        progress.update(done + carried);
                    }
                }
                let (items, carried_now) = self.freeze_items(id, &rules, carry, &pending).await?;
                done += items;
                carried += carried_now;
                progress.update(done + carried);
                Ok::<_, EngineError>(())
            }
            .await;
            // A writer that failed stops the reader at its next batch.
            to_write.close();
            written
        };
        // When the read fails, what it read before is still written, then its error returned.
        let (read, written) = tokio::join!(read, write);
        written?;
        read?;
        self.finish_launch(id).await
    }

    /// Freezes eligibilities (in id order) as items of the launch, durably, with the cursor;
    /// a delta-only launch first records the decisions it carries forward instead. Returns the
    /// items written and the decisions carried.
    async fn freeze_items(
        &self,
        id: i64,
        rules: &Rules,
        carry: Option<CarryPlan>,
        batch: &[SourceEligibility],
    ) -> Result<(u64, u64), EngineError> {
        let Some(last) = batch.last().map(|e| e.eligibility_id) else {
            return Ok((0, 0));
        };
        let now = self.now();
        let (to_review, carried) = self.carry_forward(id, carry, batch, now).await?;
        let new_items: Vec<NewItem> = to_review.iter().map(|e| rules.item(e, now)).collect();
        let items = launch_batch::freeze(
            self.store(),
            id,
            self.instance(),
            &new_items,
            last,
            now,
            now + lease(),
        )
        .await?
        .ok_or_else(|| {
            EngineError::Conflict(format!(
                "campaign #{id}: another instance took over the launch"
            ))
        })?;
        Ok((items, carried))
    }

    async fn finish_launch(&self, id: i64) -> Result<(), EngineError> {
        let context = self.campaign_row(id).await?.spec.context;
        let now = self.now();
        let txn = self.store().begin().await?;
        // The holders' attributes as they are now, with the items (only when the definition
        // names some: one set-based statement, so a launch without context costs nothing more).
        let with_context = if context.is_empty() {
            0
        } else {
            items::freeze_holder_context(&txn, id).await?
        };
        let loads = items::reviewer_loads(&txn, id).await?;
        items::upsert_campaign_reviewers(&txn, id, &loads, now).await?;
        let invitations =
            outbox::queue_for_reviewers(&txn, id, template::INVITATION, None, false, now).await?;
        let population: i64 = loads.iter().map(|(_, n)| n).sum();
        if !campaigns::finish_launch(&txn, id, population, now).await? {
            return Ok(()); // cancelled meanwhile: leave it as it is
        }
        st::audit::append(
            &txn,
            now,
            "engine",
            "campaign.launched",
            Some(&format!("campaign:{id}")),
            &{
                let mut details = serde_json::json!({ "population": population, "reviewers": loads.len(), "invitations_queued": invitations });
                let carried = crate::store::items::carried::count(&txn, id).await?;
                if carried > 0 {
                    details["carried_forward"] = serde_json::json!(carried);
                }
                if !context.is_empty() {
                    details["context"] = serde_json::json!(context);
                    details["items_with_context"] = serde_json::json!(with_context);
                }
                details
            },
        )
        .await?;
        self.emit(
            &txn,
            vec![crate::engine::webhook_events::launched(
                id,
                population,
                loads.len(),
                now,
            )],
        )
        .await?;
        txn.commit().await?;
        // Decisions, reminders and the close query the new items next.
        st::refresh_statistics(self.store().conn(), &["review_item", "campaign_reviewer"]).await?;
        Ok(())
    }
}
