//! Who recorded a decision when no reviewer did: an admin deciding through the console or the
//! API on a reviewer's behalf (`account:EMAIL`, `token:NAME`, `cli:USER`). Until now such a
//! decision had an empty `decided_by` in decisions.csv, and only the audit log named its author.
//! Earlier decisions keep a null: their author is in the audit log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Decision::Table)
                    .add_column(text_null(Decision::Actor))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Decision::Table)
                    .drop_column(Decision::Actor)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Decision {
    Table,
    Actor,
}
