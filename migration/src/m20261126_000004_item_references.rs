//! On PostgreSQL, review items keep their foreign key to the campaign but no longer to the
//! directory (eligibility, holder, role, reviewer, escalated-from). PostgreSQL checks a foreign
//! key with a trigger per row: copying a million items took four times as long with those five
//! checks as with the indexes alone (docs/benchmarks.md). An item is a frozen copy of who held
//! what — it carries the holder's and role's names itself — and attest never deletes a
//! principal, role or eligibility (they are disabled or marked removed), so the references
//! cannot dangle. SQLite checks foreign keys inline at a fraction of that cost and cannot drop
//! one without rebuilding the table, so it keeps them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const DIRECTORY_REFERENCES: [&str; 5] = [
    "fk_review_item_eligibility_id",
    "fk_review_item_principal_id",
    "fk_review_item_role_id",
    "fk_review_item_reviewer_id",
    "fk_review_item_escalated_from_id",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        for name in DIRECTORY_REFERENCES {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "ALTER TABLE review_item DROP CONSTRAINT IF EXISTS {name}"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        for (name, column, table) in [
            (DIRECTORY_REFERENCES[0], "eligibility_id", "eligibility"),
            (DIRECTORY_REFERENCES[1], "principal_id", "principal"),
            (DIRECTORY_REFERENCES[2], "role_id", "role"),
            (DIRECTORY_REFERENCES[3], "reviewer_id", "principal"),
            (DIRECTORY_REFERENCES[4], "escalated_from_id", "principal"),
        ] {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "ALTER TABLE review_item ADD CONSTRAINT {name} FOREIGN KEY ({column}) \
                     REFERENCES \"{table}\" (id) ON DELETE RESTRICT"
                ))
                .await?;
        }
        Ok(())
    }
}
