//! How attest opens a SQLite database: write-ahead logging, foreign keys on, and a long busy
//! timeout; read-only and never created when it only looks.

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::ConnectOptions;
use std::time::Duration;

/// The settings of every connection that may write. WAL lets readers go on while one writer
/// writes; `synchronous = NORMAL` is durable in WAL mode at every checkpoint and safe against
/// corruption.
pub(crate) fn for_writing(options: &mut ConnectOptions) {
    options.map_sqlx_sqlite_opts(|o| {
        o.journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30))
    });
}

/// The settings of a connection that only reads an existing database.
pub(crate) fn for_reading(options: &mut ConnectOptions) {
    options.map_sqlx_sqlite_opts(|o| o.read_only(true).create_if_missing(false));
}

/// Whether `url` names a file several pools can share (an in-memory database exists once per
/// connection: it cannot have a second pool).
pub(crate) fn is_shared_file(url: &str) -> bool {
    !url.contains(":memory:") && !url.contains("mode=memory")
}
