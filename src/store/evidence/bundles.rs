//! Stored bundles: a completed campaign's zip kept in the database in chunks, so it stays
//! downloadable and streams as it is sent.

use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

/// Stores a bundle's manifest and returns its id; the zip follows with [`insert_chunk`].
pub async fn insert_bundle(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    generated_at: DateTime<Utc>,
    manifest: &str,
    sha256: &str,
    bytes: i64,
    reason: &str,
) -> Result<i64, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO evidence_bundle (campaign_id, generated_at, manifest, sha256, bytes, reason) VALUES ",
    );
    sql.tuple([
        campaign_id.into(),
        generated_at.into(),
        manifest.into(),
        sha256.into(),
        bytes.into(),
        reason.into(),
    ])
    .push(" RETURNING id");
    let row = conn
        .query_one_raw(sql.build())
        .await?
        .ok_or(DbErr::RecordNotInserted)?;
    row.try_get("", "id").map_err(StoreError::from)
}

pub async fn insert_chunk(
    conn: &impl ConnectionTrait,
    bundle_id: i64,
    seq: i32,
    data: Vec<u8>,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO evidence_chunk (bundle_id, seq, data) VALUES ",
    );
    sql.tuple([bundle_id.into(), seq.into(), data.into()]);
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// Completed campaigns without a stored bundle: completing commits before the bundle is made,
/// so a crash in between leaves one behind, for the recovery step to store.
pub async fn completed_without_bundle(conn: &impl ConnectionTrait) -> Result<Vec<i64>, StoreError> {
    let sql = Sql::new(
        conn.get_database_backend(),
        "SELECT c.id FROM campaign c WHERE c.state = 'completed' \
         AND NOT EXISTS (SELECT 1 FROM evidence_bundle b WHERE b.campaign_id = c.id) ORDER BY c.id",
    );
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| row.try_get("", "id"))
        .collect::<Result<_, DbErr>>()
        .map_err(StoreError::from)
}

/// A stored bundle.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredBundle {
    pub id: i64,
    pub campaign_id: i64,
    pub generated_at: DateTime<Utc>,
    pub sha256: String,
    pub bytes: i64,
    pub reason: String,
}

/// The newest stored bundle of a campaign.
pub async fn latest_bundle(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Option<StoredBundle>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT id, campaign_id, generated_at, sha256, bytes, reason FROM evidence_bundle WHERE campaign_id = ",
    );
    sql.bind(campaign_id).push(" ORDER BY id DESC LIMIT 1");
    conn.query_one_raw(sql.build())
        .await?
        .map(|row| {
            Ok(StoredBundle {
                id: row.try_get("", "id")?,
                campaign_id: row.try_get("", "campaign_id")?,
                generated_at: row.try_get("", "generated_at")?,
                sha256: row.try_get("", "sha256")?,
                bytes: row.try_get("", "bytes")?,
                reason: row.try_get("", "reason")?,
            })
        })
        .transpose()
}

/// One chunk of a stored bundle's zip, by position.
pub async fn chunk(
    conn: &impl ConnectionTrait,
    bundle_id: i64,
    seq: i32,
) -> Result<Option<Vec<u8>>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT data FROM evidence_chunk WHERE bundle_id = ",
    );
    sql.bind(bundle_id).push(" AND seq = ").bind(seq);
    match conn.query_one_raw(sql.build()).await? {
        Some(row) => Ok(Some(row.try_get("", "data")?)),
        None => Ok(None),
    }
}
