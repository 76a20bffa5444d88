//! Standing access (issue 17): `eligibility.assignment` says whether a role is held as an
//! eligibility to activate (`eligible`, PIM) or as an active, standing assignment (`active`,
//! permanent or time-bound, held without activation); `review_item.assignment` freezes it with
//! the item at launch. Both are NOT NULL with a constant default, so existing rows read as
//! eligible (PostgreSQL 11+ and SQLite add such a column without rewriting the table: the item
//! table is the wide one at a million rows). No index: nothing looks rows up by it alone.
//!
//! `remediation.kind` says what a remediation does: `remove` (a revocation, every row before)
//! or `convert` (standing access a reviewer chose to convert to eligible), carried out, retried
//! and evidenced like a removal.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Width of the enum columns (as `store::enum_values::STORED_MAX_CHARS`).
const ENUM_LEN: u32 = 32;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Eligibility::Table)
                    .add_column(string_len(Eligibility::Assignment, ENUM_LEN).default("eligible"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ReviewItem::Table)
                    .add_column(string_len(ReviewItem::Assignment, ENUM_LEN).default("eligible"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Remediation::Table)
                    .add_column(string_len(Remediation::Kind, ENUM_LEN).default("remove"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Remediation::Table)
                    .drop_column(Remediation::Kind)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ReviewItem::Table)
                    .drop_column(ReviewItem::Assignment)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Eligibility::Table)
                    .drop_column(Eligibility::Assignment)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Eligibility {
    Table,
    Assignment,
}

#[derive(DeriveIden)]
enum ReviewItem {
    Table,
    Assignment,
}

#[derive(DeriveIden)]
enum Remediation {
    Table,
    Kind,
}
