//! Movers (issue 17): `mover_event` keeps each change of a person's manager that an import or a
//! sync made (from one manager to another; a first manager is a joiner, not a mover). The
//! scheduler launches, for each, a small campaign of every definition with `trigger = "mover"`
//! over that person's eligibility, reviewed by the new manager, and marks the event handled.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MoverEvent::Table)
                    .if_not_exists()
                    .col(big_pk_auto(MoverEvent::Id))
                    .col(big_integer(MoverEvent::PrincipalId))
                    .col(big_integer(MoverEvent::OldManagerId))
                    .col(big_integer(MoverEvent::NewManagerId))
                    .col(string(MoverEvent::Via))
                    .col(timestamp_with_time_zone(MoverEvent::DetectedAt))
                    .col(timestamp_with_time_zone_null(MoverEvent::HandledAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_mover_event_principal_id")
                            .from(MoverEvent::Table, MoverEvent::PrincipalId)
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
                    .name("idx_mover_event_handled_at")
                    .table(MoverEvent::Table)
                    .col(MoverEvent::HandledAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MoverEvent::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum MoverEvent {
    Table,
    Id,
    PrincipalId,
    OldManagerId,
    NewManagerId,
    Via,
    DetectedAt,
    HandledAt,
}

#[derive(DeriveIden)]
enum Principal {
    Table,
    Id,
}
