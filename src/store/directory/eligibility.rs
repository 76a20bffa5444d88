//! Eligibility listings as people read them (filtered, paged, counted), and row counts.

use super::joins::{eligibility_principal, eligibility_role};
use crate::domain::eligibility::EligibilityStatus;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::{eligibility, principal, role};
use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Func, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, JoinType,
    QueryFilter, QueryOrder, QuerySelect, Select,
};

/// The number of rows in `table` (one of ours; never user input).
pub async fn count(conn: &impl ConnectionTrait, table: &'static str) -> Result<i64, StoreError> {
    let count = Query::select()
        .expr_as(Expr::col(Asterisk).count(), "n")
        .from(Alias::new(table))
        .to_owned();
    let row = conn
        .query_one(&count)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(table.into()))?;
    row.try_get("", "n").map_err(StoreError::from)
}

/// One eligibility as people read it: names instead of ids.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema, FromQueryResult)]
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

/// Eligibilities matching `filter`, ordered by principal, role and scope.
pub async fn list_eligibility(
    conn: &impl ConnectionTrait,
    filter: &EligibilityFilter,
) -> Result<Vec<EligibilityView>, StoreError> {
    let mut list = matching(filter)
        .select_only()
        .column_as(principal::Column::ExternalId, "principal")
        .column_as(principal::Column::DisplayName, "principal_name")
        .column_as(role::Column::Name, "role")
        .column(role::Column::Risk)
        .column(eligibility::Column::Scope)
        .column_as(eligibility::Column::StartAt, "start")
        .column_as(eligibility::Column::EndAt, "end")
        .column(eligibility::Column::LastActivatedAt)
        .column(eligibility::Column::Status)
        .column(eligibility::Column::RemovalReason)
        .order_by_asc(principal::Column::ExternalId)
        .order_by_asc(role::Column::Name)
        .order_by_asc(eligibility::Column::Scope);
    if let Some(limit) = filter.limit {
        list = list.limit(limit).offset(filter.offset);
    }
    Ok(list.into_model().all(conn).await?)
}

/// How many eligibilities match `filter` in all (its `limit` and `offset` aside): the total of
/// a paged list.
pub async fn count_eligibility(
    conn: &impl ConnectionTrait,
    filter: &EligibilityFilter,
) -> Result<u64, StoreError> {
    let n: Option<i64> = matching(filter)
        .select_only()
        .column_as(Expr::col(Asterisk).count(), "n")
        .into_tuple()
        .one(conn)
        .await?;
    Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
}

/// The eligibilities `filter` selects (its `limit` and `offset` aside), joined to their
/// principal and role.
fn matching(filter: &EligibilityFilter) -> Select<eligibility::Entity> {
    let mut query = eligibility::Entity::find()
        .join(JoinType::InnerJoin, eligibility_principal())
        .join(JoinType::InnerJoin, eligibility_role());
    if let Some(principal) = &filter.principal {
        query = query.filter(principal::Column::ExternalId.eq(principal.as_str()));
    }
    if let Some(role) = &filter.role {
        query = query.filter(role::Column::Name.eq(role.as_str()));
    }
    if !filter.all {
        query = query.filter(eligibility::Column::Status.eq(EligibilityStatus::Active));
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let like = format!("%{}%", search.to_lowercase());
        let lower_like = |column: Expr| Expr::expr(Func::lower(column)).like(like.as_str());
        query = query.filter(
            Condition::any()
                .add(lower_like(Expr::col((
                    principal::Entity,
                    principal::Column::ExternalId,
                ))))
                .add(lower_like(Expr::col((
                    principal::Entity,
                    principal::Column::DisplayName,
                ))))
                .add(lower_like(Expr::col((role::Entity, role::Column::Name))))
                .add(lower_like(Expr::col((
                    eligibility::Entity,
                    eligibility::Column::Scope,
                )))),
        );
    }
    query
}
