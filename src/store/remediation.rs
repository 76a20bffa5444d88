//! Removals after a close: leased to one worker at a time, every attempt recorded, retried
//! until done or given up, and proven by a re-read.

use super::sql::Sql;
use crate::sources::RemovalTarget;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr};

/// A removal that is due, with what the source needs to carry it out.
#[derive(Debug, Clone)]
pub struct DueRemoval {
    pub id: i64,
    pub attempts: i32,
    pub target: RemovalTarget,
}

/// Claims up to `limit` due removals of remediating campaigns until `lease_until`. Call it in a
/// transaction: on PostgreSQL the rows are locked with SKIP LOCKED, so concurrent workers take
/// disjoint sets.
pub async fn lease_due(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
    lease_until: DateTime<Utc>,
) -> Result<Vec<DueRemoval>, DbErr> {
    let backend = conn.get_database_backend();
    let mut sql = Sql::new(
        backend,
        "SELECT r.id, r.attempts, r.campaign_id, r.eligibility_id, i.holder_external_id, i.role_name, i.scope \
         FROM remediation r JOIN campaign c ON c.id = r.campaign_id JOIN review_item i ON i.id = r.item_id \
         WHERE c.state = 'remediating' AND r.state = 'pending' AND r.next_attempt_at <= ",
    );
    sql.bind(now)
        .push(" AND (r.lease_until IS NULL OR r.lease_until < ")
        .bind(now)
        .push(") ORDER BY r.next_attempt_at, r.id LIMIT ")
        .bind(limit as i64);
    if backend == DbBackend::Postgres {
        sql.push(" FOR UPDATE OF r SKIP LOCKED");
    }
    let rows = conn.query_all_raw(sql.build()).await?;
    let due = rows
        .iter()
        .map(|row| {
            Ok(DueRemoval {
                id: row.try_get("", "id")?,
                attempts: row.try_get("", "attempts")?,
                target: RemovalTarget {
                    eligibility_id: row.try_get("", "eligibility_id")?,
                    principal_external_id: row.try_get("", "holder_external_id")?,
                    role_name: row.try_get("", "role_name")?,
                    scope: row.try_get("", "scope")?,
                    campaign_id: row.try_get("", "campaign_id")?,
                },
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    let ids: Vec<i64> = due.iter().map(|d| d.id).collect();
    super::lease(conn, "remediation", &ids, lease_until).await?;
    Ok(due)
}

/// One line of a removal's history.
pub async fn record_attempt(
    conn: &impl ConnectionTrait,
    remediation_id: i64,
    attempt: i32,
    outcome: &str,
    receipt: Option<&str>,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO remediation_attempt (remediation_id, attempt, at, outcome, receipt, error) VALUES ",
    );
    sql.tuple([
        remediation_id.into(),
        attempt.into(),
        now.into(),
        outcome.into(),
        receipt.map(str::to_string).into(),
        error.map(str::to_string).into(),
    ]);
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// How a leased removal ends this round.
pub enum Settlement<'a> {
    /// Removed (or already gone) and re-read as gone.
    Done { state: &'a str, receipt: &'a str },
    /// Try again at `next_attempt_at`.
    Retry {
        error: &'a str,
        next_attempt_at: DateTime<Utc>,
    },
    /// Given up (or still present after removal): reported, never dropped.
    Failed {
        error: &'a str,
        receipt: Option<&'a str>,
    },
}

pub async fn settle(
    conn: &impl ConnectionTrait,
    id: i64,
    attempts: i32,
    settlement: Settlement<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE remediation SET attempts = ",
    );
    sql.bind(attempts)
        .push(", lease_until = NULL, updated_at = ")
        .bind(now);
    match settlement {
        Settlement::Done { state, receipt } => {
            sql.push(", state = ")
                .bind(state)
                .push(", receipt = ")
                .bind(receipt)
                .push(", removed_at = ")
                .bind(now)
                .push(", verified_at = ")
                .bind(now)
                .push(", last_error = NULL");
        }
        Settlement::Retry {
            error,
            next_attempt_at,
        } => {
            sql.push(", last_error = ")
                .bind(error)
                .push(", next_attempt_at = ")
                .bind(next_attempt_at);
        }
        Settlement::Failed { error, receipt } => {
            sql.push(", state = 'failed', last_error = ")
                .bind(error)
                .push(", receipt = ")
                .bind(receipt.map(str::to_string));
        }
    }
    sql.push(" WHERE id = ").bind(id);
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// An admin's go-ahead for the removals a safety rail held back.
pub async fn confirm(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
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
pub async fn finished_campaigns(conn: &impl ConnectionTrait) -> Result<Vec<i64>, DbErr> {
    let sql = Sql::new(
        conn.get_database_backend(),
        "SELECT c.id FROM campaign c WHERE c.state = 'remediating' AND NOT EXISTS (SELECT 1 FROM remediation r \
         WHERE r.campaign_id = c.id AND r.state IN ('pending', 'awaiting_confirmation')) ORDER BY c.id",
    );
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| row.try_get("", "id"))
        .collect()
}

/// One line of a removal's history, for [`record_attempts`].
pub struct NewAttempt {
    pub remediation_id: i64,
    pub attempt: i32,
    pub outcome: &'static str,
    pub receipt: Option<String>,
    pub error: Option<String>,
}

/// Many lines of history at once (a worker's whole step).
pub async fn record_attempts(
    conn: &impl ConnectionTrait,
    attempts: &[NewAttempt],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    for chunk in attempts.chunks(1000) {
        let mut sql = Sql::new(
            conn.get_database_backend(),
            "INSERT INTO remediation_attempt (remediation_id, attempt, at, outcome, receipt, error) VALUES ",
        );
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

/// Settles many removals that were carried out and read back as gone: (id, attempts, state, receipt).
pub async fn settle_done(
    conn: &impl ConnectionTrait,
    done: &[(i64, i32, &str, String)],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    for chunk in done.chunks(1000) {
        let mut sql = Sql::new(
            conn.get_database_backend(),
            "UPDATE remediation SET attempts = CASE id",
        );
        for (id, attempts, _, _) in chunk {
            sql.push(" WHEN ").bind(*id).push(" THEN ").bind(*attempts);
        }
        sql.push(" END, state = CASE id");
        for (id, _, state, _) in chunk {
            sql.push(" WHEN ").bind(*id).push(" THEN ").bind(*state);
        }
        sql.push(" END, receipt = CASE id");
        for (id, _, _, receipt) in chunk {
            sql.push(" WHEN ")
                .bind(*id)
                .push(" THEN ")
                .bind(receipt.as_str());
        }
        sql.push(" END, removed_at = ")
            .bind(now)
            .push(", verified_at = ")
            .bind(now)
            .push(", last_error = NULL, lease_until = NULL, updated_at = ")
            .bind(now)
            .push(" WHERE id IN ");
        sql.tuple(chunk.iter().map(|(id, ..)| sea_orm::Value::from(*id)));
        conn.execute_raw(sql.build()).await?;
    }
    Ok(())
}
