//! `attest bench`'s baseline table on SQLite: a copy of `review_item` filled by multi-row
//! INSERTs in one transaction.

use crate::store::bench_baseline::{Refs, TABLE};
use crate::store::items::ITEM_COLUMNS as COLUMNS;
use crate::store::sql::Sql;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, TransactionTrait, Value};

/// Creates the table from `review_item`'s own DDL (table, then indexes), renamed.
pub(crate) async fn create_like_items(conn: &DatabaseConnection) -> Result<(), DbErr> {
    let ddl = conn
        .query_all_raw(sea_orm::Statement::from_string(
            DbBackend::Sqlite,
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'review_item' AND sql IS NOT NULL \
             ORDER BY type DESC",
        ))
        .await?;
    for row in ddl {
        let sql: String = row.try_get("", "sql")?;
        conn.execute_unprepared(&sql.replace("review_item", TABLE))
            .await?;
    }
    Ok(())
}

/// Inserts `n` rows, 1,000 a statement, in one transaction.
pub(crate) async fn fill(conn: &DatabaseConnection, refs: &Refs, n: usize) -> Result<(), DbErr> {
    let txn = conn.begin().await?;
    for start in (0..n as i64).step_by(1000) {
        let mut sql = Sql::new(
            DbBackend::Sqlite,
            &format!("INSERT INTO {TABLE} ({COLUMNS}) VALUES "),
        );
        sql.rows((start..(start + 1000).min(n as i64)).map(|i| {
            let r = refs.row(i);
            let row: [Value; 22] = [
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
                "eligible".into(),
            ];
            row
        }));
        txn.execute_raw(sql.build()).await?;
    }
    txn.commit().await?;
    Ok(())
}
