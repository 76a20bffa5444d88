//! `outbox_mail`: An e-mail waiting to be sent (transactional outbox).

use crate::enums::MailState;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_mail")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub idempotency_key: String,
    pub campaign_id: Option<i64>,
    pub recipient_id: Option<i64>,
    pub to_address: String,
    pub template: String,
    /// Template parameters as JSON.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub state: MailState,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub lease_until: Option<DateTimeUtc>,
    /// The process holding the lease (migration 11).
    pub lease_owner: Option<String>,
    pub message_id: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub smtp_response: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub last_error: Option<String>,
    pub sent_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::campaign::Entity",
        from = "Column::CampaignId",
        to = "super::campaign::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_outbox_mail_campaign_id"
    )]
    Campaign,
    #[sea_orm(
        belongs_to = "super::principal::Entity",
        from = "Column::RecipientId",
        to = "super::principal::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_outbox_mail_recipient_id"
    )]
    Recipient,
}

impl Related<super::campaign::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Campaign.def()
    }
}

impl Related<super::principal::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Recipient.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
