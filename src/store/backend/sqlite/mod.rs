//! SQLite's own statements and settings: the connection's pragmas, id lists as placeholders,
//! and the bulk paths' multi-row VALUES and JSON-array reads. SQLite admits one writer at a
//! time, so it needs none of PostgreSQL's locks; what it needs instead is few, large
//! statements, because sqlx hands its rows over one at a time between threads.

pub(crate) mod bench_table;
pub(crate) mod connection;
pub(crate) mod enumeration;
pub(crate) mod export;
pub(crate) mod remediation;
pub(crate) mod settlement;
pub(crate) mod time;

use crate::store::sql::Sql;
use sea_orm::Value;

/// Ids per statement: one placeholder an id (SQLite takes at most 32,766 a statement).
pub(crate) const IDS_PER_STATEMENT: usize = 5_000;

/// The page cache of SQLite's temporary tables while none is in use, in KiB (SQLite's default).
pub(crate) const TEMP_CACHE_DEFAULT_KIB: u32 = 2_000;

/// The page cache of SQLite's temporary tables while one is in use, in KiB.
/// With the default, an import's listing of a million rows (`store::directory::listed`) and
/// the database's own pages evicted each other: 4 million reads of the database file instead
/// of 0.2 million, a re-import 50 % slower; 16 MiB brings that back to within 20 %.
pub(crate) const TEMP_CACHE_KIB: u32 = 16_384;

/// Rows per multi-row statement of a bulk write (several placeholders a row).
pub(crate) const ROWS_PER_STATEMENT: usize = 2_000;

/// ` IN (?, ?, …)`, one placeholder an id.
pub(super) fn push_one_of(sql: &mut Sql, ids: impl Iterator<Item = i64>) {
    sql.push(" IN ");
    sql.tuple(ids.map(Value::from));
}

/// ` IN (SELECT value FROM json_each(?))`, the ids as one JSON array: no placeholder limit.
pub(super) fn push_among(sql: &mut Sql, ids: &[i64]) {
    let list = serde_json::to_string(ids).expect("a list of integers is JSON");
    sql.push(" IN (SELECT value FROM json_each(")
        .bind(list)
        .push("))");
}
