//! Campaign definitions: their stored versions, the newest of each, and the text they were
//! written in.

use crate::domain::definition::CampaignSpec;
use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::campaign_definition;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

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
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO campaign_definition (name, version, description, owner_id, schedule, timezone, body, spec, spec_hash, created_by, created_at) VALUES ",
    );
    sql.tuple([
        spec.name.as_str().into(),
        version.into(),
        spec.description.clone().into(),
        owner_id.into(),
        spec.schedule.as_str().into(),
        spec.timezone.as_str().into(),
        body.into(),
        spec_json.into(),
        spec_hash.into(),
        actor.into(),
        now.into(),
    ])
    .push(" RETURNING id");
    let row = conn
        .query_one_raw(sql.build())
        .await?
        .ok_or_else(|| DbErr::RecordNotInserted)?;
    row.try_get("", "id").map_err(StoreError::from)
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
