//! What a full-sync import no longer lists: found by streaming, then removed or disabled.

use super::joins::{eligibility_principal, eligibility_role};
use crate::domain::eligibility::EligibilityStatus;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::{eligibility, principal, role};
use futures::{Stream, TryStreamExt};
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, JoinType, QueryFilter, QuerySelect,
    StreamTrait,
};

/// How many active eligibilities `source_id` has.
pub async fn active_eligibility_count(
    conn: &impl ConnectionTrait,
    source_id: i64,
) -> Result<i64, StoreError> {
    let n: Option<i64> = eligibility::Entity::find()
        .select_only()
        .column_as(Expr::col(Asterisk).count(), "n")
        .filter(eligibility::Column::Status.eq(EligibilityStatus::Active))
        .filter(eligibility::Column::SourceId.eq(source_id))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(n.unwrap_or(0))
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
    let rows = eligibility::Entity::find()
        .select_only()
        .column(eligibility::Column::Id)
        .column(principal::Column::ExternalId)
        .column(role::Column::Name)
        .column(eligibility::Column::Scope)
        .join(JoinType::InnerJoin, eligibility_principal())
        .join(JoinType::InnerJoin, eligibility_role())
        .filter(eligibility::Column::Status.eq(EligibilityStatus::Active))
        .filter(eligibility::Column::SourceId.eq(source_id))
        .into_tuple::<(i64, String, String, String)>()
        .stream(conn)
        .await?;
    let kept = rows.map_ok(|(id, principal, role, scope)| (id, keep(&principal, &role, &scope)));
    ids_not_kept(kept).await.map_err(StoreError::from)
}

/// Of the streamed `(id, kept)` rows, the ids not kept: what a full-sync import no longer
/// lists, found without holding the table in memory.
async fn ids_not_kept(
    rows: impl Stream<Item = Result<(i64, bool), DbErr>>,
) -> Result<Vec<i64>, DbErr> {
    let mut rows = std::pin::pin!(rows);
    let mut gone = Vec::new();
    while let Some((id, kept)) = rows.try_next().await? {
        if !kept {
            gone.push(id);
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
    // A thousand ids a statement keeps SQLite well under its placeholder limit.
    for chunk in ids.chunks(1000) {
        removed += eligibility::Entity::update_many()
            .col_expr(
                eligibility::Column::Status,
                Expr::value(EligibilityStatus::Removed),
            )
            .col_expr(eligibility::Column::RemovedAt, Expr::value(now))
            .col_expr(eligibility::Column::RemovalReason, Expr::value(reason))
            .col_expr(eligibility::Column::UpdatedAt, Expr::value(now))
            .filter(eligibility::Column::Status.eq(EligibilityStatus::Active))
            .filter(eligibility::Column::Id.is_in(chunk.iter().copied()))
            .exec(conn)
            .await?
            .rows_affected;
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
    let rows = principal::Entity::find()
        .select_only()
        .column(principal::Column::Id)
        .column(principal::Column::ExternalId)
        .filter(principal::Column::Enabled.eq(true))
        .filter(principal::Column::SourceId.eq(source_id))
        .into_tuple::<(i64, String)>()
        .stream(conn)
        .await?;
    ids_not_kept(rows.map_ok(|(id, external_id)| (id, keep(&external_id))))
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
    // A thousand ids a statement keeps SQLite well under its placeholder limit.
    for chunk in ids.chunks(1000) {
        changed += principal::Entity::update_many()
            .col_expr(principal::Column::Enabled, Expr::value(false))
            .col_expr(principal::Column::UpdatedAt, Expr::value(now))
            .filter(principal::Column::Id.is_in(chunk.iter().copied()))
            .exec(conn)
            .await?
            .rows_affected;
    }
    Ok(changed)
}
