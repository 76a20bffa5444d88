//! The audit log table: appending to the hash chain and reading it back in order.
//!
//! What an event records is bounded whoever sent it: a long actor, target or detail text is
//! stored as a digest (see [`crate::domain::limits::bounded_details`]), before the event is
//! hashed, so the chain and the evidence verify as usual.

use super::StoreError;
use crate::domain::audit_chain::{ChainBreak, ChainVerifier, ChainedEvent};
use crate::domain::limits::{bounded_details, bounded_name};
use chrono::{DateTime, SubsecRound, Utc};
use entity::audit_event;
use futures::TryStreamExt;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, StreamTrait,
};

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
    // Writers queue here so two instances never chain onto the same tail. The unique
    // prev_hash would refuse a fork in any case.
    super::backend::serialize(txn, super::backend::ExclusiveChange::AuditChain).await?;
    let prev: Option<(i64, String)> = audit_event::Entity::find()
        .select_only()
        .column(audit_event::Column::Seq)
        .column(audit_event::Column::Hash)
        .order_by_desc(audit_event::Column::Seq)
        .into_tuple()
        .one(txn)
        .await?;
    let event = ChainedEvent::next(
        prev.as_ref().map(|(seq, hash)| (*seq, hash.as_str())),
        at.trunc_subsecs(6),
        &bounded_name(actor),
        &bounded_name(action),
        target.map(bounded_name).as_deref(),
        bounded_details(details).to_string(),
    );
    let row = audit_event::ActiveModel {
        seq: Set(event.seq),
        at: Set(event.at),
        actor: Set(event.actor.clone()),
        action: Set(event.action.clone()),
        target: Set(event.target.clone()),
        details: Set(event.details.clone()),
        prev_hash: Set(event.prev_hash.clone()),
        hash: Set(event.hash.clone()),
        ..Default::default()
    };
    audit_event::Entity::insert(row)
        .exec_without_returning(txn)
        .await?;
    Ok(event)
}

fn event_from_model(row: audit_event::Model) -> ChainedEvent {
    ChainedEvent {
        seq: row.seq,
        at: row.at,
        actor: row.actor,
        action: row.action,
        target: row.target,
        details: row.details,
        prev_hash: row.prev_hash,
        hash: row.hash,
    }
}

/// Walks the whole chain in order, in flat memory. `Ok(Err(_))` is a broken chain; `Err` a
/// database problem.
pub async fn verify<C: ConnectionTrait + StreamTrait>(
    conn: &C,
) -> Result<Result<u64, ChainBreak>, StoreError> {
    let rows = audit_event::Entity::find()
        .order_by_asc(audit_event::Column::Seq)
        .stream(conn)
        .await?;
    let mut rows = std::pin::pin!(rows);
    let mut verifier = ChainVerifier::default();
    while let Some(row) = rows.try_next().await? {
        if let Err(broken) = verifier.check(&event_from_model(row)) {
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
    page(conn, None, limit).await
}

/// Events older than `before` (all when `None`), newest first: one page of the log.
pub async fn page(
    conn: &impl ConnectionTrait,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<ChainedEvent>, StoreError> {
    let mut events = audit_event::Entity::find();
    if let Some(before) = before {
        events = events.filter(audit_event::Column::Seq.lt(before));
    }
    Ok(events
        .order_by_desc(audit_event::Column::Seq)
        // PostgreSQL's LIMIT is a bigint: a larger one (from the command line) means all.
        .limit(Ord::min(limit, i64::MAX as u64))
        .all(conn)
        .await?
        .into_iter()
        .map(event_from_model)
        .collect())
}
