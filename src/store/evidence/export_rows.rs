//! The export's streamed reads: every item and every decision of a campaign, in id order,
//! handed to a visitor row by row without sea-orm's dynamic rows.

use super::export_decoding::{pg_decision, pg_item, DecisionJson, ItemJson};
use crate::store::sql::Sql;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sea_orm::{sqlx, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, RuntimeErr};
use std::sync::Arc;

/// One item of a campaign as the export reads it, borrowed from what the database returned so
/// that writing it out allocates nothing.
#[derive(Debug)]
pub struct ItemView<'r> {
    pub id: i64,
    pub eligibility_id: i64,
    pub holder_external_id: &'r str,
    pub holder_name: &'r str,
    pub holder_email: Option<&'r str>,
    pub holder_kind: &'r str,
    pub role_name: &'r str,
    pub role_risk: &'r str,
    pub scope: &'r str,
    pub since: Option<DateTime<Utc>>,
    pub last_activated_at: Option<DateTime<Utc>>,
    pub recommendation: &'r str,
    pub recommendation_reason: Option<&'r str>,
    pub reviewer_id: Option<&'r str>,
    pub reviewer_name: Option<&'r str>,
    pub reviewer_reason: Option<&'r str>,
    pub escalated_from: Option<&'r str>,
    pub flagged: bool,
    pub flag_reason: Option<&'r str>,
    pub verdict: Option<&'r str>,
    pub made_by: Option<&'r str>,
    pub decided_by: Option<&'r str>,
    pub acting_for: Option<&'r str>,
    pub decided_at: Option<DateTime<Utc>>,
    pub channel: Option<&'r str>,
    pub justification: Option<&'r str>,
    pub outcome: Option<&'r str>,
    pub removal_state: Option<&'r str>,
    pub removal_attempts: Option<i32>,
    pub removal_receipt: Option<&'r str>,
    pub removed_at: Option<DateTime<Utc>>,
    pub verified_at: Option<DateTime<Utc>>,
    pub removal_error: Option<&'r str>,
    pub status_now: Option<&'r str>,
}

/// The columns of an item, in [`ItemView`] order.
const ITEM_COLUMNS: &str = "i.id, i.eligibility_id, i.holder_external_id, i.holder_name, \
     i.holder_email, i.holder_kind, i.role_name, i.role_risk, i.scope, i.since, i.last_activated_at, \
     i.recommendation, i.recommendation_reason, rv.external_id, rv.display_name, i.reviewer_reason, \
     ef.external_id, i.flagged, i.flag_reason, i.verdict, i.made_by, dp.external_id, af.external_id, \
     i.decided_at, d.channel, d.justification, i.outcome, r.state, r.attempts, r.receipt, \
     r.removed_at, r.verified_at, r.last_error, e.status";

const ITEM_FROM: &str = " FROM review_item i \
     LEFT JOIN principal rv ON rv.id = i.reviewer_id \
     LEFT JOIN principal ef ON ef.id = i.escalated_from_id \
     LEFT JOIN decision d ON d.id = i.current_decision_id \
     LEFT JOIN principal dp ON dp.id = d.reviewer_id \
     LEFT JOIN principal af ON af.id = d.acting_for_id \
     LEFT JOIN remediation r ON r.item_id = i.id \
     LEFT JOIN eligibility e ON e.id = i.eligibility_id";

/// One decision of a campaign, borrowed like [`ItemView`].
#[derive(Debug)]
pub struct DecisionView<'r> {
    pub id: i64,
    pub item_id: i64,
    pub verdict: &'r str,
    pub made_by: &'r str,
    pub decided_by: Option<&'r str>,
    pub acting_for: Option<&'r str>,
    pub decided_at: DateTime<Utc>,
    pub channel: &'r str,
    pub client_addr: Option<&'r str>,
    pub justification: Option<&'r str>,
    pub supersedes_id: Option<i64>,
}

const DECISION_COLUMNS: &str =
    "d.id, d.item_id, d.verdict, d.made_by, COALESCE(rp.external_id, d.actor), \
     ap.external_id, d.decided_at, d.channel, d.client_addr, d.justification, d.supersedes_id";

const DECISION_FROM: &str = " FROM decision d \
     LEFT JOIN principal rp ON rp.id = d.reviewer_id \
     LEFT JOIN principal ap ON ap.id = d.acting_for_id";

/// Every item of a campaign with its current decision, its removal, and the eligibility as it
/// is now, in item order. The one read that grows with the population, so it bypasses sea-orm's
/// dynamic rows (see [`each_row`]).
pub async fn each_item<E: From<DbErr>>(
    conn: &DatabaseConnection,
    campaign_id: i64,
    mut visit: impl FnMut(&ItemView<'_>) -> Result<(), E>,
) -> Result<(), E> {
    each_row(
        conn,
        "review_item",
        "i",
        ITEM_COLUMNS,
        ITEM_FROM,
        campaign_id,
        |rows| match rows {
            Rows::Postgres(row) => visit(&pg_item(row).map_err(sqlx_err)?),
            Rows::Sqlite(json) => {
                let mut rows: Vec<ItemJson<'_>> = serde_json::from_str(json)
                    .map_err(|e| DbErr::Custom(format!("items of the export: {e}")))?;
                // The scan of the id range already yields them in order (this is a check).
                rows.sort_by_key(|r| r.0);
                for row in &rows {
                    visit(&row.view()?)?;
                }
                Ok(())
            }
        },
    )
    .await
}

/// Every decision of a campaign, superseded ones included, in the order they were made.
pub async fn each_decision<E: From<DbErr>>(
    conn: &DatabaseConnection,
    campaign_id: i64,
    mut visit: impl FnMut(&DecisionView<'_>) -> Result<(), E>,
) -> Result<(), E> {
    each_row(
        conn,
        "decision",
        "d",
        DECISION_COLUMNS,
        DECISION_FROM,
        campaign_id,
        |rows| match rows {
            Rows::Postgres(row) => visit(&pg_decision(row).map_err(sqlx_err)?),
            Rows::Sqlite(json) => {
                let mut rows: Vec<DecisionJson<'_>> = serde_json::from_str(json)
                    .map_err(|e| DbErr::Custom(format!("decisions of the export: {e}")))?;
                rows.sort_by_key(|r| r.0);
                for row in &rows {
                    visit(&row.view()?)?;
                }
                Ok(())
            }
        },
    )
    .await
}

/// What [`each_row`] hands over: one typed row, or a JSON array of rows.
enum Rows<'a> {
    Postgres(&'a sqlx::postgres::PgRow),
    Sqlite(&'a str),
}

/// How many ids of the campaign's range SQLite reads per statement.
const SQLITE_BATCH: i64 = 2000;

/// Reads the campaign's rows of `table` (aliased `alias` in `from`) in id order.
///
/// Both backends read a range of ids (a campaign's rows are written together, so the range holds
/// few others) with the campaign test kept off the index (`+`): scanning the primary key yields
/// the rows already in order, where the campaign's own index made SQLite sort the whole joined
/// result in a temporary B-tree before the first row came out.
///
/// PostgreSQL streams typed rows, decoded by position. SQLite does not stream them:
/// sqlx copies every value of a SQLite row into an allocation of its own and hands rows over
/// one at a time between threads, which at 34 columns cost more than the query. So SQLite
/// returns the rows of `SQLITE_BATCH` ids at once as one JSON array of arrays, and
/// the next batch is read while this one is written out.
#[allow(clippy::too_many_arguments)]
async fn each_row<E: From<DbErr>>(
    conn: &DatabaseConnection,
    table: &str,
    alias: &str,
    columns: &str,
    from: &str,
    campaign_id: i64,
    mut visit: impl FnMut(Rows<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let Some((first, last)) = id_range(conn, table, campaign_id).await? else {
        return Ok(());
    };
    let range = |low: &str, high: &str, campaign: &str| {
        format!(
            "{from} WHERE {alias}.id >= {low} AND {alias}.id <= {high} \
             AND +{alias}.campaign_id = {campaign}"
        )
    };
    if conn.get_database_backend() == DbBackend::Postgres {
        let sql = format!(
            "SELECT {columns}{} ORDER BY {alias}.id",
            range("$1", "$2", "$3")
        );
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(first)
            .bind(last)
            .bind(campaign_id)
            .fetch(conn.get_postgres_connection_pool());
        while let Some(row) = rows.try_next().await.map_err(sqlx_err)? {
            visit(Rows::Postgres(&row))?;
        }
        return Ok(());
    }
    let sql = format!(
        "SELECT json_group_array(json_array({columns})){}",
        range("?", "?", "?")
    );
    let pool = conn.get_sqlite_connection_pool().clone();
    let batches = (first..=last)
        .step_by(SQLITE_BATCH as usize)
        .map(move |low| (low, low.saturating_add(SQLITE_BATCH - 1).min(last)));
    // The reads run in a task of their own that always has the next batch's query at SQLite:
    // polled from this loop instead (a buffered stream), the next query was often sent only
    // after the last batch had been written out, and reading and writing took turns.
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    tokio::spawn(async move {
        for (low, high) in batches {
            let batch = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(low)
                .bind(high)
                .bind(campaign_id)
                .fetch_one(&pool)
                .await
                .and_then(|row| {
                    use sqlx::Row;
                    row.try_get::<String, _>(0)
                });
            let failed = batch.is_err();
            // A closed channel means the writer stopped (an error of its own): stop too.
            if tx.send(batch).await.is_err() || failed {
                break;
            }
        }
    });
    while let Some(batch) = rx.recv().await {
        visit(Rows::Sqlite(&batch.map_err(sqlx_err)?))?;
    }
    Ok(())
}

/// The lowest and highest id of the campaign's rows in `table`, if it has any.
async fn id_range(
    conn: &DatabaseConnection,
    table: &str,
    campaign_id: i64,
) -> Result<Option<(i64, i64)>, DbErr> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        &format!("SELECT MIN(id) AS first, MAX(id) AS last FROM {table} WHERE campaign_id = "),
    );
    sql.bind(campaign_id);
    let Some(row) = conn.query_one_raw(sql.build()).await? else {
        return Ok(None);
    };
    let first: Option<i64> = row.try_get("", "first")?;
    let last: Option<i64> = row.try_get("", "last")?;
    Ok(first.zip(last))
}

fn sqlx_err(e: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)))
}
