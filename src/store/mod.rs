//! The database: SQLite (the embedded default) or PostgreSQL (the scale path), one code path
//! but where `backend` says otherwise.
//!
//! Everything here takes `&impl ConnectionTrait`, so a use case can run it inside its own
//! transaction. Plain reads and writes use the sea-orm entities and query builder; bulk paths
//! and reports use hand-built statements ([`sql::Sql`]), each saying why; what differs between
//! the two backends is in `backend::postgres` and `backend::sqlite`.

pub mod accounts;
pub mod activations;
pub mod audit;
mod backend;
pub mod bench_baseline;
pub mod builtin_eligibility;
pub mod campaigns;
pub mod challenges;
pub mod credentials;
pub mod directory;
pub mod enum_values;
mod error;
pub mod evidence;
pub mod health;
pub mod items;
pub mod launch_batch;
pub mod leavers;
pub mod movers;
pub mod oidc;
pub mod outbox;
pub mod process;
pub mod reappearance;
pub mod remediation;
pub mod remediation_in_database;
pub mod reports;
pub mod review;
pub mod sources;
pub mod sql;
pub mod suspensions;
pub mod webhooks;

pub use backend::postgres::scratch;
pub(crate) use backend::refresh_statistics;
use backend::{is_postgres, sqlite};
pub use error::StoreError;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use std::time::Duration;

/// A connected, migrated database.
#[derive(Debug, Clone)]
pub struct Store {
    /// Reads and single-statement writes.
    db: DatabaseConnection,
    /// Where transactions run. On SQLite a pool of one connection: SQLite admits one writer at
    /// a time, and writers that collide otherwise wait in its busy handler, which sleeps in
    /// growing steps (up to 100 ms) instead of handing over when the lock is free. Queueing in
    /// the pool is first come, first served and wakes the next writer at once. On PostgreSQL
    /// the same pool as `db`.
    writer: DatabaseConnection,
}

impl Store {
    /// Opens the database at `url` only if it already exists, to read: a SQLite file is opened
    /// read-only and never created, PostgreSQL gets five seconds to answer, and the schema is
    /// left as it is. `Ok(None)` when there is no database there.
    pub async fn open_existing(url: &str) -> Result<Option<DatabaseConnection>, StoreError> {
        let mut options = ConnectOptions::new(url.to_string());
        options
            .sqlx_logging(false)
            .max_connections(1)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(5));
        sqlite::connection::for_reading(&mut options);
        match Database::connect(options).await {
            Ok(db) => Ok(Some(db)),
            // SQLite says "unable to open database file" for a file that is not there.
            Err(e) if url.starts_with("sqlite:") => {
                tracing::debug!("no database at {url}: {e}");
                Ok(None)
            }
            Err(e) => Err(StoreError::from(e)),
        }
    }

    /// Connects to `url` and brings the schema up to date (safe to run any number of times).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = |max: Option<u32>| {
            let mut options = ConnectOptions::new(url.to_string());
            options
                // Every statement at debug and slow ones at info, under the `sqlx` target: off by
                // default, `ATTEST_LOG=sqlx=info` shows which statements a slow stage waits on.
                .sqlx_logging(true)
                .sqlx_logging_level(log::LevelFilter::Debug)
                .sqlx_slow_statements_logging_settings(
                    log::LevelFilter::Info,
                    Duration::from_millis(200),
                )
                .acquire_timeout(Duration::from_secs(30));
            sqlite::connection::for_writing(&mut options);
            if let Some(max) = max {
                options.max_connections(max).min_connections(1);
            }
            options
        };
        let db = Database::connect(options(None)).await?;
        let shared_file = !is_postgres(&db) && sqlite::connection::is_shared_file(url);
        let writer = if shared_file {
            Database::connect(options(Some(1))).await?
        } else {
            db.clone()
        };
        let store = Self { db, writer };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), DbErr> {
        if is_postgres(&self.db) {
            // Several instances may start at once; only one may migrate at a time. A session
            // lock on one pooled connection would not cover the others, so hold it in a
            // transaction that spans the migration.
            let txn = self.db.begin().await?;
            backend::serialize(&txn, backend::ExclusiveChange::Migrations).await?;
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

    /// Starts a transaction that may write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so it never fails half-way because another process wrote after it
    /// had read.
    pub async fn begin(&self) -> Result<DatabaseTransaction, StoreError> {
        self.writer
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await
            .map_err(StoreError::from)
    }

    pub async fn close(self) -> Result<(), StoreError> {
        if !is_postgres(&self.db) {
            self.writer.close().await?;
        }
        self.db.close().await.map_err(StoreError::from)
    }
}

/// Marks rows of `table` (one of ours) as taken by process `owner` until `until`: leased work
/// is skipped by other workers until the lease runs out or its owner is gone
/// ([`process::push_lease_free`]), so a crashed worker's share comes back.
pub(crate) async fn lease(
    conn: &impl ConnectionTrait,
    table: &'static str,
    ids: &[i64],
    owner: &str,
    until: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    // hand-written: one statement for any leased table, named by the caller.
    let mut sql = sql::Sql::new(
        conn.get_database_backend(),
        &format!("UPDATE {table} SET lease_until = "),
    );
    sql.bind(until)
        .push(", lease_owner = ")
        .bind(owner)
        .push(" WHERE id IN ");
    sql.tuple(ids.iter().map(|id| sea_orm::Value::from(*id)));
    conn.execute_raw(sql.build()).await?;
    Ok(())
}
