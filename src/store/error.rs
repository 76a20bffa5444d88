//! The store's errors, in the kinds its callers act on: a write that would duplicate what
//! exists (`Conflict`, from a unique constraint on either backend), a row that should be there
//! and is not, a stored value the code cannot read, and the database failing.

use sea_orm::{DbErr, SqlErr};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write: it would duplicate what exists.
    #[error("already exists: {0}")]
    Conflict(String),
    /// A row the store expected (it just wrote it, or a foreign key names it) is not there.
    #[error("not found: {0}")]
    NotFound(String),
    /// A stored value no type of attest reads (a state no enum knows, JSON of another shape):
    /// the database was changed outside attest.
    #[error("stored data cannot be read: {0}")]
    Corrupt(String),
    /// The database could not be reached, or refused or failed the statement.
    #[error("database: {0}")]
    Db(DbErr),
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        if let Some(SqlErr::UniqueConstraintViolation(what)) = e.sql_err() {
            return StoreError::Conflict(what);
        }
        match e {
            DbErr::RecordNotFound(what) => StoreError::NotFound(what),
            DbErr::Type(what) | DbErr::Json(what) => StoreError::Corrupt(what),
            other => StoreError::Db(other),
        }
    }
}
