//! Re-runs for non-responders: a campaign may re-open only its unanswered items for a few more
//! days, with fresh links, before its policy settles them. `campaign.round` is the round now
//! open (1 until a re-run) and `campaign.round_started_at` when it opened: an item decided
//! before that moment is settled and stays as it was. Each re-run is a `campaign_round` row (who,
//! when, the deadline before and after, how many items and reviewers it re-opened), for the
//! console, the evidence and the auditor. Existing campaigns are in their first round.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [
            integer(Campaign::Round).default(1).to_owned(),
            timestamp_with_time_zone_null(Campaign::RoundStartedAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Campaign::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(CampaignRound::Table)
                    .if_not_exists()
                    .col(big_pk_auto(CampaignRound::Id))
                    .col(big_integer(CampaignRound::CampaignId))
                    .col(integer(CampaignRound::Round))
                    .col(timestamp_with_time_zone(CampaignRound::StartedAt))
                    .col(string(CampaignRound::StartedBy))
                    .col(integer(CampaignRound::Days))
                    .col(timestamp_with_time_zone_null(CampaignRound::DueBefore))
                    .col(timestamp_with_time_zone(CampaignRound::DueAt))
                    .col(big_integer(CampaignRound::ItemsReopened))
                    .col(big_integer(CampaignRound::ReviewersReopened))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_campaign_round_campaign_id")
                            .from(CampaignRound::Table, CampaignRound::CampaignId)
                            .to(Campaign::Table, Campaign::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        // A round opens once, even when two instances' schedulers or an admin and a scheduler
        // try at the same moment.
        manager
            .create_index(
                Index::create()
                    .name("ux_campaign_round_campaign_round")
                    .table(CampaignRound::Table)
                    .col(CampaignRound::CampaignId)
                    .col(CampaignRound::Round)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(CampaignRound::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        for column in [Campaign::Round, Campaign::RoundStartedAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Campaign::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Campaign {
    Table,
    Id,
    Round,
    RoundStartedAt,
}

#[derive(DeriveIden)]
enum CampaignRound {
    Table,
    Id,
    CampaignId,
    /// 2 for the first re-run, 3 for the next.
    Round,
    StartedAt,
    /// An admin's account, or `scheduler` (the definition's `rerun_unanswered_days`).
    StartedBy,
    Days,
    DueBefore,
    DueAt,
    ItemsReopened,
    ReviewersReopened,
}
