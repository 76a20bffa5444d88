//! Suspensions and their items (`suspension`, `suspension_item`): recorded before anything is
//! removed, each item's removal and restore written as it happens, and attest's own
//! eligibility rows marked removed (naming the suspension) or active again.

use super::sql::Sql;
use super::StoreError;
use crate::domain::eligibility::EligibilityStatus;
use crate::domain::suspension::{ItemRemoval, ItemRestore, SuspensionState};
use chrono::{DateTime, Utc};
use entity::{eligibility, suspension, suspension_item};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

/// One active eligibility of a person, with the source that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub eligibility_id: i64,
    pub role_name: String,
    pub scope: String,
    pub source_name: String,
    pub source_kind: String,
}

/// The active eligibilities of `principal_id`, in id order.
pub async fn held_by(
    conn: &impl ConnectionTrait,
    principal_id: i64,
) -> Result<Vec<Held>, StoreError> {
    // hand-written: a three-table join read as plain columns.
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT e.id, r.name AS role_name, e.scope, s.name AS source_name, s.kind AS source_kind \
         FROM eligibility e JOIN \"role\" r ON r.id = e.role_id JOIN source s ON s.id = e.source_id \
         WHERE e.status = 'active' AND e.principal_id = ",
    );
    sql.bind(principal_id).push(" ORDER BY e.id");
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            Ok(Held {
                eligibility_id: row.try_get("", "id")?,
                role_name: row.try_get("", "role_name")?,
                scope: row.try_get("", "scope")?,
                source_name: row.try_get("", "source_name")?,
                source_kind: row.try_get("", "source_kind")?,
            })
        })
        .collect()
}

/// The open suspension of `principal_id`, if any.
pub async fn open_for(
    conn: &impl ConnectionTrait,
    principal_id: i64,
) -> Result<Option<suspension::Model>, StoreError> {
    Ok(suspension::Entity::find()
        .filter(suspension::Column::OpenPrincipalId.eq(principal_id))
        .one(conn)
        .await?)
}

/// One suspension by id.
pub async fn get(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<suspension::Model>, StoreError> {
    Ok(suspension::Entity::find_by_id(id).one(conn).await?)
}

/// Every suspension of `principal_id`, newest first.
pub async fn of_principal(
    conn: &impl ConnectionTrait,
    principal_id: i64,
) -> Result<Vec<suspension::Model>, StoreError> {
    Ok(suspension::Entity::find()
        .filter(suspension::Column::PrincipalId.eq(principal_id))
        .order_by_desc(suspension::Column::Id)
        .all(conn)
        .await?)
}

/// Every suspension of any of `principal_ids`, oldest first (the evidence of a campaign).
pub async fn of_principals(
    conn: &impl ConnectionTrait,
    principal_ids: &[i64],
) -> Result<Vec<suspension::Model>, StoreError> {
    let mut all = Vec::new();
    for chunk in principal_ids.chunks(1000) {
        all.extend(
            suspension::Entity::find()
                .filter(suspension::Column::PrincipalId.is_in(chunk.iter().copied()))
                .order_by_asc(suspension::Column::Id)
                .all(conn)
                .await?,
        );
    }
    all.sort_by_key(|s| s.id);
    Ok(all)
}

/// Every suspension, newest first, at most `limit`.
pub async fn recent(
    conn: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<suspension::Model>, StoreError> {
    use sea_orm::QuerySelect;
    Ok(suspension::Entity::find()
        .order_by_desc(suspension::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// The items of a suspension, in id order.
pub async fn items(
    conn: &impl ConnectionTrait,
    suspension_id: i64,
) -> Result<Vec<suspension_item::Model>, StoreError> {
    Ok(suspension_item::Entity::find()
        .filter(suspension_item::Column::SuspensionId.eq(suspension_id))
        .order_by_asc(suspension_item::Column::Id)
        .all(conn)
        .await?)
}

/// The ids of suspensions whose removals are still owed, oldest first.
pub async fn removing(conn: &impl ConnectionTrait) -> Result<Vec<i64>, StoreError> {
    use sea_orm::QuerySelect;
    Ok(suspension::Entity::find()
        .select_only()
        .column(suspension::Column::Id)
        .filter(suspension::Column::State.is_in([
            SuspensionState::Removing.as_str(),
            SuspensionState::Partial.as_str(),
        ]))
        .order_by_asc(suspension::Column::Id)
        .into_tuple()
        .all(conn)
        .await?)
}

/// Records a suspension of `principal` (database id, external id) and one pending item per
/// eligibility they hold.
pub async fn insert(
    conn: &impl ConnectionTrait,
    (principal_id, principal_external_id): (i64, &str),
    reason: &str,
    actor: &str,
    held: &[Held],
    source_of: impl Fn(&Held) -> String,
    now: DateTime<Utc>,
) -> Result<suspension::Model, StoreError> {
    let row = suspension::ActiveModel {
        principal_id: Set(principal_id),
        open_principal_id: Set(Some(principal_id)),
        reason: Set(reason.to_string()),
        requested_by: Set(actor.to_string()),
        state: Set(SuspensionState::Removing.as_str().to_string()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    if !held.is_empty() {
        let items = held.iter().map(|h| suspension_item::ActiveModel {
            suspension_id: Set(row.id),
            eligibility_id: Set(h.eligibility_id),
            source: Set(source_of(h)),
            principal_external_id: Set(principal_external_id.to_string()),
            role_name: Set(h.role_name.clone()),
            scope: Set(h.scope.clone()),
            removal_state: Set(ItemRemoval::Pending.as_str().to_string()),
            removal_attempts: Set(0),
            ..Default::default()
        });
        suspension_item::Entity::insert_many(items)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(row)
}

/// Writes the outcome of one removal attempt of an item.
pub async fn record_removal(
    conn: &impl ConnectionTrait,
    item_id: i64,
    state: ItemRemoval,
    receipt: Option<&str>,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut update = suspension_item::Entity::update_many()
        .col_expr(suspension_item::Column::RemovalState, Expr::value(state))
        .col_expr(
            suspension_item::Column::RemovalAttempts,
            Expr::col(suspension_item::Column::RemovalAttempts).add(1),
        )
        .col_expr(
            suspension_item::Column::RemovalError,
            Expr::value(error.map(str::to_string)),
        );
    if let Some(receipt) = receipt {
        update = update
            .col_expr(
                suspension_item::Column::RemovalReceipt,
                Expr::value(receipt),
            )
            .col_expr(suspension_item::Column::RemovedAt, Expr::value(now));
    }
    // A removal already recorded as done stays so (the worker and a request may race).
    update
        .filter(suspension_item::Column::Id.eq(item_id))
        .filter(
            suspension_item::Column::RemovalState
                .is_in([ItemRemoval::Pending.as_str(), ItemRemoval::Failed.as_str()]),
        )
        .exec(conn)
        .await?;
    Ok(())
}

/// Writes the outcome of one restore attempt of an item.
pub async fn record_restore(
    conn: &impl ConnectionTrait,
    item_id: i64,
    state: ItemRestore,
    receipt: Option<&str>,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut update = suspension_item::Entity::update_many()
        .col_expr(suspension_item::Column::RestoreState, Expr::value(state))
        .col_expr(
            suspension_item::Column::RestoreError,
            Expr::value(error.map(str::to_string)),
        );
    if let Some(receipt) = receipt {
        update = update
            .col_expr(
                suspension_item::Column::RestoreReceipt,
                Expr::value(receipt),
            )
            .col_expr(suspension_item::Column::RestoredAt, Expr::value(now));
    }
    update
        .filter(suspension_item::Column::Id.eq(item_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Moves a suspension to `state`, with the columns that state sets.
pub async fn set_state(
    conn: &impl ConnectionTrait,
    id: i64,
    state: SuspensionState,
    actor: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut update = suspension::Entity::update_many()
        .col_expr(suspension::Column::State, Expr::value(state))
        .col_expr(suspension::Column::UpdatedAt, Expr::value(now));
    match state {
        SuspensionState::Suspended => {
            update = update.col_expr(suspension::Column::SuspendedAt, Expr::value(now));
        }
        SuspensionState::RestoreRequested => {
            update = update
                .col_expr(
                    suspension::Column::RestoreRequestedBy,
                    Expr::value(actor.map(str::to_string)),
                )
                .col_expr(suspension::Column::RestoreRequestedAt, Expr::value(now));
        }
        SuspensionState::Restored => {
            // Closed: the person may be suspended again.
            update = update
                .col_expr(suspension::Column::RestoredAt, Expr::value(now))
                .col_expr(
                    suspension::Column::OpenPrincipalId,
                    Expr::value(Option::<i64>::None),
                );
        }
        _ => {}
    }
    if matches!(
        state,
        SuspensionState::Restored | SuspensionState::RestoreFailed
    ) {
        update = update.col_expr(
            suspension::Column::ApprovedBy,
            Expr::value(actor.map(str::to_string)),
        );
    }
    update
        .filter(suspension::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Marks an eligibility removed by suspension `suspension_id`, with the receipt; returns
/// whether it was active.
pub async fn mark_removed(
    conn: &impl ConnectionTrait,
    eligibility_id: i64,
    suspension_id: i64,
    receipt: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(eligibility::Entity::update_many()
        .col_expr(
            eligibility::Column::Status,
            Expr::value(EligibilityStatus::Removed),
        )
        .col_expr(eligibility::Column::RemovedAt, Expr::value(now))
        .col_expr(
            eligibility::Column::RemovalReason,
            Expr::value(removal_reason(suspension_id)),
        )
        .col_expr(eligibility::Column::RemovalReceipt, Expr::value(receipt))
        .col_expr(eligibility::Column::UpdatedAt, Expr::value(now))
        .filter(eligibility::Column::Id.eq(eligibility_id))
        .filter(eligibility::Column::Status.eq(EligibilityStatus::Active))
        .exec(conn)
        .await?
        .rows_affected
        == 1)
}

/// The removal reason attest's eligibility row carries while a suspension holds it removed.
pub fn removal_reason(suspension_id: i64) -> String {
    format!("suspension #{suspension_id}")
}

/// Makes an eligibility a suspension removed active again (its restore): the row no longer
/// names a removal, so the next sync sees it as expected and not as a reappearance.
pub async fn reactivate(
    conn: &impl ConnectionTrait,
    eligibility_id: i64,
    suspension_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(eligibility::Entity::update_many()
        .col_expr(
            eligibility::Column::Status,
            Expr::value(EligibilityStatus::Active),
        )
        .col_expr(
            eligibility::Column::RemovedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            eligibility::Column::RemovalReason,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            eligibility::Column::RemovalReceipt,
            Expr::value(Option::<String>::None),
        )
        .col_expr(eligibility::Column::UpdatedAt, Expr::value(now))
        .filter(eligibility::Column::Id.eq(eligibility_id))
        .filter(eligibility::Column::Status.eq(EligibilityStatus::Removed))
        .filter(eligibility::Column::RemovalReason.eq(removal_reason(suspension_id)))
        .exec(conn)
        .await?
        .rows_affected
        == 1)
}

/// A principal's external id by database id.
pub async fn external_id(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<String>, StoreError> {
    use sea_orm::QuerySelect;
    Ok(entity::principal::Entity::find_by_id(id)
        .select_only()
        .column(entity::principal::Column::ExternalId)
        .into_tuple()
        .one(conn)
        .await?)
}

/// The ids of every suspension of a person who holds an item of `campaign_id`, oldest first.
pub async fn of_campaign_holders(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Vec<i64>, StoreError> {
    // hand-written: a semi-join through the items' frozen holder ids.
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT s.id FROM suspension s JOIN principal p ON p.id = s.principal_id \
         WHERE p.external_id IN (SELECT ri.holder_external_id FROM review_item ri WHERE ri.campaign_id = ",
    );
    sql.bind(campaign_id).push(") ORDER BY s.id");
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| Ok(row.try_get::<i64>("", "id")?))
        .collect()
}

/// When an eligibility ends (`None`: it does not), as attest last read it.
pub async fn eligibility_end(
    conn: &impl ConnectionTrait,
    eligibility_id: i64,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    use sea_orm::QuerySelect;
    let end: Option<Option<DateTime<Utc>>> = eligibility::Entity::find_by_id(eligibility_id)
        .select_only()
        .column(eligibility::Column::EndAt)
        .into_tuple()
        .one(conn)
        .await?;
    Ok(end.flatten())
}

/// How the eligibility is held (eligible or standing), so that a source that keeps the two
/// apart (Entra) removes and restores the right one. Eligible when the row is gone.
pub async fn eligibility_assignment(
    conn: &impl ConnectionTrait,
    eligibility_id: i64,
) -> Result<crate::domain::eligibility::Assignment, StoreError> {
    use sea_orm::QuerySelect;
    let assignment: Option<String> = eligibility::Entity::find_by_id(eligibility_id)
        .select_only()
        .column(eligibility::Column::Assignment)
        .into_tuple()
        .one(conn)
        .await?;
    Ok(assignment.and_then(|a| a.parse().ok()).unwrap_or_default())
}
