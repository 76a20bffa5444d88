//! `outbox_mail`: An e-mail waiting to be sent (transactional outbox).

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
    /// A `MailState` of attest's `domain::mail_state`, spelled as stored: "pending", "sending",
    /// "sent", "failed", "skipped".
    pub state: String,
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
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
