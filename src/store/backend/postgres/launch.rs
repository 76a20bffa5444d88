//! A launch's items on PostgreSQL: written by `COPY` on a connection of their own (≈ 10×
//! faster than INSERTs), many batches at once.

use super::copy::{copy_in, CopyRows};
use crate::store::items::NewItem;
use crate::store::StoreError;
use chrono::{DateTime, Utc};

/// Eligibilities per COPY: few enough round trips that the missing TCP_NODELAY costs little,
/// few enough rows that the batch stays small in memory (≈ 30 MB, and as much again queued by
/// the reader meanwhile).
pub(crate) const COPY_ROWS: usize = 100_000;

/// Copies a batch of items in one COPY (PostgreSQL), all or none. Unlike `items::insert_items` it
/// cannot skip items already there: a launch copies only past its last item (see
/// `campaigns::reconcile_launch`), and the unique (campaign, eligibility) index refuses a
/// second copy of one.
pub(crate) async fn copy_items(
    conn: &sea_orm::DatabaseConnection,
    campaign_id: i64,
    items: &[NewItem<'_>],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut rows = CopyRows::default();
    for i in items {
        let e = i.eligibility;
        let flag = i.flag_reason();
        rows.int(Some(campaign_id))
            .int(Some(e.eligibility_id))
            .int(Some(e.principal_id))
            .int(Some(e.role_id))
            .text(Some(&e.scope))
            .text(Some(&e.principal_external_id))
            .text(Some(&e.principal_name))
            .text(e.principal_email.as_deref())
            .text(Some(e.principal_kind.as_str()))
            .text(Some(&e.role_name))
            .text(Some(e.role_risk.as_str()))
            .time(e.since)
            .time(e.last_activated_at)
            .int(Some(i.reviewer_id))
            .text(Some(i.reviewer_reason.as_str()))
            .boolean(flag.is_some())
            .text(flag.as_deref())
            .text(Some(i.recommendation.as_str()))
            .text(Some(&i.recommendation_reason))
            .boolean(i.excluded)
            .time(Some(now))
            .text(Some(e.assignment.as_str()))
            .end_row();
    }
    copy_in(
        conn.get_postgres_connection_pool(),
        "review_item",
        crate::store::items::ITEM_COLUMNS,
        rows,
    )
    .await
}
