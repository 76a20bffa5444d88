//! A campaign's launch: the row inserted once per launch key, its lease, and the cursor its
//! batches advance.

use crate::domain::lifecycle::CampaignState;
use crate::store::campaigns::DefinitionVersion;
use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

/// What a new campaign row starts with.
pub struct NewCampaign<'a> {
    pub definition: &'a DefinitionVersion,
    pub spec_json: &'a str,
    pub period: &'a str,
    pub launch_key: &'a str,
    pub adhoc: bool,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub due_at: DateTime<Utc>,
    pub lease_owner: &'a str,
    pub lease_until: DateTime<Utc>,
    pub actor: &'a str,
    pub now: DateTime<Utc>,
}

/// Inserts a campaign in `launching`, leased to its launcher. `Ok(None)` when the definition
/// already has a campaign for that launch key: the unique constraint is what makes a period
/// launch once, however many instances try.
pub async fn insert_campaign(
    conn: &impl ConnectionTrait,
    c: &NewCampaign<'_>,
) -> Result<Option<i64>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO campaign (definition_id, definition_name, definition_version, period, launch_key, adhoc, state, \
         frozen_definition, scheduled_for, launched_at, due_at, population, items_created, lease_owner, lease_until, \
         created_by, created_at, updated_at) VALUES ",
    );
    sql.tuple([
        c.definition.id.into(),
        c.definition.spec.name.as_str().into(),
        c.definition.version.into(),
        c.period.into(),
        c.launch_key.into(),
        c.adhoc.into(),
        CampaignState::Launching.into(),
        c.spec_json.into(),
        c.scheduled_for.into(),
        c.now.into(),
        c.due_at.into(),
        0i64.into(),
        0i64.into(),
        c.lease_owner.into(),
        c.lease_until.into(),
        c.actor.into(),
        c.now.into(),
        c.now.into(),
    ])
    .push(" RETURNING id");
    match conn
        .query_one_raw(sql.build())
        .await
        .map_err(StoreError::from)
    {
        Ok(Some(row)) => Ok(Some(row.try_get("", "id")?)),
        Ok(None) => Err(StoreError::from(DbErr::RecordNotInserted)),
        // Another launch of the same key got there first.
        Err(StoreError::Conflict(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Takes (or renews) the launch lease of a campaign still launching; false when another
/// instance holds an unexpired lease and is alive, or the launch is over.
pub async fn claim_launch(
    conn: &impl ConnectionTrait,
    id: i64,
    owner: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE campaign SET lease_owner = ",
    );
    sql.bind(owner)
        .push(", lease_until = ")
        .bind(until)
        .push(", updated_at = ")
        .bind(now)
        .push(" WHERE id = ")
        .bind(id)
        .push(" AND state = 'launching' AND (lease_owner = ")
        .bind(owner)
        .push(" OR");
    crate::store::process::push_lease_free(&mut sql, "", now);
    sql.push(")");
    Ok(conn.execute_raw(sql.build()).await?.rows_affected() == 1)
}

/// Records a committed launch batch: where to resume and how many items it added.
pub async fn advance_launch(
    conn: &impl ConnectionTrait,
    id: i64,
    cursor: i64,
    added: u64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE campaign SET launch_cursor = ",
    );
    sql.bind(cursor)
        .push(", items_created = items_created + ")
        .bind(added as i64)
        .push(", updated_at = ")
        .bind(now)
        .push(" WHERE id = ")
        .bind(id)
        .push(" AND state = 'launching'");
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// Sets a launch's cursor and item count from the items that exist. A bulk copy (PostgreSQL)
/// commits on its own before its batch is recorded; after a crash in between, the launch must
/// resume after the items already there, not copy them again.
pub async fn reconcile_launch(conn: &impl ConnectionTrait, id: i64) -> Result<(), StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE campaign SET launch_cursor = (SELECT MAX(eligibility_id) FROM review_item WHERE campaign_id = ",
    );
    sql.bind(id)
        .push("), items_created = (SELECT COUNT(*) FROM review_item WHERE campaign_id = ")
        .bind(id)
        .push(") WHERE id = ")
        .bind(id)
        .push(" AND state = 'launching' AND launch_cursor IS DISTINCT FROM (SELECT MAX(eligibility_id) FROM review_item WHERE campaign_id = ")
        .bind(id)
        .push(")");
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// Gives up a launch lease early (after a failure), so a restart need not wait for it to expire.
pub async fn release_launch(
    conn: &impl ConnectionTrait,
    id: i64,
    owner: &str,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE campaign SET lease_until = NULL WHERE id = ",
    );
    sql.bind(id).push(" AND lease_owner = ").bind(owner);
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// Sets the population once the launch has read the whole source, and ends the lease.
pub async fn finish_launch(
    conn: &impl ConnectionTrait,
    id: i64,
    population: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE campaign SET state = 'active', population = ",
    );
    sql.bind(population)
        .push(", lease_owner = NULL, lease_until = NULL, updated_at = ")
        .bind(now)
        .push(" WHERE id = ")
        .bind(id)
        .push(" AND state = 'launching'");
    Ok(conn.execute_raw(sql.build()).await?.rows_affected() == 1)
}
