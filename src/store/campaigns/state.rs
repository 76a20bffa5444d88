//! The state machine's compare-and-set moves, who ended a campaign, its safety rail, and the
//! row lock against concurrent moves.

use crate::domain::lifecycle::CampaignState;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::campaign;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

/// Moves a campaign to `to` only from one of `from` (compare-and-set), stamping `stamp` (a
/// timestamp column of ours) with `now`; false when the campaign was not in any of them.
pub async fn transition(
    conn: &impl ConnectionTrait,
    id: i64,
    from: &[CampaignState],
    to: CampaignState,
    stamp: Option<&'static str>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    debug_assert!(from.iter().all(|f| f.may_become(to)));
    let mut update = campaign::Entity::update_many()
        .col_expr(campaign::Column::State, Expr::value(to))
        .col_expr(campaign::Column::UpdatedAt, Expr::value(now));
    if let Some(column) = stamp {
        update = update.col_expr(column, Expr::value(now));
    }
    let moved = update
        .filter(campaign::Column::Id.eq(id))
        .filter(campaign::Column::State.is_in(from.iter().copied()))
        .exec(conn)
        .await?;
    Ok(moved.rows_affected == 1)
}

/// Records who closed (`closed_by`) or cancelled (`cancelled_by`) a campaign.
pub async fn set_ended_by(
    conn: &impl ConnectionTrait,
    id: i64,
    column: EndedBy,
    actor: &str,
) -> Result<(), StoreError> {
    let column = match column {
        EndedBy::Closed => campaign::Column::ClosedBy,
        EndedBy::Cancelled => campaign::Column::CancelledBy,
    };
    campaign::Entity::update_many()
        .col_expr(column, Expr::value(actor))
        .filter(campaign::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Which end [`set_ended_by`] records.
#[derive(Debug, Clone, Copy)]
pub enum EndedBy {
    Closed,
    Cancelled,
}

pub async fn set_rail_reason(
    conn: &impl ConnectionTrait,
    id: i64,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    campaign::Entity::update_many()
        .col_expr(campaign::Column::RailReason, Expr::value(reason))
        .filter(campaign::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Locks the campaign row against a concurrent state change until the transaction ends
/// (PostgreSQL; SQLite has one writer at a time anyway) and returns its state.
pub async fn lock_state(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<CampaignState>, StoreError> {
    let mut query = campaign::Entity::find_by_id(id)
        .select_only()
        .column(campaign::Column::State);
    if crate::store::backend::locks_rows(conn.get_database_backend()) {
        query = query.lock_shared();
    }
    query.into_tuple().one(conn).await.map_err(StoreError::from)
}
