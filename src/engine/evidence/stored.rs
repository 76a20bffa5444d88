//! Bundles kept in the database: the one generated when a campaign completes, stored in 1 MiB
//! chunks, and the recovery that stores any a crash or a failure left out.

use super::{io_err, ExportOptions};
use crate::engine::{Engine, EngineError};
use crate::store::evidence as ev;
use sha2::{Digest, Sha256};
use std::path::Path;

impl Engine {
    /// Stores the bundle of every completed campaign that has none (a crash between completing
    /// and storing, or a store that failed): run on every scheduler tick and after the CLI's
    /// removals. Returns the campaigns whose bundle it stored; one that fails again is logged
    /// and tried at the next tick.
    pub async fn store_missing_evidence(&self) -> Result<Vec<i64>, EngineError> {
        let mut stored = Vec::new();
        for id in ev::completed_without_bundle(self.store().conn()).await? {
            match self
                .store_evidence(
                    id,
                    "completed (stored by recovery: none was stored at completion)",
                )
                .await
            {
                Ok(_) => stored.push(id),
                Err(e) => {
                    tracing::error!(campaign = id, "could not store the evidence bundle: {e}")
                }
            }
        }
        Ok(stored)
    }

    /// Generates the bundle of a completed campaign and keeps it in the database, so it stays
    /// downloadable for as long as the database lives (in 1 MiB chunks, so it streams).
    pub async fn store_evidence(
        &self,
        campaign_id: i64,
        reason: &str,
    ) -> Result<ev::StoredBundle, EngineError> {
        let dir = tempfile::tempdir().map_err(io_err)?;
        let path = dir
            .path()
            .join(format!("campaign-{campaign_id}-evidence.zip"));
        let report = self
            .export_evidence(campaign_id, &path, ExportOptions::default())
            .await?;
        let manifest = read_manifest_from_zip(&path)?;
        let (sha, bytes) = sha256_of_file(&path)?;
        let txn = self.store().begin().await?;
        let id = ev::insert_bundle(
            &txn,
            campaign_id,
            report.generated_at,
            &manifest,
            &sha,
            bytes as i64,
            reason,
        )
        .await?;
        let mut file = std::fs::File::open(&path).map_err(io_err)?;
        let mut seq = 0;
        loop {
            let mut chunk = vec![0u8; 1 << 20];
            let n = read_full(&mut file, &mut chunk).map_err(io_err)?;
            if n == 0 {
                break;
            }
            chunk.truncate(n);
            ev::insert_chunk(&txn, id, seq, chunk).await?;
            seq += 1;
        }
        crate::store::audit::append(
            &txn,
            self.now(),
            "engine",
            "evidence.stored",
            Some(&format!("campaign:{campaign_id}")),
            &serde_json::json!({ "bundle": id, "sha256": sha, "bytes": bytes, "reason": reason }),
        )
        .await?;
        let event = crate::engine::webhook_events::evidence_stored(
            campaign_id,
            id,
            &sha,
            bytes,
            self.now(),
        );
        self.emit(&txn, vec![event]).await?;
        txn.commit().await?;
        ev::latest_bundle(self.store().conn(), campaign_id)
            .await?
            .ok_or_else(|| EngineError::Io("the stored bundle vanished".into()))
    }
}

fn sha256_of_file(path: &Path) -> Result<(String, u64), EngineError> {
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher).map_err(io_err)?;
    Ok((hex::encode(hasher.finalize()), bytes))
}

fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn read_manifest_from_zip(path: &Path) -> Result<String, EngineError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut zip = zip::ZipArchive::new(file).map_err(io_err)?;
    let mut text = String::new();
    zip.by_name("manifest.json")
        .map_err(io_err)?
        .read_to_string(&mut text)
        .map_err(io_err)?;
    Ok(text)
}
