//! Activation history and the weekly activation review. `activation` keeps every activation an
//! import (or a source) reported, one row per holder × role × scope × start, so importing the
//! same file again adds nothing. `activation_review` remembers which ISO weeks' reviews were
//! queued to role owners: its primary key makes the weekly mail happen once, whichever instance
//! ticks first and however often it restarts.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Activation::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Activation::Id))
                    .col(big_integer(Activation::PrincipalId))
                    .col(big_integer(Activation::RoleId))
                    .col(string(Activation::Scope))
                    .col(timestamp_with_time_zone(Activation::ActivatedAt))
                    .col(timestamp_with_time_zone_null(Activation::EndedAt))
                    .col(text_null(Activation::Justification))
                    .col(string(Activation::Via))
                    .col(timestamp_with_time_zone(Activation::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_activation_principal_id")
                            .from(Activation::Table, Activation::PrincipalId)
                            .to(Principal::Table, Principal::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_activation_role_id")
                            .from(Activation::Table, Activation::RoleId)
                            .to(Role::Table, Role::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_activation_holder_role_scope_at")
                    .table(Activation::Table)
                    .col(Activation::PrincipalId)
                    .col(Activation::RoleId)
                    .col(Activation::Scope)
                    .col(Activation::ActivatedAt)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // The weekly report reads a few weeks of activations by time.
        manager
            .create_index(
                Index::create()
                    .name("idx_activation_activated_at")
                    .table(Activation::Table)
                    .col(Activation::ActivatedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ActivationReview::Table)
                    .if_not_exists()
                    .col(string_len(ActivationReview::Week, 8).primary_key())
                    .col(big_integer(ActivationReview::Mails))
                    .col(timestamp_with_time_zone(ActivationReview::QueuedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(ActivationReview::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(Activation::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Activation {
    Table,
    Id,
    PrincipalId,
    RoleId,
    Scope,
    ActivatedAt,
    /// When the activation ended, when the source says.
    EndedAt,
    Justification,
    /// Where it came from: "import of FILE" or "sync of SOURCE".
    Via,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ActivationReview {
    Table,
    /// The ISO week, `2026-W47`.
    Week,
    /// How many mails were queued to role owners.
    Mails,
    QueuedAt,
}

#[derive(DeriveIden)]
enum Principal {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Role {
    Table,
    Id,
}
