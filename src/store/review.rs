//! What a reviewer's link opens: tokens (stored only as SHA-256), the reviewer's items, their
//! sign-off, and hand-overs to another reviewer.

use super::items::current_decision;
use super::sql::Sql;
use super::StoreError;
use crate::domain::reviewers::ReviewerReason;
use chrono::{DateTime, Utc};
use entity::{campaign_reviewer, decision, review_item, reviewer_token};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, JoinType, QueryFilter, QueryOrder,
    QuerySelect,
};

/// A stored token, found by the hash of the presented one.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: i64,
    pub campaign_id: i64,
    pub reviewer_id: i64,
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A link token to store.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub campaign_id: i64,
    pub reviewer_id: i64,
    pub token_hash: String,
    pub mail_id: Option<i64>,
    pub expires_at: DateTime<Utc>,
}

/// Stores tokens, several hundred a statement (the mail worker issues a whole step's links at
/// once, committed before any of those mails is sent).
pub async fn insert_tokens(
    conn: &impl ConnectionTrait,
    tokens: &[NewToken],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for chunk in tokens.chunks(500) {
        // hand-written: bulk path, a multi-row VALUES insert of a whole step's links.
        let mut sql = Sql::new(
            conn.get_database_backend(),
            "INSERT INTO reviewer_token (campaign_id, reviewer_id, token_hash, mail_id, created_at, expires_at) VALUES ",
        );
        sql.rows(chunk.iter().map(|t| {
            [
                t.campaign_id.into(),
                t.reviewer_id.into(),
                t.token_hash.clone().into(),
                t.mail_id.into(),
                now.into(),
                t.expires_at.into(),
            ]
        }));
        conn.execute_raw(sql.build()).await?;
    }
    Ok(())
}

pub async fn token_by_hash(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<TokenRow>, StoreError> {
    Ok(reviewer_token::Entity::find()
        .filter(reviewer_token::Column::TokenHash.eq(token_hash))
        .one(conn)
        .await?
        .map(|t| TokenRow {
            id: t.id,
            campaign_id: t.campaign_id,
            reviewer_id: t.reviewer_id,
            token_hash: t.token_hash,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
        }))
}

/// One of a reviewer's items with its current decision.
#[derive(Debug, Clone, serde::Serialize, FromQueryResult)]
pub struct ReviewerItem {
    pub id: i64,
    pub holder_external_id: String,
    pub holder_name: String,
    pub holder_email: Option<String>,
    pub holder_kind: String,
    pub role_name: String,
    pub role_risk: String,
    pub scope: String,
    pub since: Option<DateTime<Utc>>,
    pub last_activated_at: Option<DateTime<Utc>>,
    pub recommendation: String,
    pub recommendation_reason: Option<String>,
    pub verdict: Option<String>,
    pub made_by: Option<String>,
    pub justification: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub flag_reason: Option<String>,
    pub excluded: bool,
    pub escalated: bool,
    /// The holder's attributes frozen at launch (a JSON object), when the definition names some.
    pub holder_context: Option<String>,
    /// `eligible`, or `active` for standing access.
    pub assignment: String,
}

/// The items a reviewer holds in a campaign, grouped by holder. Never their own eligibility:
/// an item assigned to its holder (nobody else could take it) waits in the admins' queue, so it
/// is neither shown on nor handed over from the holder's link.
pub async fn reviewer_items(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    reviewer_id: i64,
) -> Result<Vec<ReviewerItem>, StoreError> {
    use review_item::Column as Item;
    Ok(review_item::Entity::find()
        .select_only()
        .columns([
            Item::Id,
            Item::HolderExternalId,
            Item::HolderName,
            Item::HolderEmail,
            Item::HolderKind,
            Item::RoleName,
            Item::RoleRisk,
            Item::Scope,
            Item::Since,
            Item::LastActivatedAt,
            Item::Recommendation,
            Item::RecommendationReason,
            Item::Verdict,
            Item::MadeBy,
            Item::DecidedAt,
            Item::FlagReason,
            Item::Excluded,
            Item::HolderContext,
            Item::Assignment,
        ])
        .column_as(decision::Column::Justification, "justification")
        .column_as(Item::EscalatedAt.is_not_null(), "escalated")
        .join(JoinType::LeftJoin, current_decision())
        .filter(Item::CampaignId.eq(campaign_id))
        .filter(Item::ReviewerId.eq(reviewer_id))
        .filter(Item::PrincipalId.ne(reviewer_id))
        .order_by_asc(Item::HolderName)
        .order_by_asc(Item::HolderExternalId)
        .order_by_asc(Item::RoleName)
        .order_by_asc(Item::Scope)
        .into_model()
        .all(conn)
        .await?)
}

/// A reviewer's sign-off, if they gave one.
pub async fn sign_off_of(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    reviewer_id: i64,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let signed_off: Option<Option<DateTime<Utc>>> = campaign_reviewer::Entity::find()
        .select_only()
        .column(campaign_reviewer::Column::SignedOffAt)
        .filter(campaign_reviewer::Column::CampaignId.eq(campaign_id))
        .filter(campaign_reviewer::Column::ReviewerId.eq(reviewer_id))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(signed_off.flatten())
}

pub async fn sign_off(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    reviewer_id: i64,
    addr: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let signed = campaign_reviewer::Entity::update_many()
        .col_expr(campaign_reviewer::Column::SignedOffAt, Expr::value(now))
        .col_expr(campaign_reviewer::Column::SignedOffAddr, Expr::value(addr))
        .filter(campaign_reviewer::Column::CampaignId.eq(campaign_id))
        .filter(campaign_reviewer::Column::ReviewerId.eq(reviewer_id))
        .exec(conn)
        .await?;
    Ok(signed.rows_affected == 1)
}

/// Moves undecided items from one reviewer to another; returns how many moved.
pub async fn reassign(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    from: i64,
    to: i64,
    items: &[i64],
) -> Result<u64, StoreError> {
    Ok(review_item::Entity::update_many()
        .col_expr(review_item::Column::ReviewerId, Expr::value(to))
        .col_expr(
            review_item::Column::ReviewerReason,
            Expr::value(ReviewerReason::Reassigned.as_str()),
        )
        .filter(review_item::Column::Verdict.is_null())
        .filter(review_item::Column::CampaignId.eq(campaign_id))
        .filter(review_item::Column::ReviewerId.eq(from))
        .filter(review_item::Column::PrincipalId.ne(to))
        .filter(review_item::Column::Id.is_in(items.iter().copied()))
        .exec(conn)
        .await?
        .rows_affected)
}

/// Which of `hashes` are links on record, not withdrawn and not expired at `now`.
pub async fn live_token_hashes(
    conn: &impl ConnectionTrait,
    hashes: &[String],
    now: DateTime<Utc>,
) -> Result<std::collections::HashSet<String>, StoreError> {
    let mut live = std::collections::HashSet::new();
    for chunk in hashes.chunks(500) {
        let found: Vec<String> = reviewer_token::Entity::find()
            .select_only()
            .column(reviewer_token::Column::TokenHash)
            .filter(reviewer_token::Column::RevokedAt.is_null())
            .filter(reviewer_token::Column::ExpiresAt.gt(now))
            .filter(reviewer_token::Column::TokenHash.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(conn)
            .await?;
        live.extend(found);
    }
    Ok(live)
}

/// Which of `ids` are items of `campaign_id` assigned to `reviewer_id` (a saved form's check,
/// one indexed read of the items it names rather than the reviewer's whole page).
pub async fn assigned_among(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    reviewer_id: i64,
    ids: &[i64],
) -> Result<Vec<i64>, StoreError> {
    let mut found = Vec::with_capacity(ids.len());
    // A thousand ids a statement keeps SQLite well under its placeholder limit.
    for chunk in ids.chunks(1000) {
        found.extend(
            review_item::Entity::find()
                .select_only()
                .column(review_item::Column::Id)
                .filter(review_item::Column::CampaignId.eq(campaign_id))
                .filter(review_item::Column::ReviewerId.eq(reviewer_id))
                .filter(review_item::Column::Id.is_in(chunk.iter().copied()))
                .into_tuple::<i64>()
                .all(conn)
                .await?,
        );
    }
    Ok(found)
}
