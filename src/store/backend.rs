//! The small differences between SQLite and PostgreSQL that many store functions share, in
//! one place: locks (PostgreSQL has several writers and needs them; SQLite admits one writer at
//! a time and needs none), lists of ids in a statement, how many ids a statement takes, and
//! statistics after a bulk change. The larger differences of the bulk paths (COPY, UNNEST
//! arrays, data-modifying CTEs, streamed reads) stay beside the statements they shape; each
//! is listed in docs/architecture.md.

use super::sql::Sql;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Value};

/// A lock that serialises one kind of change across every instance on a PostgreSQL database,
/// held until the transaction ends (`pg_advisory_xact_lock`). On SQLite a write transaction
/// already excludes every other writer.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ExclusiveChange {
    /// Migrations: several instances may start at once.
    Migrations,
    /// Appending to the audit hash chain: two writers must never chain onto the same tail.
    AuditChain,
    /// Account changes: two admins disabling each other at once cannot both pass the
    /// last-admin check.
    AccountChanges,
}

impl ExclusiveChange {
    fn key(self) -> i64 {
        match self {
            ExclusiveChange::Migrations => 7_422_000,
            ExclusiveChange::AuditChain => 7_422_001,
            ExclusiveChange::AccountChanges => 7_422_002,
        }
    }
}

/// Takes the lock `what` for the rest of the transaction `conn` is in (nothing on SQLite).
pub(crate) async fn serialize(
    conn: &impl ConnectionTrait,
    what: ExclusiveChange,
) -> Result<(), DbErr> {
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({})", what.key()))
            .await?;
    }
    Ok(())
}

/// How the rows a statement reads are locked on PostgreSQL (SQLite: not at all; its write
/// transaction holds the whole database).
#[derive(Debug, Clone, Copy)]
pub(crate) enum RowLock {
    /// Until the transaction ends; others wait.
    Update,
    /// Until the transaction ends; others skip them (workers take disjoint batches).
    UpdateSkipLocked,
}

impl Sql {
    /// Appends the row lock `how` (PostgreSQL only).
    pub(crate) fn lock_rows(&mut self, how: RowLock) -> &mut Self {
        if self.backend() == DbBackend::Postgres {
            self.push(match how {
                RowLock::Update => " FOR UPDATE",
                RowLock::UpdateSkipLocked => " FOR UPDATE SKIP LOCKED",
            });
        }
        self
    }

    /// Appends ` IN (…)`, or on PostgreSQL ` = ANY($n)` with the ids as one array parameter
    /// (one plan for any length, no placeholder limit).
    pub(crate) fn one_of(&mut self, ids: impl Iterator<Item = i64>) -> &mut Self {
        if self.backend() == DbBackend::Postgres {
            self.push(" = ANY(")
                .bind(ids.collect::<Vec<i64>>())
                .push("::int8[])");
        } else {
            self.push(" IN ");
            self.tuple(ids.map(Value::from));
        }
        self
    }
}

/// Ids per statement for [`Sql::one_of`]: SQLite binds one placeholder an id (at most 32,766 a
/// statement); PostgreSQL takes the whole chunk as one array.
pub(crate) fn ids_per_statement(backend: DbBackend) -> usize {
    match backend {
        DbBackend::Postgres => 10_000,
        _ => 5_000,
    }
}

/// Whether reads should take a shared lock on the row (PostgreSQL: a concurrent change waits
/// for this transaction; SQLite's write transaction already excludes it).
pub(crate) fn locks_rows(backend: DbBackend) -> bool {
    backend == DbBackend::Postgres
}

/// Has PostgreSQL sample `tables` again after a bulk change. Its planner otherwise keeps the
/// estimates of the tables as they were (autovacuum catches up only a minute or so later), and
/// with a freshly loaded table believed nearly empty it walks and sorts the whole table for
/// each batch of a launch. SQLite keeps no statistics unless asked and plans by its indexes.
pub(crate) async fn refresh_statistics(
    conn: &impl ConnectionTrait,
    tables: &[&str],
) -> Result<(), DbErr> {
    if conn.get_database_backend() != DbBackend::Postgres || tables.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = tables.iter().map(|t| format!("\"{t}\"")).collect();
    conn.execute_unprepared(&format!("ANALYZE {}", list.join(", ")))
        .await?;
    Ok(())
}
