//! Campaign definitions: their stored versions, the newest of each, and the text they were
//! written in.

use crate::domain::definition::CampaignSpec;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::campaign_definition;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};

/// One stored version of a definition.
#[derive(Debug, Clone)]
pub struct DefinitionVersion {
    pub id: i64,
    pub version: i32,
    pub spec: CampaignSpec,
    pub spec_hash: String,
    pub created_at: DateTime<Utc>,
}

fn definition_from(model: campaign_definition::Model) -> Result<DefinitionVersion, DbErr> {
    let spec = serde_json::from_str(&model.spec)
        .map_err(|e| DbErr::Json(format!("definition {}: {e}", model.name)))?;
    Ok(DefinitionVersion {
        id: model.id,
        version: model.version,
        spec,
        spec_hash: model.spec_hash,
        created_at: model.created_at,
    })
}

/// The newest version of the named definition.
pub async fn latest_definition(
    conn: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<DefinitionVersion>, StoreError> {
    campaign_definition::Entity::find()
        .filter(campaign_definition::Column::Name.eq(name))
        .order_by_desc(campaign_definition::Column::Version)
        .one(conn)
        .await?
        .map(definition_from)
        .transpose()
        .map_err(StoreError::from)
}

/// When the named definition was first stored: schedules never launch for periods before it.
pub async fn first_defined_at(
    conn: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(campaign_definition::Entity::find()
        .filter(campaign_definition::Column::Name.eq(name))
        .order_by_asc(campaign_definition::Column::Version)
        .one(conn)
        .await?
        .map(|m| m.created_at))
}

/// The newest version of every definition, by name.
pub async fn latest_definitions(
    conn: &impl ConnectionTrait,
) -> Result<Vec<DefinitionVersion>, StoreError> {
    let all = campaign_definition::Entity::find()
        .order_by_asc(campaign_definition::Column::Name)
        .order_by_desc(campaign_definition::Column::Version)
        .all(conn)
        .await?;
    let mut latest: Vec<campaign_definition::Model> = Vec::new();
    for model in all {
        if latest.last().is_none_or(|l| l.name != model.name) {
            latest.push(model);
        }
    }
    latest
        .into_iter()
        .map(definition_from)
        .collect::<Result<_, DbErr>>()
        .map_err(StoreError::from)
}

/// Stores a new version; the unique (name, version) makes concurrent defines safe.
#[allow(clippy::too_many_arguments)]
pub async fn insert_definition(
    conn: &impl ConnectionTrait,
    spec: &CampaignSpec,
    version: i32,
    body: &str,
    spec_json: &str,
    spec_hash: &str,
    owner_id: Option<i64>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let row = campaign_definition::ActiveModel {
        name: Set(spec.name.clone()),
        version: Set(version),
        description: Set(spec.description.clone()),
        owner_id: Set(owner_id),
        schedule: Set(spec.schedule.clone()),
        timezone: Set(spec.timezone.clone()),
        body: Set(body.to_string()),
        spec: Set(spec_json.to_string()),
        spec_hash: Set(spec_hash.to_string()),
        created_by: Set(actor.to_string()),
        created_at: Set(now),
        ..Default::default()
    };
    Ok(campaign_definition::Entity::insert(row)
        .exec(conn)
        .await?
        .last_insert_id)
}

/// The newest version of the named definition as it was written: (version, TOML text).
pub async fn definition_body(
    conn: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<(i32, String)>, StoreError> {
    Ok(campaign_definition::Entity::find()
        .filter(campaign_definition::Column::Name.eq(name))
        .order_by_desc(campaign_definition::Column::Version)
        .one(conn)
        .await?
        .map(|m| (m.version, m.body)))
}
