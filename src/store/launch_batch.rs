//! Writing a launch's items, where the two databases differ most. PostgreSQL takes items by
//! `COPY` on a connection of its own (≈ 10× faster than INSERTs), many batches at once, and the
//! copy commits before the transaction that records it (`campaigns::reconcile_launch` repairs a
//! crash in between); SQLite inserts each batch inside the transaction that records it.

use super::backend::{is_postgres, postgres};
use super::campaigns;
use super::items::{self, NewItem};
use super::Store;
use super::StoreError;
use chrono::{DateTime, Utc};

/// How many items a launch should gather before one write: many on PostgreSQL (one COPY), a
/// single read batch on SQLite (`1`: write each batch as it comes).
pub fn rows_per_write(store: &Store) -> usize {
    if is_postgres(store.conn()) {
        postgres::launch::COPY_ROWS
    } else {
        1
    }
}

/// Writes `new_items` as items of launch `id` and records the batch (the cursor moves to
/// `last`, the item count grows) while process `owner` holds the launch, renewing its lease to
/// `lease_until`. `Ok(None)`: another process holds the launch; nothing was written.
pub async fn freeze(
    store: &Store,
    id: i64,
    owner: &str,
    new_items: &[NewItem<'_>],
    last: i64,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Option<u64>, StoreError> {
    let copied = if is_postgres(store.conn()) {
        let conn = store.conn();
        if !campaigns::claim_launch(conn, id, owner, now, lease_until).await? {
            return Ok(None);
        }
        Some(postgres::launch::copy_items(conn, id, new_items, now).await?)
    } else {
        None
    };
    let txn = store.begin().await?;
    if !campaigns::claim_launch(&txn, id, owner, now, lease_until).await? {
        return Ok(None);
    }
    let added = match copied {
        Some(added) => added,
        None => items::insert_items(&txn, id, new_items, now).await?,
    };
    campaigns::advance_launch(&txn, id, last, added, now).await?;
    txn.commit().await?;
    Ok(Some(added))
}
