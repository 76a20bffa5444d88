//! `attest campaign launch` and the scheduler's launches: freeze the population in scope as
//! review items, in batches, with a reviewer and a recommendation for each, then queue one
//! invitation per reviewer. A launch is resumable: every batch commits with the cursor it
//! reached, items are unique per campaign × eligibility and mails per idempotency key, so a
//! crash and a restart finish it with nothing twice.

use super::{Engine, EngineError, Progress};
use crate::domain::definition::{CampaignSpec, ScopeFilter};
use crate::domain::directory::PrincipalKind;
use crate::domain::lifecycle::CampaignState;
use crate::domain::recommendation::{recommend, Recommendation};
use crate::domain::reviewers::{Person, ReviewerReason, ReviewerRules};
use crate::sources::SourceEligibility;
use crate::store::campaigns::{self, CampaignRow, NewCampaign};
use crate::store::items::{self, NewItem};
use crate::store::outbox::{self, template};
use crate::store::{self as st, directory, launch_batch};
use chrono::{DateTime, Duration, Utc};
use futures::{Stream, TryStreamExt};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::pin::pin;

/// Eligibilities read from the source per committed batch.
const LAUNCH_BATCH: u64 = 1000;
/// How long a launcher owns a launch before another instance may take it over.
fn lease() -> Duration {
    Duration::minutes(2)
}

/// Everything that turns an eligibility into a review item.
struct Rules {
    resolved: Resolved,
    people: HashMap<i64, Person>,
    inactive_days: u32,
}

impl Rules {
    fn item<'a>(&self, e: &'a SourceEligibility, now: DateTime<Utc>) -> NewItem<'a> {
        let assignment = self
            .resolved
            .rules
            .resolve(&self.people, e.principal_id, e.role_owner_id);
        let (recommendation, why) =
            recommend(e.since, e.last_activated_at, self.inactive_days, now);
        NewItem {
            eligibility: e,
            reviewer_id: assignment.reviewer,
            reviewer_reason: assignment.reason,
            flag: assignment.flag,
            recommendation,
            recommendation_reason: why,
            excluded: e.principal_kind == PrincipalKind::BreakGlass
                || self.resolved.excluded.contains(&e.principal_id),
        }
    }
}

/// The reviewer rules and exclusions of a spec, resolved to principal ids.
struct Resolved {
    rules: ReviewerRules,
    excluded: HashSet<i64>,
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

    /// The filter the population is read with: a definition's source must be configured, and a
    /// webhook source (removals only) reviews what imports filled.
    fn population_scope(&self, scope: &ScopeFilter) -> Result<ScopeFilter, EngineError> {
        let mut scope = scope.clone();
        if let Some(name) = &scope.source {
            let config = self.sources().config(name).ok_or_else(|| {
                EngineError::Invalid(format!(
                    "the definition names source {name:?}, which attest.toml does not configure ([sources.{name}])"
                ))
            })?;
            if !config.syncs() {
                scope.source = None;
            }
        }
        Ok(scope)
    }

    /// Before a launch: a definition over a source that syncs reviews what the source lists
    /// now, never stale data; a failed sync stops the launch (the scheduler tries again).
    async fn sync_before_launch(
        &self,
        spec: &CampaignSpec,
        scheduled_for: Option<DateTime<Utc>>,
        actor: &str,
    ) -> Result<(), EngineError> {
        let Some(name) = &spec.scope.source else {
            return Ok(());
        };
        self.population_scope(&spec.scope)?;
        if !self.sources().config(name).is_some_and(|c| c.syncs()) {
            return Ok(());
        }
        // The scheduler asks every tick: after a failed sync it waits a while before asking the
        // source again. Someone launching by hand (who may just have fixed it) is not held back.
        let scheduled = scheduled_for.is_some();
        let states = crate::store::sources::states(self.store().conn()).await?;
        if let Some(state) = states.iter().find(|s| &s.name == name) {
            if let (Some(error), Some(at)) = (&state.last_sync_error, state.last_sync_at) {
                let retry_at = at + super::sync::SYNC_RETRY_AFTER;
                if scheduled && self.now() < retry_at {
                    return Err(EngineError::LaunchWaits(format!(
                        "{}: not launched, because the last sync of source {name} failed at {} ({error}); the next try is after {}",
                        spec.name,
                        at.format("%Y-%m-%d %H:%M:%S UTC"),
                        retry_at.format("%H:%M:%S UTC")
                    )));
                }
            }
        }
        match self.sync_source(name, actor).await {
            Ok(_) => Ok(()),
            Err(e) => Err(EngineError::LaunchWaits(format!(
                "{}: not launched, because syncing source {name} failed (it would review stale data): {e}",
                spec.name
            ))),
        }
    }

    /// Mails the definition's owner that its launch for `period` waits for its source (one mail
    /// a period, keyed on it).
    async fn tell_owner_launch_waits(
        &self,
        spec: &CampaignSpec,
        period: &str,
        error: &str,
    ) -> Result<(), EngineError> {
        let conn = self.store().conn();
        let owners = crate::store::directory::principal_refs(conn, &[spec.owner.as_str()]).await?;
        let Some(owner) = owners.get(&spec.owner) else {
            return Ok(());
        };
        let owner_name = crate::store::directory::display_name(conn, owner.id)
            .await?
            .unwrap_or_else(|| spec.owner.clone());
        crate::store::outbox::queue_to_principal(
            conn,
            &format!(
                "{}/{}/{period}",
                crate::store::outbox::template::LAUNCH_WAITING,
                spec.name
            ),
            None,
            owner.id,
            crate::store::outbox::template::LAUNCH_WAITING,
            &serde_json::json!({
                "definition": spec.name, "period": period, "owner_name": owner_name,
                "source": spec.scope.source, "error": error,
            }),
            self.now(),
        )
        .await?;
        Ok(())
    }

    /// The source's eligibilities in `scope` after `cursor`, a batch at a time in id order: the
    /// one paging of the population, for the launch and its preview.
    fn population<'a>(
        &'a self,
        scope: &'a ScopeFilter,
        cursor: Option<i64>,
    ) -> impl Stream<Item = Result<Vec<SourceEligibility>, EngineError>> + 'a {
        futures::stream::try_unfold(cursor, move |cursor| async move {
            let batch = self.source().enumerate(scope, cursor, LAUNCH_BATCH).await?;
            let last = batch.last().map(|e| e.eligibility_id);
            Ok(last.map(|last| (batch, Some(last))))
        })
    }

    /// What turns the spec's population into items: reviewer rules, exclusions, directory.
    async fn rules(&self, spec: &CampaignSpec) -> Result<Rules, EngineError> {
        Ok(Rules {
            resolved: self.resolve(spec).await?,
            people: directory::people(self.store().conn()).await?,
            inactive_days: spec.recommend_revoke_after_inactive_days,
        })
    }

    async fn resolve(&self, spec: &CampaignSpec) -> Result<Resolved, EngineError> {
        let named = spec.named_principals();
        let ids: Vec<&str> = named.iter().map(|(_, id)| *id).collect();
        let refs = directory::principal_refs(self.store().conn(), &ids).await?;
        let id_of = |external: &str| refs.get(external).map(|p| p.id);
        let owner = id_of(&spec.owner).ok_or_else(|| {
            EngineError::Invalid(format!(
                "{}: the owner \"{}\" no longer exists",
                spec.name, spec.owner
            ))
        })?;
        Ok(Resolved {
            rules: ReviewerRules {
                strategy: spec.reviewers,
                named: spec
                    .named_reviewers
                    .iter()
                    .filter_map(|n| id_of(n))
                    .collect(),
                fallback: spec.fallback_reviewer.as_deref().and_then(id_of),
                owner,
            },
            excluded: spec
                .scope
                .exclude_principals
                .iter()
                .filter_map(|e| id_of(e))
                .collect(),
        })
    }

    async fn run_launch(&self, id: i64, progress: &dyn Progress) -> Result<(), EngineError> {
        let conn = self.store().conn();
        // A bulk copy commits before its batch is recorded: resume after the last item there is.
        campaigns::reconcile_launch(conn, id).await?;
        let campaign = campaigns::campaign(conn, id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no campaign #{id}")))?;
        let spec = &campaign.spec;
        let rules = self.rules(spec).await?;
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
                while let Some(batch) = to_write.recv().await {
                    pending.extend(batch);
                    if pending.len() >= rows_per_write {
                        done += self.freeze_items(id, &rules, &pending).await?;
                        pending.clear();
                        progress.update(done);
                    }
                }
                done += self.freeze_items(id, &rules, &pending).await?;
                progress.update(done);
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

    /// Freezes eligibilities (in id order) as items of the launch, durably, with the cursor.
    async fn freeze_items(
        &self,
        id: i64,
        rules: &Rules,
        batch: &[SourceEligibility],
    ) -> Result<u64, EngineError> {
        let Some(last) = batch.last().map(|e| e.eligibility_id) else {
            return Ok(0);
        };
        let now = self.now();
        let new_items: Vec<NewItem> = batch.iter().map(|e| rules.item(e, now)).collect();
        launch_batch::freeze(
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
        })
    }

    async fn finish_launch(&self, id: i64) -> Result<(), EngineError> {
        let now = self.now();
        let txn = self.store().begin().await?;
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
            &serde_json::json!({ "population": population, "reviewers": loads.len(), "invitations_queued": invitations }),
        )
        .await?;
        txn.commit().await?;
        // Decisions, reminders and the close query the new items next.
        st::refresh_statistics(self.store().conn(), &["review_item", "campaign_reviewer"]).await?;
        Ok(())
    }

    /// What a launch of `name` would create, without creating anything.
    pub async fn preview(&self, name: &str) -> Result<Preview, EngineError> {
        let conn = self.store().conn();
        let definition = campaigns::latest_definition(conn, name)
            .await?
            .ok_or_else(|| {
                EngineError::NotFound(format!(
                    "no campaign definition named {}",
                    crate::domain::limits::quote(name)
                ))
            })?;
        let spec = &definition.spec;
        let schedule = spec.launch_schedule().map_err(EngineError::Invalid)?;
        let rules = self.rules(spec).await?;
        let now = self.now();
        let mut loads: HashMap<i64, u64> = HashMap::new();
        let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
        let mut excluded = BTreeMap::new();
        let (mut population, mut flagged, mut recommended_revoke) = (0u64, 0u64, 0u64);
        let scope = self.population_scope(&spec.scope)?;
        let mut batches = pin!(self.population(&scope, None));
        while let Some(batch) = batches.try_next().await? {
            for e in &batch {
                let item = rules.item(e, now);
                population += 1;
                *loads.entry(item.reviewer_id).or_default() += 1;
                *by_reason
                    .entry(item.reviewer_reason.as_str().to_string())
                    .or_default() += 1;
                flagged += u64::from(item.flag.is_some());
                recommended_revoke += u64::from(item.recommendation == Recommendation::Revoke);
                if item.excluded {
                    *excluded
                        .entry(e.principal_external_id.clone())
                        .or_insert(0u64) += 1;
                }
            }
        }
        let ids: Vec<i64> = loads.keys().copied().collect();
        let names = directory::names_by_id(conn, &ids).await?;
        let mut reviewers: Vec<ReviewerLoad> = loads
            .into_iter()
            .map(|(id, items)| {
                let n = names.get(&id);
                ReviewerLoad {
                    id: n.map_or_else(|| id.to_string(), |n| n.id.clone()),
                    name: n.map(|n| n.name.clone()).unwrap_or_default(),
                    items,
                }
            })
            .collect();
        reviewers.sort_by(|a, b| b.items.cmp(&a.items).then_with(|| a.id.cmp(&b.id)));
        Ok(Preview {
            name: name.to_string(),
            version: definition.version,
            period: schedule.period_of(now),
            population,
            reviewer_count: reviewers.len(),
            items_by_reason: by_reason,
            fallback_items: 0,
            flagged,
            recommended_revoke,
            excluded: excluded
                .into_iter()
                .map(|(principal, items)| ExcludedPrincipal { principal, items })
                .collect(),
            reviewers,
        }
        .with_fallback_count())
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

/// What `attest campaign preview` shows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preview {
    pub name: String,
    pub version: i32,
    pub period: String,
    pub population: u64,
    pub reviewer_count: usize,
    /// Items per way their reviewer was found (manager, manager_chain, role_owner, named, fallback, owner).
    pub items_by_reason: BTreeMap<String, u64>,
    /// Items whose only possible reviewer is the fallback.
    pub fallback_items: u64,
    /// Items no one regular may review: they go to the owner, flagged.
    pub flagged: u64,
    pub recommended_revoke: u64,
    /// Principals reviewed but never removed automatically (break-glass, listed exclusions).
    pub excluded: Vec<ExcludedPrincipal>,
    pub reviewers: Vec<ReviewerLoad>,
}

impl Preview {
    fn with_fallback_count(mut self) -> Self {
        self.fallback_items = self
            .items_by_reason
            .get(ReviewerReason::Fallback.as_str())
            .copied()
            .unwrap_or(0);
        self
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReviewerLoad {
    pub id: String,
    pub name: String,
    pub items: u64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExcludedPrincipal {
    pub principal: String,
    pub items: u64,
}
