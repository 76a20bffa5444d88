//! Moving a multi-stage campaign's items into its next stage, and settling them by the outcome
//! rule when the last stage ends.

use crate::domain::closing::{MadeBy, Verdict};
use crate::domain::reviewers::ReviewerReason;
use crate::store::items::stage_history::StageDecision;
use crate::store::StoreError;
use entity::{review_item, role};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
};

/// An item of the stage now open, as the next stage's reviewer resolution sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageItem {
    pub id: i64,
    /// The holder.
    pub principal_id: i64,
    pub role_owner_id: Option<i64>,
    /// This stage's verdict in force (`None`: unanswered).
    pub verdict: Option<Verdict>,
}

/// The campaign's items in `stage` (those that entered it and were not left behind).
pub async fn in_stage(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    stage: i32,
) -> Result<Vec<StageItem>, StoreError> {
    use review_item::Column as Item;
    let rows: Vec<(i64, i64, Option<i64>, Option<Verdict>)> = review_item::Entity::find()
        .select_only()
        .columns([Item::Id, Item::PrincipalId])
        .column(role::Column::OwnerId)
        .column(Item::Verdict)
        .join(
            JoinType::LeftJoin,
            review_item::Entity::belongs_to(role::Entity)
                .from(Item::RoleId)
                .to(role::Column::Id)
                .into(),
        )
        .filter(Item::CampaignId.eq(campaign_id))
        .filter(Item::Stage.eq(stage))
        .order_by_asc(Item::Id)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, principal_id, role_owner_id, verdict)| StageItem {
            id,
            principal_id,
            role_owner_id,
            verdict,
        })
        .collect())
}

/// Moves `ids` into `stage` with their new reviewer: open again (no verdict, not escalated),
/// the earlier stage's decisions kept on record. A reviewer-resolution flag is added to an item
/// not already flagged. Returns how many moved.
pub async fn enter(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    stage: i32,
    reviewer: i64,
    reason: ReviewerReason,
    flag: Option<&str>,
    ids: &[i64],
) -> Result<u64, StoreError> {
    use review_item::Column as Item;
    let mut moved = 0;
    for chunk in ids.chunks(1000) {
        let mut update = review_item::Entity::update_many()
            .col_expr(Item::Stage, Expr::value(stage))
            .col_expr(Item::ReviewerId, Expr::value(reviewer))
            .col_expr(Item::ReviewerReason, Expr::value(reason.as_str()))
            .col_expr(Item::CurrentDecisionId, Expr::value(None::<i64>))
            .col_expr(Item::Verdict, Expr::value(None::<String>))
            .col_expr(Item::MadeBy, Expr::value(None::<String>))
            .col_expr(
                Item::DecidedAt,
                Expr::value(None::<chrono::DateTime<chrono::Utc>>),
            )
            .col_expr(
                Item::EscalatedAt,
                Expr::value(None::<chrono::DateTime<chrono::Utc>>),
            )
            .col_expr(Item::EscalatedFromId, Expr::value(None::<i64>));
        if let Some(flag) = flag {
            update = update.col_expr(Item::Flagged, Expr::value(true)).col_expr(
                Item::FlagReason,
                Expr::expr(sea_orm::sea_query::Func::coalesce([
                    Expr::col(Item::FlagReason),
                    Expr::value(flag.to_string()),
                ])),
            );
        }
        moved += update
            .filter(Item::CampaignId.eq(campaign_id))
            .filter(Item::Stage.eq(stage - 1))
            .filter(Item::Id.is_in(chunk.iter().copied()))
            .exec(conn)
            .await?
            .rows_affected;
    }
    Ok(moved)
}

/// Points an item at the people's decision the outcome rule chose (`None`: no stage settles
/// it, the policy will): its verdict and when become that decision's.
pub async fn settle_by_rule(
    conn: &impl ConnectionTrait,
    item_id: i64,
    chosen: Option<&StageDecision>,
) -> Result<(), StoreError> {
    use review_item::Column as Item;
    review_item::Entity::update_many()
        .col_expr(
            Item::CurrentDecisionId,
            Expr::value(chosen.map(|d| d.decision_id)),
        )
        .col_expr(
            Item::Verdict,
            Expr::value(chosen.map(|d| d.verdict.as_str().to_string())),
        )
        .col_expr(
            Item::MadeBy,
            Expr::value(chosen.map(|_| MadeBy::Human.as_str().to_string())),
        )
        .col_expr(Item::DecidedAt, Expr::value(chosen.map(|d| d.decided_at)))
        .filter(Item::Id.eq(item_id))
        .exec(conn)
        .await?;
    Ok(())
}
