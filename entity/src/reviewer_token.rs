//! `reviewer_token`: A reviewer's access token for one campaign; each mail carries its own,
//! so a reviewer may hold several for the same campaign.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reviewer_token")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub campaign_id: i64,
    pub reviewer_id: i64,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    /// The outbox mail that carried the token (`outbox_mail.id`; no foreign key).
    pub mail_id: Option<i64>,
    pub revoked_at: Option<DateTimeUtc>,
}

// The far side of `campaign::Relation::ReviewerToken` (used by `migration/tests/apply.rs`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::campaign::Entity",
        from = "Column::CampaignId",
        to = "super::campaign::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_reviewer_token_campaign_id"
    )]
    Campaign,
}

impl Related<super::campaign::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Campaign.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
