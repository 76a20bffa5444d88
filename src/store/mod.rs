//! The database: SQLite (the embedded default) or PostgreSQL (the scale path), one code path.
//!
//! Everything here takes `&impl ConnectionTrait`, so a use case can run it inside its own
//! transaction. Bulk paths use hand-built multi-row statements ([`sql::Sql`]); the rest uses the
//! sea-orm entities.

pub mod accounts;
pub mod audit;
pub mod campaigns;
pub mod directory;
pub mod evidence;
pub mod items;
pub mod outbox;
pub mod remediation;
pub mod review;
pub mod sql;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, TransactionTrait,
};
use std::time::Duration;

/// A connected, migrated database.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    /// Connects to `url` and brings the schema up to date (safe to run any number of times).
    pub async fn connect(url: &str) -> Result<Self, DbErr> {
        let mut options = ConnectOptions::new(url.to_string());
        options
            .sqlx_logging(false)
            .acquire_timeout(Duration::from_secs(30))
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(30))
            });
        let db = Database::connect(options).await?;
        let store = Self { db };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), DbErr> {
        if self.backend() == DbBackend::Postgres {
            // Several instances may start at once; only one may migrate at a time. A session
            // lock on one pooled connection would not cover the others, so hold it in a
            // transaction that spans the migration.
            let txn = self.db.begin().await?;
            txn.execute_unprepared("SELECT pg_advisory_xact_lock(7422000)")
                .await?;
            Migrator::up(&txn, None).await?;
            return txn.commit().await;
        }
        Migrator::up(&self.db, None).await
    }

    pub fn conn(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        self.db.begin().await
    }

    pub async fn close(self) -> Result<(), DbErr> {
        self.db.close().await
    }
}

/// Marks rows of `table` (one of ours) as taken by a worker until `until`: leased work is
/// skipped by other workers until the lease runs out, so a crashed worker's share comes back.
pub(crate) async fn lease(
    conn: &impl ConnectionTrait,
    table: &'static str,
    ids: &[i64],
    until: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut sql = sql::Sql::new(
        conn.get_database_backend(),
        &format!("UPDATE {table} SET lease_until = "),
    );
    sql.bind(until).push(" WHERE id IN ");
    sql.tuple(ids.iter().map(|id| sea_orm::Value::from(*id)));
    conn.execute_raw(sql.build()).await?;
    Ok(())
}
