//! Challenge periods (issue 17): `challenge` keeps one row per revocation held back at a
//! campaign's close when its definition sets `challenge_days`. The holder is mailed a link to
//! give a reason; the item's reviewer (or an admin) then keeps the eligibility after all or
//! upholds the revocation. Each link is stored as a nonce and the SHA-256 of the token it
//! derives, never the token.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Challenge::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Challenge::Id))
                    .col(big_integer(Challenge::CampaignId))
                    .col(big_integer_uniq(Challenge::ItemId))
                    .col(big_integer(Challenge::HolderId))
                    .col(big_integer_null(Challenge::ReviewerId))
                    .col(string(Challenge::RevokedBy))
                    .col(string(Challenge::State))
                    .col(timestamp_with_time_zone(Challenge::ClosesAt))
                    .col(text_null(Challenge::Reason))
                    .col(timestamp_with_time_zone_null(Challenge::SubmittedAt))
                    .col(text_null(Challenge::AnsweredBy))
                    .col(timestamp_with_time_zone_null(Challenge::AnsweredAt))
                    .col(string_null(Challenge::HolderNonce))
                    .col(string_null(Challenge::HolderTokenHash))
                    .col(string_null(Challenge::ReviewerNonce))
                    .col(string_null(Challenge::ReviewerTokenHash))
                    .col(timestamp_with_time_zone(Challenge::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_challenge_campaign_id")
                            .from(Challenge::Table, Challenge::CampaignId)
                            .to(Campaign::Table, Campaign::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_challenge_item_id")
                            .from(Challenge::Table, Challenge::ItemId)
                            .to(ReviewItem::Table, ReviewItem::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        // A campaign's challenges are listed (console, API, evidence); links are looked up by
        // their hash; the scheduler looks for open challenges whose window has ended.
        for (name, cols) in [
            ("idx_challenge_campaign_id", vec![Challenge::CampaignId]),
            (
                "idx_challenge_holder_token_hash",
                vec![Challenge::HolderTokenHash],
            ),
            (
                "idx_challenge_reviewer_token_hash",
                vec![Challenge::ReviewerTokenHash],
            ),
            (
                "idx_challenge_state_closes_at",
                vec![Challenge::State, Challenge::ClosesAt],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Challenge::Table).if_not_exists();
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Challenge::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Challenge {
    Table,
    Id,
    CampaignId,
    ItemId,
    HolderId,
    ReviewerId,
    RevokedBy,
    State,
    ClosesAt,
    Reason,
    SubmittedAt,
    AnsweredBy,
    AnsweredAt,
    HolderNonce,
    HolderTokenHash,
    ReviewerNonce,
    ReviewerTokenHash,
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
