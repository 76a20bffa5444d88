//! Mover events (`domain::movers`): recorded by imports and syncs in their own transaction,
//! taken by the scheduler, marked handled once their campaigns are launched.

use crate::domain::movers::Move;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::mover_event;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

/// Rows per INSERT (six values each).
const ROWS_PER_INSERT: usize = 1000;

/// Records `moves`, found by `via` (`import of FILE`, `sync of SOURCE`); returns how many.
pub async fn record(
    conn: &impl ConnectionTrait,
    moves: &[Move],
    via: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    for chunk in moves.chunks(ROWS_PER_INSERT) {
        let models = chunk
            .iter()
            .map(|&(person, before, after)| mover_event::ActiveModel {
                principal_id: Set(person),
                old_manager_id: Set(before),
                new_manager_id: Set(after),
                via: Set(via.to_string()),
                detected_at: Set(now),
                handled_at: Set(None),
                ..Default::default()
            });
        mover_event::Entity::insert_many(models)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(moves.len() as u64)
}

/// The oldest `limit` events not handled yet.
pub async fn unhandled(
    conn: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<mover_event::Model>, StoreError> {
    Ok(mover_event::Entity::find()
        .filter(mover_event::Column::HandledAt.is_null())
        .order_by_asc(mover_event::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Marks event `id` handled (its campaigns are launched, or there was nothing to review).
pub async fn mark_handled(
    conn: &impl ConnectionTrait,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    mover_event::Entity::update_many()
        .col_expr(mover_event::Column::HandledAt, Expr::value(now))
        .filter(mover_event::Column::Id.eq(id))
        .filter(mover_event::Column::HandledAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Every event of a person, oldest first.
pub async fn of_principal(
    conn: &impl ConnectionTrait,
    principal_id: i64,
) -> Result<Vec<mover_event::Model>, StoreError> {
    Ok(mover_event::Entity::find()
        .filter(mover_event::Column::PrincipalId.eq(principal_id))
        .order_by_asc(mover_event::Column::Id)
        .all(conn)
        .await?)
}

/// Every event detected in `[from, to)`, oldest first.
pub async fn between(
    conn: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<mover_event::Model>, StoreError> {
    Ok(mover_event::Entity::find()
        .filter(mover_event::Column::DetectedAt.gte(from))
        .filter(mover_event::Column::DetectedAt.lt(to))
        .order_by_asc(mover_event::Column::Id)
        .all(conn)
        .await?)
}

/// The campaigns launched under `keys` (`domain::movers::launch_key`): (key, campaign id),
/// by campaign id.
pub async fn campaigns_launched(
    conn: &impl ConnectionTrait,
    keys: &[String],
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut found = Vec::new();
    for chunk in keys.chunks(ROWS_PER_INSERT) {
        found.extend(
            entity::campaign::Entity::find()
                .select_only()
                .column(entity::campaign::Column::LaunchKey)
                .column(entity::campaign::Column::Id)
                .filter(entity::campaign::Column::LaunchKey.is_in(chunk.iter().cloned()))
                .order_by_asc(entity::campaign::Column::Id)
                .into_tuple::<(String, i64)>()
                .all(conn)
                .await?,
        );
    }
    Ok(found)
}
