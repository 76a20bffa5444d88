//! `attest evidence …` and `attest report …`: what auditors take away.

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

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// For every role: when it was last reviewed, by which campaign, and whether that is within
    /// its definition's cadence.
    Coverage {
        #[arg(long)]
        json: bool,
    },
    /// The monthly metrics: eligibility by role and risk, campaigns completed (on time),
    /// completion and revocation rates, automatic removals, median time to decision.
    Monthly {
        /// The month, YYYY-MM (UTC).
        #[arg(long)]
        month: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn report(engine: &Engine, command: ReportCommand) -> Result<(), Failure> {
    let pct = |r: Option<f64>| r.map_or_else(|| "—".to_string(), |r| format!("{:.1}%", r * 100.0));
    match command {
        ReportCommand::Coverage { json } => {
            let coverage = engine.coverage().await?;
            if json {
                return output::print_json(&coverage);
            }
            say!(
                "{:<40} {:<7} {:>7} {:<28} {:<10} {:>6} {}",
                "ROLE",
                "RISK",
                "HOLDERS",
                "LAST REVIEW",
                "PERIOD",
                "DAYS",
                "ON SCHEDULE"
            );
            for c in &coverage {
                say!(
                    "{:<40} {:<7} {:>7} {:<28} {:<10} {:>6} {}",
                    c.role,
                    c.risk,
                    c.active_holders,
                    c.last_campaign.as_deref().map_or_else(
                        || "never".to_string(),
                        |n| format!("{n} #{}", c.last_campaign_id.unwrap_or_default())
                    ),
                    c.last_period.as_deref().unwrap_or("-"),
                    c.days_since
                        .map_or_else(|| "-".to_string(), |d| d.to_string()),
                    if c.within_cadence { "yes" } else { "NO" }
                );
            }
            let overdue = coverage.iter().filter(|c| !c.within_cadence).count();
            say!(
                "{} roles, {} not reviewed within their cadence",
                coverage.len(),
                overdue
            );
            Ok(())
        }
        ReportCommand::Monthly { month, json } => {
            let m = engine.monthly(&month).await?;
            if json {
                return output::print_json(&m);
            }
            say!("attest monthly report for {}", m.month);
            say!(
                "  campaigns completed:         {} ({} on time)",
                m.campaigns_completed,
                m.campaigns_completed_on_time
            );
            say!("  items closed:                {}", m.items_closed);
            say!("  completion rate:             {}", pct(m.completion_rate));
            say!("  revocation rate:             {}", pct(m.revocation_rate));
            say!("  automatic removals:          {}", m.auto_removals);
            say!(
                "  median time to decision:     {}",
                m.median_hours_to_decision
                    .map_or_else(|| "—".to_string(), |h| format!("{h:.1} hours"))
            );
            say!("  eligible assignments by risk:");
            for r in &m.eligible_by_risk {
                say!("    {:<8} {}", r.risk, r.eligible);
            }
            say!("  eligible assignments by role:");
            for r in &m.eligible_by_role {
                say!("    {:<40} {:<7} {}", r.role, r.risk, r.eligible);
            }
            Ok(())
        }
    }
}
