//! The remediation worker's bulk statements on SQLite: multi-row VALUES lists within its
//! placeholder limit, and the history of a batch derived from its settled rows.

use super::ROWS_PER_STATEMENT;
use crate::store::process::push_lease_free;
use crate::store::remediation::{NewAttempt, Settled, Settlement, SETTLE_SET};
use crate::store::sql::Sql;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Value};

/// Reads up to `limit` due removals of remediating campaigns that no live lease holds, oldest
/// first, with their items, and leases them to `owner` until `lease_until`. SQLite's index on
/// (state, next_attempt_at) ends in the row id, so ordering by id too costs nothing. Its write
/// transaction excludes every other worker, so reading and then leasing is safe.
pub(crate) async fn lease_due(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
    owner: &str,
    lease_until: DateTime<Utc>,
) -> Result<Vec<QueryResult>, DbErr> {
    let mut sql = Sql::new(
        DbBackend::Sqlite,
        "SELECT r.id, r.attempts, r.campaign_id, r.eligibility_id, r.item_id, r.kind, i.holder_external_id, i.role_name, i.scope, i.assignment \
         FROM review_item i JOIN (SELECT r.id, r.attempts, r.campaign_id, r.eligibility_id, r.item_id, r.kind, r.next_attempt_at \
         FROM remediation r JOIN campaign c ON c.id = r.campaign_id \
         WHERE c.state = 'remediating' AND r.state = 'pending' AND r.next_attempt_at <= ",
    );
    sql.bind(now).push(" AND");
    push_lease_free(&mut sql, "r", now);
    sql.push("ORDER BY r.next_attempt_at, r.id LIMIT ")
        .bind(limit as i64)
        .push(") r ON i.id = r.item_id ORDER BY r.next_attempt_at, r.id");
    let rows = conn.query_all_raw(sql.build()).await?;
    let mut ids = Vec::with_capacity(rows.len());
    for row in &rows {
        ids.push(row.try_get::<i64>("", "id")?);
    }
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        crate::store::lease(conn, "remediation", chunk, owner, lease_until).await?;
    }
    Ok(rows)
}

/// Settles a batch from a VALUES list, then writes the history line of each removal that went
/// through from its settled row.
pub(crate) async fn settle(
    conn: &impl ConnectionTrait,
    settled: &[Settled],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    for chunk in settled.chunks(ROWS_PER_STATEMENT) {
        let mut sql = Sql::new(DbBackend::Sqlite, "UPDATE remediation SET");
        sql.push(SETTLE_SET)
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
            DbBackend::Sqlite,
            "INSERT INTO remediation_attempt (remediation_id, attempt, at, outcome, receipt, error) \
             SELECT r.id, r.attempts, ",
        );
        sql.bind(now)
            .push(", r.state, r.receipt, NULL FROM remediation r WHERE r.id IN ")
            .tuple(verified)
            .push(" ORDER BY r.id");
        conn.execute_raw(sql.build()).await?;
    }
    Ok(())
}

/// Writes lines of history as they are, a VALUES list per chunk.
pub(crate) async fn record_attempts(
    conn: &impl ConnectionTrait,
    attempts: &[NewAttempt],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    for chunk in attempts.chunks(ROWS_PER_STATEMENT) {
        let mut sql = Sql::new(
            DbBackend::Sqlite,
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
