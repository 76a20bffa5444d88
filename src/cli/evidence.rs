//! `attest evidence …` and `attest report …`: what auditors take away.

use super::output::{self, say};
use super::Failure;
use crate::engine::evidence::ExportOptions;
use crate::evidence::verify::{Pin, Signer};

/// The exit code of `evidence verify` for a bundle that is intact and validly signed, but by a
/// key nobody pinned.
pub const UNPINNED_EXIT: i32 = 3;
/// The exit code of `evidence verify` for an intact bundle, signed by the pinned key, whose
/// after-remediation rows do not all match their outcomes.
pub const INCONSISTENT_EXIT: i32 = 4;
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
        /// Start every CSV file with a UTF-8 byte order mark (for spreadsheets that need one).
        #[arg(long)]
        bom: bool,
        /// Replace an existing zip at PATH (a folder is never emptied; a symbolic link is never
        /// written through).
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// Check a bundle offline: every file's SHA-256, the manifest's signature and who signed it,
    /// the row count against the population, the audit hash chain. The signer is pinned with
    /// --key, or else is this instance's key when its database is at hand. Exit 0 when intact
    /// and signed by the pinned key, 1 naming the first problem, 3 when intact but no key was
    /// pinned (anyone could have re-signed it), 4 when intact and pinned but some eligibilities
    /// were not as their outcomes require after remediation (consistency, said with the count).
    Verify {
        /// The bundle: a folder or a .zip.
        path: PathBuf,
        /// The signer's public key (hex, from `attest evidence key` on the instance): rejects a
        /// bundle signed with any other key.
        #[arg(long, value_name = "PUBKEY")]
        key: Option<String>,
    },
    /// Print this instance's evidence signing key (public half), for auditors to pin.
    Key,
}

/// `database_url`: where this instance's signing keys may be read to pin the signer when no
/// `--key` is given (opened read-only, never created or migrated).
pub async fn run(
    engine: Option<&Engine>,
    database_url: &str,
    command: EvidenceCommand,
) -> Result<(), Failure> {
    match command {
        EvidenceCommand::Verify { path, key } => {
            let pin = match key {
                Some(key) => Some(Pin::key(&key)),
                None => crate::engine::evidence::instance_pin(database_url).await,
            };
            let result = crate::evidence::verify::verify_pinned(&path, pin.as_ref());
            for check in &result.passed {
                say!("ok      {check}");
            }
            // Consistency is its own answer: an intact bundle may truly record removals that
            // did not hold in the source.
            let inconsistent = match result.inconsistent {
                Some((0, rows)) => {
                    say!(
                        "consistency: all {} after remediation are as their outcomes require",
                        crate::domain::figures::count(rows as i64, "eligibility", "eligibilities")
                    );
                    0
                }
                Some((n, rows)) => {
                    say!("consistency: NOT consistent: {n} of {rows} eligibilities after remediation are not as their outcomes require (after_remediation.csv, column consistent = no)");
                    n
                }
                None => 0,
            };
            match (result.problem, result.signer) {
                (Some(problem), _) => {
                    Err(Failure::runtime(format!("bundle NOT intact: {problem}")))
                }
                (None, Signer::Pinned) if inconsistent > 0 => {
                    say!("bundle intact: {}", path.display());
                    Err(Failure {
                        code: INCONSISTENT_EXIT,
                        message: format!(
                            "the bundle is intact, but {inconsistent} eligibilities were not as their outcomes require after remediation (exit {INCONSISTENT_EXIT})"
                        ),
                    })
                }
                (None, Signer::Pinned) => {
                    say!("bundle intact: {}", path.display());
                    Ok(())
                }
                (None, Signer::NotPinned) => {
                    say!(
                        "signature valid, signer NOT pinned: {} matches a manifest signed by key {}, but nothing says whose key that is",
                        path.display(),
                        result.public_key.unwrap_or_default()
                    );
                    Err(Failure {
                        code: UNPINNED_EXIT,
                        message: format!(
                            "the signer is not pinned: run again with --key <the output of `attest evidence key` on the instance that made the bundle> (exit {UNPINNED_EXIT})"
                        ),
                    })
                }
            }
        }
        EvidenceCommand::Export {
            id,
            out,
            bom,
            force,
            json,
        } => {
            let engine = engine.ok_or_else(|| Failure::runtime("no database"))?;
            let progress = output::RowProgress::shown("items", !json);
            let report = engine
                .export_evidence_with(
                    id,
                    &out,
                    ExportOptions {
                        bom,
                        replace: force,
                    },
                    &progress,
                )
                .await;
            progress.finish();
            let report = report?;
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
        /// As of the end of this day, YYYY-MM-DD (UTC): the eligibility that existed and the
        /// campaigns completed by then, so a past report does not change with today's data.
        #[arg(long, value_name = "YYYY-MM-DD")]
        as_of: Option<String>,
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
    /// The monthly lifecycle record: every leaver (disabled by an import, a prune or a sync)
    /// and what their eligibility came to, every mover and the campaigns it launched.
    Lifecycle {
        /// The month, YYYY-MM (UTC).
        #[arg(long)]
        month: String,
        #[arg(long)]
        json: bool,
    },
    /// The weekly activation review: every break-glass activation, activations outside the
    /// holder's working hours (Monday to Friday, 08:00 to 18:00 in their time zone), holders
    /// activating a role far more or less often than its other holders, and reviewed
    /// eligibility not activated since that review.
    Activations {
        /// The ISO week, YYYY-Www (e.g. 2026-W47; weeks start Monday 00:00 UTC).
        #[arg(long, value_name = "YYYY-Www")]
        week: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn report(engine: &Engine, command: ReportCommand) -> Result<(), Failure> {
    let pct = |r: Option<f64>| r.map_or_else(|| "—".to_string(), |r| format!("{:.1}%", r * 100.0));
    match command {
        ReportCommand::Coverage { as_of, json } => {
            let coverage = engine.coverage_on(as_of.as_deref()).await?;
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
        ReportCommand::Lifecycle { month, json } => {
            let report = engine.lifecycle_report(&month).await?;
            if json {
                return output::print_json(&report);
            }
            super::lifecycle::print(&report);
            Ok(())
        }
        ReportCommand::Activations { week, json } => {
            let report = engine.activation_review(&week).await?;
            if json {
                return output::print_json(&report);
            }
            super::activations::print(&report);
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
                m.median_hours_to_decision.map_or_else(
                    || "—".to_string(),
                    |h| crate::domain::figures::duration(h * 3600.0)
                )
            );
            say!(
                "  reappeared after removal:    {}{}",
                m.reappeared,
                if m.reappeared > 0 {
                    " (FINDING: removed eligibilities listed again by an import or sync)"
                } else {
                    ""
                }
            );
            say!(
                "  standing access remaining:   {}{}",
                m.standing_access,
                if m.standing_access > 0 {
                    " (FINDING: active assignments held without activation; convert them to eligible)"
                } else {
                    ""
                }
            );
            for r in &m.standing_by_role {
                say!("    {:<40} {:<7} {}", r.role, r.risk, r.active);
            }
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
