//! A campaign's evidence as someone downloads it (console or API): the stored bundle, made at
//! completion, streamed chunk by chunk as it was stored; else one generated for this download
//! (an open campaign's evidence so far).

use super::ExportOptions;
use crate::engine::{Engine, EngineError};
use crate::store::campaigns::CampaignRow;
use crate::store::evidence as ev;
use futures::stream::BoxStream;

/// The bytes of a download, in chunks read as they are sent: memory stays flat whatever the
/// bundle's size.
pub type EvidenceBody = BoxStream<'static, Result<Vec<u8>, EngineError>>;

/// Bytes read from a generated bundle's file per chunk.
const FILE_CHUNK: usize = 256 * 1024;

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
                body: Box::pin(chunks),
            });
        }
        let io = |e: std::io::Error| EngineError::Io(format!("the generated evidence bundle: {e}"));
        let dir = tempfile::tempdir().map_err(io)?;
        let path = dir.path().join(&file_name);
        self.export_evidence(id, &path, ExportOptions::default())
            .await?;
        // Opened, then its folder removed: the open file stays readable until the download
        // ends, and nothing is left behind if the client goes away half-way.
        let file = tokio::fs::File::open(&path).await.map_err(io)?;
        drop(dir);
        let chunks = futures::stream::try_unfold(file, move |mut file| async move {
            use tokio::io::AsyncReadExt;
            let mut chunk = vec![0; FILE_CHUNK];
            let read = file.read(&mut chunk).await.map_err(io)?;
            if read == 0 {
                return Ok(None);
            }
            chunk.truncate(read);
            Ok(Some((chunk, file)))
        });
        Ok(EvidenceDownload {
            file_name,
            body: Box::pin(chunks),
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
