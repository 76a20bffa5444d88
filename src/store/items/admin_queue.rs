//! The admins' decision queue: items only their own holder could have reviewed.

use crate::domain::lifecycle::CampaignState;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::{campaign, review_item};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, JoinType, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, RelationTrait, Select,
};

/// An item only its holder could have reviewed (the campaign's owner holding it, nobody else
/// eligible): it is decided by an admin from the console's queue, never through a link.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema, FromQueryResult)]
pub struct QueuedItem {
    pub id: i64,
    pub campaign_id: i64,
    #[sea_orm(from_alias = "definition_name")]
    pub campaign: String,
    pub period: String,
    pub due_at: Option<DateTime<Utc>>,
    #[sea_orm(from_alias = "holder_external_id")]
    pub holder_id: String,
    pub holder_name: String,
    pub holder_email: Option<String>,
    #[sea_orm(from_alias = "role_name")]
    pub role: String,
    #[sea_orm(from_alias = "role_risk")]
    pub risk: String,
    pub scope: String,
    pub recommendation: String,
    pub flag_reason: Option<String>,
}

/// The undecided items of active campaigns assigned to their own holder: an item joined to its
/// campaign, the columns left to the caller.
fn queued_items() -> Select<review_item::Entity> {
    review_item::Entity::find()
        .select_only()
        .join(JoinType::InnerJoin, review_item::Relation::Campaign.def())
        .filter(campaign::Column::State.eq(CampaignState::Active))
        .filter(review_item::Column::Verdict.is_null())
        .filter(
            Expr::col((review_item::Entity, review_item::Column::ReviewerId))
                .equals((review_item::Entity, review_item::Column::PrincipalId)),
        )
}

/// The undecided items of active campaigns assigned to their own holder, oldest campaign first
/// (at most `limit`; 0 reads only how many), and how many there are.
pub async fn admin_queue(
    conn: &impl ConnectionTrait,
    limit: u64,
) -> Result<(Vec<QueuedItem>, i64), StoreError> {
    use review_item::Column as Item;
    let total = queued_items().column(Item::Id).count(conn).await? as i64;
    if limit == 0 {
        return Ok((Vec::new(), total));
    }
    let items = queued_items()
        .columns([Item::Id, Item::CampaignId])
        .columns([
            campaign::Column::DefinitionName,
            campaign::Column::Period,
            campaign::Column::DueAt,
        ])
        .columns([
            Item::HolderExternalId,
            Item::HolderName,
            Item::HolderEmail,
            Item::RoleName,
            Item::RoleRisk,
            Item::Scope,
            Item::Recommendation,
            Item::FlagReason,
        ])
        .order_by_asc(Item::CampaignId)
        .order_by_asc(Item::Id)
        .limit(limit)
        .into_model()
        .all(conn)
        .await?;
    Ok((items, total))
}

/// The campaign and holder of an item, for checks before an admin decides it.
pub async fn item_holder(
    conn: &impl ConnectionTrait,
    item_id: i64,
) -> Result<Option<(i64, i64, Option<i64>, Option<String>)>, StoreError> {
    use review_item::Column as Item;
    Ok(review_item::Entity::find_by_id(item_id)
        .select_only()
        .columns([
            Item::CampaignId,
            Item::PrincipalId,
            Item::ReviewerId,
            Item::HolderEmail,
        ])
        .into_tuple()
        .one(conn)
        .await?)
}
