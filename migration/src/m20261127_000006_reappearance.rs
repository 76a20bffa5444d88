//! Reappearances: an eligibility that a campaign removed and that a later import or sync lists
//! again. The eligibility row becomes active again (the source says it is there), so what the
//! campaign did — which campaign removed it, when, with which receipt — and what brought it
//! back are kept here, one row per reappearance, for admins, auditors and the next review.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Reappearance::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Reappearance::Id))
                    .col(big_integer(Reappearance::EligibilityId))
                    .col(big_integer_null(Reappearance::CampaignId))
                    .col(timestamp_with_time_zone_null(Reappearance::RemovedAt))
                    .col(text_null(Reappearance::RemovalReceipt))
                    .col(timestamp_with_time_zone(Reappearance::ReappearedAt))
                    .col(string(Reappearance::Via))
                    .col(string_len(Reappearance::Action, 32))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_reappearance_eligibility_id")
                            .from(Reappearance::Table, Reappearance::EligibilityId)
                            .to(Eligibility::Table, Eligibility::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_reappearance_campaign_id")
                            .from(Reappearance::Table, Reappearance::CampaignId)
                            .to(Campaign::Table, Campaign::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            (
                "idx_reappearance_eligibility_id",
                Reappearance::EligibilityId,
            ),
            ("idx_reappearance_reappeared_at", Reappearance::ReappearedAt),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Reappearance::Table)
                        .col(column)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(Reappearance::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Reappearance {
    Table,
    Id,
    EligibilityId,
    /// The campaign that had removed it (none when an import's --prune had).
    CampaignId,
    RemovedAt,
    RemovalReceipt,
    ReappearedAt,
    /// What listed it again: "import of FILE" or "sync of SOURCE".
    Via,
    /// `flagged` (made active again and reported) or `removed_again` (through its source).
    Action,
}

#[derive(DeriveIden)]
enum Eligibility {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Campaign {
    Table,
    Id,
}
