//! Support for the chaos suite (`tests/chaos.rs`): its settings (seed, kills, sizes), the log of
//! what the chaos did and where each kill landed, the `attest` processes it drives and kills
//! (`procs`), the reviewers deciding through their mailed links (`reviewers`), and the
//! invariants checked after a run (`invariants`).

pub mod invariants;
pub mod procs;
pub mod reviewers;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// What a run is made of, from the environment (defaults: CI mode).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `ATTEST_CHAOS_SEED`: replays a run; otherwise drawn at random and printed.
    pub seed: u64,
    /// `ATTEST_CHAOS_KILLS`: the least number of `kill -9` a run makes (CI: 20; long mode: 200).
    pub kills: usize,
    /// `ATTEST_CHAOS_ITEMS`: the eligibilities generated, all of them reviewed (at least 20,000).
    pub eligibilities: usize,
    /// `ATTEST_CHAOS_RECOVERY_SECS`: how long work interrupted by a kill may take to be taken
    /// over (a launch another process held, mail and removals leased to a dead process) before
    /// the run fails saying what stayed stuck. Owner-aware leases take over within seconds.
    pub recovery: Duration,
}

impl Settings {
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let number = |name: &str, default: u64| -> u64 {
            var(name).map_or(default, |v| {
                v.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number"))
            })
        };
        let seed = var("ATTEST_CHAOS_SEED").map_or_else(rand::random::<u64>, |v| {
            v.trim()
                .parse()
                .unwrap_or_else(|_| panic!("ATTEST_CHAOS_SEED={v:?} is not a whole number"))
        });
        let eligibilities = number("ATTEST_CHAOS_ITEMS", 20_000) as usize;
        assert!(
            eligibilities >= 20_000,
            "ATTEST_CHAOS_ITEMS={eligibilities}: the chaos suite reviews at least 20,000 items"
        );
        Self {
            seed,
            kills: number("ATTEST_CHAOS_KILLS", 20).max(1) as usize,
            eligibilities,
            recovery: Duration::from_secs(number("ATTEST_CHAOS_RECOVERY_SECS", 60)),
        }
    }
}

/// What the chaos did to a run, in order, for the summary line and failure messages.
#[derive(Debug, Default)]
pub struct ChaosLog {
    started: Option<Instant>,
    /// Each kill -9: which process, in which phase, and what the database held then.
    pub kills: Vec<String>,
    pub smtp_outages: Vec<String>,
    pub db_cuts: Vec<String>,
    /// What happened besides (a CLI command finishing before its kill, a takeover's wait).
    pub notes: Vec<String>,
    /// What the run did, as the invariants counted it.
    pub figures: String,
}

impl ChaosLog {
    pub fn new() -> Self {
        Self {
            started: Some(Instant::now()),
            ..Self::default()
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.map_or(Duration::ZERO, |s| s.elapsed())
    }

    fn at(&self) -> String {
        format!("{:.1}s", self.elapsed().as_secs_f64())
    }

    pub fn kill(&mut self, what: &str) {
        let entry = format!("{}@{}", what, self.at());
        self.kills.push(entry);
    }

    pub fn smtp_outage(&mut self, what: &str) {
        let entry = format!("{}@{}", what, self.at());
        self.smtp_outages.push(entry);
    }

    pub fn db_cut(&mut self, what: &str) {
        let entry = format!("{}@{}", what, self.at());
        self.db_cuts.push(entry);
    }

    pub fn note(&mut self, what: &str) {
        let entry = format!("{}@{}", what, self.at());
        self.notes.push(entry);
    }

    /// Interruptions that may make the mail worker send a step again.
    pub fn interruptions(&self) -> usize {
        self.kills.len() + self.smtp_outages.len() + self.db_cuts.len()
    }

    /// One pasteable line: seed, kills and where each landed, outages, cuts, outcome.
    pub fn summary(&self, settings: &Settings, backend: &str, outcome: &str) -> String {
        let mut line = format!(
            "CHAOS seed={} db={} items={} kills={} smtp_outages={} db_cuts={} seconds={:.0} outcome={}",
            settings.seed,
            backend,
            settings.eligibilities,
            self.kills.len(),
            self.smtp_outages.len(),
            self.db_cuts.len(),
            self.elapsed().as_secs_f64(),
            outcome
        );
        if !self.figures.is_empty() {
            let _ = write!(line, "\n  figures: {}", self.figures);
        }
        let _ = write!(line, "\n  kills: {}", self.kills.join(", "));
        if !self.smtp_outages.is_empty() {
            let _ = write!(line, "\n  smtp outages: {}", self.smtp_outages.join(", "));
        }
        if !self.db_cuts.is_empty() {
            let _ = write!(line, "\n  db cuts: {}", self.db_cuts.join(", "));
        }
        if !self.notes.is_empty() {
            let _ = write!(line, "\n  notes: {}", self.notes.join("; "));
        }
        line
    }
}

/// Writes `text` to stderr past libtest's capture (as `common::skipped` does), so the seed and
/// the summary are shown for a passing run too.
pub fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Polls `check` every `every` until it gives `Some`, or `timeout` passes (then `None`).
pub async fn poll<T, F, Fut>(timeout: Duration, every: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = check().await {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}
