//! What a full-sync import no longer lists: found by streaming, then removed or disabled.

use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sea_orm::{ConnectionTrait, DbErr, StreamTrait, Value};

/// How many active eligibilities `source_id` has.
pub async fn active_eligibility_count(
    conn: &impl ConnectionTrait,
    source_id: i64,
) -> Result<i64, StoreError> {
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        "SELECT COUNT(*) AS n FROM eligibility WHERE status = 'active' AND source_id = ",
    );
    sql.bind(source_id);
    match conn.query_one_raw(sql.build()).await? {
        Some(row) => row.try_get("", "n").map_err(StoreError::from),
        None => Ok(0),
    }
}

/// Ids of the active eligibilities of `source_id` for which `keep(principal, role, scope)` is false.
pub async fn active_eligibility_not_kept<C>(
    conn: &C,
    source_id: i64,
    keep: impl Fn(&str, &str, &str) -> bool,
) -> Result<Vec<i64>, StoreError>
where
    C: ConnectionTrait + StreamTrait,
{
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        "SELECT e.id, p.external_id, r.name, e.scope FROM eligibility e \
         JOIN principal p ON p.id = e.principal_id JOIN \"role\" r ON r.id = e.role_id \
         WHERE e.status = 'active' AND e.source_id = ",
    );
    sql.bind(source_id);
    ids_not_kept(conn, sql, |row| {
        let principal: String = row.try_get("", "external_id")?;
        let role: String = row.try_get("", "name")?;
        let scope: String = row.try_get("", "scope")?;
        Ok(keep(&principal, &role, &scope))
    })
    .await
    .map_err(StoreError::from)
}

/// Streams `sql` (which selects an `id`) and returns the ids of the rows `keep` rejects: what
/// a full-sync import no longer lists, found without holding the table in memory.
async fn ids_not_kept<C>(
    conn: &C,
    sql: Sql,
    keep: impl Fn(&sea_orm::QueryResult) -> Result<bool, DbErr>,
) -> Result<Vec<i64>, DbErr>
where
    C: ConnectionTrait + StreamTrait,
{
    let rows = conn.stream_raw(sql.build()).await?;
    let mut rows = std::pin::pin!(rows);
    let mut gone = Vec::new();
    while let Some(row) = rows.try_next().await? {
        if !keep(&row)? {
            gone.push(row.try_get("", "id")?);
        }
    }
    Ok(gone)
}

/// Marks eligibilities removed, with a reason (an import's prune, or a campaign).
pub async fn mark_eligibility_removed(
    conn: &impl ConnectionTrait,
    ids: &[i64],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut removed = 0;
    for chunk in ids.chunks(1000) {
        let mut sql = Sql::new(
            ConnectionTrait::get_database_backend(conn),
            "UPDATE eligibility SET status = 'removed', removed_at = ",
        );
        sql.bind(now)
            .push(", removal_reason = ")
            .bind(reason)
            .push(", updated_at = ")
            .bind(now)
            .push(" WHERE status = 'active' AND id IN ");
        sql.tuple(chunk.iter().map(|id| Value::from(*id)));
        removed += conn.execute_raw(sql.build()).await?.rows_affected();
    }
    Ok(removed)
}

/// Ids of the enabled principals of `source_id` whose external id `keep` rejects.
pub async fn enabled_principals_not_kept<C>(
    conn: &C,
    source_id: i64,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<i64>, StoreError>
where
    C: ConnectionTrait + StreamTrait,
{
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        "SELECT id, external_id FROM principal WHERE enabled = ",
    );
    sql.bind(true).push(" AND source_id = ").bind(source_id);
    ids_not_kept(conn, sql, |row| {
        Ok(keep(&row.try_get::<String>("", "external_id")?))
    })
    .await
    .map_err(StoreError::from)
}

/// Disables principals (a pruned people file): they keep their history but may no longer review.
pub async fn disable_principals(
    conn: &impl ConnectionTrait,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut changed = 0;
    for chunk in ids.chunks(1000) {
        let mut sql = Sql::new(
            ConnectionTrait::get_database_backend(conn),
            "UPDATE principal SET enabled = ",
        );
        sql.bind(false)
            .push(", updated_at = ")
            .bind(now)
            .push(" WHERE id IN ");
        sql.tuple(chunk.iter().map(|id| Value::from(*id)));
        changed += conn.execute_raw(sql.build()).await?.rows_affected();
    }
    Ok(changed)
}
