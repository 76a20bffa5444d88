//! Removals after a close: leased to one worker at a time, every attempt recorded, retried
//! until done or given up, and proven by a re-read.
//!
//! A step settles thousands of removals, so the writes are set-based: one statement settles a
//! whole batch, and the history lines of the removals that went through are derived from the
//! settled rows in the database rather than sent again. On PostgreSQL a batch travels as one
//! array per column (`UNNEST`), never as thousands of placeholders.

use super::sql::Sql;
use super::StoreError;
use crate::domain::closing::{AttemptOutcome, RemediationState};
use crate::domain::eligibility::RemovalTarget;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Value};

/// A removal that is due, with what the source needs to carry it out.
#[derive(Debug, Clone)]
pub struct DueRemoval {
    pub id: i64,
    pub attempts: i32,
    pub target: RemovalTarget,
}

/// The due removals of remediating campaigns, oldest first, that no live lease holds. SQLite's
/// index on (state, next_attempt_at) ends in the row id, so it also yields id order for free;
/// PostgreSQL's does not, and ordering by id there would sort every pending row at each step.
///
/// The remediating campaigns are a list, not a join: joined, PostgreSQL estimated that few
/// removals belong to them and answered every step by sorting all pending removals (a million
/// rows sorted on disk for each 5,000 taken); as a list it walks the index and stops.
fn push_due(sql: &mut Sql, backend: DbBackend, now: DateTime<Utc>) {
    sql.push(if backend == DbBackend::Postgres {
        " FROM remediation r WHERE r.campaign_id = ANY(ARRAY(SELECT id FROM campaign WHERE state = 'remediating')) \
         AND r.state = 'pending' AND r.next_attempt_at <= "
    } else {
        " FROM remediation r JOIN campaign c ON c.id = r.campaign_id \
         WHERE c.state = 'remediating' AND r.state = 'pending' AND r.next_attempt_at <= "
    })
    .bind(now)
    .push(" AND");
    super::process::push_lease_free(sql, "r", now);
    sql.push(if backend == DbBackend::Postgres {
        "ORDER BY r.next_attempt_at LIMIT "
    } else {
        "ORDER BY r.next_attempt_at, r.id LIMIT "
    });
}

/// Claims up to `limit` due removals of remediating campaigns for process `owner`, until
/// `lease_until` or until `owner` is gone. Call it in a transaction: on PostgreSQL the rows are
/// locked with SKIP LOCKED, so concurrent workers take disjoint sets.
pub async fn lease_due(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
    owner: &str,
    lease_until: DateTime<Utc>,
) -> Result<Vec<DueRemoval>, StoreError> {
    let backend = conn.get_database_backend();
    let rows = if backend == DbBackend::Postgres {
        // Claim and read in one statement, so the batch's ids never travel to the server.
        let mut sql = Sql::new(backend, "WITH picked AS (SELECT r.id");
        push_due(&mut sql, backend, now);
        sql.bind(limit as i64)
            .push(" FOR UPDATE OF r SKIP LOCKED), leased AS (UPDATE remediation r SET lease_until = ")
            .bind(lease_until)
            .push(", lease_owner = ")
            .bind(owner)
            .push(
                " FROM picked WHERE r.id = picked.id \
                 RETURNING r.id, r.attempts, r.campaign_id, r.eligibility_id, r.item_id, r.next_attempt_at) \
                 SELECT l.id, l.attempts, l.campaign_id, l.eligibility_id, l.item_id, i.holder_external_id, i.role_name, i.scope \
                 FROM leased l JOIN review_item i ON i.id = l.item_id ORDER BY l.next_attempt_at, l.id",
            );
        conn.query_all_raw(sql.build()).await?
    } else {
        let mut sql = Sql::new(
            backend,
            "SELECT r.id, r.attempts, r.campaign_id, r.eligibility_id, r.item_id, i.holder_external_id, i.role_name, i.scope \
             FROM review_item i JOIN (SELECT r.id, r.attempts, r.campaign_id, r.eligibility_id, r.item_id, r.next_attempt_at",
        );
        push_due(&mut sql, backend, now);
        sql.bind(limit as i64)
            .push(") r ON i.id = r.item_id ORDER BY r.next_attempt_at, r.id");
        let rows = conn.query_all_raw(sql.build()).await?;
        let mut ids = Vec::with_capacity(rows.len());
        for row in &rows {
            ids.push(row.try_get::<i64>("", "id")?);
        }
        for chunk in ids.chunks(SQLITE_ROWS) {
            super::lease(conn, "remediation", chunk, owner, lease_until).await?;
        }
        rows
    };
    rows.iter()
        .map(|row| {
            Ok(DueRemoval {
                id: row.try_get("", "id")?,
                attempts: row.try_get("", "attempts")?,
                target: RemovalTarget {
                    eligibility_id: row.try_get("", "eligibility_id")?,
                    item_id: row.try_get("", "item_id")?,
                    principal_external_id: row.try_get("", "holder_external_id")?,
                    role_name: row.try_get("", "role_name")?,
                    scope: row.try_get("", "scope")?,
                    campaign_id: row.try_get("", "campaign_id")?,
                },
            })
        })
        .collect()
}

/// Gives leased removals back at once (a step took more than it will handle now).
pub async fn release(conn: &impl ConnectionTrait, ids: &[i64]) -> Result<(), StoreError> {
    for chunk in ids.chunks(SQLITE_ROWS) {
        let mut sql = Sql::new(
            conn.get_database_backend(),
            "UPDATE remediation SET lease_until = NULL, lease_owner = NULL WHERE id IN ",
        );
        sql.tuple(chunk.iter().map(|id| Value::from(*id)));
        conn.execute_raw(sql.build()).await?;
    }
    Ok(())
}

/// Rows per multi-row statement on SQLite (its limit is 32,766 placeholders a statement).
const SQLITE_ROWS: usize = 2000;

/// Rows per statement on PostgreSQL, where a batch is a handful of array parameters.
const POSTGRES_ROWS: usize = 10_000;

/// How a leased removal ends this round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Removed (or already gone) and re-read as gone. Its two history lines (the removal with
    /// its receipt, then `verified_gone`) are written by [`settle`] itself. `removed_at`: when
    /// it was removed, if earlier than now (an attempt interrupted before it was recorded).
    Done {
        state: RemediationState,
        receipt: String,
        removed_at: Option<DateTime<Utc>>,
    },
    /// Try again at `next_attempt_at`.
    Retry {
        error: String,
        next_attempt_at: DateTime<Utc>,
    },
    /// Given up (or still present after removal): reported, never dropped.
    Failed {
        error: String,
        receipt: Option<String>,
    },
}

type Columns<'a> = (
    RemediationState,
    Option<&'a str>,
    Option<&'a str>,
    DateTime<Utc>,
    bool,
);

/// One leased removal's end of this round: its attempt count and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub id: i64,
    pub attempts: i32,
    pub settlement: Settlement,
}

impl Settled {
    /// The row [`settle`] writes: (state, receipt, last_error, at, verified), where `at` is the
    /// next attempt of a removal still pending and the removal time of one that went through.
    /// The receipt and next attempt of a removal still pending, and the next attempt of one
    /// that ended, stay as they are.
    fn columns(&self, now: DateTime<Utc>) -> Columns<'_> {
        match &self.settlement {
            Settlement::Done {
                state,
                receipt,
                removed_at,
            } => (*state, Some(receipt), None, removed_at.unwrap_or(now), true),
            Settlement::Retry {
                error,
                next_attempt_at,
            } => (
                RemediationState::Pending,
                None,
                Some(error),
                *next_attempt_at,
                false,
            ),
            Settlement::Failed { error, receipt } => (
                RemediationState::Failed,
                receipt.as_deref(),
                Some(error),
                now,
                false,
            ),
        }
    }
}

/// Settles a batch of leased removals and releases their leases; for those that went through,
/// also writes their history (the removal with its receipt, then `verified_gone`), taken from
/// the settled rows. A pending removal keeps its receipt; a retried one keeps no verification.
pub async fn settle(
    conn: &impl ConnectionTrait,
    settled: &[Settled],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let backend = conn.get_database_backend();
    let set = " attempts = u.attempts, state = u.state, \
               receipt = CASE WHEN u.state = 'pending' THEN remediation.receipt ELSE u.receipt END, last_error = u.error, \
               next_attempt_at = CASE WHEN u.state = 'pending' THEN u.at ELSE remediation.next_attempt_at END, \
               removed_at = CASE WHEN u.verified THEN u.at ELSE remediation.removed_at END, verified_at = CASE WHEN u.verified THEN ";
    if backend == DbBackend::Postgres {
        for chunk in settled.chunks(POSTGRES_ROWS) {
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
                backend,
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
                .push(set)
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
                    ", CASE WHEN k.n = 0 THEN s.state ELSE 'verified_gone' END, \
                     CASE WHEN k.n = 0 THEN s.receipt END, NULL \
                     FROM s CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1) k WHERE s.verified ORDER BY s.id, k.n",
                );
            conn.execute_raw(sql.build()).await?;
        }
        return Ok(());
    }
    for chunk in settled.chunks(SQLITE_ROWS) {
        let mut sql = Sql::new(backend, "UPDATE remediation SET");
        sql.push(set)
            .bind(now)
            .push(" ELSE remediation.verified_at END, lease_until = NULL, updated_at = ")
            .bind(now)
            .push(
                " FROM (SELECT column1 AS id, column2 AS attempts, column3 AS state, column4 AS receipt, \
                 column5 AS error, column6 AS at, column7 AS verified FROM (VALUES ",
            );
        sql.rows(chunk.iter().map(|s| {
            let (state, receipt, error, next, done) = s.columns(now);
            [
                Value::from(s.id),
                s.attempts.into(),
                state.into(),
                receipt.map(str::to_string).into(),
                error.map(str::to_string).into(),
                next.into(),
                done.into(),
            ]
        }));
        sql.push(")) AS u WHERE remediation.id = u.id");
        conn.execute_raw(sql.build()).await?;
        let verified: Vec<Value> = chunk
            .iter()
            .filter(|s| matches!(s.settlement, Settlement::Done { .. }))
            .map(|s| s.id.into())
            .collect();
        if verified.is_empty() {
            continue;
        }
        let mut sql = Sql::new(
            backend,
            "INSERT INTO remediation_attempt (remediation_id, attempt, at, outcome, receipt, error) \
             SELECT r.id, r.attempts, ",
        );
        sql.bind(now)
            .push(
                ", CASE WHEN k.n = 0 THEN r.state ELSE 'verified_gone' END, CASE WHEN k.n = 0 THEN r.receipt END, NULL \
                 FROM remediation r CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1) k WHERE r.id IN ",
            )
            .tuple(verified)
            .push(" ORDER BY r.id, k.n");
        conn.execute_raw(sql.build()).await?;
    }
    Ok(())
}

/// An admin's go-ahead for the removals a safety rail held back.
pub async fn confirm(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE remediation SET state = 'pending', next_attempt_at = ",
    );
    sql.bind(now)
        .push(", updated_at = ")
        .bind(now)
        .push(" WHERE state = 'awaiting_confirmation' AND campaign_id = ")
        .bind(campaign_id);
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}

/// Remediating campaigns with nothing left to do or to confirm.
pub async fn finished_campaigns(conn: &impl ConnectionTrait) -> Result<Vec<i64>, StoreError> {
    let sql = Sql::new(
        conn.get_database_backend(),
        "SELECT c.id FROM campaign c WHERE c.state = 'remediating' AND NOT EXISTS (SELECT 1 FROM remediation r \
         WHERE r.campaign_id = c.id AND r.state IN ('pending', 'awaiting_confirmation')) ORDER BY c.id",
    );
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| row.try_get("", "id"))
        .collect::<Result<_, DbErr>>()
        .map_err(StoreError::from)
}

/// One line of a removal's history that did not go through (an error, or still present).
pub struct NewAttempt {
    pub remediation_id: i64,
    pub attempt: i32,
    pub outcome: AttemptOutcome,
    pub receipt: Option<String>,
    pub error: Option<String>,
}

/// Of `attempts` (removal id, attempt number), those whose attempt was started (an intent was
/// written before calling the source) and never settled: the process stopped between the
/// source's answer and attest's record of it. With when each was started.
pub async fn unsettled_starts(
    conn: &impl ConnectionTrait,
    attempts: &[(i64, i32)],
) -> Result<std::collections::HashMap<i64, DateTime<Utc>>, StoreError> {
    let mut found = std::collections::HashMap::new();
    for chunk in attempts.chunks(SQLITE_ROWS) {
        let mut sql = Sql::new(
            conn.get_database_backend(),
            "SELECT a.remediation_id, MIN(a.at) AS at FROM remediation_attempt a \
             WHERE a.outcome = 'started' AND NOT EXISTS (SELECT 1 FROM remediation_attempt b \
             WHERE b.remediation_id = a.remediation_id AND b.attempt = a.attempt AND b.outcome <> 'started') \
             AND (a.remediation_id, a.attempt) IN (VALUES ",
        );
        sql.rows(
            chunk
                .iter()
                .map(|(id, attempt)| [(*id).into(), (*attempt).into()]),
        )
        .push(") GROUP BY a.remediation_id");
        for row in conn.query_all_raw(sql.build()).await? {
            found.insert(row.try_get("", "remediation_id")?, row.try_get("", "at")?);
        }
    }
    Ok(found)
}

/// Lines of history written as they are (those [`settle`] does not derive).
pub async fn record_attempts(
    conn: &impl ConnectionTrait,
    attempts: &[NewAttempt],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let backend = conn.get_database_backend();
    let insert =
        "INSERT INTO remediation_attempt (remediation_id, attempt, at, outcome, receipt, error) ";
    if backend == DbBackend::Postgres {
        for chunk in attempts.chunks(POSTGRES_ROWS) {
            let mut sql = Sql::new(backend, insert);
            sql.push("SELECT id, attempt, ")
                .bind(now)
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
        return Ok(());
    }
    for chunk in attempts.chunks(SQLITE_ROWS) {
        let mut sql = Sql::new(backend, insert);
        sql.push("VALUES ");
        sql.rows(chunk.iter().map(|a| {
            [
                a.remediation_id.into(),
                a.attempt.into(),
                now.into(),
                a.outcome.into(),
                a.receipt.clone().into(),
                a.error.clone().into(),
            ]
        }));
        conn.execute_raw(sql.build()).await?;
    }
    Ok(())
}
