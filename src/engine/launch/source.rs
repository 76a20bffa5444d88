//! A launch's source: the scope its population is read with, the sync before it (the owner
//! is mailed when the launch waits for it), and the population read a batch at a time.

use super::LAUNCH_BATCH;
use crate::domain::definition::{CampaignSpec, ScopeFilter};
use crate::engine::{Engine, EngineError};
use crate::sources::SourceEligibility;
use chrono::{DateTime, Utc};
use futures::Stream;

impl Engine {
    /// The filter the population is read with: a definition's source must be configured, and a
    /// webhook source (removals only) reviews what imports filled.
    pub(super) fn population_scope(&self, scope: &ScopeFilter) -> Result<ScopeFilter, EngineError> {
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
    pub(super) async fn sync_before_launch(
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
                let retry_at = at + crate::engine::sync::SYNC_RETRY_AFTER;
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
    pub(super) async fn tell_owner_launch_waits(
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
    pub(super) fn population<'a>(
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
}
