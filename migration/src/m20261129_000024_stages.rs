//! Multi-stage reviews (issue 17): a definition may list later stages, each with its own
//! reviewers, duration and justification policy, and an outcome rule that combines the stages'
//! decisions.
//!
//! - `campaign.stage` is the stage now open (1 until a later one opens) and
//!   `campaign.stage_started_at` when it opened (none in stage 1): answers given before it are
//!   settled.
//! - `review_item.stage` is the last stage the item entered; an item an earlier stage settled
//!   (revoked under `any_revoke`) stays behind.
//! - `decision.stage` is the stage a decision was given in, so every stage's decisions stay on
//!   record and in the evidence.
//! - `campaign_stage` records each later stage opened: when, by whom, the deadline it replaced
//!   and its own, and how many items and reviewers it took on.
//!
//! The three columns are NOT NULL with a constant default, so existing rows read as stage 1
//! without rewriting the wide tables.

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
                    .table(Campaign::Table)
                    .add_column(integer(Campaign::Stage).default(1))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Campaign::Table)
                    .add_column(timestamp_with_time_zone_null(Campaign::StageStartedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ReviewItem::Table)
                    .add_column(integer(ReviewItem::Stage).default(1))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Decision::Table)
                    .add_column(integer(Decision::Stage).default(1))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CampaignStage::Table)
                    .if_not_exists()
                    .col(big_pk_auto(CampaignStage::Id))
                    .col(big_integer(CampaignStage::CampaignId))
                    .col(integer(CampaignStage::Stage))
                    .col(timestamp_with_time_zone(CampaignStage::StartedAt))
                    .col(text(CampaignStage::StartedBy))
                    .col(timestamp_with_time_zone_null(CampaignStage::DueBefore))
                    .col(timestamp_with_time_zone(CampaignStage::DueAt))
                    .col(big_integer(CampaignStage::ItemsEntered))
                    .col(big_integer(CampaignStage::Reviewers))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_campaign_stage_campaign_id")
                            .from(CampaignStage::Table, CampaignStage::CampaignId)
                            .to(Campaign::Table, Campaign::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        // A stage opens once per campaign.
        manager
            .create_index(
                Index::create()
                    .name("idx_campaign_stage_campaign_stage")
                    .table(CampaignStage::Table)
                    .col(CampaignStage::CampaignId)
                    .col(CampaignStage::Stage)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CampaignStage::Table).to_owned())
            .await?;
        for (table, column) in [
            (Decision::Table.into_iden(), Decision::Stage.into_iden()),
            (ReviewItem::Table.into_iden(), ReviewItem::Stage.into_iden()),
            (
                Campaign::Table.into_iden(),
                Campaign::StageStartedAt.into_iden(),
            ),
            (Campaign::Table.into_iden(), Campaign::Stage.into_iden()),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Campaign {
    Table,
    Id,
    Stage,
    StageStartedAt,
}

#[derive(DeriveIden)]
enum ReviewItem {
    Table,
    Stage,
}

#[derive(DeriveIden)]
enum Decision {
    Table,
    Stage,
}

#[derive(DeriveIden)]
enum CampaignStage {
    Table,
    Id,
    CampaignId,
    Stage,
    StartedAt,
    StartedBy,
    DueBefore,
    DueAt,
    ItemsEntered,
    Reviewers,
}
