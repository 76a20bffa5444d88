//! `attest evidence …` and `attest report …`.

use super::output::{self, say};
use super::Failure;
use crate::engine::evidence::ExportOptions;
use crate::engine::Engine;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Write a campaign's evidence bundle: items.csv, decisions.csv, after_remediation.csv,
    /// audit.jsonl, campaign.json, report.html and a signed manifest.json.
    Export {
        id: i64,
        /// A new folder, or a file ending in .zip.
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
        /// Start items.csv with a UTF-8 byte order mark (for spreadsheets that need one).
        #[arg(long)]
        bom: bool,
        #[arg(long)]
        json: bool,
    },
    /// Check a bundle offline: every file's SHA-256, the manifest's signature, the row count
    /// against the population, the audit hash chain. Exit 0 when intact, 1 naming the first problem.
    Verify {
        /// The bundle: a folder or a .zip.
        path: PathBuf,
        /// The instance's public key (hex, from `attest evidence key`): rejects a re-signed bundle.
        #[arg(long, value_name = "PUBKEY")]
        key: Option<String>,
    },
    /// Print this instance's evidence signing key (public half), for auditors to pin.
    Key,
}

pub async fn run(engine: Option<&Engine>, command: EvidenceCommand) -> Result<(), Failure> {
    match command {
        EvidenceCommand::Verify { path, key } => {
            let result = crate::evidence::verify::verify(&path, key.as_deref());
            for check in &result.passed {
                say!("ok      {check}");
            }
            match result.problem {
                None => {
                    say!("bundle intact: {}", path.display());
                    Ok(())
                }
                Some(problem) => Err(Failure::runtime(format!("bundle NOT intact: {problem}"))),
            }
        }
        EvidenceCommand::Export { id, out, bom, json } => {
            let engine = engine.ok_or_else(|| Failure::runtime("no database"))?;
            let report = engine
                .export_evidence(id, &out, ExportOptions { bom })
                .await?;
            if json {
                return output::print_json(&report);
            }
            say!(
                "evidence of campaign #{id} written to {}",
                report.path.display()
            );
            for file in &report.files {
                say!(
                    "  {:<24} {:>10} bytes  sha256 {}",
                    file.name,
                    file.bytes,
                    file.sha256
                );
            }
            say!("  manifest.json signed with key {}", report.public_key);
            say!(
                "verify with: attest evidence verify {} --key {}",
                report.path.display(),
                report.public_key
            );
            Ok(())
        }
        EvidenceCommand::Key => {
            let engine = engine.ok_or_else(|| Failure::runtime("no database"))?;
            let key = engine.signing_key().await?;
            say!("{}", hex::encode(key.verifying_key().to_bytes()));
            Ok(())
        }
    }
}
