//! A close's policy settlement on SQLite.

use crate::store::items::PolicySettlement;
use crate::store::sql::Sql;
use sea_orm::{ConnectionTrait, DbBackend, DbErr};

/// Two statements (SQLite has no data-modifying CTE): the policy's decisions are inserted,
/// then each item takes the policy decision just inserted on it, found by a join on the
/// decision's covering (item_id, id) index to the ids above those that existed before, rather
/// than by the newest policy decision per item (a lookup of each decision row for its maker).
pub(crate) async fn settle_undecided(
    conn: &impl ConnectionTrait,
    settling: &PolicySettlement<'_>,
) -> Result<u64, DbErr> {
    let before: i64 = conn
        .query_one_raw(
            Sql::new(
                DbBackend::Sqlite,
                "SELECT COALESCE(MAX(id), 0) AS id FROM decision",
            )
            .build(),
        )
        .await?
        .map(|row| row.try_get("", "id"))
        .transpose()?
        .unwrap_or(0);
    let mut sql = Sql::new(DbBackend::Sqlite, "");
    settling.push_insert(&mut sql);
    conn.execute_raw(sql.build()).await?;
    let mut update = Sql::new(DbBackend::Sqlite, "UPDATE review_item SET verdict = ");
    settling.push_settle(&mut update);
    update
        .push(", current_decision_id = d.id FROM decision d")
        .push(" WHERE d.item_id = review_item.id AND d.id > ")
        .bind(before)
        .push(" AND");
    settling.push_class(&mut update, "review_item.");
    Ok(conn.execute_raw(update.build()).await?.rows_affected())
}
