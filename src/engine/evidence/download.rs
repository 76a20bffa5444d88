//! A campaign's evidence as someone downloads it (console or API): the stored bundle, made at
//! completion, streamed chunk by chunk as it was stored; else one generated for this download
//! (an open campaign's evidence so far).

use super::ExportOptions;
use crate::engine::{Engine, EngineError};
use crate::store::campaigns::CampaignRow;
use crate::store::evidence as ev;
use futures::stream::BoxStream;

/// What a download sends.
pub enum EvidenceBody {
    /// The stored bundle's bytes, in chunks, read as they are sent.
    Stored(BoxStream<'static, Result<Vec<u8>, EngineError>>),
    /// A bundle generated for this download.
    Generated(Vec<u8>),
}

/// A download: the bundle's file name and its bytes.
pub struct EvidenceDownload {
    pub file_name: String,
    pub body: EvidenceBody,
}

impl Engine {
    /// Campaign `id`'s evidence for a download.
    pub async fn evidence_download(&self, id: i64) -> Result<EvidenceDownload, EngineError> {
        let campaign = self.campaign_row(id).await?;
        let file_name = bundle_file_name(&campaign);
        if let Some(bundle) = ev::latest_bundle(self.store().conn(), id).await? {
            let conn = self.store().conn().clone();
            let chunks = futures::stream::try_unfold(0i32, move |seq| {
                let conn = conn.clone();
                async move {
                    Ok(ev::chunk(&conn, bundle.id, seq)
                        .await?
                        .map(|data| (data, seq + 1)))
                }
            });
            return Ok(EvidenceDownload {
                file_name,
                body: EvidenceBody::Stored(Box::pin(chunks)),
            });
        }
        let dir = tempfile::tempdir().map_err(|e| EngineError::Io(e.to_string()))?;
        let path = dir.path().join(&file_name);
        self.export_evidence(id, &path, ExportOptions::default())
            .await?;
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| EngineError::Io(e.to_string()))?;
        Ok(EvidenceDownload {
            file_name,
            body: EvidenceBody::Generated(bytes),
        })
    }
}

/// Where a campaign's stored bundle can be written out for download.
pub fn bundle_file_name(campaign: &CampaignRow) -> String {
    format!(
        "attest-evidence-{}-{}-{}.zip",
        campaign.id,
        campaign.name,
        campaign.period.replace('/', "-")
    )
}
