//! `attest bench`'s baseline table on PostgreSQL: a copy of `review_item` filled by COPY.

use crate::store::bench_baseline::{Refs, TABLE};
use crate::store::items::ITEM_COLUMNS as COLUMNS;
use chrono::{DateTime, Utc};
use sea_orm::sqlx::postgres::PgPoolCopyExt;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr};
use std::fmt::Write;

/// Creates the table like `review_item`: columns, indexes (`LIKE … INCLUDING ALL`) and, added
/// one by one, its foreign keys.
pub(crate) async fn create_like_items(conn: &DatabaseConnection) -> Result<(), DbErr> {
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
    Ok(())
}

/// Copies `n` rows in CSV, the fastest plain way PostgreSQL takes them.
pub(crate) async fn fill(conn: &DatabaseConnection, refs: &Refs, n: usize) -> Result<(), DbErr> {
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
            "{},{},{},{},/,{},{},{},user,{},high,{},{},{},manager,f,,{},{},f,{},eligible",
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
    Ok(())
}
