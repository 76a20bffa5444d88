//! `attest bench`: times each stage of the real code path on a synthetic organisation, beside
//! the peak memory of the process during that stage. Nothing here is a fast path of its own:
//! import, launch, mail, decisions over HTTP, close and removal, and evidence all go through
//! the same engine functions the CLI, the web and the scheduler call.

mod load;

use crate::clock::SystemClock;
use crate::config::mask_url;
use crate::domain::access::Role;
use crate::domain::records::ImportKind;
use crate::engine::definitions::DefinitionText;
use crate::engine::import::{ImportInput, ImportOptions};
use crate::engine::{Engine, EngineError, NoProgress};
use crate::store::Store;
use crate::synth::{write_org, OrgSpec};
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
    /// An SMTP server for the invitations (`smtp://127.0.0.1:2525`); unset = `.eml` files.
    pub smtp: Option<String>,
    /// How many items the HTTP load generator decides in each of its two runs (paced, then
    /// saturation); the rest stay for the policy.
    pub decisions: usize,
    /// Concurrent clients of the saturation run.
    pub concurrency: usize,
    /// Decisions per second offered by the paced run.
    pub rate: f64,
    /// Keep the scratch database afterwards instead of removing it.
    pub keep: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub name: String,
    pub rows: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
    /// The process's peak resident memory during this stage.
    pub peak_rss_mib: f64,
    /// The process's resident memory when the stage began: the peak counts from here, so what
    /// an earlier stage still holds (the load generator's server and clients) is not the
    /// stage's own.
    pub rss_at_start_mib: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub items: usize,
    pub people: usize,
    pub database: String,
    pub cores: usize,
    pub stages: Vec<Stage>,
    /// Launch time over the raw bulk insert of the same number of rows.
    pub launch_to_baseline: Option<f64>,
    /// The paced runs (a page, one item per form, one item per API call), then the saturation run.
    pub decisions: Vec<load::LoadResult>,
    /// The close + remediation stage taken apart: the close, then the removals.
    pub close_split: CloseSplit,
    pub evidence_verified: bool,
}

/// The two halves of the close + remediation stage, and how many removals the second did:
/// the number of removals, not of items, is what the second half's time follows.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CloseSplit {
    pub close_seconds: f64,
    pub remediation_seconds: f64,
    pub removals: u64,
}

/// Runs every stage once and reports; the scratch database is removed afterwards.
pub async fn run(options: &BenchOptions) -> Result<BenchReport, EngineError> {
    let dir = tempfile::tempdir().map_err(|e| EngineError::Io(e.to_string()))?;
    let scratch = Scratch::create(options.database.as_deref(), dir.path()).await?;
    let result = run_stages(options, &scratch.url, dir.path()).await;
    if options.keep {
        // On stderr, so `--json` output stays one document.
        eprintln!("attest bench: kept the database {}", mask_url(&scratch.url));
        let _ = dir.keep();
    } else {
        scratch.drop_database().await;
    }
    result
}

/// The campaign the benchmark launches: every role, managers review, unanswered items removed.
const DEFINITION: &str = r#"
name = "bench"
owner = "p0000000"
schedule = "quarterly"
timezone = "UTC"
duration_days = 14
reviewers = "manager"
fallback_reviewer = "p0000001"
on_no_response = "remove"
max_auto_remove_percent = 100
"#;

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
                .import(
                    kind,
                    ImportInput::open(path)?,
                    ImportOptions::default(),
                    "bench",
                    &NoProgress,
                )
                .await
        })
        .await?;
        if let Some(stage) = stages.last_mut() {
            stage.rows = report.rows;
            stage.rows_per_second = report.rows as f64 / stage.seconds.max(1e-9);
        }
    }

    let definition = dir.join("bench.toml");
    std::fs::write(&definition, DEFINITION).map_err(|e| EngineError::Io(e.to_string()))?;
    engine
        .define(
            &DefinitionText::new(definition.display().to_string(), DEFINITION),
            "bench",
        )
        .await?;
    let campaign = measure(
        &mut stages,
        "launch",
        options.items as u64,
        engine.launch("bench", false, "bench", &NoProgress),
    )
    .await?;
    measure(
        &mut stages,
        "baseline: raw insert",
        options.items as u64,
        async { engine.raw_insert_baseline(campaign.id, options.items).await },
    )
    .await?;
    let launch_to_baseline = match (
        stages.iter().find(|s| s.name == "launch"),
        stages.iter().find(|s| s.name.starts_with("baseline")),
    ) {
        (Some(launch), Some(base)) => Some(launch.seconds / base.seconds.max(1e-9)),
        _ => None,
    };

    let transport: Arc<dyn crate::mail::MailTransport> = match &options.smtp {
        Some(url) => {
            Arc::new(crate::mail::transport::Smtp::from_url(url).map_err(EngineError::Invalid)?)
        }
        None => Arc::new(crate::mail::transport::EmlFiles::quiet(dir.join("outbox"))),
    };
    let mailer = crate::mail::Mailer::new(
        engine.clone(),
        transport,
        "attest bench <bench@attest.invalid>",
        "http://127.0.0.1",
    )
    .map_err(EngineError::Invalid)?;
    let sent = measure(&mut stages, "invitations", 0, mailer.drain()).await?;
    if let Some(stage) = stages.last_mut() {
        stage.rows = sent as u64;
        stage.rows_per_second = sent as f64 / stage.seconds.max(1e-9);
    }

    let mut loads = engine.reviewer_loads(campaign.id).await?;
    loads.sort_by_key(|(id, _)| *id);
    // Each run decides other reviewers' items. Single-item requests cost a request per
    // decision, so those runs take a fifth as many decisions: enough for their tail latency.
    let single = (options.decisions / 5).max(1);
    let groups = split_reviewers(
        &loads,
        &[options.decisions, single, single, options.decisions],
    );
    let api_token = bench_api_token(&engine).await?;
    let paced = load::Pace::Paced {
        decisions_per_second: options.rate,
    };
    let mut decisions = Vec::new();
    for ((name, pace, shape), reviewers) in [
        ("decisions, paced", paced, load::Shape::Page),
        (
            "decisions, one per form, paced",
            paced,
            load::Shape::FormItem,
        ),
        (
            "decisions, one per API call, paced",
            paced,
            load::Shape::ApiItem,
        ),
        (
            "decisions, saturated",
            load::Pace::Saturation {
                clients: options.concurrency,
            },
            load::Shape::Page,
        ),
    ]
    .into_iter()
    .zip(groups)
    {
        let result = measure(
            &mut stages,
            name,
            0,
            load::decide_over_http(
                &engine,
                campaign.id,
                &reviewers,
                pace,
                shape,
                Some(&api_token),
            ),
        )
        .await?;
        if let Some(stage) = stages.last_mut() {
            stage.rows = result.decisions;
            stage.rows_per_second = result.decisions as f64 / result.seconds.max(1e-9);
        }
        decisions.push(result);
    }

    let mut close_split = CloseSplit::default();
    measure(
        &mut stages,
        "close + remediation",
        options.items as u64,
        async {
            let started = Instant::now();
            engine.close(campaign.id, "bench").await?;
            if engine
                .campaign(campaign.id)
                .await?
                .counts
                .removals_awaiting_confirmation
                > 0
            {
                engine.confirm_removals(campaign.id, "bench").await?;
            }
            close_split.close_seconds = started.elapsed().as_secs_f64();
            let started = Instant::now();
            loop {
                let handled = engine.remediate_step().await?;
                if handled == 0 {
                    break;
                }
                close_split.removals += handled as u64;
            }
            close_split.remediation_seconds = started.elapsed().as_secs_f64();
            Ok(())
        },
    )
    .await?;

    let bundle = dir.join("evidence.zip");
    measure(
        &mut stages,
        "evidence export",
        options.items as u64,
        engine.export_evidence(campaign.id, &bundle, Default::default()),
    )
    .await?;
    let verification = measure(
        &mut stages,
        "evidence verify",
        options.items as u64,
        async { Ok(crate::evidence::verify::verify(&bundle, None)) },
    )
    .await?;
    if let Some(problem) = &verification.problem {
        return Err(EngineError::Io(format!(
            "the benchmark's evidence bundle does not verify: {problem}"
        )));
    }
    engine.shut_down().await?;
    Ok(BenchReport {
        items: options.items,
        people: spec.people,
        database: options
            .database
            .as_deref()
            .map_or_else(|| "sqlite (new file)".to_string(), mask_url),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        stages,
        launch_to_baseline,
        decisions,
        close_split,
        evidence_verified: verification.problem.is_none(),
    })
}

/// Reviewers for the two decision runs, in id order: each run gets whole reviewers holding about
/// `per_run` items (fewer when the campaign is small: then half of it each).
/// Reviewers for each run: whole reviewers, in id order, until each run covers its number of
/// items. When the campaign holds fewer items than the runs ask for, each run is scaled down
/// alike, so every run still gets reviewers of its own.
fn split_reviewers(loads: &[(i64, i64)], per_run: &[usize]) -> Vec<Vec<i64>> {
    let total: i64 = loads.iter().map(|(_, n)| n).sum();
    let asked: i64 = per_run.iter().map(|n| *n as i64).sum::<i64>().max(1);
    let scale = (total as f64 / asked as f64).min(1.0);
    let mut groups = vec![Vec::new(); per_run.len()];
    let mut reviewers = loads.iter();
    for (group, wanted) in groups.iter_mut().zip(per_run) {
        let wanted = ((*wanted as f64 * scale) as i64).max(1);
        let mut covered = 0;
        while covered < wanted {
            let Some((reviewer, items)) = reviewers.next() else {
                break;
            };
            group.push(*reviewer);
            covered += items;
        }
    }
    groups
}

/// An admin API token for the API-shaped decisions, made as `attest user add` and
/// `attest user token` make one.
async fn bench_api_token(engine: &Engine) -> Result<String, EngineError> {
    let email = "bench-admin@bench.invalid";
    let password = crate::engine::accounts::generate_password()?;
    engine
        .add_account(email, Role::Admin, &password, "bench")
        .await?;
    let operator = engine.account_operator(email).await?;
    engine
        .create_api_token(&operator, "bench", Role::Admin)
        .await
}

async fn measure<T>(
    stages: &mut Vec<Stage>,
    name: &str,
    rows: u64,
    work: impl std::future::Future<Output = Result<T, EngineError>>,
) -> Result<T, EngineError> {
    reset_peak_rss();
    let rss_at_start_mib = resident_mib("VmRSS:");
    let started = Instant::now();
    let value = work.await?;
    let seconds = started.elapsed().as_secs_f64();
    stages.push(Stage {
        name: name.to_string(),
        rows,
        seconds,
        rows_per_second: rows as f64 / seconds.max(1e-9),
        peak_rss_mib: resident_mib("VmHWM:"),
        rss_at_start_mib,
    });
    Ok(value)
}

/// Linux resets the "high water mark" of resident memory when 5 is written to clear_refs.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A line of /proc/self/status in MiB: `VmHWM:` (the high-water mark) or `VmRSS:` (now).
fn resident_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
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
                Ok(Self {
                    url: crate::store::scratch::create_postgres(url, &name).await?,
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
            let dropped = crate::store::scratch::drop_postgres(&admin, &name).await;
            if let Err(e) = dropped {
                tracing::warn!("could not drop the bench database {name}: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_reviewers;

    #[test]
    fn each_run_gets_reviewers_of_its_own_covering_its_items() {
        // Ten reviewers of 10 items each.
        let loads: Vec<(i64, i64)> = (1..=10).map(|id| (id, 10)).collect();
        let groups = split_reviewers(&loads, &[30, 10, 10, 30]);
        assert_eq!(
            groups,
            vec![vec![1, 2, 3], vec![4], vec![5], vec![6, 7, 8]],
            "whole reviewers in id order until each run covers its items"
        );
    }

    #[test]
    fn too_few_items_scale_every_run_down_alike() {
        let loads: Vec<(i64, i64)> = (1..=10).map(|id| (id, 10)).collect();
        // 200 asked of 100 held: each run gets half of what it asked for.
        let groups = split_reviewers(&loads, &[80, 20, 20, 80]);
        assert_eq!(
            groups,
            vec![vec![1, 2, 3, 4], vec![5], vec![6], vec![7, 8, 9, 10]]
        );
        assert!(groups.iter().all(|g| !g.is_empty()));
    }
}
