//! The database's own speed for the rows a launch writes: a raw bulk insert of N review-item
//! rows — the same 21 columns with values of the same shape, into a copy of the `review_item`
//! table with its indexes and foreign keys — in one multi-row INSERT transaction on SQLite and
//! with COPY on PostgreSQL. A launch is judged as a ratio to it. It runs after the launch, so
//! that the rows can point at the launched campaign and the imported directory. `attest bench`
//! (src/bench) calls it; it lives here because it is SQL.

use super::backend::{is_postgres, postgres, sqlite};
use super::Store;
use super::StoreError;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbErr};

/// The baseline's table; it has the columns a launch writes (`items::ITEM_COLUMNS`), so the
/// baseline writes the same.
pub(crate) const TABLE: &str = "bench_baseline";

/// Existing ids the rows refer to, so the foreign keys hold.
pub(crate) struct Refs {
    pub(crate) campaign: i64,
    pub(crate) eligibility: i64,
    pub(crate) principals: (i64, i64),
    pub(crate) roles: (i64, i64),
    pub(crate) now: DateTime<Utc>,
}

/// One row like a launch's item `i`: an eligibility, its holder, role, reviewer and reasons.
pub(crate) struct Row {
    pub(crate) eligibility: i64,
    pub(crate) principal: i64,
    pub(crate) role: i64,
    pub(crate) holder: String,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) role_name: String,
    pub(crate) since: DateTime<Utc>,
    pub(crate) last: DateTime<Utc>,
    pub(crate) reviewer: i64,
    pub(crate) recommendation: &'static str,
    pub(crate) why: String,
}

impl Refs {
    pub(crate) fn row(&self, i: i64) -> Row {
        let span = |(lo, hi): (i64, i64)| (hi - lo + 1).max(1);
        let principal = self.principals.0 + (i / 10) % span(self.principals);
        let days = 10 + i % 300;
        Row {
            eligibility: self.eligibility + i,
            principal,
            role: self.roles.0 + i % span(self.roles),
            holder: format!("p{principal:07}"),
            name: format!("Person {principal} Lastname"),
            email: format!("p{principal:07}@example.org"),
            role_name: format!("Role number {}", i % 35),
            since: self.now - Duration::days(400),
            last: self.now - Duration::days(days),
            reviewer: self.principals.0 + (principal / 8) % span(self.principals),
            recommendation: if days > 90 { "revoke" } else { "keep" },
            why: format!("not activated in {days} days (last 2026-01-01)"),
        }
    }
}

/// Inserts `n` rows the fastest plain way the backend offers; the table is dropped afterwards.
pub async fn raw_insert(store: &Store, campaign: i64, n: usize) -> Result<(), StoreError> {
    let conn = store.conn();
    let refs = refs(store, campaign).await?;
    conn.execute_unprepared(&format!("DROP TABLE IF EXISTS {TABLE}"))
        .await?;
    if is_postgres(conn) {
        postgres::bench_table::create_like_items(conn).await?;
        postgres::bench_table::fill(conn, &refs, n).await?;
    } else {
        sqlite::bench_table::create_like_items(conn).await?;
        sqlite::bench_table::fill(conn, &refs, n).await?;
    }
    conn.execute_unprepared(&format!("DROP TABLE {TABLE}"))
        .await?;
    Ok(())
}

async fn refs(store: &Store, campaign: i64) -> Result<Refs, DbErr> {
    let conn = store.conn();
    let range = |table: &'static str| {
        let sql = format!("SELECT MIN(id) AS lo, MAX(id) AS hi FROM \"{table}\"");
        async move {
            let row = conn
                .query_one_raw(sea_orm::Statement::from_string(
                    conn.get_database_backend(),
                    sql,
                ))
                .await?
                .ok_or_else(|| DbErr::Custom(format!("{table} is empty")))?;
            Ok::<_, DbErr>((row.try_get::<i64>("", "lo")?, row.try_get::<i64>("", "hi")?))
        }
    };
    Ok(Refs {
        campaign,
        eligibility: range("eligibility").await?.0,
        principals: range("principal").await?,
        roles: range("role").await?,
        now: Utc::now(),
    })
}
