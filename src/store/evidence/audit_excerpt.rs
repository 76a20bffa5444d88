//! The audit excerpt of a bundle: the stretch of the audit chain that covers a campaign,
//! streamed in order.

use crate::store::StoreError;
use entity::audit_event;
use futures::Stream;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QueryResult,
    QuerySelect, QueryTrait, StreamTrait,
};

/// The stretch of the audit chain that covers the campaign: from its first event to its last,
/// with everything in between, so the excerpt can be verified on its own.
pub async fn audit_range(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Option<(i64, i64)>, StoreError> {
    let range: Option<(Option<i64>, Option<i64>)> = audit_event::Entity::find()
        .select_only()
        .column_as(audit_event::Column::Seq.min(), "first")
        .column_as(audit_event::Column::Seq.max(), "last")
        .filter(audit_event::Column::Target.eq(format!("campaign:{campaign_id}")))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(range.and_then(|(first, last)| first.zip(last)))
}

/// The events `first..=last` in order, as rows for the bundle writer to stream.
pub async fn audit_rows<'a, C: ConnectionTrait + StreamTrait>(
    conn: &'a C,
    first: i64,
    last: i64,
) -> Result<impl Stream<Item = Result<QueryResult, DbErr>> + 'a, StoreError> {
    let events = audit_event::Entity::find()
        .select_only()
        .columns([
            audit_event::Column::Seq,
            audit_event::Column::At,
            audit_event::Column::Actor,
            audit_event::Column::Action,
            audit_event::Column::Target,
            audit_event::Column::Details,
            audit_event::Column::PrevHash,
            audit_event::Column::Hash,
        ])
        .filter(audit_event::Column::Seq.between(first, last))
        .order_by_asc(audit_event::Column::Seq)
        .build(ConnectionTrait::get_database_backend(conn));
    conn.stream_raw(events).await.map_err(StoreError::from)
}
