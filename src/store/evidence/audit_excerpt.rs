//! The audit excerpt of a bundle: the stretch of the audit chain that covers a campaign,
//! streamed in order.

use crate::store::sql::Sql;
use crate::store::StoreError;
use futures::Stream;
use sea_orm::{ConnectionTrait, DbErr, QueryResult, StreamTrait};

/// The stretch of the audit chain that covers the campaign: from its first event to its last,
/// with everything in between, so the excerpt can be verified on its own.
pub async fn audit_range(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Option<(i64, i64)>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT MIN(seq) AS first, MAX(seq) AS last FROM audit_event WHERE target = ",
    );
    sql.bind(format!("campaign:{campaign_id}"));
    let Some(row) = conn.query_one_raw(sql.build()).await? else {
        return Ok(None);
    };
    let first: Option<i64> = row.try_get("", "first")?;
    let last: Option<i64> = row.try_get("", "last")?;
    Ok(first.zip(last))
}

pub async fn audit_rows<'a, C: ConnectionTrait + StreamTrait>(
    conn: &'a C,
    first: i64,
    last: i64,
) -> Result<impl Stream<Item = Result<QueryResult, DbErr>> + 'a, StoreError> {
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        "SELECT seq, at, actor, action, target, details, prev_hash, hash FROM audit_event WHERE seq >= ",
    );
    sql.bind(first)
        .push(" AND seq <= ")
        .bind(last)
        .push(" ORDER BY seq");
    conn.stream_raw(sql.build()).await.map_err(StoreError::from)
}
