//! A close's policy settlement on PostgreSQL.

use crate::store::items::PolicySettlement;
use crate::store::sql::Sql;
use sea_orm::{ConnectionTrait, DbBackend, DbErr};

/// One statement: the policy's decisions are inserted and each item takes the id its
/// decision's insert returns, instead of looking it up again a million times.
pub(crate) async fn settle_undecided(
    conn: &impl ConnectionTrait,
    settling: &PolicySettlement<'_>,
) -> Result<u64, DbErr> {
    let mut sql = Sql::new(DbBackend::Postgres, "WITH d AS (");
    settling.push_insert(&mut sql);
    sql.push(" RETURNING id, item_id) UPDATE review_item SET verdict = ");
    settling.push_settle(&mut sql);
    sql.push(", current_decision_id = d.id FROM d WHERE review_item.id = d.item_id");
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}
