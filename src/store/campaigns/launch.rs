//! A campaign's launch: the row inserted once per launch key, its lease, and the cursor its
//! batches advance.

use crate::domain::lifecycle::CampaignState;
use crate::store::campaigns::DefinitionVersion;
use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::campaign;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

/// A cleared time column.
const NO_TIME: Option<DateTime<Utc>> = None;

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
    let row = campaign::ActiveModel {
        definition_id: Set(c.definition.id),
        definition_name: Set(c.definition.spec.name.clone()),
        definition_version: Set(c.definition.version),
        period: Set(c.period.to_string()),
        launch_key: Set(c.launch_key.to_string()),
        adhoc: Set(c.adhoc),
        state: Set(CampaignState::Launching.to_string()),
        frozen_definition: Set(c.spec_json.to_string()),
        scheduled_for: Set(c.scheduled_for),
        launched_at: Set(Some(c.now)),
        due_at: Set(Some(c.due_at)),
        population: Set(0),
        items_created: Set(0),
        lease_owner: Set(Some(c.lease_owner.to_string())),
        lease_until: Set(Some(c.lease_until)),
        created_by: Set(c.actor.to_string()),
        created_at: Set(c.now),
        updated_at: Set(c.now),
        ..Default::default()
    };
    match campaign::Entity::insert(row)
        .exec(conn)
        .await
        .map_err(StoreError::from)
    {
        Ok(inserted) => Ok(Some(inserted.last_insert_id)),
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
    // hand-written: the lease-free condition is SQL text shared with the other lease queries
    // (`process::push_lease_free`).
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
    campaign::Entity::update_many()
        .col_expr(campaign::Column::LaunchCursor, Expr::value(cursor))
        .col_expr(
            campaign::Column::ItemsCreated,
            Expr::col(campaign::Column::ItemsCreated).add(added as i64),
        )
        .col_expr(campaign::Column::UpdatedAt, Expr::value(now))
        .filter(campaign::Column::Id.eq(id))
        .filter(campaign::Column::State.eq(CampaignState::Launching))
        .exec(conn)
        .await?;
    Ok(())
}

/// Sets a launch's cursor and item count from the items that exist. A bulk copy (PostgreSQL)
/// commits on its own before its batch is recorded; after a crash in between, the launch must
/// resume after the items already there, not copy them again.
pub async fn reconcile_launch(conn: &impl ConnectionTrait, id: i64) -> Result<(), StoreError> {
    // hand-written: three correlated subqueries and IS DISTINCT FROM, which the builder would
    // only spell longer.
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
    campaign::Entity::update_many()
        .col_expr(campaign::Column::LeaseUntil, Expr::value(NO_TIME))
        .filter(campaign::Column::Id.eq(id))
        .filter(campaign::Column::LeaseOwner.eq(owner))
        .exec(conn)
        .await?;
    Ok(())
}

/// Sets the population once the launch has read the whole source, and ends the lease.
pub async fn finish_launch(
    conn: &impl ConnectionTrait,
    id: i64,
    population: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let finished = campaign::Entity::update_many()
        .col_expr(campaign::Column::State, Expr::value(CampaignState::Active))
        .col_expr(campaign::Column::Population, Expr::value(population))
        .col_expr(
            campaign::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .col_expr(campaign::Column::LeaseUntil, Expr::value(NO_TIME))
        .col_expr(campaign::Column::UpdatedAt, Expr::value(now))
        .filter(campaign::Column::Id.eq(id))
        .filter(campaign::Column::State.eq(CampaignState::Launching))
        .exec(conn)
        .await?;
    Ok(finished.rows_affected == 1)
}
