//! Stored bundles: a completed campaign's zip kept in the database in chunks, so it stays
//! downloadable and streams as it is sent.

use crate::domain::lifecycle::CampaignState;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::{campaign, evidence_bundle, evidence_chunk};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

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
    let row = evidence_bundle::ActiveModel {
        campaign_id: Set(campaign_id),
        generated_at: Set(generated_at),
        manifest: Set(manifest.to_string()),
        sha256: Set(sha256.to_string()),
        bytes: Set(bytes),
        reason: Set(reason.to_string()),
        ..Default::default()
    };
    Ok(evidence_bundle::Entity::insert(row)
        .exec(conn)
        .await?
        .last_insert_id)
}

pub async fn insert_chunk(
    conn: &impl ConnectionTrait,
    bundle_id: i64,
    seq: i32,
    data: Vec<u8>,
) -> Result<(), StoreError> {
    let row = evidence_chunk::ActiveModel {
        bundle_id: Set(bundle_id),
        seq: Set(seq),
        data: Set(data),
        ..Default::default()
    };
    evidence_chunk::Entity::insert(row)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Completed campaigns without a stored bundle: completing commits before the bundle is made,
/// so a crash in between leaves one behind, for the recovery step to store.
pub async fn completed_without_bundle(conn: &impl ConnectionTrait) -> Result<Vec<i64>, StoreError> {
    let bundle_of_campaign = Query::select()
        .expr(Expr::val(1))
        .from(evidence_bundle::Entity)
        .and_where(
            Expr::col((evidence_bundle::Entity, evidence_bundle::Column::CampaignId))
                .equals((campaign::Entity, campaign::Column::Id)),
        )
        .to_owned();
    Ok(campaign::Entity::find()
        .select_only()
        .column(campaign::Column::Id)
        .filter(campaign::Column::State.eq(CampaignState::Completed))
        .filter(Expr::exists(bundle_of_campaign).not())
        .order_by_asc(campaign::Column::Id)
        .into_tuple()
        .all(conn)
        .await?)
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
    // The columns but the manifest, which can be long and is not wanted here.
    let row: Option<(i64, i64, DateTime<Utc>, String, i64, String)> =
        evidence_bundle::Entity::find()
            .select_only()
            .columns([
                evidence_bundle::Column::Id,
                evidence_bundle::Column::CampaignId,
                evidence_bundle::Column::GeneratedAt,
                evidence_bundle::Column::Sha256,
                evidence_bundle::Column::Bytes,
                evidence_bundle::Column::Reason,
            ])
            .filter(evidence_bundle::Column::CampaignId.eq(campaign_id))
            .order_by_desc(evidence_bundle::Column::Id)
            .into_tuple()
            .one(conn)
            .await?;
    Ok(row.map(
        |(id, campaign_id, generated_at, sha256, bytes, reason)| StoredBundle {
            id,
            campaign_id,
            generated_at,
            sha256,
            bytes,
            reason,
        },
    ))
}

/// One chunk of a stored bundle's zip, by position.
pub async fn chunk(
    conn: &impl ConnectionTrait,
    bundle_id: i64,
    seq: i32,
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(evidence_chunk::Entity::find()
        .select_only()
        .column(evidence_chunk::Column::Data)
        .filter(evidence_chunk::Column::BundleId.eq(bundle_id))
        .filter(evidence_chunk::Column::Seq.eq(seq))
        .into_tuple()
        .one(conn)
        .await?)
}
