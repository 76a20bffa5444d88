//! Outbound events (issue 19, "Events out"): `webhook_delivery`, the outbox of signed webhook
//! POSTs. One row per event and configured endpoint, written in the transaction of the state
//! change it reports; unique per (endpoint, event type, subject key), so the same fact is never
//! queued twice, however often or by how many processes the change is retried.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// As the initial schema sizes its state columns.
const ENUM_LEN: u32 = 32;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookDelivery::Table)
                    .if_not_exists()
                    .col(big_pk_auto(WebhookDelivery::Id))
                    .col(string(WebhookDelivery::EventId))
                    .col(string(WebhookDelivery::Endpoint))
                    .col(string_len(WebhookDelivery::EventType, ENUM_LEN))
                    .col(big_integer_null(WebhookDelivery::CampaignId))
                    .col(string(WebhookDelivery::SubjectKey))
                    .col(text(WebhookDelivery::Payload))
                    .col(string_len(WebhookDelivery::State, ENUM_LEN))
                    .col(integer(WebhookDelivery::Attempts).default(0))
                    .col(timestamp_with_time_zone(WebhookDelivery::NextAttemptAt))
                    .col(string_null(WebhookDelivery::LeaseOwner))
                    .col(timestamp_with_time_zone_null(WebhookDelivery::LeaseUntil))
                    .col(text_null(WebhookDelivery::LastError))
                    .col(string_null(WebhookDelivery::ReceiptId))
                    .col(timestamp_with_time_zone_null(WebhookDelivery::DeliveredAt))
                    .col(timestamp_with_time_zone(WebhookDelivery::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_delivery_campaign_id")
                            .from(WebhookDelivery::Table, WebhookDelivery::CampaignId)
                            .to(Campaign::Table, Campaign::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_webhook_delivery_fact")
                    .table(WebhookDelivery::Table)
                    .col(WebhookDelivery::Endpoint)
                    .col(WebhookDelivery::EventType)
                    .col(WebhookDelivery::SubjectKey)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_delivery_state_next_attempt_at")
                    .table(WebhookDelivery::Table)
                    .col(WebhookDelivery::State)
                    .col(WebhookDelivery::NextAttemptAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_delivery_campaign_id")
                    .table(WebhookDelivery::Table)
                    .col(WebhookDelivery::CampaignId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookDelivery::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum WebhookDelivery {
    Table,
    Id,
    EventId,
    Endpoint,
    EventType,
    CampaignId,
    SubjectKey,
    Payload,
    State,
    Attempts,
    NextAttemptAt,
    LeaseOwner,
    LeaseUntil,
    LastError,
    ReceiptId,
    DeliveredAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Campaign {
    Table,
    Id,
}
