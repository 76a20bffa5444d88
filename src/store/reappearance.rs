//! Reappearances: eligibilities a campaign removed that an import or a sync lists again. Found
//! before the upsert that makes them active again, recorded in the same transaction.

use super::directory::joins::{eligibility_principal, eligibility_role};
use super::directory::EligibilityWrite;
use super::sql::Sql;
use super::StoreError;
use chrono::{DateTime, Utc};
use entity::{eligibility, principal, reappearance, review_item, role};
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationDef, Set,
};
use serde::Serialize;

/// One eligibility listed again after a campaign removed it, with what that campaign did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Reappeared {
    pub eligibility_id: i64,
    pub holder: String,
    pub role: String,
    pub scope: String,
    /// The campaign that had removed it.
    pub campaign_id: Option<i64>,
    /// The suspension that had removed it (`suspension #N`), when one did: the person is
    /// suspended and the source lists it again.
    pub suspension: Option<String>,
    pub removed_at: Option<DateTime<Utc>>,
    pub removal_receipt: Option<String>,
}

/// Of `rows` (about to be upserted), those whose eligibility a campaign or a suspension had
/// removed.
pub async fn removed_by_campaign(
    conn: &impl ConnectionTrait,
    rows: &[EligibilityWrite],
) -> Result<Vec<Reappeared>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // hand-written: a row-value IN (VALUES …) over the three key columns, which sea-orm's
    // builder cannot express.
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT e.id, p.external_id, r.name, e.scope, e.removed_by_campaign_id, e.removed_at, e.removal_receipt, e.removal_reason \
         FROM eligibility e JOIN principal p ON p.id = e.principal_id JOIN \"role\" r ON r.id = e.role_id \
         WHERE e.status = 'removed' AND (e.removed_by_campaign_id IS NOT NULL OR e.removal_reason LIKE 'suspension #%') \
         AND (e.principal_id, e.role_id, e.scope) IN (VALUES ",
    );
    sql.rows(rows.iter().map(|w| {
        [
            w.principal_id.into(),
            w.role_id.into(),
            w.scope.as_str().into(),
        ]
    }))
    .push(") ORDER BY e.id");
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            Ok(Reappeared {
                eligibility_id: row.try_get("", "id")?,
                holder: row.try_get("", "external_id")?,
                role: row.try_get("", "name")?,
                scope: row.try_get("", "scope")?,
                campaign_id: row.try_get("", "removed_by_campaign_id")?,
                suspension: row
                    .try_get::<Option<String>>("", "removal_reason")?
                    .filter(|r| r.starts_with("suspension #")),
                removed_at: row.try_get("", "removed_at")?,
                removal_receipt: row.try_get("", "removal_receipt")?,
            })
        })
        .collect()
}

/// Records `rows` as reappeared at `now`, brought back by `via`, with `action` taken.
pub async fn record(
    conn: &impl ConnectionTrait,
    rows: &[Reappeared],
    via: &str,
    action: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let recorded = rows.iter().map(|r| reappearance::ActiveModel {
        eligibility_id: Set(r.eligibility_id),
        campaign_id: Set(r.campaign_id),
        removed_at: Set(r.removed_at),
        removal_receipt: Set(r.removal_receipt.clone()),
        reappeared_at: Set(now),
        via: Set(via.to_string()),
        // A suspended person's eligibility listed again names the suspension.
        action: Set(match &r.suspension {
            Some(suspension) => format!("{action}: {suspension}"),
            None => action.to_string(),
        }),
        ..Default::default()
    });
    Ok(reappearance::Entity::insert_many(recorded)
        .exec_without_returning(conn)
        .await?)
}

/// How many reappearances were recorded in `[from, to)`.
pub async fn count_between(
    conn: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let n: Option<i64> = reappearance::Entity::find()
        .select_only()
        .column_as(Expr::col(Asterisk).count(), "n")
        .filter(reappearance::Column::ReappearedAt.gte(from))
        .filter(reappearance::Column::ReappearedAt.lt(to))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(n.unwrap_or(0))
}

/// An item of a campaign whose eligibility had reappeared (before the campaign launched) after
/// an earlier campaign removed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromQueryResult)]
pub struct ReappearedItem {
    pub item_id: i64,
    pub holder: String,
    pub role: String,
    pub scope: String,
    /// The campaign that had removed it.
    pub removed_by_campaign_id: Option<i64>,
    pub removed_at: Option<DateTime<Utc>>,
    pub reappeared_at: DateTime<Utc>,
    pub via: String,
}

/// The items of `campaign_id` whose eligibility reappeared at or before `until`, latest
/// reappearance per item, in item order: the first `limit`, and how many there are.
pub async fn in_campaign(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    until: DateTime<Utc>,
    limit: u64,
) -> Result<(Vec<ReappearedItem>, i64), StoreError> {
    // Driven from the reappearance table (small), each row finding its item through the
    // (campaign_id, eligibility_id) key: cheap however large the campaign.
    let reappeared = || {
        reappearance::Entity::find()
            .join(JoinType::InnerJoin, reappearance_item())
            .filter(review_item::Column::CampaignId.eq(campaign_id))
            .filter(reappearance::Column::ReappearedAt.lte(until))
    };
    let total: Option<i64> = reappeared()
        .select_only()
        .column_as(
            Expr::col((review_item::Entity, review_item::Column::Id)).count_distinct(),
            "n",
        )
        .into_tuple()
        .one(conn)
        .await?;
    let rows: Vec<ReappearedItem> = reappeared()
        .select_only()
        .column_as(review_item::Column::Id, "item_id")
        .column_as(review_item::Column::HolderExternalId, "holder")
        .column_as(review_item::Column::RoleName, "role")
        .column(review_item::Column::Scope)
        .column_as(reappearance::Column::CampaignId, "removed_by_campaign_id")
        .column(reappearance::Column::RemovedAt)
        .column(reappearance::Column::ReappearedAt)
        .column(reappearance::Column::Via)
        .order_by_asc(review_item::Column::Id)
        .order_by_desc(reappearance::Column::ReappearedAt)
        .into_model()
        .all(conn)
        .await?;
    let mut items: Vec<ReappearedItem> = Vec::new();
    for row in rows {
        if items.last().is_some_and(|last| last.item_id == row.item_id) {
            continue; // an older reappearance of the same item
        }
        if items.len() as u64 >= limit {
            break;
        }
        items.push(row);
    }
    Ok((items, total.unwrap_or(0)))
}

/// `reappearance.eligibility_id = review_item.eligibility_id`: the items that reviewed a
/// reappeared eligibility (one a campaign; the caller names the campaign).
fn reappearance_item() -> RelationDef {
    reappearance::Entity::belongs_to(review_item::Entity)
        .from(reappearance::Column::EligibilityId)
        .to(review_item::Column::EligibilityId)
        .into()
}

/// `reappearance.eligibility_id = eligibility.id`
fn reappearance_eligibility() -> RelationDef {
    reappearance::Entity::belongs_to(eligibility::Entity)
        .from(reappearance::Column::EligibilityId)
        .to(eligibility::Column::Id)
        .into()
}

/// One recorded reappearance, as admins and auditors list them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, FromQueryResult)]
pub struct ReappearanceView {
    pub id: i64,
    pub eligibility_id: i64,
    pub holder: String,
    pub role: String,
    pub scope: String,
    /// The campaign that had removed it.
    pub campaign_id: Option<i64>,
    pub removed_at: Option<DateTime<Utc>>,
    pub removal_receipt: Option<String>,
    pub reappeared_at: DateTime<Utc>,
    /// What listed it again.
    pub via: String,
    /// `flagged`, or `removed_again` through its source; `flagged: suspension #N` when a
    /// suspended person's eligibility was listed again.
    pub action: String,
    /// The eligibility's status now (`active`, or `removed` by a later campaign or prune).
    pub status_now: String,
}

/// The newest `limit` reappearances, newest first, and how many there are in all.
pub async fn recent(
    conn: &impl ConnectionTrait,
    limit: u64,
) -> Result<(Vec<ReappearanceView>, i64), StoreError> {
    let total: Option<i64> = reappearance::Entity::find()
        .select_only()
        .column_as(Expr::col(Asterisk).count(), "n")
        .into_tuple()
        .one(conn)
        .await?;
    let rows = reappearance::Entity::find()
        .select_only()
        .columns([
            reappearance::Column::Id,
            reappearance::Column::EligibilityId,
        ])
        .column_as(principal::Column::ExternalId, "holder")
        .column_as(role::Column::Name, "role")
        .column(eligibility::Column::Scope)
        .columns([
            reappearance::Column::CampaignId,
            reappearance::Column::RemovedAt,
            reappearance::Column::RemovalReceipt,
            reappearance::Column::ReappearedAt,
            reappearance::Column::Via,
            reappearance::Column::Action,
        ])
        .column_as(eligibility::Column::Status, "status_now")
        .join(JoinType::InnerJoin, reappearance_eligibility())
        .join(JoinType::InnerJoin, eligibility_principal())
        .join(JoinType::InnerJoin, eligibility_role())
        .order_by_desc(reappearance::Column::Id)
        // PostgreSQL's LIMIT is a bigint: a larger one (from the command line) means all.
        .limit(Ord::min(limit, i64::MAX as u64))
        .into_model()
        .all(conn)
        .await?;
    Ok((rows, total.unwrap_or(0)))
}
