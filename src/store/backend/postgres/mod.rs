//! PostgreSQL's own statements: advisory locks, row locks, id arrays, `ANALYZE`, and the bulk
//! paths (COPY, UNNEST arrays, data-modifying CTEs, streamed reads). Several attest instances
//! may share one PostgreSQL database, so what SQLite's single writer guarantees for free is a
//! lock here.

pub(crate) mod bench_table;
pub(crate) mod copy;
pub(crate) mod export;
pub(crate) mod launch;
pub(crate) mod remediation;
pub mod scratch;
pub(crate) mod settlement;

use super::ExclusiveChange;
use crate::store::sql::Sql;
use sea_orm::{ConnectionTrait, DbErr};

/// Ids per statement: the whole chunk travels as one array parameter, so the limit only bounds
/// the statement's work.
pub(crate) const IDS_PER_STATEMENT: usize = 10_000;

/// Rows per statement of a bulk write: a batch is a handful of array parameters.
pub(crate) const ROWS_PER_STATEMENT: usize = 10_000;

/// For the rest of the transaction, no statement is JIT-compiled (`SET LOCAL jit = off`). The
/// statements of a set-based step over ten thousand rows are each estimated costly enough to be
/// compiled, which takes 15–25 ms of a statement that runs in tens of milliseconds.
pub(super) async fn without_jit(conn: &impl ConnectionTrait) -> Result<(), DbErr> {
    conn.execute_unprepared("SET LOCAL jit = off").await?;
    Ok(())
}

/// Takes the transaction-scoped advisory lock of `what` (`pg_advisory_xact_lock`).
pub(super) async fn advisory_lock(
    conn: &impl ConnectionTrait,
    what: ExclusiveChange,
) -> Result<(), DbErr> {
    let key: i64 = match what {
        ExclusiveChange::Migrations => 7_422_000,
        ExclusiveChange::AuditChain => 7_422_001,
        ExclusiveChange::AccountChanges => 7_422_002,
    };
    conn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({key})"))
        .await?;
    Ok(())
}

/// The clause that locks the rows a SELECT reads, skipping those another transaction holds.
pub(super) const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";

/// ` IN (SELECT unnest($n))`: the ids as one array, read as a set the planner estimates small,
/// so it looks each id up by its key. (`= ANY($n)` with ten thousand ids is estimated right,
/// and then answered by a sequential scan of the whole table, in every step of a bulk path.)
pub(super) fn push_among(sql: &mut Sql, ids: &[i64]) {
    sql.push(" IN (SELECT unnest(")
        .bind(ids.to_vec())
        .push("::int8[]))");
}

/// ` = ANY($n)` with the ids as one array parameter: one plan for any length, no placeholder
/// limit.
pub(super) fn push_one_of(sql: &mut Sql, ids: impl Iterator<Item = i64>) {
    sql.push(" = ANY(")
        .bind(ids.collect::<Vec<i64>>())
        .push("::int8[])");
}

/// Has PostgreSQL sample `tables` again. Its planner otherwise keeps the estimates of the
/// tables as they were (autovacuum catches up only a minute or so later), and with a freshly
/// loaded table believed nearly empty it walks and sorts the whole table for each batch of a
/// launch.
pub(super) async fn analyze(conn: &impl ConnectionTrait, tables: &[&str]) -> Result<(), DbErr> {
    let list: Vec<String> = tables.iter().map(|t| format!("\"{t}\"")).collect();
    conn.execute_unprepared(&format!("ANALYZE {}", list.join(", ")))
        .await?;
    Ok(())
}
