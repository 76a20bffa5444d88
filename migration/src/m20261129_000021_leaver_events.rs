//! Leavers (issue 17): `leaver_event` keeps each person an import, a prune or a sync disabled
//! (enabled before, disabled after). Once the configured grace period has passed, the scheduler
//! removes their eligibility through its sources (a suspension naming the event) and records the
//! outcome here, unless they were enabled again in the meantime. The monthly lifecycle record
//! reads these rows.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LeaverEvent::Table)
                    .if_not_exists()
                    .col(big_pk_auto(LeaverEvent::Id))
                    .col(big_integer(LeaverEvent::PrincipalId))
                    .col(string(LeaverEvent::Via))
                    .col(timestamp_with_time_zone(LeaverEvent::DetectedAt))
                    .col(timestamp_with_time_zone_null(LeaverEvent::HandledAt))
                    .col(string_null(LeaverEvent::Outcome))
                    .col(big_integer_null(LeaverEvent::SuspensionId))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_leaver_event_principal_id")
                            .from(LeaverEvent::Table, LeaverEvent::PrincipalId)
                            .to(Principal::Table, Principal::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        // The scheduler looks for the events not handled yet on every tick.
        manager
            .create_index(
                Index::create()
                    .name("idx_leaver_event_handled_at")
                    .table(LeaverEvent::Table)
                    .col(LeaverEvent::HandledAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // The monthly lifecycle record reads a month of events.
        manager
            .create_index(
                Index::create()
                    .name("idx_leaver_event_detected_at")
                    .table(LeaverEvent::Table)
                    .col(LeaverEvent::DetectedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LeaverEvent::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum LeaverEvent {
    Table,
    Id,
    PrincipalId,
    Via,
    DetectedAt,
    HandledAt,
    Outcome,
    SuspensionId,
}

#[derive(DeriveIden)]
enum Principal {
    Table,
    Id,
}
