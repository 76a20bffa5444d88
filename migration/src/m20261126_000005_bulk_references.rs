//! On PostgreSQL, the rows a close and its removals write by the hundred thousand no longer
//! carry per-row reference checks, and removals leave room in their pages for their lease.
//!
//! PostgreSQL checks a foreign key with a trigger call per written row. Closing a campaign of a
//! million items writes a policy decision per unanswered item and a removal per item to remove,
//! and every removal then changes its eligibility and writes its history lines: with these six
//! references checked, planning the removals alone took 18 s at a million (6–9 s without) and
//! each removal step paid a check per history line. Every such row is written from the rows it
//! refers to, read in the same transaction (a person's decision names the item it was checked
//! against), and attest never deletes a campaign, item, decision, removal or eligibility, so
//! the references cannot dangle. Every other reference stays checked. SQLite checks foreign
//! keys inline at a fraction of the cost and cannot drop one without rebuilding the table, so
//! it keeps them all.
//!
//! A removal's row is updated twice (leased, then settled); with free space in its page the
//! lease, which changes no indexed column, is written in place without new index entries.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, constraint, column, referenced table)
const BULK_REFERENCES: [(&str, &str, &str, &str); 6] = [
    ("decision", "fk_decision_item_id", "item_id", "review_item"),
    (
        "decision",
        "fk_decision_campaign_id",
        "campaign_id",
        "campaign",
    ),
    (
        "remediation",
        "fk_remediation_item_id",
        "item_id",
        "review_item",
    ),
    (
        "remediation",
        "fk_remediation_campaign_id",
        "campaign_id",
        "campaign",
    ),
    (
        "remediation",
        "fk_remediation_eligibility_id",
        "eligibility_id",
        "eligibility",
    ),
    (
        "remediation_attempt",
        "fk_remediation_attempt_remediation_id",
        "remediation_id",
        "remediation",
    ),
];

/// The eligibility a removal marks removed names the campaign that removed it.
const REMOVED_BY: (&str, &str, &str, &str) = (
    "eligibility",
    "fk_eligibility_removed_by_campaign_id",
    "removed_by_campaign_id",
    "campaign",
);

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for (table, name, _, _) in BULK_REFERENCES.iter().chain([&REMOVED_BY]) {
            db.execute_unprepared(&format!(
                "ALTER TABLE \"{table}\" DROP CONSTRAINT IF EXISTS {name}"
            ))
            .await?;
        }
        db.execute_unprepared("ALTER TABLE remediation SET (fillfactor = 60)")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE remediation RESET (fillfactor)")
            .await?;
        for (table, name, column, referenced) in BULK_REFERENCES.iter().chain([&REMOVED_BY]) {
            db.execute_unprepared(&format!(
                "ALTER TABLE \"{table}\" ADD CONSTRAINT {name} FOREIGN KEY ({column}) \
                 REFERENCES \"{referenced}\" (id) ON DELETE RESTRICT"
            ))
            .await?;
        }
        Ok(())
    }
}
