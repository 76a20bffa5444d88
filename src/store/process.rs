//! The processes that take leased work, with their heartbeats (migration 11), and the one
//! condition every lease query uses to tell a live lease from a free one.

use super::sql::Sql;
use super::StoreError;
use crate::domain::liveness;
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

/// Records that process `id` (host, pid, what it runs) takes leased work from `now`; forgets
/// processes that stopped long ago.
pub async fn register(
    conn: &impl ConnectionTrait,
    id: &str,
    host: &str,
    pid: u32,
    command: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let backend = conn.get_database_backend();
    let mut forget = Sql::new(backend, "DELETE FROM attest_process WHERE heartbeat_at < ");
    forget.bind(now - liveness::FORGOTTEN_AFTER);
    conn.execute_raw(forget.build()).await?;
    let mut sql = Sql::new(
        backend,
        "INSERT INTO attest_process (id, host, pid, command, started_at, heartbeat_at) VALUES (",
    );
    sql.bind(id)
        .push(", ")
        .bind(host)
        .push(", ")
        .bind(i64::from(pid))
        .push(", ")
        .bind(command)
        .push(", ")
        .bind(now)
        .push(", ")
        .bind(now)
        .push(") ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, stopped_at = NULL");
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// Renews process `id`'s heartbeat; false when it is not registered (or said it stopped).
pub async fn heartbeat(
    conn: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE attest_process SET heartbeat_at = ",
    );
    sql.bind(now)
        .push(" WHERE stopped_at IS NULL AND id = ")
        .bind(id);
    Ok(conn.execute_raw(sql.build()).await?.rows_affected() == 1)
}

/// Process `id` stops: its leases on mail and removals are given back at once (a launch's is
/// given back by the launch itself).
pub async fn stop(
    conn: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let backend = conn.get_database_backend();
    for table in ["outbox_mail", "remediation"] {
        let mut sql = Sql::new(
            backend,
            &format!(
                "UPDATE {table} SET lease_until = NULL, lease_owner = NULL WHERE lease_owner = "
            ),
        );
        sql.bind(id);
        conn.execute_raw(sql.build()).await?;
    }
    let mut sql = Sql::new(backend, "UPDATE attest_process SET stopped_at = ");
    sql.bind(now).push(" WHERE id = ").bind(id);
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// A registered process, as a refusal names the holder of a lease.
#[derive(Debug, Clone)]
pub struct ProcessRow {
    pub id: String,
    pub host: String,
    pub pid: i64,
    pub command: String,
    pub heartbeat_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
}

pub async fn process(
    conn: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<ProcessRow>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT id, host, pid, command, heartbeat_at, stopped_at FROM attest_process WHERE id = ",
    );
    sql.bind(id);
    conn.query_one_raw(sql.build())
        .await?
        .map(|row| {
            Ok(ProcessRow {
                id: row.try_get("", "id")?,
                host: row.try_get("", "host")?,
                pid: row.try_get("", "pid")?,
                command: row.try_get("", "command")?,
                heartbeat_at: row.try_get("", "heartbeat_at")?,
                stopped_at: row.try_get("", "stopped_at")?,
            })
        })
        .transpose()
}

/// Appends the condition "the lease of `alias` (a row with `lease_until` and `lease_owner`) is
/// free at `now`": never leased, run out, or held by a registered process that is gone. A
/// holder that never registered keeps its lease until it runs out, as before migration 11.
pub(crate) fn push_lease_free(sql: &mut Sql, alias: &str, now: DateTime<Utc>) {
    let column = |name: &str| {
        if alias.is_empty() {
            name.to_string()
        } else {
            format!("{alias}.{name}")
        }
    };
    sql.push(&format!(
        " ({} IS NULL OR {} < ",
        column("lease_until"),
        column("lease_until")
    ))
    .bind(now)
    .push(&format!(
        " OR {} IN (SELECT p.id FROM attest_process p WHERE p.stopped_at IS NOT NULL OR p.heartbeat_at < ",
        column("lease_owner")
    ))
    .bind(liveness::gone_before(now))
    .push(")) ");
}
