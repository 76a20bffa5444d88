//! `challenge`: a revocation held back at a campaign's close (`challenge_days`), the reason its
//! holder gave, and the reviewer's (or an admin's) answer (migration 22).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "challenge")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub campaign_id: i64,
    #[sea_orm(unique)]
    pub item_id: i64,
    /// The holder (`principal.id`) who may give a reason.
    pub holder_id: i64,
    /// The item's reviewer, who answers the challenge.
    pub reviewer_id: Option<i64>,
    /// A `MadeBy` of attest's `domain::closing`: "human" (a reviewer revoked) or "policy".
    pub revoked_by: String,
    /// A `ChallengeState` of attest's `domain::challenge`, spelled as stored: "open",
    /// "submitted", "kept", "upheld", "expired", "lapsed".
    pub state: String,
    /// The end of the window: the removal runs then unless answered earlier.
    pub closes_at: DateTimeUtc,
    #[sea_orm(column_type = "Text")]
    pub reason: Option<String>,
    pub submitted_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub answered_by: Option<String>,
    pub answered_at: Option<DateTimeUtc>,
    pub holder_nonce: Option<String>,
    /// Hex SHA-256 of the holder's link token.
    pub holder_token_hash: Option<String>,
    pub reviewer_nonce: Option<String>,
    /// Hex SHA-256 of the reviewer's link token.
    pub reviewer_token_hash: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
