//! Mover campaigns (`domain::movers`): the scheduler launches, for each change of a person's
//! manager that an import or sync recorded, a campaign of every `trigger = "mover"` definition
//! over that person's eligibility in its scope. The definition's reviewer rules apply as at any
//! launch, so `reviewers = "manager"` finds the new manager. Each launch is keyed on the event,
//! so a retried tick or a second instance launches nothing twice.

use crate::domain::lifecycle::CampaignState;
use crate::domain::movers::{launch_key, Trigger};
use crate::engine::{Engine, EngineError, Progress};
use crate::store as st;
use crate::store::campaigns::{self, CampaignRow, DefinitionVersion, NewCampaign};
use chrono::Duration;
use entity::mover_event;

/// Mover events taken per tick (the rest wait for the next).
const EVENTS_PER_TICK: u64 = 100;

impl Engine {
    /// Launches the mover campaigns of the events not handled yet; returns the campaigns
    /// launched. An event whose person has no eligibility in a definition's scope launches
    /// nothing for it; every event taken is marked handled.
    pub async fn launch_movers(
        &self,
        progress: &dyn Progress,
    ) -> Result<Vec<CampaignRow>, EngineError> {
        let conn = self.store().conn();
        let events = st::movers::unhandled(conn, EVENTS_PER_TICK).await?;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let definitions: Vec<DefinitionVersion> = campaigns::latest_definitions(conn)
            .await?
            .into_iter()
            .filter(|d| d.spec.trigger == Trigger::Mover)
            .collect();
        let mut launched = Vec::new();
        for event in events {
            for definition in &definitions {
                if let Some(campaign) = self.launch_mover(definition, &event, progress).await? {
                    launched.push(campaign);
                }
            }
            st::movers::mark_handled(conn, event.id, self.now()).await?;
        }
        Ok(launched)
    }

    /// The campaign of `definition` for `event`, launched (or its interrupted launch resumed);
    /// `None` when the person holds nothing in its scope or it was launched before.
    async fn launch_mover(
        &self,
        definition: &DefinitionVersion,
        event: &mover_event::Model,
        progress: &dyn Progress,
    ) -> Result<Option<CampaignRow>, EngineError> {
        let conn = self.store().conn();
        let key = launch_key(event.id);
        let name = &definition.spec.name;
        if let Some(existing) = campaigns::campaign_by_key(conn, name, &key).await? {
            if existing.state != CampaignState::Launching {
                return Ok(None);
            }
            return Ok(Some(self.continue_launch(existing.id, progress).await?));
        }
        let people = st::directory::names_by_id(
            conn,
            &[
                event.principal_id,
                event.old_manager_id,
                event.new_manager_id,
            ],
        )
        .await?;
        let external = |id: i64| {
            people
                .get(&id)
                .map_or_else(|| id.to_string(), |p| p.id.clone())
        };
        let person = external(event.principal_id);
        let mut spec = definition.spec.clone();
        spec.scope.holders = vec![person.clone()];
        let scope = self.population_scope(&spec.scope)?;
        if self.source().count(&scope).await? == Some(0) {
            return Ok(None);
        }
        let now = self.now();
        let period = format!("{} mover", now.format("%Y-%m-%d"));
        let spec_json = serde_json::to_string(&spec).map_err(|e| EngineError::Io(e.to_string()))?;
        let txn = self.store().begin().await?;
        let Some(id) = campaigns::insert_campaign(
            &txn,
            &NewCampaign {
                definition,
                spec_json: &spec_json,
                period: &period,
                launch_key: &key,
                adhoc: true,
                scheduled_for: None,
                due_at: now + Duration::days(i64::from(spec.duration_days)),
                lease_owner: self.instance(),
                lease_until: now + super::lease(),
                actor: "scheduler",
                now,
            },
        )
        .await?
        else {
            return Ok(None); // another instance launched it first
        };
        st::audit::append(
            &txn,
            now,
            "scheduler",
            "campaign.launch",
            Some(&format!("campaign:{id}")),
            &serde_json::json!({
                "definition": name, "version": definition.version, "period": period,
                "adhoc": true, "trigger": "mover", "mover_event": event.id,
                "person": person, "old_manager": external(event.old_manager_id),
                "new_manager": external(event.new_manager_id), "via": event.via,
            }),
        )
        .await?;
        txn.commit().await?;
        Ok(Some(self.continue_launch(id, progress).await?))
    }
}
