//! What the last sync of each configured source did: when it ran, when it last succeeded, its
//! report (new / changed / removed / reappeared, as JSON) and the error of a failed one, for
//! `attest source list`, the console's sources page and a launch that must not review stale
//! data. Existing rows (the built-in source) get nulls: never synced, which is true.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [
            timestamp_with_time_zone_null(Source::LastSyncAt),
            timestamp_with_time_zone_null(Source::LastSuccessAt),
            text_null(Source::LastSyncError),
            text_null(Source::LastSyncReport),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Source::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Source::LastSyncAt,
            Source::LastSuccessAt,
            Source::LastSyncError,
            Source::LastSyncReport,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Source::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Source {
    Table,
    LastSyncAt,
    LastSuccessAt,
    LastSyncError,
    LastSyncReport,
}
