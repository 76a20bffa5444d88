//! The audit log table: appending to the hash chain and reading it back in order.
//!
//! What an event records is bounded whoever sent it: a long actor, target or detail text is
//! stored as a digest (see [`crate::domain::limits::bounded_details`]), before the event is
//! hashed, so the chain and the evidence verify as usual.

use super::sql::Sql;
use super::StoreError;
use crate::domain::audit_chain::{ChainBreak, ChainVerifier, ChainedEvent};
use crate::domain::limits::{bounded_details, bounded_name};
use chrono::{DateTime, SubsecRound, Utc};
use futures::TryStreamExt;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, QueryResult, StreamTrait};

/// Appends one event inside the caller's transaction, so the event and the change it records
/// commit together or not at all. Long texts are stored as digests.
pub async fn append(
    txn: &DatabaseTransaction,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    target: Option<&str>,
    details: &serde_json::Value,
) -> Result<ChainedEvent, StoreError> {
    let backend = ConnectionTrait::get_database_backend(txn);
    // Writers queue here so two instances never chain onto the same tail. The unique
    // prev_hash would refuse a fork in any case.
    super::backend::serialize(txn, super::backend::ExclusiveChange::AuditChain).await?;
    let tail = Sql::new(
        backend,
        "SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1",
    );
    let prev = match txn.query_one_raw(tail.build()).await? {
        Some(row) => Some((
            row.try_get::<i64>("", "seq")?,
            row.try_get::<String>("", "hash")?,
        )),
        None => None,
    };
    let event = ChainedEvent::next(
        prev.as_ref().map(|(seq, hash)| (*seq, hash.as_str())),
        at.trunc_subsecs(6),
        &bounded_name(actor),
        &bounded_name(action),
        target.map(bounded_name).as_deref(),
        bounded_details(details).to_string(),
    );
    let mut insert = Sql::new(
        backend,
        "INSERT INTO audit_event (seq, at, actor, action, target, details, prev_hash, hash) VALUES ",
    );
    insert.tuple([
        event.seq.into(),
        event.at.into(),
        event.actor.as_str().into(),
        event.action.as_str().into(),
        event.target.clone().into(),
        event.details.as_str().into(),
        event.prev_hash.as_str().into(),
        event.hash.as_str().into(),
    ]);
    txn.execute_raw(insert.build()).await?;
    Ok(event)
}

fn event_from_row(row: &QueryResult) -> Result<ChainedEvent, DbErr> {
    Ok(ChainedEvent {
        seq: row.try_get("", "seq")?,
        at: row.try_get("", "at")?,
        actor: row.try_get("", "actor")?,
        action: row.try_get("", "action")?,
        target: row.try_get("", "target")?,
        details: row.try_get("", "details")?,
        prev_hash: row.try_get("", "prev_hash")?,
        hash: row.try_get("", "hash")?,
    })
}

const SELECT_EVENTS: &str =
    "SELECT seq, at, actor, action, target, details, prev_hash, hash FROM audit_event";

/// Walks the whole chain in order, in flat memory. `Ok(Err(_))` is a broken chain; `Err` a
/// database problem.
pub async fn verify<C: ConnectionTrait + StreamTrait>(
    conn: &C,
) -> Result<Result<u64, ChainBreak>, StoreError> {
    let sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        &format!("{SELECT_EVENTS} ORDER BY seq"),
    );
    let rows = conn.stream_raw(sql.build()).await?;
    let mut rows = std::pin::pin!(rows);
    let mut verifier = ChainVerifier::default();
    while let Some(row) = rows.try_next().await? {
        if let Err(broken) = verifier.check(&event_from_row(&row)?) {
            return Ok(Err(broken));
        }
    }
    Ok(Ok(verifier.checked))
}

/// The most recent events, newest first.
pub async fn recent(
    conn: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<ChainedEvent>, StoreError> {
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        &format!("{SELECT_EVENTS} ORDER BY seq DESC LIMIT "),
    );
    sql.bind(limit as i64);
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(event_from_row)
        .collect::<Result<_, DbErr>>()
        .map_err(StoreError::from)
}

/// Events older than `before` (all when `None`), newest first: one page of the log.
pub async fn page(
    conn: &impl ConnectionTrait,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<ChainedEvent>, StoreError> {
    let mut sql = Sql::new(conn.get_database_backend(), SELECT_EVENTS);
    if let Some(before) = before {
        sql.push(" WHERE seq < ").bind(before);
    }
    sql.push(" ORDER BY seq DESC LIMIT ").bind(limit as i64);
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(event_from_row)
        .collect::<Result<_, DbErr>>()
        .map_err(StoreError::from)
}
