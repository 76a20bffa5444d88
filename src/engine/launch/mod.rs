//! `attest campaign launch` and the scheduler's launches: freeze the population in scope as
//! review items, in batches, with a reviewer and a recommendation for each, then queue one
//! invitation per reviewer. A launch is resumable: every batch commits with the cursor it
//! reached, items are unique per campaign × eligibility and mails per idempotency key, so a
//! crash and a restart finish it with nothing twice.
//!
//! This file holds the use case (start, resume, the scheduler's due launches); the source,
//! reviewer resolution, the batched writing and the preview are in the files beside it.

mod carry;
mod mover;
mod preview;
mod reviewers;
mod source;
mod writing;
pub use preview::{ExcludedPrincipal, Preview, ReviewerLoad};

use crate::domain::lifecycle::CampaignState;
use crate::engine::{Engine, EngineError, Progress};
use crate::store as st;
use crate::store::campaigns::{self, CampaignRow, NewCampaign};
use chrono::{DateTime, Duration, Utc};

/// Eligibilities read from the source per committed batch.
const LAUNCH_BATCH: u64 = 1000;
/// How long a launcher owns a launch before another instance may take it over.
fn lease() -> Duration {
    Duration::minutes(2)
}

impl Engine {
    /// Launches the named definition for the current period (or an extra, off-cycle campaign
    /// with `adhoc`). A second launch for a period that has a campaign is a conflict; one whose
    /// launch was interrupted is resumed instead.
    pub async fn launch(
        &self,
        name: &str,
        adhoc: bool,
        actor: &str,
        progress: &dyn Progress,
    ) -> Result<CampaignRow, EngineError> {
        self.start_launch(name, adhoc, None, actor, progress).await
    }

    async fn start_launch(
        &self,
        name: &str,
        adhoc: bool,
        scheduled_for: Option<DateTime<Utc>>,
        actor: &str,
        progress: &dyn Progress,
    ) -> Result<CampaignRow, EngineError> {
        let conn = self.store().conn();
        let definition = campaigns::latest_definition(conn, name)
            .await?
            .ok_or_else(|| {
                EngineError::NotFound(format!(
                    "no campaign definition named {} (see attest campaign definitions)",
                    crate::domain::limits::quote(name)
                ))
            })?;
        if definition.spec.trigger == crate::domain::movers::Trigger::Mover {
            return Err(EngineError::Invalid(format!(
                "{name} has trigger = \"mover\": its campaigns launch by themselves when an import or sync changes a person's manager, not by hand"
            )));
        }
        let schedule = definition
            .spec
            .launch_schedule()
            .map_err(EngineError::Invalid)?;
        // A launch already under way (or done) for this period needs no sync; the insert below
        // tells the two apart, so the sync comes first and a refused launch costs one sync.
        self.sync_before_launch(&definition.spec, scheduled_for, actor)
            .await?;
        let now = self.now();
        let period = schedule.period_of(scheduled_for.unwrap_or(now));
        let launch_key = if adhoc {
            format!("{period}/adhoc/{}", now.format("%Y%m%dT%H%M%S%.6f"))
        } else {
            period.clone()
        };
        let spec_json =
            serde_json::to_string(&definition.spec).map_err(|e| EngineError::Io(e.to_string()))?;
        let txn = self.store().begin().await?;
        let inserted = campaigns::insert_campaign(
            &txn,
            &NewCampaign {
                definition: &definition,
                spec_json: &spec_json,
                period: &period,
                launch_key: &launch_key,
                adhoc,
                scheduled_for,
                due_at: now + Duration::days(i64::from(definition.spec.duration_days)),
                lease_owner: self.instance(),
                lease_until: now + lease(),
                actor,
                now,
            },
        )
        .await?;
        let Some(id) = inserted else {
            drop(txn);
            let existing = campaigns::campaign_by_key(conn, name, &launch_key)
                .await?
                .ok_or_else(|| {
                    EngineError::Conflict(format!(
                        "{name}: a campaign for {period} is being created"
                    ))
                })?;
            if existing.state == CampaignState::Launching {
                let after = self.continue_launch(existing.id, progress).await?;
                if after.state == CampaignState::Launching {
                    // Another process holds the launch: say so, never "launching" and exit 0
                    // with nothing added.
                    let holder = match after.lease_owner.as_deref() {
                        Some(owner) => self.describe_process(owner).await?,
                        None => "another process".into(),
                    };
                    return Err(EngineError::Conflict(format!(
                        "{name}: campaign #{} for {period} is being launched by {holder} ({} items so far); wait for it, or run this again to take it over once that process has been silent for {} seconds (at the latest when its lease runs out, {})",
                        after.id,
                        after.items_created,
                        crate::domain::liveness::GONE_AFTER.num_seconds(),
                        after
                            .lease_until
                            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                            .unwrap_or_else(|| "now".into())
                    )));
                }
                return Ok(after);
            }
            return Err(EngineError::Conflict(format!(
                "{name} already has campaign #{} for {period} (state {}); use --adhoc to start an extra, off-cycle campaign",
                existing.id, existing.state
            )));
        };
        st::audit::append(
            &txn,
            now,
            actor,
            "campaign.launch",
            Some(&format!("campaign:{id}")),
            &serde_json::json!({
                "definition": name, "version": definition.version, "period": period,
                "adhoc": adhoc, "scheduled_for": scheduled_for,
            }),
        )
        .await?;
        txn.commit().await?;
        self.continue_launch(id, progress).await
    }

    /// Carries a launch on from where it stopped, if no other instance is at it.
    pub async fn continue_launch(
        &self,
        id: i64,
        progress: &dyn Progress,
    ) -> Result<CampaignRow, EngineError> {
        let conn = self.store().conn();
        let now = self.now();
        if campaigns::claim_launch(conn, id, self.instance(), now, now + lease()).await? {
            if let Err(e) = self.run_launch(id, progress).await {
                // Let a restart resume at once rather than wait for the lease to run out.
                let _ = campaigns::release_launch(conn, id, self.instance()).await;
                return Err(self.left_launching(id, e).await);
            }
        }
        campaigns::campaign(conn, id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no campaign #{id}")))
    }

    /// A failed launch's error, saying what it left behind and how to resume it.
    async fn left_launching(&self, id: i64, e: EngineError) -> EngineError {
        let left = campaigns::campaign(self.store().conn(), id)
            .await
            .ok()
            .flatten();
        let Some(left) = left else {
            return e;
        };
        let resume = format!(
            "campaign #{id} is left launching with {} items so far; `attest campaign launch {}` (or the next scheduler tick) resumes it",
            left.items_created, left.name
        );
        match e {
            EngineError::Source(s) => {
                EngineError::Source(crate::sources::SourceError(format!("{}; {resume}", s.0)))
            }
            EngineError::Store(d) => EngineError::Io(format!("{d}; {resume}")),
            EngineError::Io(m) => EngineError::Io(format!("{m}; {resume}")),
            other => other,
        }
    }

    /// The scheduler's launches: each definition whose schedule has come due since it was
    /// defined, once for the latest due period (a scheduler that was down launches on start-up,
    /// once). Returns the campaigns it launched or resumed.
    pub async fn launch_due(
        &self,
        progress: &dyn Progress,
    ) -> Result<Vec<CampaignRow>, EngineError> {
        let conn = self.store().conn();
        let now = self.now();
        let mut launched = Vec::new();
        for definition in campaigns::latest_definitions(conn).await? {
            let name = definition.spec.name.clone();
            let Ok(schedule) = definition.spec.launch_schedule() else {
                continue;
            };
            let since = campaigns::first_defined_at(conn, &name)
                .await?
                .unwrap_or(definition.created_at);
            let Some(due) = schedule.due(since, now) else {
                continue;
            };
            if campaigns::campaign_by_key(conn, &name, &schedule.period_of(due))
                .await?
                .is_some()
            {
                continue;
            }
            match self
                .start_launch(&name, false, Some(due), "scheduler", progress)
                .await
            {
                Ok(campaign) => launched.push(campaign),
                // Another instance launched this period first.
                Err(EngineError::Conflict(_)) => {}
                // Its source cannot be synced: this launch waits (the next tick tries again),
                // the owner is told once a period, and the other definitions go on.
                Err(EngineError::LaunchWaits(why)) => {
                    tracing::warn!(definition = %name, "launch waits: {why}");
                    self.tell_owner_launch_waits(&definition.spec, &schedule.period_of(due), &why)
                        .await?;
                }
                Err(e) => return Err(e),
            }
        }
        for campaign in campaigns::campaigns(conn, &[CampaignState::Launching]).await? {
            let after = self.continue_launch(campaign.id, progress).await?;
            // Another instance may hold the launch: only report what this one moved on.
            if after.state != campaign.state || after.items_created != campaign.items_created {
                launched.push(after);
            }
        }
        Ok(launched)
    }
}
