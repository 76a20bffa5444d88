//! Leaver events (`domain::leavers`): which people an import or a sync is about to disable,
//! the events recorded in the caller's transaction, taken by the scheduler once the grace period
//! has passed, marked handled with their outcome, and read a month at a time.

use crate::domain::leavers::LeaverOutcome;
use crate::domain::records::PersonRow;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::{leaver_event, principal};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

/// Ids per statement (keeps SQLite well under its placeholder limit).
const CHUNK: usize = 1000;

/// The ids of the people `rows` disable: enabled now, listed as disabled.
pub async fn disabled_by(
    conn: &impl ConnectionTrait,
    rows: &[PersonRow],
) -> Result<Vec<i64>, StoreError> {
    let disabled: Vec<&str> = rows
        .iter()
        .filter(|r| !r.enabled)
        .map(|r| r.external_id.as_str())
        .collect();
    let mut ids = Vec::new();
    for chunk in disabled.chunks(CHUNK) {
        ids.extend(
            principal::Entity::find()
                .select_only()
                .column(principal::Column::Id)
                .filter(principal::Column::Enabled.eq(true))
                .filter(principal::Column::ExternalId.is_in(chunk.iter().copied()))
                .into_tuple::<i64>()
                .all(conn)
                .await?,
        );
    }
    Ok(ids)
}

/// Records that `people` were disabled by `via` (`import of FILE`, `sync of SOURCE`); returns
/// how many.
pub async fn record(
    conn: &impl ConnectionTrait,
    people: &[i64],
    via: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    for chunk in people.chunks(CHUNK) {
        let models = chunk.iter().map(|&person| leaver_event::ActiveModel {
            principal_id: Set(person),
            via: Set(via.to_string()),
            detected_at: Set(now),
            ..Default::default()
        });
        leaver_event::Entity::insert_many(models)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(people.len() as u64)
}

/// The oldest `limit` events not handled yet that were detected at or before `cutoff` (now
/// less the grace period).
pub async fn due(
    conn: &impl ConnectionTrait,
    cutoff: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<leaver_event::Model>, StoreError> {
    Ok(leaver_event::Entity::find()
        .filter(leaver_event::Column::HandledAt.is_null())
        .filter(leaver_event::Column::DetectedAt.lte(cutoff))
        .order_by_asc(leaver_event::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Marks event `id` handled with its outcome; `false` when another instance handled it first.
pub async fn mark_handled(
    conn: &impl ConnectionTrait,
    id: i64,
    outcome: LeaverOutcome,
    suspension: Option<i64>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let done = leaver_event::Entity::update_many()
        .col_expr(leaver_event::Column::HandledAt, Expr::value(now))
        .col_expr(
            leaver_event::Column::Outcome,
            Expr::value(outcome.as_str().to_string()),
        )
        .col_expr(leaver_event::Column::SuspensionId, Expr::value(suspension))
        .filter(leaver_event::Column::Id.eq(id))
        .filter(leaver_event::Column::HandledAt.is_null())
        .exec(conn)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Whether principal `id` is enabled now.
pub async fn enabled(conn: &impl ConnectionTrait, id: i64) -> Result<bool, StoreError> {
    Ok(principal::Entity::find_by_id(id)
        .select_only()
        .column(principal::Column::Enabled)
        .into_tuple::<bool>()
        .one(conn)
        .await?
        .unwrap_or(false))
}

/// A leaver's name and their manager (id and name) when the manager is enabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonAndManager {
    pub name: String,
    pub manager: Option<(i64, String)>,
}

/// Principal `id`'s name and enabled manager, if `id` exists.
pub async fn person_and_manager(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<PersonAndManager>, StoreError> {
    let Some(person) = principal::Entity::find_by_id(id).one(conn).await? else {
        return Ok(None);
    };
    let manager = match person.manager_id {
        Some(m) => principal::Entity::find_by_id(m)
            .one(conn)
            .await?
            .filter(|m| m.enabled)
            .map(|m| (m.id, m.display_name)),
        None => None,
    };
    Ok(Some(PersonAndManager {
        name: person.display_name,
        manager,
    }))
}

/// Every event detected in `[from, to)`, oldest first.
pub async fn between(
    conn: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<leaver_event::Model>, StoreError> {
    Ok(leaver_event::Entity::find()
        .filter(leaver_event::Column::DetectedAt.gte(from))
        .filter(leaver_event::Column::DetectedAt.lt(to))
        .order_by_asc(leaver_event::Column::Id)
        .all(conn)
        .await?)
}
