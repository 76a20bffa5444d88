//! Escalation: a campaign's undecided items handed to its fallback reviewer.

use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

/// Hands a campaign's undecided, not yet escalated items to `fallback` (remembering who had
/// them); returns how many moved. The fallback never receives an item they hold themselves:
/// those stay where they are.
pub async fn escalate_undecided(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    fallback: i64,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE review_item SET escalated_from_id = reviewer_id, reviewer_id = ",
    );
    sql.bind(fallback)
        .push(", escalated_at = ")
        .bind(now)
        .push(" WHERE verdict IS NULL AND escalated_at IS NULL AND reviewer_id <> ")
        .bind(fallback)
        .push(" AND principal_id <> ")
        .bind(fallback)
        .push(" AND campaign_id = ")
        .bind(campaign_id);
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}
