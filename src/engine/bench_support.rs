//! What `attest bench` reads and times besides the use cases themselves: each reviewer's load,
//! the items a reviewer still has open, the raw-insert baseline the launch is compared with,
//! and closing the pool at the end. Kept apart from the use cases so nothing else calls them.

use super::{Engine, EngineError};
use crate::store::{bench_baseline, items, review};

impl Engine {
    /// `(reviewer id, items)` of every reviewer of the campaign, by reviewer id.
    pub async fn reviewer_loads(&self, campaign_id: i64) -> Result<Vec<(i64, i64)>, EngineError> {
        Ok(items::reviewer_loads(self.store.conn(), campaign_id).await?)
    }

    /// The ids of the reviewer's items that have no verdict yet.
    pub async fn open_item_ids(
        &self,
        campaign_id: i64,
        reviewer_id: i64,
    ) -> Result<Vec<i64>, EngineError> {
        Ok(
            review::reviewer_items(self.store.conn(), campaign_id, reviewer_id)
                .await?
                .iter()
                .filter(|i| i.verdict.is_none())
                .map(|i| i.id)
                .collect(),
        )
    }

    /// Inserts `rows` item-shaped rows into a scratch table as fast as the backend can: the
    /// floor a launch of that many items is measured against.
    pub async fn raw_insert_baseline(
        &self,
        campaign_id: i64,
        rows: usize,
    ) -> Result<(), EngineError> {
        Ok(bench_baseline::raw_insert(&self.store, campaign_id, rows).await?)
    }

    /// Closes the database pool (the bench's scratch database is dropped after).
    pub async fn shut_down(self) -> Result<(), EngineError> {
        Ok(self.store.clone().close().await?)
    }
}
