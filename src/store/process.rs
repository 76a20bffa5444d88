//! The processes that take leased work, with their heartbeats (migration 11), and the one
//! condition every lease query uses to tell a live lease from a free one.

use super::sql::Sql;
use super::StoreError;
use crate::domain::liveness;
use chrono::{DateTime, Utc};
use entity::{attest_process, outbox_mail, remediation, webhook_delivery};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

/// A cleared time column.
const NO_TIME: Option<DateTime<Utc>> = None;

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
    attest_process::Entity::delete_many()
        .filter(attest_process::Column::HeartbeatAt.lt(now - liveness::FORGOTTEN_AFTER))
        .exec(conn)
        .await?;
    let row = attest_process::ActiveModel {
        id: Set(id.to_string()),
        host: Set(host.to_string()),
        pid: Set(i64::from(pid)),
        command: Set(command.to_string()),
        started_at: Set(now),
        heartbeat_at: Set(now),
        stopped_at: Set(None),
    };
    // A process registering again under its id (a restart) is live again from now.
    let renew = OnConflict::column(attest_process::Column::Id)
        .update_column(attest_process::Column::HeartbeatAt)
        .value(attest_process::Column::StoppedAt, Expr::value(NO_TIME))
        .to_owned();
    attest_process::Entity::insert(row)
        .on_conflict(renew)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Renews process `id`'s heartbeat; false when it is not registered (or said it stopped).
pub async fn heartbeat(
    conn: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let renewed = attest_process::Entity::update_many()
        .col_expr(attest_process::Column::HeartbeatAt, Expr::value(now))
        .filter(attest_process::Column::StoppedAt.is_null())
        .filter(attest_process::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(renewed.rows_affected == 1)
}

/// Process `id` stops: its leases on mail, removals and webhook deliveries are given back at once (a launch's is
/// given back by the launch itself).
pub async fn stop(
    conn: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    outbox_mail::Entity::update_many()
        .col_expr(outbox_mail::Column::LeaseUntil, Expr::value(NO_TIME))
        .col_expr(
            outbox_mail::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .filter(outbox_mail::Column::LeaseOwner.eq(id))
        .exec(conn)
        .await?;
    remediation::Entity::update_many()
        .col_expr(remediation::Column::LeaseUntil, Expr::value(NO_TIME))
        .col_expr(
            remediation::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .filter(remediation::Column::LeaseOwner.eq(id))
        .exec(conn)
        .await?;
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::LeaseUntil, Expr::value(NO_TIME))
        .col_expr(
            webhook_delivery::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .filter(webhook_delivery::Column::LeaseOwner.eq(id))
        .exec(conn)
        .await?;
    attest_process::Entity::update_many()
        .col_expr(attest_process::Column::StoppedAt, Expr::value(now))
        .filter(attest_process::Column::Id.eq(id))
        .exec(conn)
        .await?;
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
    Ok(attest_process::Entity::find_by_id(id)
        .one(conn)
        .await?
        .map(|p| ProcessRow {
            id: p.id,
            host: p.host,
            pid: p.pid,
            command: p.command,
            heartbeat_at: p.heartbeat_at,
            stopped_at: p.stopped_at,
        }))
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
