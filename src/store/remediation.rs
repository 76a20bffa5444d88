//! Removals after a close: leased to one worker at a time, every attempt recorded, retried
//! until done or given up, and proven by a re-read.
//!
//! A step settles thousands of removals, so the writes are set-based: one statement settles a
//! whole batch, and the history lines of the removals that went through are derived from the
//! settled rows in the database rather than sent again. How each backend writes a batch is in
//! `backend::postgres::remediation` and `backend::sqlite::remediation`.

use super::backend::{is_postgres, postgres, sqlite};
use super::sql::Sql;
use super::StoreError;
use crate::domain::closing::{AttemptOutcome, RemediationState};
use crate::domain::eligibility::RemovalTarget;
use chrono::{DateTime, Utc};
use entity::remediation;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

/// A removal that is due, with what the source needs to carry it out.
#[derive(Debug, Clone)]
pub struct DueRemoval {
    pub id: i64,
    pub attempts: i32,
    pub target: RemovalTarget,
}

/// Claims up to `limit` due removals of remediating campaigns for process `owner`, oldest
/// first, that no live lease holds, until `lease_until` or until `owner` is gone. Call it in a
/// transaction: on PostgreSQL the rows are locked with SKIP LOCKED, so concurrent workers take
/// disjoint sets.
pub async fn lease_due(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
    owner: &str,
    lease_until: DateTime<Utc>,
) -> Result<Vec<DueRemoval>, StoreError> {
    let rows = if is_postgres(conn) {
        postgres::remediation::lease_due(conn, now, limit, owner, lease_until).await?
    } else {
        sqlite::remediation::lease_due(conn, now, limit, owner, lease_until).await?
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
                    kind: row.try_get("", "kind")?,
                    assignment: row.try_get("", "assignment")?,
                },
            })
        })
        .collect()
}

/// Gives leased removals back at once (a step took more than it will handle now).
pub async fn release(conn: &impl ConnectionTrait, ids: &[i64]) -> Result<(), StoreError> {
    const NO_TIME: Option<DateTime<Utc>> = None;
    const NO_OWNER: Option<String> = None;
    for chunk in ids.chunks(IN_LIST) {
        remediation::Entity::update_many()
            .col_expr(remediation::Column::LeaseUntil, Expr::value(NO_TIME))
            .col_expr(remediation::Column::LeaseOwner, Expr::value(NO_OWNER))
            .filter(remediation::Column::Id.is_in(chunk.iter().copied()))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// Ids (or id pairs) per plain IN list below: within SQLite's placeholder limit, and the same
/// on PostgreSQL, where these lists are short (one step's batch).
const IN_LIST: usize = 2000;

/// How a leased removal ends this round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Removed (or already gone) and re-read as gone. Its history line (the removal with its
    /// receipt; the re-read is the row's `verified_at`) is written by [`settle`] itself.
    /// `removed_at`: when it was removed, if earlier than now (an attempt interrupted before it
    /// was recorded).
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

pub(crate) type Columns<'a> = (
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
    pub(crate) fn columns(&self, now: DateTime<Utc>) -> Columns<'_> {
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
/// also writes their history line (the removal with its receipt), taken from
/// the settled rows. A pending removal keeps its receipt; a retried one keeps no verification.
pub async fn settle(
    conn: &impl ConnectionTrait,
    settled: &[Settled],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if is_postgres(conn) {
        postgres::remediation::settle(conn, settled, now).await?;
    } else {
        sqlite::remediation::settle(conn, settled, now).await?;
    }
    Ok(())
}

/// What [`settle`] sets, on either backend, from the row `u` of the batch (the last `CASE`
/// is completed with the time of the verification).
pub(crate) const SETTLE_SET: &str = " attempts = u.attempts, state = u.state, \
    receipt = CASE WHEN u.state = 'pending' THEN remediation.receipt ELSE u.receipt END, last_error = u.error, \
    next_attempt_at = CASE WHEN u.state = 'pending' THEN u.at ELSE remediation.next_attempt_at END, \
    removed_at = CASE WHEN u.verified THEN u.at ELSE remediation.removed_at END, verified_at = CASE WHEN u.verified THEN ";

/// An admin's go-ahead for the removals a safety rail held back.
pub async fn confirm(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let confirmed = remediation::Entity::update_many()
        .col_expr(
            remediation::Column::State,
            Expr::value(RemediationState::Pending),
        )
        // A removal still held by a challenge period keeps its later time.
        .col_expr(
            remediation::Column::NextAttemptAt,
            Expr::case(
                remediation::Column::NextAttemptAt.gt(now),
                Expr::col(remediation::Column::NextAttemptAt),
            )
            .finally(Expr::value(now))
            .into(),
        )
        .col_expr(remediation::Column::UpdatedAt, Expr::value(now))
        .filter(remediation::Column::State.eq(RemediationState::AwaitingConfirmation))
        .filter(remediation::Column::CampaignId.eq(campaign_id))
        .exec(conn)
        .await?;
    Ok(confirmed.rows_affected)
}

/// Remediating campaigns with nothing left to do or to confirm.
pub async fn finished_campaigns(conn: &impl ConnectionTrait) -> Result<Vec<i64>, StoreError> {
    // hand-written: a NOT EXISTS over the removals, which the builder would only spell longer.
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
    // hand-written: a row-value IN (VALUES …) and a NOT EXISTS, which the builder cannot say.
    for chunk in attempts.chunks(IN_LIST) {
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
    if is_postgres(conn) {
        postgres::remediation::record_attempts(conn, attempts, now).await?;
    } else {
        sqlite::remediation::record_attempts(conn, attempts, now).await?;
    }
    Ok(())
}
