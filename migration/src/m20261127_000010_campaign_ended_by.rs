//! Who ended a campaign: `closed_by` (the admin who closed it early, or `scheduler` at its
//! deadline) and `cancelled_by`, so every page can say "closed early by … at …" instead of
//! guessing. Existing campaigns take them from the audit log's `campaign.close` and
//! `campaign.cancel` events, which have named the actor since the first release.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [
            text_null(Campaign::ClosedBy),
            text_null(Campaign::CancelledBy),
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
        // The first matching event; a campaign is closed or cancelled once. The target is
        // written `campaign:ID` by both backends' string concatenation operator.
        let db = manager.get_connection();
        for (column, action) in [
            ("closed_by", "campaign.close"),
            ("cancelled_by", "campaign.cancel"),
        ] {
            db.execute_unprepared(&format!(
                "UPDATE campaign SET {column} = (SELECT a.actor FROM audit_event a \
                 WHERE a.action = '{action}' AND a.target = 'campaign:' || CAST(campaign.id AS TEXT) \
                 ORDER BY a.seq LIMIT 1)"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Campaign::ClosedBy, Campaign::CancelledBy] {
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
    ClosedBy,
    CancelledBy,
}
