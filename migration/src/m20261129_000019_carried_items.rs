//! Delta-only campaigns (issue 17): `carried_item` records, for a campaign whose definition
//! reviews only what changed (`review = "changes"`), each eligibility in scope that was not
//! reviewed again because a person kept it in an earlier campaign and it has not changed since.
//! The row names the item whose decision it carries forward (`origin_item_id`, a `review_item`
//! of that earlier campaign; a carried decision carried again still names the item where a
//! person made it), so the evidence can show who decided, when and why.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CarriedItem::Table)
                    .if_not_exists()
                    .col(big_integer(CarriedItem::CampaignId))
                    .col(big_integer(CarriedItem::EligibilityId))
                    .col(big_integer(CarriedItem::OriginItemId))
                    .col(timestamp_with_time_zone(CarriedItem::CreatedAt))
                    // One row per campaign × eligibility: a resumed launch writing a batch again
                    // adds nothing.
                    .primary_key(
                        Index::create()
                            .col(CarriedItem::CampaignId)
                            .col(CarriedItem::EligibilityId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_carried_item_campaign_id")
                            .from(CarriedItem::Table, CarriedItem::CampaignId)
                            .to(Campaign::Table, Campaign::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_carried_item_origin_item_id")
                            .from(CarriedItem::Table, CarriedItem::OriginItemId)
                            .to(ReviewItem::Table, ReviewItem::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CarriedItem::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum CarriedItem {
    Table,
    CampaignId,
    EligibilityId,
    OriginItemId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Campaign {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ReviewItem {
    Table,
    Id,
}
