//! Escalation: a campaign's undecided items handed to its fallback reviewer.

use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::review_item;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

/// Hands a campaign's undecided, not yet escalated items to `fallback` (remembering who had
/// them); returns how many moved. The fallback never receives an item they hold themselves:
/// those stay where they are.
pub async fn escalate_undecided(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    fallback: i64,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    use review_item::Column as Item;
    Ok(review_item::Entity::update_many()
        .col_expr(Item::EscalatedFromId, Expr::col(Item::ReviewerId))
        .col_expr(Item::ReviewerId, Expr::value(fallback))
        .col_expr(Item::EscalatedAt, Expr::value(now))
        .filter(Item::Verdict.is_null())
        .filter(Item::EscalatedAt.is_null())
        .filter(Item::ReviewerId.ne(fallback))
        .filter(Item::PrincipalId.ne(fallback))
        .filter(Item::CampaignId.eq(campaign_id))
        .exec(conn)
        .await?
        .rows_affected)
}
