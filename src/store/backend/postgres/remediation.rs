//! The remediation worker's bulk statements on PostgreSQL: a batch is claimed and read in one
//! statement, and settled or recorded as one array per column (`UNNEST`), never as thousands
//! of placeholders.

use super::ROWS_PER_STATEMENT;
use crate::store::process::push_lease_free;
use crate::store::remediation::{NewAttempt, Settled, SETTLE_SET};
use crate::store::sql::Sql;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult};

/// The due removals of remediating campaigns that no live lease holds, oldest first.
///
/// The remediating campaigns are a list, not a join: joined, PostgreSQL estimated that few
/// removals belong to them and answered every step by sorting all pending removals (a million
/// rows sorted on disk for each 5,000 taken); as a list it walks the index and stops. Ordering
/// also by id would sort every pending row at each step, as the index does not end in it.
fn push_due(sql: &mut Sql, now: DateTime<Utc>) {
    sql.push(
        " FROM remediation r WHERE r.campaign_id = ANY(ARRAY(SELECT id FROM campaign WHERE state = 'remediating')) \
         AND r.state = 'pending' AND r.next_attempt_at <= ",
    )
    .bind(now)
    .push(" AND");
    push_lease_free(sql, "r", now);
    sql.push("ORDER BY r.next_attempt_at LIMIT ");
}

/// Claims up to `limit` due removals for `owner` until `lease_until`, and reads them with their
/// items, in one statement (the batch's ids never travel to the server). `SKIP LOCKED`:
/// concurrent workers take disjoint sets.
pub(crate) async fn lease_due(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
    owner: &str,
    lease_until: DateTime<Utc>,
) -> Result<Vec<QueryResult>, DbErr> {
    let mut sql = Sql::new(DbBackend::Postgres, "WITH picked AS (SELECT r.id");
    push_due(&mut sql, now);
    sql.bind(limit as i64)
        .push(" FOR UPDATE OF r SKIP LOCKED), leased AS (UPDATE remediation r SET lease_until = ")
        .bind(lease_until)
        .push(", lease_owner = ")
        .bind(owner)
        .push(
            " FROM picked WHERE r.id = picked.id \
             RETURNING r.id, r.attempts, r.campaign_id, r.eligibility_id, r.item_id, r.kind, r.next_attempt_at) \
             SELECT l.id, l.attempts, l.campaign_id, l.eligibility_id, l.item_id, l.kind, i.holder_external_id, i.role_name, i.scope, i.assignment \
             FROM leased l JOIN review_item i ON i.id = l.item_id ORDER BY l.next_attempt_at, l.id",
        );
    conn.query_all_raw(sql.build()).await
}

/// Settles a batch and writes the history of the removals that went through, derived from the
/// settled rows (a data-modifying CTE feeding the insert), one array per column.
pub(crate) async fn settle(
    conn: &impl ConnectionTrait,
    settled: &[Settled],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    for chunk in settled.chunks(ROWS_PER_STATEMENT) {
        let mut ids = Vec::with_capacity(chunk.len());
        let mut attempts = Vec::with_capacity(chunk.len());
        let mut states = Vec::with_capacity(chunk.len());
        let mut receipts = Vec::with_capacity(chunk.len());
        let mut errors = Vec::with_capacity(chunk.len());
        let mut nexts = Vec::with_capacity(chunk.len());
        let mut verified = Vec::with_capacity(chunk.len());
        for s in chunk {
            let (state, receipt, error, next, done) = s.columns(now);
            ids.push(s.id);
            attempts.push(s.attempts);
            states.push(state.as_str().to_owned());
            // sqlx binds text arrays without NULL elements: '' stands for NULL.
            receipts.push(receipt.unwrap_or_default().to_string());
            errors.push(error.unwrap_or_default().to_string());
            nexts.push(next);
            verified.push(done);
        }
        let mut sql = Sql::new(
            DbBackend::Postgres,
            "WITH u AS (SELECT id, attempts, state, NULLIF(receipt, '') AS receipt, NULLIF(error, '') AS error, \
             at, verified FROM UNNEST(",
        );
        sql.bind(ids)
            .push("::int8[], ")
            .bind(attempts)
            .push("::int4[], ")
            .bind(states)
            .push("::text[], ")
            .bind(receipts)
            .push("::text[], ")
            .bind(errors)
            .push("::text[], ")
            .bind(nexts)
            .push("::timestamptz[], ")
            .bind(verified)
            .push(
                "::bool[]) AS u(id, attempts, state, receipt, error, at, verified)), \
                 s AS (UPDATE remediation SET",
            )
            .push(SETTLE_SET)
            .bind(now)
            .push(" ELSE remediation.verified_at END, lease_until = NULL, updated_at = ")
            .bind(now)
            .push(
                " FROM u WHERE remediation.id = u.id \
                 RETURNING remediation.id, remediation.attempts, remediation.state, remediation.receipt, u.verified) \
                 INSERT INTO remediation_attempt (remediation_id, attempt, at, outcome, receipt, error) \
                 SELECT s.id, s.attempts, ",
            )
            .bind(now)
            .push(
                ", s.state, s.receipt, NULL FROM s WHERE s.verified ORDER BY s.id",
            );
        conn.execute_raw(sql.build()).await?;
    }
    Ok(())
}

/// Writes lines of history as they are, one array per column.
pub(crate) async fn record_attempts(
    conn: &impl ConnectionTrait,
    attempts: &[NewAttempt],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    for chunk in attempts.chunks(ROWS_PER_STATEMENT) {
        let mut sql = Sql::new(
            DbBackend::Postgres,
            "INSERT INTO remediation_attempt (remediation_id, attempt, at, outcome, receipt, error) \
             SELECT id, attempt, ",
        );
        sql.bind(now)
            .push(", outcome, NULLIF(receipt, ''), NULLIF(error, '') FROM UNNEST(")
            .bind(chunk.iter().map(|a| a.remediation_id).collect::<Vec<_>>())
            .push("::int8[], ")
            .bind(chunk.iter().map(|a| a.attempt).collect::<Vec<_>>())
            .push("::int4[], ")
            .bind(
                chunk
                    .iter()
                    .map(|a| a.outcome.as_str().to_owned())
                    .collect::<Vec<_>>(),
            )
            .push("::text[], ")
            // sqlx binds text arrays without NULL elements: '' stands for NULL.
            .bind(
                chunk
                    .iter()
                    .map(|a| a.receipt.clone().unwrap_or_default())
                    .collect::<Vec<_>>(),
            )
            .push("::text[], ")
            .bind(
                chunk
                    .iter()
                    .map(|a| a.error.clone().unwrap_or_default())
                    .collect::<Vec<_>>(),
            )
            .push("::text[]) AS a(id, attempt, outcome, receipt, error)");
        conn.execute_raw(sql.build()).await?;
    }
    Ok(())
}
