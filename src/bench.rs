//! `attest bench`: times each stage of the real code path on a synthetic organisation, beside
//! the peak memory of the process during that stage. Nothing here is a fast path of its own.

use crate::clock::SystemClock;
use crate::config::mask_url;
use crate::domain::records::ImportKind;
use crate::engine::import::ImportOptions;
use crate::engine::{Engine, EngineError, NoProgress};
use crate::store::Store;
use crate::synth::{write_org, OrgSpec};
use sea_orm::{ConnectionTrait, Database, DbErr};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub items: usize,
    /// Where to run: unset = a new SQLite file in a temporary folder; `postgres://…/db` = a new
    /// database created beside `db` and dropped afterwards.
    pub database: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub name: String,
    pub rows: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
    /// The process's peak resident memory during this stage.
    pub peak_rss_mib: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub items: usize,
    pub people: usize,
    pub database: String,
    pub cores: usize,
    pub stages: Vec<Stage>,
}

/// Runs every stage once and reports; the scratch database is removed afterwards.
pub async fn run(options: &BenchOptions) -> Result<BenchReport, EngineError> {
    let dir = tempfile::tempdir().map_err(|e| EngineError::Io(e.to_string()))?;
    let scratch = Scratch::create(options.database.as_deref(), dir.path()).await?;
    let result = run_stages(options, &scratch.url, dir.path()).await;
    scratch.drop_database().await;
    result
}

async fn run_stages(
    options: &BenchOptions,
    url: &str,
    dir: &Path,
) -> Result<BenchReport, EngineError> {
    let spec = OrgSpec::with_eligibilities(options.items);
    let mut stages = Vec::new();
    let engine = Engine::new(Store::connect(url).await?, Arc::new(SystemClock));
    let files = measure(&mut stages, "generate files", options.items as u64, async {
        write_org(&spec, dir, engine.now()).map_err(|e| EngineError::Io(e.to_string()))
    })
    .await?;
    for (kind, path) in [
        (ImportKind::People, &files.people),
        (ImportKind::Roles, &files.roles),
        (ImportKind::Eligibility, &files.eligibility),
    ] {
        let name = format!("import {}", kind.as_str());
        let report = measure(&mut stages, &name, 0, async {
            engine
                .import(kind, path, ImportOptions::default(), "bench", &NoProgress)
                .await
        })
        .await?;
        if let Some(stage) = stages.last_mut() {
            stage.rows = report.rows;
            stage.rows_per_second = report.rows as f64 / stage.seconds.max(1e-9);
        }
    }
    engine.store().clone().close().await?;
    Ok(BenchReport {
        items: options.items,
        people: spec.people,
        database: options
            .database
            .as_deref()
            .map_or_else(|| "sqlite (new file)".to_string(), mask_url),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        stages,
    })
}

async fn measure<T>(
    stages: &mut Vec<Stage>,
    name: &str,
    rows: u64,
    work: impl std::future::Future<Output = Result<T, EngineError>>,
) -> Result<T, EngineError> {
    reset_peak_rss();
    let started = Instant::now();
    let value = work.await?;
    let seconds = started.elapsed().as_secs_f64();
    stages.push(Stage {
        name: name.to_string(),
        rows,
        seconds,
        rows_per_second: rows as f64 / seconds.max(1e-9),
        peak_rss_mib: peak_rss_mib(),
    });
    Ok(value)
}

/// Linux resets the "high water mark" of resident memory when 5 is written to clear_refs.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The database a bench run owns.
struct Scratch {
    url: String,
    postgres: Option<(String, String)>,
}

impl Scratch {
    async fn create(database: Option<&str>, dir: &Path) -> Result<Self, EngineError> {
        match database {
            None => Ok(Self {
                url: format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()),
                postgres: None,
            }),
            Some(url) if url.starts_with("postgres") => {
                let name = format!("attest_bench_{}", std::process::id());
                let admin = Database::connect(url).await?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
                    .await?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await?;
                admin.close().await?;
                let base = url.rsplit_once('/').map_or(url, |(base, _)| base);
                Ok(Self {
                    url: format!("{base}/{name}"),
                    postgres: Some((url.to_string(), name)),
                })
            }
            Some(url) => Ok(Self {
                url: url.to_string(),
                postgres: None,
            }),
        }
    }

    async fn drop_database(self) {
        if let Some((admin, name)) = self.postgres {
            let dropped: Result<(), DbErr> = async {
                let admin = Database::connect(&admin).await?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                admin.close().await
            }
            .await;
            if let Err(e) = dropped {
                tracing::warn!("could not drop the bench database {name}: {e}");
            }
        }
    }
}
