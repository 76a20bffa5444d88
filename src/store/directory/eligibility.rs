//! Eligibility listings as people read them (filtered, paged, counted), and row counts.

use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

/// The number of rows in `table` (one of ours; never user input).
pub async fn count(conn: &impl ConnectionTrait, table: &'static str) -> Result<i64, StoreError> {
    let sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        &format!("SELECT COUNT(*) AS n FROM \"{table}\""),
    );
    let row = conn
        .query_one_raw(sql.build())
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(table.into()))?;
    row.try_get("", "n").map_err(StoreError::from)
}

/// One eligibility as people read it: names instead of ids.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct EligibilityView {
    pub principal: String,
    pub principal_name: String,
    pub role: String,
    pub risk: String,
    pub scope: String,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub last_activated_at: Option<DateTime<Utc>>,
    pub status: String,
    pub removal_reason: Option<String>,
}

/// Which eligibilities to list.
#[derive(Debug, Clone, Default)]
pub struct EligibilityFilter {
    pub principal: Option<String>,
    pub role: Option<String>,
    /// Include removed ones too.
    pub all: bool,
    /// Free-text search in the principal's id or name, the role or the scope.
    pub search: Option<String>,
    /// At most this many rows (all when `None`), after skipping `offset`.
    pub limit: Option<u64>,
    pub offset: u64,
}

const ELIGIBILITY_FROM: &str = " FROM eligibility e JOIN principal p ON p.id = e.principal_id \
     JOIN \"role\" r ON r.id = e.role_id WHERE 1 = 1";

/// Eligibilities matching `filter`, ordered by principal, role and scope.
pub async fn list_eligibility(
    conn: &impl ConnectionTrait,
    filter: &EligibilityFilter,
) -> Result<Vec<EligibilityView>, StoreError> {
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        &format!(
            "SELECT p.external_id, p.display_name, r.name, r.risk, e.scope, e.start_at, e.end_at, e.last_activated_at, \
             e.status, e.removal_reason{ELIGIBILITY_FROM}"
        ),
    );
    eligibility_where(&mut sql, filter);
    sql.push(" ORDER BY p.external_id, r.name, e.scope");
    if let Some(limit) = filter.limit {
        sql.push(" LIMIT ")
            .bind(limit as i64)
            .push(" OFFSET ")
            .bind(filter.offset as i64);
    }
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            Ok(EligibilityView {
                principal: row.try_get("", "external_id")?,
                principal_name: row.try_get("", "display_name")?,
                role: row.try_get("", "name")?,
                risk: row.try_get("", "risk")?,
                scope: row.try_get("", "scope")?,
                start: row.try_get("", "start_at")?,
                end: row.try_get("", "end_at")?,
                last_activated_at: row.try_get("", "last_activated_at")?,
                status: row.try_get("", "status")?,
                removal_reason: row.try_get("", "removal_reason")?,
            })
        })
        .collect()
}

/// How many eligibilities match `filter` in all (its `limit` and `offset` aside): the total of
/// a paged list.
pub async fn count_eligibility(
    conn: &impl ConnectionTrait,
    filter: &EligibilityFilter,
) -> Result<u64, StoreError> {
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        &format!("SELECT COUNT(*) AS n{ELIGIBILITY_FROM}"),
    );
    eligibility_where(&mut sql, filter);
    let n: i64 = match conn.query_one_raw(sql.build()).await? {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    Ok(n.max(0) as u64)
}

fn eligibility_where(sql: &mut Sql, filter: &EligibilityFilter) {
    if let Some(principal) = &filter.principal {
        sql.push(" AND p.external_id = ").bind(principal.as_str());
    }
    if let Some(role) = &filter.role {
        sql.push(" AND r.name = ").bind(role.as_str());
    }
    if !filter.all {
        sql.push(" AND e.status = 'active'");
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let like = format!("%{}%", search.to_lowercase());
        sql.push(" AND (LOWER(p.external_id) LIKE ")
            .bind(like.clone())
            .push(" OR LOWER(p.display_name) LIKE ")
            .bind(like.clone())
            .push(" OR LOWER(r.name) LIKE ")
            .bind(like.clone())
            .push(" OR LOWER(e.scope) LIKE ")
            .bind(like)
            .push(")");
    }
}
