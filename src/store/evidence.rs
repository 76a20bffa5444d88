//! The reads an evidence bundle is made of (streamed, in a stable order) and the storage of
//! the instance's signing key and of generated bundles.

use super::sql::{sqlite_time, Sql};
use super::StoreError;
use chrono::{DateTime, Utc};
use futures::{Stream, TryStreamExt};
use sea_orm::{
    sqlx, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult, RuntimeErr,
    StreamTrait,
};
use std::borrow::Cow;
use std::sync::Arc;

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

/// One reviewer's part in a campaign.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReviewerSummary {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub items: i64,
    /// Items that were theirs and went to someone else because they did not answer in time
    /// (escalated away): who failed to answer, which `items` alone no longer shows.
    pub escalated_away: i64,
    pub decided: i64,
    pub attested: i64,
    pub revoked: i64,
    pub first_decision_at: Option<DateTime<Utc>>,
    pub last_decision_at: Option<DateTime<Utc>>,
    pub signed_off_at: Option<DateTime<Utc>>,
    pub signed_off_addr: Option<String>,
}

pub async fn reviewer_summaries(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Vec<ReviewerSummary>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT p.external_id, p.display_name, p.email, cr.signed_off_at, cr.signed_off_addr, \
         COUNT(i.id) AS items, \
         SUM(CASE WHEN i.made_by = 'human' THEN 1 ELSE 0 END) AS decided, \
         SUM(CASE WHEN i.made_by = 'human' AND i.verdict = 'attest' THEN 1 ELSE 0 END) AS attested, \
         SUM(CASE WHEN i.made_by = 'human' AND i.verdict = 'revoke' THEN 1 ELSE 0 END) AS revoked, \
         MIN(CASE WHEN i.made_by = 'human' THEN i.decided_at END) AS first_decision_at, \
         MAX(CASE WHEN i.made_by = 'human' THEN i.decided_at END) AS last_decision_at \
         FROM campaign_reviewer cr JOIN principal p ON p.id = cr.reviewer_id \
         LEFT JOIN review_item i ON i.campaign_id = cr.campaign_id AND i.reviewer_id = cr.reviewer_id \
         WHERE cr.campaign_id = ",
    );
    sql.bind(campaign_id).push(
        " GROUP BY p.external_id, p.display_name, p.email, cr.signed_off_at, cr.signed_off_addr ORDER BY p.external_id",
    );
    let away = escalated_away(conn, campaign_id).await?;
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            let n = |name: &str| -> Result<i64, DbErr> {
                Ok(row.try_get::<Option<i64>>("", name)?.unwrap_or(0))
            };
            Ok(ReviewerSummary {
                id: row.try_get("", "external_id")?,
                name: row.try_get("", "display_name")?,
                email: row.try_get("", "email")?,
                items: n("items")?,
                escalated_away: 0,
                decided: n("decided")?,
                attested: n("attested")?,
                revoked: n("revoked")?,
                first_decision_at: row.try_get("", "first_decision_at")?,
                last_decision_at: row.try_get("", "last_decision_at")?,
                signed_off_at: row.try_get("", "signed_off_at")?,
                signed_off_addr: row.try_get("", "signed_off_addr")?,
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()
        .map(|mut summaries| {
            for summary in &mut summaries {
                summary.escalated_away = away.get(&summary.id).copied().unwrap_or(0);
            }
            summaries
        })
        .map_err(StoreError::from)
}

/// Per reviewer (external id), the campaign's items escalated away from them: one pass over
/// the campaign's escalated items.
async fn escalated_away(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<std::collections::HashMap<String, i64>, DbErr> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT ef.external_id, COUNT(*) AS n FROM review_item i JOIN principal ef ON ef.id = i.escalated_from_id \
         WHERE i.campaign_id = ",
    );
    sql.bind(campaign_id)
        .push(" AND i.escalated_from_id IS NOT NULL GROUP BY ef.external_id");
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| Ok((row.try_get("", "external_id")?, row.try_get("", "n")?)))
        .collect()
}

/// The campaign's reviewers as [`reviewer_summaries`] lists them (same order), with their
/// counts and decision times left empty: for a caller that tallies the items itself.
pub async fn reviewer_roster(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Vec<ReviewerSummary>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT p.external_id, p.display_name, p.email, cr.signed_off_at, cr.signed_off_addr \
         FROM campaign_reviewer cr JOIN principal p ON p.id = cr.reviewer_id \
         WHERE cr.campaign_id = ",
    );
    sql.bind(campaign_id).push(" ORDER BY p.external_id");
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            Ok(ReviewerSummary {
                id: row.try_get("", "external_id")?,
                name: row.try_get("", "display_name")?,
                email: row.try_get("", "email")?,
                items: 0,
                escalated_away: 0,
                decided: 0,
                attested: 0,
                revoked: 0,
                first_decision_at: None,
                last_decision_at: None,
                signed_off_at: row.try_get("", "signed_off_at")?,
                signed_off_addr: row.try_get("", "signed_off_addr")?,
            })
        })
        .collect()
}

/// The newest signing key: (public hex, secret hex).
pub async fn signing_key(
    conn: &impl ConnectionTrait,
) -> Result<Option<(String, String)>, StoreError> {
    let sql = Sql::new(
        conn.get_database_backend(),
        "SELECT public_key, secret_key FROM signing_key ORDER BY id DESC LIMIT 1",
    );
    match conn.query_one_raw(sql.build()).await? {
        Some(row) => Ok(Some((
            row.try_get("", "public_key")?,
            row.try_get("", "secret_key")?,
        ))),
        None => Ok(None),
    }
}

/// Every public key this instance has signed with, oldest first.
pub async fn public_keys(conn: &impl ConnectionTrait) -> Result<Vec<String>, StoreError> {
    let sql = Sql::new(
        conn.get_database_backend(),
        "SELECT public_key FROM signing_key ORDER BY id",
    );
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| row.try_get("", "public_key"))
        .collect::<Result<_, DbErr>>()
        .map_err(StoreError::from)
}

pub async fn insert_signing_key(
    conn: &impl ConnectionTrait,
    public: &str,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO signing_key (algorithm, public_key, secret_key, created_at) VALUES ",
    );
    sql.tuple(["ed25519".into(), public.into(), secret.into(), now.into()]);
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// Stores a bundle's manifest and returns its id; the zip follows with [`insert_chunk`].
pub async fn insert_bundle(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    generated_at: DateTime<Utc>,
    manifest: &str,
    sha256: &str,
    bytes: i64,
    reason: &str,
) -> Result<i64, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO evidence_bundle (campaign_id, generated_at, manifest, sha256, bytes, reason) VALUES ",
    );
    sql.tuple([
        campaign_id.into(),
        generated_at.into(),
        manifest.into(),
        sha256.into(),
        bytes.into(),
        reason.into(),
    ])
    .push(" RETURNING id");
    let row = conn
        .query_one_raw(sql.build())
        .await?
        .ok_or(DbErr::RecordNotInserted)?;
    row.try_get("", "id").map_err(StoreError::from)
}

pub async fn insert_chunk(
    conn: &impl ConnectionTrait,
    bundle_id: i64,
    seq: i32,
    data: Vec<u8>,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO evidence_chunk (bundle_id, seq, data) VALUES ",
    );
    sql.tuple([bundle_id.into(), seq.into(), data.into()]);
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// Completed campaigns without a stored bundle: completing commits before the bundle is made,
/// so a crash in between leaves one behind, for the recovery step to store.
pub async fn completed_without_bundle(conn: &impl ConnectionTrait) -> Result<Vec<i64>, StoreError> {
    let sql = Sql::new(
        conn.get_database_backend(),
        "SELECT c.id FROM campaign c WHERE c.state = 'completed' \
         AND NOT EXISTS (SELECT 1 FROM evidence_bundle b WHERE b.campaign_id = c.id) ORDER BY c.id",
    );
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| row.try_get("", "id"))
        .collect::<Result<_, DbErr>>()
        .map_err(StoreError::from)
}

/// A stored bundle.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredBundle {
    pub id: i64,
    pub campaign_id: i64,
    pub generated_at: DateTime<Utc>,
    pub sha256: String,
    pub bytes: i64,
    pub reason: String,
}

/// The newest stored bundle of a campaign.
pub async fn latest_bundle(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Option<StoredBundle>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT id, campaign_id, generated_at, sha256, bytes, reason FROM evidence_bundle WHERE campaign_id = ",
    );
    sql.bind(campaign_id).push(" ORDER BY id DESC LIMIT 1");
    conn.query_one_raw(sql.build())
        .await?
        .map(|row| {
            Ok(StoredBundle {
                id: row.try_get("", "id")?,
                campaign_id: row.try_get("", "campaign_id")?,
                generated_at: row.try_get("", "generated_at")?,
                sha256: row.try_get("", "sha256")?,
                bytes: row.try_get("", "bytes")?,
                reason: row.try_get("", "reason")?,
            })
        })
        .transpose()
}

/// One chunk of a stored bundle's zip, by position.
pub async fn chunk(
    conn: &impl ConnectionTrait,
    bundle_id: i64,
    seq: i32,
) -> Result<Option<Vec<u8>>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT data FROM evidence_chunk WHERE bundle_id = ",
    );
    sql.bind(bundle_id).push(" AND seq = ").bind(seq);
    match conn.query_one_raw(sql.build()).await? {
        Some(row) => Ok(Some(row.try_get("", "data")?)),
        None => Ok(None),
    }
}

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

/// Decodes by position without sqlx's check of each value's type against the Rust type: that
/// check (type info cloned and compared for every cell) was about a sixth of the export's own
/// CPU. The columns' types are fixed by the migrations; a change of one would no longer be
/// refused here, but the PostgreSQL run of tests/evidence.rs compares items.csv with the
/// database row by row.
fn pg_item(row: &sqlx::postgres::PgRow) -> Result<ItemView<'_>, sqlx::Error> {
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
    })
}

/// Decodes like [`pg_item`].
fn pg_decision(row: &sqlx::postgres::PgRow) -> Result<DecisionView<'_>, sqlx::Error> {
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
    })
}

/// A string of a JSON batch, borrowed from the batch unless it had to be unescaped.
///
/// serde borrows a bare `Cow<str>` field marked `#[serde(borrow)]`, but inside an `Option` it
/// falls back to `Cow`'s own implementation, which always copies: that was one allocation per
/// optional cell, most of the cells of an item.
struct Text<'a>(Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }

            fn visit_str<E>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
        }
        de.deserialize_str(Visitor)
    }
}

/// An item as SQLite's `json_array` wrote it, in [`ITEM_COLUMNS`] order; strings borrow from
/// the JSON unless they had to be escaped.
#[derive(serde::Deserialize)]
struct ItemJson<'a>(
    i64,
    i64,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    i64,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    Option<i32>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
);

impl ItemJson<'_> {
    fn view(&self) -> Result<ItemView<'_>, DbErr> {
        Ok(ItemView {
            id: self.0,
            eligibility_id: self.1,
            holder_external_id: &self.2,
            holder_name: &self.3,
            holder_email: self.4.as_deref(),
            holder_kind: &self.5,
            role_name: &self.6,
            role_risk: &self.7,
            scope: &self.8,
            since: sqlite_time(self.9.as_deref())?,
            last_activated_at: sqlite_time(self.10.as_deref())?,
            recommendation: &self.11,
            recommendation_reason: self.12.as_deref(),
            reviewer_id: self.13.as_deref(),
            reviewer_name: self.14.as_deref(),
            reviewer_reason: self.15.as_deref(),
            escalated_from: self.16.as_deref(),
            // SQLite keeps booleans as 0 and 1.
            flagged: self.17 != 0,
            flag_reason: self.18.as_deref(),
            verdict: self.19.as_deref(),
            made_by: self.20.as_deref(),
            decided_by: self.21.as_deref(),
            acting_for: self.22.as_deref(),
            decided_at: sqlite_time(self.23.as_deref())?,
            channel: self.24.as_deref(),
            justification: self.25.as_deref(),
            outcome: self.26.as_deref(),
            removal_state: self.27.as_deref(),
            removal_attempts: self.28,
            removal_receipt: self.29.as_deref(),
            removed_at: sqlite_time(self.30.as_deref())?,
            verified_at: sqlite_time(self.31.as_deref())?,
            removal_error: self.32.as_deref(),
            status_now: self.33.as_deref(),
        })
    }
}

/// A decision as SQLite's `json_array` wrote it, in [`DECISION_COLUMNS`] order.
#[derive(serde::Deserialize)]
struct DecisionJson<'a>(
    i64,
    i64,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    Option<i64>,
);

impl DecisionJson<'_> {
    fn view(&self) -> Result<DecisionView<'_>, DbErr> {
        Ok(DecisionView {
            id: self.0,
            item_id: self.1,
            verdict: &self.2,
            made_by: &self.3,
            decided_by: self.4.as_deref(),
            acting_for: self.5.as_deref(),
            decided_at: sqlite_time(Some(&self.6))?
                .ok_or_else(|| DbErr::Custom("a decision without a time".into()))?,
            channel: &self.7,
            client_addr: self.8.as_deref(),
            justification: self.9.as_deref(),
            supersedes_id: self.10,
        })
    }
}

/// An item that did not stay with the reviewer first chosen for it: escalated because they did
/// not answer in time, or one only its holder could have reviewed (decided by an admin).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Handover {
    pub item_id: i64,
    pub holder: String,
    pub holder_name: String,
    pub role: String,
    pub scope: String,
    /// Who had it before the escalation (external id and name).
    pub from: Option<(String, String)>,
    /// Who has it now; for an admin's item, the holder (never asked: the link hides it).
    pub to: Option<(String, String)>,
    pub at: Option<DateTime<Utc>>,
    /// `escalated` or `admin_decision`.
    pub kind: &'static str,
    pub verdict: Option<String>,
    /// The audit name of whoever decided it when no reviewer did (an admin's account).
    pub decided_by: Option<String>,
}

/// A campaign's handovers (at most `limit`, escalations first) and how many there are.
pub async fn handovers(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    limit: u64,
) -> Result<(Vec<Handover>, i64), StoreError> {
    let backend = conn.get_database_backend();
    let filter = " FROM review_item i LEFT JOIN principal f ON f.id = i.escalated_from_id \
                  LEFT JOIN principal t ON t.id = i.reviewer_id LEFT JOIN decision d ON d.id = i.current_decision_id \
                  WHERE (i.escalated_from_id IS NOT NULL OR i.reviewer_id = i.principal_id) AND i.campaign_id = ";
    let mut count = Sql::new(backend, &format!("SELECT COUNT(*) AS n{filter}"));
    count.bind(campaign_id);
    let total = super::sql::count(conn, count).await?;
    let mut sql = Sql::new(
        backend,
        &format!(
            "SELECT i.id, i.holder_external_id, i.holder_name, i.role_name, i.scope, i.escalated_at, i.verdict, \
             f.external_id AS from_id, f.display_name AS from_name, t.external_id AS to_id, t.display_name AS to_name, \
             CASE WHEN i.reviewer_id = i.principal_id THEN 1 ELSE 0 END AS own, d.actor{filter}"
        ),
    );
    sql.bind(campaign_id)
        .push(" ORDER BY i.escalated_from_id IS NULL, i.id LIMIT ")
        .bind(limit as i64);
    let rows = conn
        .query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            let pair = |id: &str, name: &str| -> Result<Option<(String, String)>, DbErr> {
                let id: Option<String> = row.try_get("", id)?;
                let name: Option<String> = row.try_get("", name)?;
                Ok(id.map(|id| (id, name.unwrap_or_default())))
            };
            let own: i32 = row.try_get("", "own")?;
            Ok(Handover {
                item_id: row.try_get("", "id")?,
                holder: row.try_get("", "holder_external_id")?,
                holder_name: row.try_get("", "holder_name")?,
                role: row.try_get("", "role_name")?,
                scope: row.try_get("", "scope")?,
                from: pair("from_id", "from_name")?,
                to: pair("to_id", "to_name")?,
                at: row.try_get("", "escalated_at")?,
                kind: if own == 1 {
                    "admin_decision"
                } else {
                    "escalated"
                },
                verdict: row.try_get("", "verdict")?,
                decided_by: row.try_get("", "actor")?,
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    Ok((rows, total))
}
