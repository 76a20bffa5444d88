//! How the CLI prints: tables and sentences for people, JSON for scripts, progress on stderr.

use super::Failure;
use crate::bench::BenchReport;
use crate::domain::audit_chain::ChainedEvent;
use crate::engine::import::ImportReport;
use crate::engine::Progress;
use crate::store::directory::EligibilityView;
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::time::Duration;
use unicode_width::UnicodeWidthStr;

/// `println!` that ends quietly when stdout is closed early (`attest … | head`).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
pub(crate) use say;

pub fn print_json(value: &impl Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::runtime(e.to_string()))?;
    say!("{text}");
    Ok(())
}

pub fn print_toml(value: &impl Serialize) -> Result<(), Failure> {
    let text = toml::to_string(value).map_err(|e| Failure::runtime(e.to_string()))?;
    say!("{}", text.trim_end());
    Ok(())
}

pub fn print_import(r: &ImportReport) {
    say!(
        "imported {} from {}: {} ({} new, {} changed, {} unchanged)",
        r.kind,
        r.file,
        crate::domain::figures::count(r.rows as i64, "row", "rows"),
        r.inserted,
        r.updated,
        r.unchanged
    );
    if r.kind == "people" {
        say!("  manager links set or changed: {}", r.managers_changed);
        if r.movers > 0 {
            say!(
                "  movers (manager changed; reviewed by the new manager where a definition has trigger = \"mover\"): {}",
                r.movers
            );
        }
        if r.leavers > 0 {
            say!(
                "  leavers (disabled; their eligibility is removed through its sources after the [lifecycle] grace period): {}",
                r.leavers
            );
        }
    }
    if r.kind == "activations" {
        say!(
            "  eligibility whose last activation moved forward: {}",
            r.last_activation_advanced
        );
    }
    if r.prune {
        let what = if r.kind == "people" {
            "disabled"
        } else {
            "removed"
        };
        say!(
            "  {what} because the file no longer lists them: {}",
            r.pruned
        );
    }
    if r.reappeared > 0 {
        say!(
            "  REAPPEARED: {} eligibilities a campaign had removed are listed again; they are active again, audited, and recorded as findings (`attest report monthly` counts them):",
            r.reappeared
        );
        for e in &r.reappeared_examples {
            say!(
                "    {} × {} × {}: removed by campaign #{} on {}",
                e.holder,
                e.role,
                e.scope,
                e.campaign_id.unwrap_or_default(),
                day(&e.removed_at)
            );
        }
        if r.reappeared > r.reappeared_examples.len() as u64 {
            say!(
                "    … and {} more",
                r.reappeared - r.reappeared_examples.len() as u64
            );
        }
    }
    for warning in &r.warnings {
        say!("  warning: {warning}");
    }
    say!("  sha256 {}; audit event #{}", r.sha256, r.audit_seq);
}

/// `attest eligibility reappeared`.
pub fn print_reappeared(rows: &[crate::store::reappearance::ReappearanceView], total: i64) {
    if total == 0 {
        say!("no eligibility a campaign removed has come back");
        return;
    }
    say!(
        "{total} times an eligibility a campaign removed was listed again (newest first{}):",
        if total > rows.len() as i64 {
            format!(", the first {}", rows.len())
        } else {
            String::new()
        }
    );
    for r in rows {
        say!(
            "  {} × {} × {}: removed by campaign #{} on {}, back {} ({}), {} now, {}",
            r.holder,
            r.role,
            r.scope,
            r.campaign_id.unwrap_or_default(),
            day(&r.removed_at),
            day(&Some(r.reappeared_at)),
            r.via,
            r.status_now,
            r.action
        );
    }
}

fn day(at: &Option<DateTime<Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "-".into())
}

/// A moment to the second, in UTC.
pub fn when(at: &Option<DateTime<Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "-".into())
}

pub fn print_eligibility(rows: &[EligibilityView]) {
    say!(
        "{:<12} {:<24} {:<32} {:<20} {:<10} {:<10} {:<8}",
        "PRINCIPAL",
        "NAME",
        "ROLE",
        "SCOPE",
        "SINCE",
        "ACTIVATED",
        "STATUS"
    );
    for e in rows {
        say!(
            "{:<12} {:<24} {:<32} {:<20} {:<10} {:<10} {:<8}",
            e.principal,
            e.principal_name,
            e.role,
            e.scope,
            day(&e.start),
            day(&e.last_activated_at),
            e.status
        );
    }
    say!(
        "{}",
        crate::domain::figures::count(rows.len() as i64, "eligibility", "eligibilities")
    );
}

/// `audit log` as a table: a header, then one event a line, each column as wide as its widest
/// cell among the events shown, so a long actor (`account:…@…`, an API token's name) never
/// shifts the columns after it. The target comes last and is never padded.
/// `names` gives a reviewer's actor (`reviewer:ID`) their name beside it.
pub fn print_audit(events: &[ChainedEvent], names: &std::collections::HashMap<String, String>) {
    for line in audit_table(events, names) {
        say!("{line}");
    }
}

fn audit_table(
    events: &[ChainedEvent],
    names: &std::collections::HashMap<String, String>,
) -> Vec<String> {
    let rows: Vec<[String; 5]> = events
        .iter()
        .map(|e| {
            [
                format!("#{}", e.seq),
                e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                match names.get(&e.actor) {
                    Some(name) => format!("{} ({name})", e.actor),
                    None => e.actor.clone(),
                },
                e.action.clone(),
                e.target.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let header = ["SEQ", "WHEN (UTC)", "ACTOR", "ACTION", "TARGET"].map(String::from);
    let mut widths = [0usize; 5];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.width());
        }
    }
    std::iter::once(&header)
        .chain(&rows)
        .map(|row| {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if i + 1 < row.len() {
                    // Padded by display width, so a wide character takes its two columns.
                    line.push_str(&" ".repeat(widths[i] - cell.width() + 2));
                }
            }
            line.trim_end().to_string()
        })
        .collect()
}

/// Progress of long work on stderr: a spinner counting units (with their rate) until their total
/// is known, then a bar with the time left. Drawn only when stderr is a terminal, and never for
/// `--json`, whose readers are programs.
pub struct RowProgress {
    bar: ProgressBar,
    what: String,
}

impl RowProgress {
    /// Progress counting `what` (shown after the count: "rows read", "items"), drawn only when
    /// `shown` (false for `--json`).
    pub fn shown(what: &str, shown: bool) -> Self {
        let bar = if shown {
            ProgressBar::new_spinner()
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(style(&format!(
            "{{spinner}} {{human_pos}} {what} ({{rate}}, {{elapsed}}) {{msg}}"
        )));
        if shown {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Self {
            bar,
            what: what.to_string(),
        }
    }

    /// A spinner for work that counts nothing it could show (one long statement): what it
    /// does, and for how long so far.
    pub fn waiting(what: &str, shown: bool) -> Self {
        let progress = Self::shown(what, shown);
        progress
            .bar
            .set_style(style(&format!("{{spinner}} {what} ({{elapsed}})")));
        progress
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .progress_chars("=> ")
        // Whole units per second ("12,400/s"): the fractions per_sec shows are noise here.
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(
                    w,
                    "{}/s",
                    indicatif::HumanCount(state.per_sec().round() as u64)
                );
            },
        )
}

impl Progress for RowProgress {
    fn update(&self, done: u64) {
        self.bar.set_position(done);
    }

    fn total(&self, total: u64) {
        if self.bar.length().is_none() {
            let what = &self.what;
            self.bar.set_style(style(&format!(
                "{{spinner}} [{{bar:20}}] {{human_pos}}/{{human_len}} {what} ({{rate}}, {{eta}} left) {{msg}}"
            )));
        }
        self.bar.set_length(total);
    }

    fn stage(&self, what: &str) {
        self.bar.set_message(what.to_string());
    }

    fn watched(&self) -> bool {
        !self.bar.is_hidden()
    }
}

pub fn print_bench(r: &BenchReport) {
    say!(
        "attest bench: {} eligibilities over {} people on {} ({} cores)",
        r.items,
        r.people,
        r.database,
        r.cores
    );
    say!(
        "{:<36} {:>10} {:>10} {:>12} {:>10} {:>10}",
        "STAGE",
        "ROWS",
        "SECONDS",
        "ROWS/S",
        "START MiB",
        "PEAK MiB"
    );
    for s in &r.stages {
        say!(
            "{:<36} {:>10} {:>10.2} {:>12.0} {:>10.1} {:>10.1}",
            s.name,
            s.rows,
            s.seconds,
            s.rows_per_second,
            s.rss_at_start_mib,
            s.peak_rss_mib
        );
    }
    if let Some(ratio) = r.launch_to_baseline {
        say!("launch / raw insert baseline: {ratio:.2}x");
    }
    for d in &r.decisions {
        say!(
            "decisions over HTTP, {}: {} reviewers, {} requests ({} failed), p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
            d.mode,
            d.reviewers,
            d.requests,
            d.failed_requests,
            d.p50_ms,
            d.p95_ms,
            d.p99_ms
        );
    }
    let split = &r.close_split;
    say!(
        "close + remediation: close {:.2} s, then {} removals in {:.2} s",
        split.close_seconds,
        split.removals,
        split.remediation_seconds
    );
    say!(
        "evidence bundle verified: {}",
        if r.evidence_verified { "yes" } else { "NO" }
    );
}
