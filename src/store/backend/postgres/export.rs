//! The export's reads on PostgreSQL: typed rows streamed in id order and decoded by position.

use crate::store::evidence::{DecisionView, ItemView, RangeRead};
use futures::TryStreamExt;
use sea_orm::{sqlx, DatabaseConnection, DbErr, RuntimeErr};
use std::sync::Arc;

/// Visits every item of the range, in id order.
pub(crate) async fn each_item<E: From<DbErr>>(
    conn: &DatabaseConnection,
    read: &RangeRead,
    mut visit: impl FnMut(&ItemView<'_>) -> Result<(), E>,
) -> Result<(), E> {
    each_row(conn, read, |row| visit(&item(row).map_err(sqlx_err)?)).await
}

/// Visits every decision of the range, in id order.
pub(crate) async fn each_decision<E: From<DbErr>>(
    conn: &DatabaseConnection,
    read: &RangeRead,
    mut visit: impl FnMut(&DecisionView<'_>) -> Result<(), E>,
) -> Result<(), E> {
    each_row(conn, read, |row| visit(&decision(row).map_err(sqlx_err)?)).await
}

/// Streams the range's rows from sqlx directly, without sea-orm's dynamic rows.
async fn each_row<E: From<DbErr>>(
    conn: &DatabaseConnection,
    read: &RangeRead,
    mut visit: impl FnMut(&sqlx::postgres::PgRow) -> Result<(), E>,
) -> Result<(), E> {
    let sql = format!(
        "SELECT {}{} ORDER BY {}.id",
        read.columns,
        read.condition("$1", "$2", "$3"),
        read.alias
    );
    let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(read.first)
        .bind(read.last)
        .bind(read.campaign_id)
        .fetch(conn.get_postgres_connection_pool());
    while let Some(row) = rows.try_next().await.map_err(sqlx_err)? {
        visit(&row)?;
    }
    Ok(())
}

/// Decodes by position without sqlx's check of each value's type against the Rust type: that
/// check (type info cloned and compared for every cell) was about a sixth of the export's own
/// CPU. The columns' types are fixed by the migrations; a change of one would no longer be
/// refused here, but the PostgreSQL run of tests/evidence.rs compares items.csv with the
/// database row by row.
fn item(row: &sqlx::postgres::PgRow) -> Result<ItemView<'_>, sqlx::Error> {
    use sqlx::Row;
    Ok(ItemView {
        id: row.try_get_unchecked(0)?,
        eligibility_id: row.try_get_unchecked(1)?,
        holder_external_id: row.try_get_unchecked(2)?,
        holder_name: row.try_get_unchecked(3)?,
        holder_email: row.try_get_unchecked(4)?,
        holder_kind: row.try_get_unchecked(5)?,
        role_name: row.try_get_unchecked(6)?,
        role_risk: row.try_get_unchecked(7)?,
        scope: row.try_get_unchecked(8)?,
        since: row.try_get_unchecked(9)?,
        last_activated_at: row.try_get_unchecked(10)?,
        recommendation: row.try_get_unchecked(11)?,
        recommendation_reason: row.try_get_unchecked(12)?,
        reviewer_id: row.try_get_unchecked(13)?,
        reviewer_name: row.try_get_unchecked(14)?,
        reviewer_reason: row.try_get_unchecked(15)?,
        escalated_from: row.try_get_unchecked(16)?,
        flagged: row.try_get_unchecked(17)?,
        flag_reason: row.try_get_unchecked(18)?,
        verdict: row.try_get_unchecked(19)?,
        made_by: row.try_get_unchecked(20)?,
        decided_by: row.try_get_unchecked(21)?,
        acting_for: row.try_get_unchecked(22)?,
        decided_at: row.try_get_unchecked(23)?,
        channel: row.try_get_unchecked(24)?,
        justification: row.try_get_unchecked(25)?,
        outcome: row.try_get_unchecked(26)?,
        removal_state: row.try_get_unchecked(27)?,
        removal_attempts: row.try_get_unchecked(28)?,
        removal_receipt: row.try_get_unchecked(29)?,
        removed_at: row.try_get_unchecked(30)?,
        verified_at: row.try_get_unchecked(31)?,
        removal_error: row.try_get_unchecked(32)?,
        status_now: row.try_get_unchecked(33)?,
        previous_campaign_id: row.try_get_unchecked(34)?,
        previous_campaign: row.try_get_unchecked(35)?,
        previous_verdict: row.try_get_unchecked(36)?,
        previous_made_by: row.try_get_unchecked(37)?,
        previous_decided_by: row.try_get_unchecked(38)?,
        previous_decided_at: row.try_get_unchecked(39)?,
        previous_justification: row.try_get_unchecked(40)?,
        holder_context: row.try_get_unchecked(41)?,
        assignment: row.try_get_unchecked(42)?,
        remediation_kind: row.try_get_unchecked(43)?,
        decided_in_stage: row.try_get_unchecked(44)?,
    })
}

/// Decodes like [`item`].
fn decision(row: &sqlx::postgres::PgRow) -> Result<DecisionView<'_>, sqlx::Error> {
    use sqlx::Row;
    Ok(DecisionView {
        id: row.try_get_unchecked(0)?,
        item_id: row.try_get_unchecked(1)?,
        verdict: row.try_get_unchecked(2)?,
        made_by: row.try_get_unchecked(3)?,
        decided_by: row.try_get_unchecked(4)?,
        acting_for: row.try_get_unchecked(5)?,
        decided_at: row.try_get_unchecked(6)?,
        channel: row.try_get_unchecked(7)?,
        client_addr: row.try_get_unchecked(8)?,
        justification: row.try_get_unchecked(9)?,
        supersedes_id: row.try_get_unchecked(10)?,
        stage: row.try_get_unchecked(11)?,
    })
}

fn sqlx_err(e: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)))
}
