//! The `source` rows of configured sources: their last sync, and what they hold.

use super::sql::Sql;
use super::StoreError;
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde::Serialize;

/// A source as `attest source list` and the console show it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SourceState {
    pub name: String,
    pub kind: String,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_sync_error: Option<String>,
    /// The last successful sync's report.
    #[schema(value_type = Option<Object>)]
    pub last_sync_report: Option<serde_json::Value>,
    /// Enabled people whose row this source wrote last.
    pub people: i64,
    pub roles: i64,
    pub eligibility_active: i64,
}

/// Every source row, with what it holds, in name order.
pub async fn states(conn: &impl ConnectionTrait) -> Result<Vec<SourceState>, StoreError> {
    let sql = Sql::new(
        conn.get_database_backend(),
        "SELECT s.name, s.kind, s.last_sync_at, s.last_success_at, s.last_sync_error, s.last_sync_report, \
         (SELECT COUNT(*) FROM principal p WHERE p.source_id = s.id AND p.enabled = TRUE) AS people, \
         (SELECT COUNT(*) FROM \"role\" r WHERE r.source_id = s.id) AS roles, \
         (SELECT COUNT(*) FROM eligibility e WHERE e.source_id = s.id AND e.status = 'active') AS eligibility_active \
         FROM source s ORDER BY s.name",
    );
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            let report: Option<String> = row.try_get("", "last_sync_report")?;
            Ok(SourceState {
                name: row.try_get("", "name")?,
                kind: row.try_get("", "kind")?,
                last_sync_at: row.try_get("", "last_sync_at")?,
                last_success_at: row.try_get("", "last_success_at")?,
                last_sync_error: row.try_get("", "last_sync_error")?,
                last_sync_report: report.and_then(|r| serde_json::from_str(&r).ok()),
                people: row.try_get("", "people")?,
                roles: row.try_get("", "roles")?,
                eligibility_active: row.try_get("", "eligibility_active")?,
            })
        })
        .collect()
}

/// Records a sync of `source_id` that succeeded (`Ok(report)`) or failed (`Err(error)`).
pub async fn record_sync(
    conn: &impl ConnectionTrait,
    source_id: i64,
    outcome: Result<&serde_json::Value, &str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE source SET last_sync_at = ",
    );
    sql.bind(now);
    match outcome {
        Ok(report) => {
            sql.push(", last_success_at = ")
                .bind(now)
                .push(", last_sync_error = NULL, last_sync_report = ")
                .bind(report.to_string());
        }
        Err(error) => {
            sql.push(", last_sync_error = ").bind(error);
        }
    }
    sql.push(" WHERE id = ").bind(source_id);
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// The item of `campaign_id` that reviewed `eligibility_id` (the one that removed it).
pub async fn item_of(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    eligibility_id: i64,
) -> Result<Option<i64>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT id FROM review_item WHERE campaign_id = ",
    );
    sql.bind(campaign_id)
        .push(" AND eligibility_id = ")
        .bind(eligibility_id)
        .push(" ORDER BY id LIMIT 1");
    match conn.query_one_raw(sql.build()).await? {
        Some(row) => Ok(Some(row.try_get("", "id")?)),
        None => Ok(None),
    }
}

/// Marks an eligibility removed in attest's tables after its source removed it, with the
/// source's receipt (the campaign that decided it, or the one whose removal is being repeated).
pub async fn mark_removed(
    conn: &impl ConnectionTrait,
    eligibility_id: i64,
    campaign_id: i64,
    reason: &str,
    receipt: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE eligibility SET status = 'removed', removed_at = ",
    );
    sql.bind(now)
        .push(", removed_by_campaign_id = ")
        .bind(campaign_id)
        .push(", removal_reason = ")
        .bind(reason)
        .push(", removal_receipt = ")
        .bind(receipt)
        .push(", updated_at = ")
        .bind(now)
        .push(" WHERE id = ")
        .bind(eligibility_id)
        .push(" AND status = 'active'");
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}

/// Sets what was done about a reappearance recorded at `at` (`removed_again`, or why not).
pub async fn set_reappearance_action(
    conn: &impl ConnectionTrait,
    eligibility_id: i64,
    at: DateTime<Utc>,
    action: &str,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE reappearance SET action = ",
    );
    sql.bind(action)
        .push(" WHERE eligibility_id = ")
        .bind(eligibility_id)
        .push(" AND reappeared_at = ")
        .bind(at);
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// Claims the scheduled sync of `name` whose firing is `firing`: true for the one instance
/// that moves `last_sync_at` past it (several `serve` instances may share the database).
pub async fn claim_scheduled_sync(
    conn: &impl ConnectionTrait,
    name: &str,
    firing: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE source SET last_sync_at = ",
    );
    sql.bind(now)
        .push(" WHERE name = ")
        .bind(name)
        .push(" AND (last_sync_at IS NULL OR last_sync_at < ")
        .bind(firing)
        .push(")");
    Ok(conn.execute_raw(sql.build()).await?.rows_affected() == 1)
}
