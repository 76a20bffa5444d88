//! Reviewer context (issue 17): `principal.attributes`, the extra columns of the people import
//! kept as a JSON object of text (title, department, …), and `review_item.holder_context`, the
//! holder's attributes frozen with the item at launch when the definition names some
//! (`context = [...]`), so the review page and the evidence show what was true then.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Principal::Table)
                    .add_column(text_null(Principal::Attributes))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ReviewItem::Table)
                    .add_column(text_null(ReviewItem::HolderContext))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ReviewItem::Table)
                    .drop_column(ReviewItem::HolderContext)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Principal::Table)
                    .drop_column(Principal::Attributes)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Principal {
    Table,
    Attributes,
}

#[derive(DeriveIden)]
enum ReviewItem {
    Table,
    HolderContext,
}
