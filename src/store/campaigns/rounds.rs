//! Re-runs for non-responders: opening the next round of a campaign (compare-and-set on the
//! round, so it opens once), its record, and what it re-opens.

use crate::domain::lifecycle::CampaignState;
use crate::domain::rerun::RerunPlan;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::{campaign, campaign_reviewer, campaign_round, review_item};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::Serialize;

/// One re-run, as the console, the API and the evidence show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RoundRow {
    /// 2 for the first re-run.
    pub round: i32,
    pub started_at: DateTime<Utc>,
    /// An admin's audit name, or `scheduler` (the definition's `rerun_unanswered_days`).
    pub started_by: String,
    pub days: i32,
    /// The deadline the re-run replaced.
    pub due_before: Option<DateTime<Utc>>,
    pub due_at: DateTime<Utc>,
    pub items_reopened: i64,
    pub reviewers_reopened: i64,
}

/// What a round re-opened: its unanswered items and the reviewers who hold them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unanswered {
    pub items: u64,
    pub reviewers: u64,
}

/// The campaign's unanswered items (no verdict yet) and how many reviewers hold them.
pub async fn unanswered(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Unanswered, StoreError> {
    use review_item::Column as Item;
    let open = || {
        review_item::Entity::find()
            .filter(Item::CampaignId.eq(campaign_id))
            .filter(Item::Verdict.is_null())
    };
    let items = open().count(conn).await?;
    let reviewers: Option<i64> = open()
        .select_only()
        .column_as(Expr::col(Item::ReviewerId).count_distinct(), "n")
        .into_tuple()
        .one(conn)
        .await?;
    Ok(Unanswered {
        items,
        reviewers: u64::try_from(reviewers.unwrap_or(0)).unwrap_or(0),
    })
}

/// Opens `plan.round` when the campaign is still active in the round before it: the new
/// deadline and the round's start on the campaign, and the round's record. False when another
/// re-run, a close or a cancel got there first (nothing written).
pub async fn open_round(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    plan: &RerunPlan,
    due_before: Option<DateTime<Utc>>,
    reopened: Unanswered,
    started_by: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let moved = campaign::Entity::update_many()
        .col_expr(campaign::Column::Round, Expr::value(plan.round))
        .col_expr(campaign::Column::RoundStartedAt, Expr::value(now))
        .col_expr(campaign::Column::DueAt, Expr::value(plan.due_at))
        .col_expr(campaign::Column::UpdatedAt, Expr::value(now))
        .filter(campaign::Column::Id.eq(campaign_id))
        .filter(campaign::Column::Round.eq(plan.round - 1))
        .filter(campaign::Column::State.eq(CampaignState::Active))
        .exec(conn)
        .await?;
    if moved.rows_affected != 1 {
        return Ok(false);
    }
    campaign_round::Entity::insert(campaign_round::ActiveModel {
        campaign_id: Set(campaign_id),
        round: Set(plan.round),
        started_at: Set(now),
        started_by: Set(started_by.to_string()),
        days: Set(plan.days as i32),
        due_before: Set(due_before),
        due_at: Set(plan.due_at),
        items_reopened: Set(reopened.items as i64),
        reviewers_reopened: Set(reopened.reviewers as i64),
        ..Default::default()
    })
    .exec(conn)
    .await?;
    Ok(true)
}

/// A reviewer who signed off with items unanswered is asked again: the sign-off (kept in the
/// audit log) no longer stops the re-run's mail and reminders. Returns how many.
pub async fn reopen_sign_offs(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<u64, StoreError> {
    use campaign_reviewer::Column as Reviewer;
    let with_open_items = Query::select()
        .column(review_item::Column::ReviewerId)
        .from(review_item::Entity)
        .and_where(review_item::Column::CampaignId.eq(campaign_id))
        .and_where(review_item::Column::Verdict.is_null())
        .and_where(review_item::Column::ReviewerId.is_not_null())
        .to_owned();
    Ok(campaign_reviewer::Entity::update_many()
        .col_expr(Reviewer::SignedOffAt, Expr::value(None::<DateTime<Utc>>))
        .col_expr(Reviewer::SignedOffAddr, Expr::value(None::<String>))
        .filter(Reviewer::CampaignId.eq(campaign_id))
        .filter(Reviewer::SignedOffAt.is_not_null())
        .filter(Reviewer::ReviewerId.in_subquery(with_open_items))
        .exec(conn)
        .await?
        .rows_affected)
}

/// Every link of the campaign that still works stops working: a re-run's mails carry fresh
/// ones. Returns how many were withdrawn.
pub async fn withdraw_links(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    use entity::reviewer_token::{Column as Token, Entity as Tokens};
    Ok(Tokens::update_many()
        .col_expr(Token::RevokedAt, Expr::value(now))
        .filter(Token::CampaignId.eq(campaign_id))
        .filter(Token::RevokedAt.is_null())
        .exec(conn)
        .await?
        .rows_affected)
}

/// The campaign's re-runs, first first.
pub async fn rounds(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Vec<RoundRow>, StoreError> {
    Ok(campaign_round::Entity::find()
        .filter(campaign_round::Column::CampaignId.eq(campaign_id))
        .order_by_asc(campaign_round::Column::Round)
        .all(conn)
        .await?
        .into_iter()
        .map(|r| RoundRow {
            round: r.round,
            started_at: r.started_at,
            started_by: r.started_by,
            days: r.days,
            due_before: r.due_before,
            due_at: r.due_at,
            items_reopened: r.items_reopened,
            reviewers_reopened: r.reviewers_reopened,
        })
        .collect())
}
