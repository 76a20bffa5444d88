//! `webhook_delivery`: one outbound event to one configured endpoint (migration 17).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_delivery")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The event's id (`X-Attest-Delivery`), the same on every retry.
    pub event_id: String,
    /// The `[webhooks.NAME]` it goes to.
    pub endpoint: String,
    /// An `EventKind` of attest's `domain::webhooks`, e.g. "campaign.launched".
    pub event_type: String,
    pub campaign_id: Option<i64>,
    /// What the event is about (`campaign:7`, `removal:42`…): with the endpoint and the type,
    /// unique.
    pub subject_key: String,
    /// The exact body POSTed (and signed), as JSON text.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// A `WebhookState`: "pending", "failed" (retried), "delivered", "given_up".
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub last_error: Option<String>,
    /// What the receiver answered as its receipt (a ticket number, say).
    pub receipt_id: Option<String>,
    pub delivered_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
