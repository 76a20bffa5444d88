//! Campaign rows as the engine reads them: one by id or launch key, or all in some states.

use crate::domain::definition::CampaignSpec;
use crate::domain::lifecycle::CampaignState;
use crate::store::campaigns::CampaignCounts;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::campaign;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

/// A campaign row as the engine uses it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CampaignRow {
    pub id: i64,
    pub definition_id: i64,
    pub name: String,
    pub version: i32,
    pub period: String,
    pub launch_key: String,
    pub adhoc: bool,
    pub state: CampaignState,
    #[serde(skip)]
    pub spec: CampaignSpec,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub launched_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Who closed it: an admin (early) or `scheduler` (at the deadline).
    pub closed_by: Option<String>,
    pub cancelled_by: Option<String>,
    pub population: i64,
    pub items_created: i64,
    #[serde(skip)]
    pub launch_cursor: Option<i64>,
    #[serde(skip)]
    pub lease_owner: Option<String>,
    #[serde(skip)]
    pub lease_until: Option<DateTime<Utc>>,
    pub rail_reason: Option<String>,
    pub created_by: String,
    /// The review round now open: 1, then 2, 3… after each re-run for non-responders.
    pub round: i32,
    /// When the open round started (none in the first round): answers given before it are
    /// settled.
    pub round_started_at: Option<DateTime<Utc>>,
    /// The review stage now open: 1, then 2, 3… in a multi-stage campaign.
    pub stage: i32,
    /// How many stages the campaign has (1 without `[[later_stages]]`).
    pub stages: i32,
    /// When the open stage started (none in stage 1): answers given before it are settled.
    pub stage_started_at: Option<DateTime<Utc>>,
}

impl CampaignRow {
    /// When the current answering period opened (a re-run round or a later stage, whichever
    /// came last); answers given before it are settled.
    pub fn answers_open_since(&self) -> Option<DateTime<Utc>> {
        self.round_started_at.max(self.stage_started_at)
    }
}

fn campaign_from(m: campaign::Model) -> Result<CampaignRow, DbErr> {
    let spec = serde_json::from_str(&m.frozen_definition)
        .map_err(|e| DbErr::Json(format!("campaign {}: {e}", m.id)))?;
    let state = m.state.parse().map_err(DbErr::Type)?;
    let spec_stages = CampaignSpec::stage_count(&spec);
    Ok(CampaignRow {
        id: m.id,
        definition_id: m.definition_id,
        name: m.definition_name,
        version: m.definition_version,
        period: m.period,
        launch_key: m.launch_key,
        adhoc: m.adhoc,
        state,
        spec,
        scheduled_for: m.scheduled_for,
        launched_at: m.launched_at,
        due_at: m.due_at,
        closed_at: m.closed_at,
        completed_at: m.completed_at,
        cancelled_at: m.cancelled_at,
        closed_by: m.closed_by,
        cancelled_by: m.cancelled_by,
        population: m.population,
        items_created: m.items_created,
        launch_cursor: m.launch_cursor,
        lease_owner: m.lease_owner,
        lease_until: m.lease_until,
        rail_reason: m.rail_reason,
        created_by: m.created_by,
        round: m.round,
        round_started_at: m.round_started_at,
        stage: m.stage,
        stages: spec_stages,
        stage_started_at: m.stage_started_at,
    })
}

pub async fn campaign(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<CampaignRow>, StoreError> {
    campaign::Entity::find_by_id(id)
        .one(conn)
        .await?
        .map(campaign_from)
        .transpose()
        .map_err(StoreError::from)
}

pub async fn campaign_by_key(
    conn: &impl ConnectionTrait,
    name: &str,
    launch_key: &str,
) -> Result<Option<CampaignRow>, StoreError> {
    campaign::Entity::find()
        .filter(campaign::Column::DefinitionName.eq(name))
        .filter(campaign::Column::LaunchKey.eq(launch_key))
        .one(conn)
        .await?
        .map(campaign_from)
        .transpose()
        .map_err(StoreError::from)
}

/// Campaigns, newest first; only those in `states` when given.
pub async fn campaigns(
    conn: &impl ConnectionTrait,
    states: &[CampaignState],
) -> Result<Vec<CampaignRow>, StoreError> {
    let mut query = campaign::Entity::find().order_by_desc(campaign::Column::Id);
    if !states.is_empty() {
        query = query.filter(campaign::Column::State.is_in(states.iter().copied()));
    }
    query
        .all(conn)
        .await?
        .into_iter()
        .map(campaign_from)
        .collect::<Result<_, DbErr>>()
        .map_err(StoreError::from)
}

impl CampaignRow {
    /// How the campaign stopped taking decisions, for its summary's words.
    pub fn ending(&self) -> crate::domain::summary::Ending {
        crate::domain::summary::Ending {
            due_at: self.due_at,
            closed_at: self.closed_at,
            closed_by: self.closed_by.clone(),
            completed_at: self.completed_at,
            cancelled_at: self.cancelled_at,
            cancelled_by: self.cancelled_by.clone(),
        }
    }

    /// The campaign's one summary, from its counts.
    pub fn summary(&self, counts: &CampaignCounts) -> crate::domain::summary::CampaignSummary {
        crate::domain::summary::CampaignSummary::new(self.state, counts, &self.ending())
    }
}
