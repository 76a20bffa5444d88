//! The `source` rows of configured sources: their last sync, and what they hold. Plain reads
//! and writes go through the entities; the listing's per-source counts are correlated
//! subqueries the query builder would only spell longer.

use super::sql::Sql;
use super::StoreError;
use crate::domain::eligibility::EligibilityStatus;
use chrono::{DateTime, Utc};
use entity::{eligibility, reappearance, review_item, source};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
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

/// Every source row, with what it holds, in name order (hand-written: three counts per row).
pub async fn states(conn: &impl ConnectionTrait) -> Result<Vec<SourceState>, StoreError> {
    // hand-written: three correlated counts per row, which the query builder would only spell
    // longer (one subquery expression each) to gain nothing.
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
    let update =
        source::Entity::update_many().col_expr(source::Column::LastSyncAt, Expr::value(now));
    let update = match outcome {
        Ok(report) => update
            .col_expr(source::Column::LastSuccessAt, Expr::value(now))
            .col_expr(
                source::Column::LastSyncError,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                source::Column::LastSyncReport,
                Expr::value(report.to_string()),
            ),
        Err(error) => update.col_expr(source::Column::LastSyncError, Expr::value(error)),
    };
    update
        .filter(source::Column::Id.eq(source_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The item of `campaign_id` that reviewed `eligibility_id` (the one that removed it).
pub async fn item_of(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    eligibility_id: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(review_item::Entity::find()
        .select_only()
        .column(review_item::Column::Id)
        .filter(review_item::Column::CampaignId.eq(campaign_id))
        .filter(review_item::Column::EligibilityId.eq(eligibility_id))
        .order_by_asc(review_item::Column::Id)
        .into_tuple()
        .one(conn)
        .await?)
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
    Ok(eligibility::Entity::update_many()
        .col_expr(
            eligibility::Column::Status,
            Expr::value(EligibilityStatus::Removed),
        )
        .col_expr(eligibility::Column::RemovedAt, Expr::value(now))
        .col_expr(
            eligibility::Column::RemovedByCampaignId,
            Expr::value(campaign_id),
        )
        .col_expr(eligibility::Column::RemovalReason, Expr::value(reason))
        .col_expr(eligibility::Column::RemovalReceipt, Expr::value(receipt))
        .col_expr(eligibility::Column::UpdatedAt, Expr::value(now))
        .filter(eligibility::Column::Id.eq(eligibility_id))
        .filter(eligibility::Column::Status.eq(EligibilityStatus::Active))
        .exec(conn)
        .await?
        .rows_affected)
}

/// Records in attest's own table that a source converted standing access to eligible (after
/// the source's read-back proved it); the receipt stays with the remediation.
pub async fn mark_converted(
    conn: &impl ConnectionTrait,
    eligibility_id: i64,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    Ok(eligibility::Entity::update_many()
        .col_expr(
            eligibility::Column::Assignment,
            Expr::value(crate::domain::eligibility::Assignment::Eligible),
        )
        .col_expr(eligibility::Column::UpdatedAt, Expr::value(now))
        .filter(eligibility::Column::Id.eq(eligibility_id))
        .filter(eligibility::Column::Status.eq(EligibilityStatus::Active))
        .exec(conn)
        .await?
        .rows_affected)
}

/// Sets what was done about a reappearance recorded at `at` (`removed_again`, or why not).
pub async fn set_reappearance_action(
    conn: &impl ConnectionTrait,
    eligibility_id: i64,
    at: DateTime<Utc>,
    action: &str,
) -> Result<(), StoreError> {
    reappearance::Entity::update_many()
        .col_expr(reappearance::Column::Action, Expr::value(action))
        .filter(reappearance::Column::EligibilityId.eq(eligibility_id))
        .filter(reappearance::Column::ReappearedAt.eq(at))
        .exec(conn)
        .await?;
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
    let claimed = source::Entity::update_many()
        .col_expr(source::Column::LastSyncAt, Expr::value(now))
        .filter(source::Column::Name.eq(name))
        .filter(
            Condition::any()
                .add(source::Column::LastSyncAt.is_null())
                .add(source::Column::LastSyncAt.lt(firing)),
        )
        .exec(conn)
        .await?;
    Ok(claimed.rows_affected == 1)
}
