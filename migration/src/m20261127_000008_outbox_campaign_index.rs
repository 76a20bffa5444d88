//! Mail state per campaign (queued, retrying, sent, failed) is counted on every campaign page,
//! `campaign show` and API answer, and failed mail is re-queued by campaign: both read a
//! campaign's outbox rows, which had no index but their foreign key.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_mail_campaign_id_state")
                    .table(OutboxMail::Table)
                    .col(OutboxMail::CampaignId)
                    .col(OutboxMail::State)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_outbox_mail_campaign_id_state")
                    .table(OutboxMail::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum OutboxMail {
    Table,
    CampaignId,
    State,
}
