//! A close's policy settlement on SQLite.

use crate::store::items::PolicySettlement;
use crate::store::sql::Sql;
use sea_orm::{ConnectionTrait, DbBackend, DbErr};

/// Two statements (SQLite has no data-modifying CTE): the policy's decisions are inserted,
/// then each item takes the newest policy decision on it.
pub(crate) async fn settle_undecided(
    conn: &impl ConnectionTrait,
    settling: &PolicySettlement<'_>,
) -> Result<u64, DbErr> {
    let mut sql = Sql::new(DbBackend::Sqlite, "");
    settling.push_insert(&mut sql);
    conn.execute_raw(sql.build()).await?;
    let mut update = Sql::new(DbBackend::Sqlite, "UPDATE review_item SET verdict = ");
    settling.push_settle(&mut update);
    update.push(
        ", current_decision_id = (SELECT MAX(d.id) FROM decision d WHERE d.item_id = review_item.id AND d.made_by = 'policy')",
    );
    settling.push_filter(&mut update);
    Ok(conn.execute_raw(update.build()).await?.rows_affected())
}
