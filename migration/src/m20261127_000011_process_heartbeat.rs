//! Leases that know their owner. Every process that takes leased work (`attest serve`, and the
//! CLI commands that launch or remove) registers in `attest_process` and renews `heartbeat_at`
//! every few seconds; the mail and removal rows it leases name it in `lease_owner` (the campaign
//! row already did for launches). A lease whose owner stopped renewing is free at once, so a
//! crashed process's work is taken over within seconds instead of when its lease runs out.
//! `link_nonce` lets a mail re-sent after a crash carry the link its first copy carried.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AttestProcess::Table)
                    .col(text(AttestProcess::Id).primary_key())
                    .col(text(AttestProcess::Host))
                    .col(big_integer(AttestProcess::Pid))
                    .col(text(AttestProcess::Command))
                    .col(timestamp_with_time_zone(AttestProcess::StartedAt))
                    .col(timestamp_with_time_zone(AttestProcess::HeartbeatAt))
                    .col(timestamp_with_time_zone_null(AttestProcess::StoppedAt))
                    .to_owned(),
            )
            .await?;
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for (table, column) in [
            (Alias::new("outbox_mail"), Alias::new("lease_owner")),
            (Alias::new("remediation"), Alias::new("lease_owner")),
            (Alias::new("outbox_mail"), Alias::new("link_nonce")),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(ColumnDef::new(column).text().null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in [
            (Alias::new("outbox_mail"), Alias::new("link_nonce")),
            (Alias::new("remediation"), Alias::new("lease_owner")),
            (Alias::new("outbox_mail"), Alias::new("lease_owner")),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        manager
            .drop_table(Table::drop().table(AttestProcess::Table).to_owned())
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum AttestProcess {
    Table,
    Id,
    Host,
    Pid,
    Command,
    StartedAt,
    HeartbeatAt,
    StoppedAt,
}
