//! The database's own speed for the rows a launch writes: a raw bulk insert of N review-item
//! rows — the same 21 columns with values of the same shape, into a copy of the `review_item`
//! table with its indexes and foreign keys — in one multi-row INSERT transaction on SQLite and
//! with COPY on PostgreSQL. A launch is judged as a ratio to it. It runs after the launch, so
//! that the rows can point at the launched campaign and the imported directory. `attest bench`
//! (src/bench) calls it; it lives here because it is SQL.

use super::StoreError;
// The columns a launch writes, so the baseline writes the same.
use super::items::ITEM_COLUMNS as COLUMNS;
use super::sql::Sql;
use super::Store;
use chrono::{DateTime, Duration, Utc};
use sea_orm::sqlx::postgres::PgPoolCopyExt;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, TransactionTrait, Value};
use std::fmt::Write;

const TABLE: &str = "bench_baseline";

/// Existing ids the rows refer to, so the foreign keys hold.
struct Refs {
    campaign: i64,
    eligibility: i64,
    principals: (i64, i64),
    roles: (i64, i64),
    now: DateTime<Utc>,
}

/// One row like a launch's item `i`: an eligibility, its holder, role, reviewer and reasons.
struct Row {
    eligibility: i64,
    principal: i64,
    role: i64,
    holder: String,
    name: String,
    email: String,
    role_name: String,
    since: DateTime<Utc>,
    last: DateTime<Utc>,
    reviewer: i64,
    recommendation: &'static str,
    why: String,
}

impl Refs {
    fn row(&self, i: i64) -> Row {
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
    create_table(store).await?;
    match store.backend() {
        DbBackend::Postgres => {
            let pool = conn.get_postgres_connection_pool();
            let mut copy = pool
                .copy_in_raw(&format!(
                    "COPY {TABLE} ({COLUMNS}) FROM STDIN WITH (FORMAT csv)"
                ))
                .await
                .map_err(|e| DbErr::Custom(e.to_string()))?;
            let mut buffer = String::with_capacity(1 << 20);
            let at = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string();
            for i in 0..n as i64 {
                let r = refs.row(i);
                let _ = writeln!(
                    buffer,
                    "{},{},{},{},/,{},{},{},user,{},high,{},{},{},manager,f,,{},{},f,{}",
                    refs.campaign,
                    r.eligibility,
                    r.principal,
                    r.role,
                    r.holder,
                    r.name,
                    r.email,
                    r.role_name,
                    at(r.since),
                    at(r.last),
                    r.reviewer,
                    r.recommendation,
                    r.why,
                    at(refs.now)
                );
                if buffer.len() > (1 << 20) {
                    copy.send(std::mem::take(&mut buffer).into_bytes())
                        .await
                        .map_err(|e| DbErr::Custom(e.to_string()))?;
                }
            }
            copy.send(buffer.into_bytes())
                .await
                .map_err(|e| DbErr::Custom(e.to_string()))?;
            copy.finish()
                .await
                .map_err(|e| DbErr::Custom(e.to_string()))?;
        }
        backend => {
            let txn = conn.begin().await?;
            for start in (0..n as i64).step_by(1000) {
                let mut sql =
                    Sql::new(backend, &format!("INSERT INTO {TABLE} ({COLUMNS}) VALUES "));
                sql.rows((start..(start + 1000).min(n as i64)).map(|i| {
                    let r = refs.row(i);
                    let row: [Value; 21] = [
                        refs.campaign.into(),
                        r.eligibility.into(),
                        r.principal.into(),
                        r.role.into(),
                        "/".into(),
                        r.holder.into(),
                        r.name.into(),
                        Some(r.email).into(),
                        "user".into(),
                        r.role_name.into(),
                        "high".into(),
                        Some(r.since).into(),
                        Some(r.last).into(),
                        r.reviewer.into(),
                        "manager".into(),
                        false.into(),
                        Option::<String>::None.into(),
                        r.recommendation.into(),
                        r.why.into(),
                        false.into(),
                        refs.now.into(),
                    ];
                    row
                }));
                txn.execute_raw(sql.build()).await?;
            }
            txn.commit().await?;
        }
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

/// A copy of `review_item` — columns, indexes, foreign keys — under another name.
async fn create_table(store: &Store) -> Result<(), DbErr> {
    let conn = store.conn();
    conn.execute_unprepared(&format!("DROP TABLE IF EXISTS {TABLE}"))
        .await?;
    match store.backend() {
        DbBackend::Postgres => {
            conn.execute_unprepared(&format!(
                "CREATE TABLE {TABLE} (LIKE review_item INCLUDING ALL)"
            ))
            .await?;
            let foreign_keys = conn
                .query_all_raw(sea_orm::Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint \
                     WHERE conrelid = 'review_item'::regclass AND contype = 'f'",
                ))
                .await?;
            for row in foreign_keys {
                let def: String = row.try_get("", "def")?;
                conn.execute_unprepared(&format!("ALTER TABLE {TABLE} ADD {def}"))
                    .await?;
            }
        }
        backend => {
            let ddl = conn
                .query_all_raw(sea_orm::Statement::from_string(
                    backend,
                    "SELECT sql FROM sqlite_master WHERE tbl_name = 'review_item' AND sql IS NOT NULL \
                     ORDER BY type DESC",
                ))
                .await?;
            for row in ddl {
                let sql: String = row.try_get("", "sql")?;
                conn.execute_unprepared(&sql.replace("review_item", TABLE))
                    .await?;
            }
        }
    }
    Ok(())
}
