//! The state machine's compare-and-set moves, who ended a campaign, its safety rail, and the
//! row lock against concurrent moves.

use crate::domain::lifecycle::CampaignState;
use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::campaign;
use sea_orm::{ConnectionTrait, EntityTrait, QuerySelect};

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
    let mut sql = Sql::new(conn.get_database_backend(), "UPDATE campaign SET state = ");
    sql.bind(to).push(", updated_at = ").bind(now);
    if let Some(column) = stamp {
        sql.push(&format!(", {column} = ")).bind(now);
    }
    sql.push(" WHERE id = ").bind(id).push(" AND state IN ");
    sql.tuple(from.iter().map(|&s| s.into()));
    Ok(conn.execute_raw(sql.build()).await?.rows_affected() == 1)
}

/// Records who closed (`closed_by`) or cancelled (`cancelled_by`) a campaign.
pub async fn set_ended_by(
    conn: &impl ConnectionTrait,
    id: i64,
    column: EndedBy,
    actor: &str,
) -> Result<(), StoreError> {
    let column = match column {
        EndedBy::Closed => "closed_by",
        EndedBy::Cancelled => "cancelled_by",
    };
    let mut sql = Sql::new(
        conn.get_database_backend(),
        &format!("UPDATE campaign SET {column} = "),
    );
    sql.bind(actor).push(" WHERE id = ").bind(id);
    conn.execute_raw(sql.build()).await?;
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
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE campaign SET rail_reason = ",
    );
    sql.bind(reason.map(str::to_string))
        .push(" WHERE id = ")
        .bind(id);
    conn.execute_raw(sql.build()).await?;
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
