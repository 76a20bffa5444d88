//! The database's own speed for the rows a launch writes: a raw bulk insert of N item-like rows
//! into a scratch table (one multi-row INSERT transaction on SQLite, COPY on PostgreSQL), so a
//! launch can be judged as a ratio to what the database itself can do.

use crate::engine::EngineError;
use crate::store::sql::Sql;
use crate::store::Store;
use sea_orm::sqlx::postgres::PgPoolCopyExt;
use sea_orm::{ConnectionTrait, DbBackend, TransactionTrait, Value};

const CREATE: &str = "CREATE TABLE bench_baseline (campaign_id BIGINT NOT NULL, eligibility_id BIGINT NOT NULL, \
    principal_id BIGINT NOT NULL, role_id BIGINT NOT NULL, scope TEXT NOT NULL, holder TEXT NOT NULL, \
    role_name TEXT NOT NULL, reviewer_id BIGINT NOT NULL, recommendation TEXT NOT NULL)";

fn row(i: usize) -> [Value; 9] {
    [
        1i64.into(),
        (i as i64).into(),
        ((i / 10) as i64).into(),
        ((i % 35) as i64).into(),
        "/".into(),
        format!("p{:07}", i / 10).into(),
        format!("Role {}", i % 35).into(),
        ((i / 80) as i64).into(),
        (if i % 3 == 0 { "revoke" } else { "keep" }).into(),
    ]
}

/// Inserts `n` rows the fastest plain way the backend offers; the table is dropped afterwards.
pub async fn raw_insert(store: &Store, n: usize) -> Result<(), EngineError> {
    let conn = store.conn();
    conn.execute_unprepared("DROP TABLE IF EXISTS bench_baseline")
        .await?;
    conn.execute_unprepared(CREATE).await?;
    match store.backend() {
        DbBackend::Postgres => {
            let pool = conn.get_postgres_connection_pool();
            let mut copy = pool
                .copy_in_raw("COPY bench_baseline FROM STDIN WITH (FORMAT csv)")
                .await
                .map_err(|e| EngineError::Io(e.to_string()))?;
            let mut buffer = String::with_capacity(1 << 20);
            for i in 0..n {
                buffer.push_str(&format!(
                    "1,{i},{},{},/,p{:07},Role {},{},{}\n",
                    i / 10,
                    i % 35,
                    i / 10,
                    i % 35,
                    i / 80,
                    if i % 3 == 0 { "revoke" } else { "keep" }
                ));
                if buffer.len() > (1 << 20) {
                    copy.send(std::mem::take(&mut buffer).into_bytes())
                        .await
                        .map_err(|e| EngineError::Io(e.to_string()))?;
                }
            }
            copy.send(buffer.into_bytes())
                .await
                .map_err(|e| EngineError::Io(e.to_string()))?;
            copy.finish()
                .await
                .map_err(|e| EngineError::Io(e.to_string()))?;
        }
        backend => {
            let txn = conn.begin().await?;
            for start in (0..n).step_by(1000) {
                let mut sql = Sql::new(backend, "INSERT INTO bench_baseline VALUES ");
                sql.rows((start..(start + 1000).min(n)).map(row));
                txn.execute_raw(sql.build()).await?;
            }
            txn.commit().await?;
        }
    }
    conn.execute_unprepared("DROP TABLE bench_baseline").await?;
    Ok(())
}
