//! Suspensions (issue 19, "Suspend on a signal"): `suspension`, one per signal that removed a
//! person's eligibility until an admin approves its restore, and `suspension_item`, each
//! eligibility it removed with what its source needs to put it back and the proof of both
//! directions. `open_principal_id` holds the principal's id while the suspension is open and
//! NULL once it is restored: unique, so a person has at most one open suspension (both
//! databases allow any number of NULLs in a unique column).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Suspension::Table)
                    .col(big_pk_auto(Suspension::Id))
                    .col(big_integer(Suspension::PrincipalId))
                    .col(big_integer_null(Suspension::OpenPrincipalId).unique_key())
                    .col(text(Suspension::Reason))
                    .col(string(Suspension::RequestedBy))
                    .col(string_len(Suspension::State, 32))
                    .col(timestamp_with_time_zone(Suspension::CreatedAt))
                    .col(timestamp_with_time_zone_null(Suspension::SuspendedAt))
                    .col(string_null(Suspension::RestoreRequestedBy))
                    .col(timestamp_with_time_zone_null(
                        Suspension::RestoreRequestedAt,
                    ))
                    .col(string_null(Suspension::ApprovedBy))
                    .col(timestamp_with_time_zone_null(Suspension::RestoredAt))
                    .col(timestamp_with_time_zone(Suspension::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_suspension_principal_id")
                            .from(Suspension::Table, Suspension::PrincipalId)
                            .to(Principal::Table, Principal::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_suspension_principal_id")
                    .table(Suspension::Table)
                    .col(Suspension::PrincipalId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SuspensionItem::Table)
                    .col(big_pk_auto(SuspensionItem::Id))
                    .col(big_integer(SuspensionItem::SuspensionId))
                    .col(big_integer(SuspensionItem::EligibilityId))
                    .col(string(SuspensionItem::Source))
                    .col(string(SuspensionItem::PrincipalExternalId))
                    .col(string(SuspensionItem::RoleName))
                    .col(string(SuspensionItem::Scope))
                    .col(string_len(SuspensionItem::RemovalState, 32))
                    .col(integer(SuspensionItem::RemovalAttempts).default(0))
                    .col(text_null(SuspensionItem::RemovalReceipt))
                    .col(text_null(SuspensionItem::RemovalError))
                    .col(timestamp_with_time_zone_null(SuspensionItem::RemovedAt))
                    .col(string_len_null(SuspensionItem::RestoreState, 32))
                    .col(text_null(SuspensionItem::RestoreReceipt))
                    .col(text_null(SuspensionItem::RestoreError))
                    .col(timestamp_with_time_zone_null(SuspensionItem::RestoredAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_suspension_item_suspension_id")
                            .from(SuspensionItem::Table, SuspensionItem::SuspensionId)
                            .to(Suspension::Table, Suspension::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_suspension_item_eligibility_id")
                            .from(SuspensionItem::Table, SuspensionItem::EligibilityId)
                            .to(Eligibility::Table, Eligibility::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            (
                "idx_suspension_item_suspension_id",
                SuspensionItem::SuspensionId,
            ),
            (
                "idx_suspension_item_eligibility_id",
                SuspensionItem::EligibilityId,
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(SuspensionItem::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SuspensionItem::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Suspension::Table).to_owned())
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Suspension {
    Table,
    Id,
    PrincipalId,
    OpenPrincipalId,
    Reason,
    RequestedBy,
    State,
    CreatedAt,
    SuspendedAt,
    RestoreRequestedBy,
    RestoreRequestedAt,
    ApprovedBy,
    RestoredAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SuspensionItem {
    Table,
    Id,
    SuspensionId,
    EligibilityId,
    Source,
    PrincipalExternalId,
    RoleName,
    Scope,
    RemovalState,
    RemovalAttempts,
    RemovalReceipt,
    RemovalError,
    RemovedAt,
    RestoreState,
    RestoreReceipt,
    RestoreError,
    RestoredAt,
}

#[derive(DeriveIden)]
enum Principal {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Eligibility {
    Table,
    Id,
}
