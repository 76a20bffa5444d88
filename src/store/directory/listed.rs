//! What an import's file lists so far, held by the database for the import's transaction in a
//! temporary table: the duplicate check and a full sync's "no longer listed" become an insert
//! and an anti-join instead of a map in memory. As a map, ten million eligibilities took
//! 870 MiB; the table costs the database's page cache and a temporary file.
//!
//! The table lives as long as the transaction (PostgreSQL drops it at commit; on SQLite
//! [`end`] drops it, and a rollback undoes its creation on either).

use crate::domain::eligibility::EligibilityStatus;
use crate::store::backend::{create_temp_table, drop_temp_table, temp_table};
use crate::store::sql::Sql;
use crate::store::StoreError;
use futures::TryStreamExt;
use sea_orm::{ConnectionTrait, DbBackend, Statement, StreamTrait, Value};

/// Which file an import lists: each has its own natural key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// People, by external id.
    People,
    /// Eligibility, by principal × role × scope (ids, as resolved).
    Eligibility,
}

impl Listing {
    fn table(self) -> &'static str {
        match self {
            Listing::People => "listed_person",
            Listing::Eligibility => "listed_eligibility",
        }
    }

    fn columns(self) -> &'static str {
        match self {
            Listing::People => {
                "external_id TEXT NOT NULL, line BIGINT NOT NULL, PRIMARY KEY (external_id)"
            }
            Listing::Eligibility => {
                "principal_id BIGINT NOT NULL, role_id BIGINT NOT NULL, scope TEXT NOT NULL, \
                 line BIGINT NOT NULL, PRIMARY KEY (principal_id, role_id, scope)"
            }
        }
    }

    /// The key's columns, in the order [`Listed::values`] gives them (the line comes last).
    fn key(self) -> &'static str {
        match self {
            Listing::People => "external_id",
            Listing::Eligibility => "principal_id, role_id, scope",
        }
    }

    fn name(self, backend: DbBackend) -> String {
        temp_table(backend, self.table())
    }
}

/// One row of the file, by its natural key and the line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed<'a> {
    Person {
        external_id: &'a str,
        line: u64,
    },
    Eligibility {
        principal_id: i64,
        role_id: i64,
        scope: &'a str,
        line: u64,
    },
}

impl Listed<'_> {
    fn line(&self) -> u64 {
        match self {
            Listed::Person { line, .. } | Listed::Eligibility { line, .. } => *line,
        }
    }

    fn values(&self) -> Vec<Value> {
        match self {
            Listed::Person { external_id, line } => {
                vec![(*external_id).into(), (*line as i64).into()]
            }
            Listed::Eligibility {
                principal_id,
                role_id,
                scope,
                line,
            } => vec![
                (*principal_id).into(),
                (*role_id).into(),
                (*scope).into(),
                (*line as i64).into(),
            ],
        }
    }

    fn key_values(&self) -> Vec<Value> {
        let mut values = self.values();
        values.pop();
        values
    }
}

/// A row whose key an earlier line of the file already listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duplicate {
    pub line: u64,
    pub first: u64,
}

/// Starts the listing of a file of `what` in the caller's transaction (an empty table; one
/// left by an earlier import on this connection is dropped first).
pub async fn begin(conn: &impl ConnectionTrait, what: Listing) -> Result<(), StoreError> {
    let backend = conn.get_database_backend();
    let name = what.name(backend);
    let statements = drop_temp_table(backend, &name)
        .into_iter()
        .chain(create_temp_table(backend, &name, what.columns()));
    for statement in statements {
        conn.execute_unprepared(&statement).await?;
    }
    Ok(())
}

/// Ends the listing (the table is dropped; on PostgreSQL the commit would drop it anyway).
pub async fn end(conn: &impl ConnectionTrait, what: Listing) -> Result<(), StoreError> {
    let backend = conn.get_database_backend();
    for statement in drop_temp_table(backend, &what.name(backend)) {
        conn.execute_unprepared(&statement).await?;
    }
    Ok(())
}

/// Adds `rows` (all of one [`Listing`]) to the listing; returns those whose key an earlier row
/// (of this call or an earlier one) already listed, each with the line that did.
pub async fn add(
    conn: &impl ConnectionTrait,
    what: Listing,
    rows: &[Listed<'_>],
) -> Result<Vec<Duplicate>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let backend = conn.get_database_backend();
    let name = what.name(backend);
    let mut sql = Sql::new(
        backend,
        &format!("INSERT INTO {name} ({}, line) VALUES ", what.key()),
    );
    sql.rows(rows.iter().map(Listed::values));
    // A key already there (from an earlier line, in this statement or before) is left alone.
    sql.push(" ON CONFLICT DO NOTHING");
    let added = conn.execute_raw(sql.build()).await?.rows_affected();
    if added == rows.len() as u64 {
        return Ok(Vec::new());
    }
    // Rare (the import is then rejected): the line that listed each duplicate first.
    let mut duplicates = Vec::new();
    for row in rows {
        let mut sql = Sql::new(
            backend,
            &format!("SELECT line FROM {name} WHERE ({}) = ", what.key()),
        );
        sql.tuple(row.key_values());
        let first = conn
            .query_one_raw(sql.build())
            .await?
            .map(|found| found.try_get::<i64>("", "line"))
            .transpose()?
            .unwrap_or(0);
        if first as u64 != row.line() {
            duplicates.push(Duplicate {
                line: row.line(),
                first: first as u64,
            });
        }
    }
    Ok(duplicates)
}

/// Ids of the active eligibilities of `source_id` the listing does not hold: what a full-sync
/// import of an eligibility file no longer lists.
pub async fn eligibility_not_listed<C>(conn: &C, source_id: i64) -> Result<Vec<i64>, StoreError>
where
    C: ConnectionTrait + StreamTrait,
{
    let backend = ConnectionTrait::get_database_backend(conn);
    let name = Listing::Eligibility.name(backend);
    let mut sql = Sql::new(backend, "SELECT e.id FROM eligibility e WHERE e.status = ");
    sql.bind(EligibilityStatus::Active)
        .push(" AND e.source_id = ");
    sql.bind(source_id).push(&format!(
        " AND NOT EXISTS (SELECT 1 FROM {name} l WHERE l.principal_id = e.principal_id \
         AND l.role_id = e.role_id AND l.scope = e.scope) ORDER BY e.id"
    ));
    ids(conn, sql.build()).await
}

/// Ids of the enabled people of `source_id` the listing does not hold: what a full-sync import
/// of a people file no longer lists.
pub async fn people_not_listed<C>(conn: &C, source_id: i64) -> Result<Vec<i64>, StoreError>
where
    C: ConnectionTrait + StreamTrait,
{
    let backend = ConnectionTrait::get_database_backend(conn);
    let name = Listing::People.name(backend);
    let mut sql = Sql::new(backend, "SELECT p.id FROM principal p WHERE p.enabled = ");
    sql.bind(true).push(" AND p.source_id = ");
    sql.bind(source_id).push(&format!(
        " AND NOT EXISTS (SELECT 1 FROM {name} l WHERE l.external_id = p.external_id) ORDER BY p.id"
    ));
    ids(conn, sql.build()).await
}

/// The `id` column of every row `statement` reads, streamed (a prune may name most of a
/// table, and a row as read is many times the size of its id).
async fn ids<C>(conn: &C, statement: Statement) -> Result<Vec<i64>, StoreError>
where
    C: ConnectionTrait + StreamTrait,
{
    let rows = conn.stream_raw(statement).await?;
    let mut rows = std::pin::pin!(rows);
    let mut ids = Vec::new();
    while let Some(row) = rows.try_next().await? {
        ids.push(row.try_get::<i64>("", "id")?);
    }
    Ok(ids)
}
