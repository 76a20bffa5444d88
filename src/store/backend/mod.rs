//! Where SQLite and PostgreSQL differ, and only here: this module decides which backend's way a
//! store function takes; [`postgres`] and [`sqlite`] hold each backend's own statements and
//! connection settings. Everything else in the store is written once for both.
//!
//! The small differences many store functions share are below: locks (PostgreSQL has several
//! writers and needs them; SQLite admits one writer at a time and needs none), lists of ids in
//! a statement, and statistics after a bulk change. The large ones are the bulk paths (COPY,
//! UNNEST arrays, data-modifying CTEs, streamed reads on PostgreSQL; JSON-array reads and
//! multi-row VALUES on SQLite), each listed in docs/architecture.md.

pub(crate) mod postgres;
pub(crate) mod sqlite;

use super::sql::Sql;
use sea_orm::{ConnectionTrait, DbBackend, DbErr};

/// Whether `conn` talks to PostgreSQL (otherwise SQLite: the only two backends attest opens).
pub(crate) fn is_postgres(conn: &impl ConnectionTrait) -> bool {
    conn.get_database_backend() == DbBackend::Postgres
}

/// A lock that serialises one kind of change across every instance on a PostgreSQL database,
/// held until the transaction ends. On SQLite a write transaction already excludes every other
/// writer.
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

/// Appends the placeholder of the `n`th value bound to a statement: `$n` on PostgreSQL, `?` on
/// SQLite.
pub(crate) fn push_placeholder(backend: DbBackend, text: &mut String, n: usize) {
    if backend == DbBackend::Postgres {
        text.push('$');
        text.push_str(&n.to_string());
    } else {
        text.push('?');
    }
}

/// Takes the lock `what` for the rest of the transaction `conn` is in (nothing on SQLite).
pub(crate) async fn serialize(
    conn: &impl ConnectionTrait,
    what: ExclusiveChange,
) -> Result<(), DbErr> {
    if is_postgres(conn) {
        postgres::advisory_lock(conn, what).await?;
    }
    Ok(())
}

impl Sql {
    /// Appends the lock of the rows a SELECT reads until the transaction ends, skipping rows
    /// another transaction holds, so workers take disjoint batches (PostgreSQL only; SQLite's
    /// write transaction holds the whole database).
    pub(crate) fn lock_rows_skipping_locked(&mut self) -> &mut Self {
        if self.backend() == DbBackend::Postgres {
            self.push(postgres::SKIP_LOCKED);
        }
        self
    }

    /// Appends the test that a column is one of `ids`: ` IN (…)` on SQLite, one array
    /// parameter on PostgreSQL.
    pub(crate) fn one_of(&mut self, ids: impl Iterator<Item = i64>) -> &mut Self {
        if self.backend() == DbBackend::Postgres {
            postgres::push_one_of(self, ids);
        } else {
            sqlite::push_one_of(self, ids);
        }
        self
    }

    /// Appends the test that a column is one of `ids`, however many: one parameter on either
    /// backend (a JSON array SQLite reads with `json_each`, an array PostgreSQL unnests), so a
    /// set-based step can name tens of thousands of rows in each of its statements, each
    /// looked up by its key.
    pub(crate) fn among(&mut self, ids: &[i64]) -> &mut Self {
        if self.backend() == DbBackend::Postgres {
            postgres::push_among(self, ids);
        } else {
            sqlite::push_among(self, ids);
        }
        self
    }
}

/// Ids per statement for [`Sql::one_of`].
pub(crate) fn ids_per_statement(backend: DbBackend) -> usize {
    match backend {
        DbBackend::Postgres => postgres::IDS_PER_STATEMENT,
        _ => sqlite::IDS_PER_STATEMENT,
    }
}

/// Whether reads should take a shared lock on the row (PostgreSQL: a concurrent change waits
/// for this transaction; SQLite's write transaction already excludes it).
pub(crate) fn locks_rows(backend: DbBackend) -> bool {
    backend == DbBackend::Postgres
}

/// Has the rest of the caller's transaction run without JIT compilation (PostgreSQL,
/// `postgres::without_jit`; SQLite compiles nothing).
pub(crate) async fn without_jit(conn: &impl ConnectionTrait) -> Result<(), DbErr> {
    if is_postgres(conn) {
        postgres::without_jit(conn).await?;
    }
    Ok(())
}

/// The name of the temporary table `table`, qualified by the schema temporary tables live in
/// (`temp` on SQLite, `pg_temp` on PostgreSQL), so no statement can reach a real table of that
/// name instead.
pub(crate) fn temp_table(backend: DbBackend, table: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("pg_temp.{table}"),
        _ => format!("temp.{table}"),
    }
}

/// The statements that create the temporary table `name (columns)` for the rest of the
/// caller's transaction: PostgreSQL drops it at commit; SQLite keeps it by its key alone (no
/// row ids) in a temporary file, behind a page cache of its own made large enough
/// ([`sqlite::TEMP_CACHE_KIB`]) that its pages do not push the database's out; the caller
/// drops it with [`drop_temp_table`].
pub(crate) fn create_temp_table(backend: DbBackend, name: &str, columns: &str) -> Vec<String> {
    match backend {
        DbBackend::Postgres => vec![format!(
            "CREATE TEMPORARY TABLE {name} ({columns}) ON COMMIT DROP"
        )],
        _ => vec![
            format!("PRAGMA temp.cache_size = -{}", sqlite::TEMP_CACHE_KIB),
            format!("CREATE TEMPORARY TABLE {name} ({columns}) WITHOUT ROWID"),
        ],
    }
}

/// The statements that drop the temporary table `name` (and give back SQLite's larger cache).
pub(crate) fn drop_temp_table(backend: DbBackend, name: &str) -> Vec<String> {
    let drop = format!("DROP TABLE IF EXISTS {name}");
    match backend {
        DbBackend::Postgres => vec![drop],
        _ => vec![
            drop,
            format!(
                "PRAGMA temp.cache_size = -{}",
                sqlite::TEMP_CACHE_DEFAULT_KIB
            ),
        ],
    }
}

/// Has the database sample `tables` again after a bulk change (PostgreSQL; SQLite keeps no
/// statistics unless asked and plans by its indexes).
pub(crate) async fn refresh_statistics(
    conn: &impl ConnectionTrait,
    tables: &[&str],
) -> Result<(), DbErr> {
    if is_postgres(conn) && !tables.is_empty() {
        postgres::analyze(conn, tables).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Value;

    #[test]
    fn placeholders_follow_the_backend() {
        let mut pg = Sql::new(DbBackend::Postgres, "SELECT * FROM t WHERE a IN ");
        pg.tuple([Value::from(1i64), Value::from(2i64)])
            .push(" AND b = ")
            .bind("x");
        assert_eq!(
            pg.build().sql,
            "SELECT * FROM t WHERE a IN ($1, $2) AND b = $3"
        );

        let mut lite = Sql::new(DbBackend::Sqlite, "INSERT INTO t VALUES ");
        lite.rows([[Value::from(1i64)], [Value::from(2i64)]]);
        assert_eq!(lite.build().sql, "INSERT INTO t VALUES (?), (?)");
    }
}
