//! The `attest` command line: parses arguments, calls the engine, prints for people or `--json`.

mod activations;
mod campaign;
mod challenge;
mod demo;
mod evidence;
mod lifecycle;
mod output;
mod serve;
mod source;
mod stages;
mod suspension;
mod user;
mod webhook;

use crate::clock::SystemClock;
use crate::config::Config;
use crate::domain::records::ImportKind;
use crate::engine::import::{ImportInput, ImportOptions};
use crate::engine::{Engine, EngineError};
use crate::store::directory::EligibilityFilter;
use crate::store::Store;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::sync::Arc;

/// attest runs access review campaigns for privileged-role eligibility: it imports who is
/// eligible for what, asks reviewers to keep or revoke each eligibility, removes what is not
/// kept, and keeps evidence auditors can verify.
#[derive(Debug, Parser)]
#[command(
    name = "attest",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Configuration file (default: ./attest.toml when present). ATTEST_* variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Seed a realistic demo organisation (a few hundred people in a manager tree, the usual
    /// privileged roles, break-glass accounts, activation history) into the configured
    /// database, through the same import path as real files. Running it again changes nothing.
    Demo,
    /// Import people, roles, eligibility or activation history from a CSV or JSON file (all of
    /// it, or nothing).
    ///
    /// CSV files have a header row; JSON files are an array of objects or one object a line
    /// (.jsonl). Columns may come in any order; unknown ones are ignored with a warning.
    ///
    ///   people:      id,name,email,manager_id[,kind][,enabled][,timezone]
    ///   roles:       name,owner_id,risk[,description]
    ///   eligibility: principal_id,role,scope[,start][,end][,last_activated_at]
    ///   activations: principal_id,role,scope,activated_at[,ended_at][,justification]
    ///
    /// A file with any bad row changes nothing: the bad rows are listed (file, line, field and
    /// reason) and the exit code is 2. Importing the same file again changes nothing.
    #[command(verbatim_doc_comment)]
    Import(ImportArgs),
    /// Define, preview, launch, watch, close and cancel access review campaigns.
    #[command(subcommand)]
    Campaign(campaign::CampaignCommand),
    /// Challenge periods (`challenge_days`): list a campaign's challenges, keep a challenged
    /// eligibility after all or uphold its revocation.
    #[command(subcommand)]
    Challenge(challenge::ChallengeCommand),
    /// Run the web pages, the scheduler and the mail worker: launches on schedule, invitations,
    /// reminders, escalations, closes at the deadline, removals. Several instances may share one
    /// PostgreSQL database.
    Serve {
        /// Seconds between scheduler ticks.
        #[arg(long, default_value_t = 30)]
        tick: u64,
    },
    /// Export, verify and sign evidence bundles for auditors.
    #[command(subcommand)]
    Evidence(evidence::EvidenceCommand),
    /// Reports across campaigns: coverage of every role, monthly metrics, the weekly activation
    /// review.
    #[command(subcommand)]
    Report(evidence::ReportCommand),
    /// Console accounts for admins and auditors.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Sources configured in attest.toml ([sources.NAME]: Microsoft Entra PIM, LDAP, webhook):
    /// list them, test the connection and permissions, sync their population.
    #[command(subcommand)]
    Source(source::SourceCommand),
    /// Outbound events configured in attest.toml ([webhooks.NAME]): list the endpoints with
    /// their deliveries, send a signed test event.
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
    /// Look at the eligibility attest knows about.
    #[command(subcommand)]
    Eligibility(EligibilityCommand),
    /// Suspensions on a signal: list, suspend a person, request and approve a restore.
    #[command(subcommand)]
    Suspension(suspension::SuspensionCommand),
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Print the effective configuration (passwords masked).
    Config,
    /// Time each stage on a synthetic organisation of N eligibilities over N/10 people, in a
    /// database of its own (never the configured one), and print the stage table.
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Number of eligibilities.
    #[arg(long, default_value_t = 1_000_000)]
    pub items: usize,
    /// Database server to run on: unset = a new SQLite file; postgres://…/db = a new database
    /// created beside db and dropped afterwards.
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// An SMTP server for the invitation stage (e.g. smtp://127.0.0.1:2525); unset = .eml files.
    #[arg(long, value_name = "URL")]
    pub smtp: Option<String>,
    /// How many items each run of the HTTP load generator decides (paced, then saturation);
    /// at most half the campaign each.
    #[arg(long, default_value_t = 50_000)]
    pub decisions: usize,
    /// Concurrent clients of the saturation run.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Decisions per second the paced run offers (the target of docs/benchmarks.md is 3,000/s).
    #[arg(long, default_value_t = 3000.0)]
    pub rate: f64,
    /// Keep the scratch database (and the SQLite file's folder) afterwards and print its URL,
    /// so one stage can be run again on it through the CLI, e.g. `attest evidence export`.
    #[arg(long)]
    pub keep: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// What the file holds.
    pub kind: KindArg,
    /// The file: .csv, .json, .jsonl or .ndjson.
    pub file: PathBuf,
    /// Full sync: eligibility the file no longer lists is marked removed; people it no longer
    /// lists are disabled.
    #[arg(long)]
    pub prune: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    People,
    Roles,
    Eligibility,
    Activations,
}

impl From<KindArg> for ImportKind {
    fn from(kind: KindArg) -> Self {
        match kind {
            KindArg::People => ImportKind::People,
            KindArg::Roles => ImportKind::Roles,
            KindArg::Eligibility => ImportKind::Eligibility,
            KindArg::Activations => ImportKind::Activations,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum EligibilityCommand {
    /// List eligibility (active only, unless --all).
    List {
        /// Only this principal (external id).
        #[arg(long, value_name = "ID")]
        principal: Option<String>,
        /// Only this role (name).
        #[arg(long, value_name = "NAME")]
        role: Option<String>,
        /// Include removed eligibility.
        #[arg(long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Findings: eligibility a campaign removed that an import or sync listed again, newest
    /// first.
    Reappeared {
        /// How many to list.
        #[arg(long, default_value_t = 50)]
        limit: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain of the audit log from its first event; exit 1 at the first break.
    Verify,
    /// Show the most recent audit events.
    Log {
        /// How many events.
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A failed command: what to tell the user and which exit code to leave with.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: i32,
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        Failure {
            code: e.exit_code(),
            message: e.to_string(),
        }
    }
}

impl Failure {
    fn runtime(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 1,
        }
    }

    fn usage(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 2,
        }
    }
}

/// The user running the CLI, as audit events name them.
fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .or_else(|_| std::env::var("USERNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        // Cron jobs and containers often have no $USER: ask the operating system.
        .or_else(|| whoami::username().ok())
        .unwrap_or_else(|| "unknown".into());
    format!("cli:{user}")
}

async fn engine(config: &Config) -> Result<Engine, Failure> {
    let store = Store::connect(&config.database_url).await.map_err(|e| {
        Failure::runtime(format!(
            "cannot open the database {}: {e}",
            crate::config::mask_url(&config.database_url)
        ))
    })?;
    let engine = Engine::new(store, Arc::new(SystemClock))
        .with_sources(config.sources.clone())
        .with_webhooks(crate::engine::webhooks::WebhookRouting {
            subscriptions: crate::webhooks::config::subscriptions(&config.webhooks),
            base_url: config.base_url.clone(),
        })
        .with_lifecycle(config.lifecycle);
    // A secret: only from the environment, never from attest.toml, never printed.
    match std::env::var("ATTEST_LINK_KEY") {
        Ok(secret) if !secret.is_empty() => Ok(engine.with_link_key(
            crate::engine::mail_links::LinkKey::from_secret(&secret).map_err(Failure::usage)?,
        )),
        _ => Ok(engine),
    }
}

/// Runs one command to the end.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let config = Config::load(cli.config.as_deref()).map_err(|e| Failure::usage(e.to_string()))?;
    match cli.command {
        Command::Config => output::print_toml(&config.masked()),
        Command::Campaign(command) => {
            campaign::run(&engine(&config).await?, command, &cli_actor()).await
        }
        Command::Serve { tick } => {
            let engine = engine(&config).await?;
            serve::serve(
                engine,
                &config,
                std::time::Duration::from_secs(tick.max(1)),
                || {},
            )
            .await
        }
        Command::Evidence(command) => {
            // Verifying needs only the bundle: no database is opened (or created) for it.
            let engine = match command {
                evidence::EvidenceCommand::Verify { .. } => None,
                _ => Some(engine(&config).await?),
            };
            evidence::run(engine.as_ref(), &config.database_url, command).await
        }
        Command::Report(command) => evidence::report(&engine(&config).await?, command).await,
        Command::User(command) => user::run(&engine(&config).await?, command, &cli_actor()).await,
        Command::Source(command) => {
            source::run(&engine(&config).await?, command, &cli_actor()).await
        }
        Command::Challenge(command) => {
            challenge::run(&engine(&config).await?, command, &cli_actor()).await
        }
        Command::Suspension(command) => {
            suspension::run(&engine(&config).await?, command, &cli_actor()).await
        }
        Command::Webhook(command) => {
            webhook::run(
                &engine(&config).await?,
                &config.webhooks,
                command,
                &cli_actor(),
            )
            .await
        }
        Command::Demo => demo::run(engine(&config).await?, &config, &cli_actor()).await,
        Command::Bench(args) => {
            let options = crate::bench::BenchOptions {
                items: args.items,
                database: args.database,
                smtp: args.smtp,
                decisions: args.decisions,
                concurrency: args.concurrency,
                rate: args.rate,
                keep: args.keep,
            };
            let report = crate::bench::run(&options).await?;
            if args.json {
                output::print_json(&report)
            } else {
                output::print_bench(&report);
                Ok(())
            }
        }
        Command::Import(args) => {
            let engine = engine(&config).await?;
            let progress = output::RowProgress::shown("rows read", !args.json);
            let report = engine
                .import(
                    args.kind.into(),
                    ImportInput::open(&args.file)?,
                    ImportOptions { prune: args.prune },
                    &cli_actor(),
                    &progress,
                )
                .await;
            progress.finish();
            let report = report?;
            if args.json {
                output::print_json(&report)
            } else {
                output::print_import(&report);
                Ok(())
            }
        }
        Command::Eligibility(EligibilityCommand::List {
            principal,
            role,
            all,
            json,
        }) => {
            let engine = engine(&config).await?;
            let filter = EligibilityFilter {
                principal,
                role,
                all,
                ..EligibilityFilter::default()
            };
            let rows = engine.eligibility(&filter).await?;
            if json {
                output::print_json(&rows)
            } else {
                output::print_eligibility(&rows);
                Ok(())
            }
        }
        Command::Eligibility(EligibilityCommand::Reappeared { limit, json }) => {
            let engine = engine(&config).await?;
            let (rows, total) = engine.reappearances(limit).await?;
            if json {
                output::print_json(&serde_json::json!({ "total": total, "items": rows }))
            } else {
                output::print_reappeared(&rows, total);
                Ok(())
            }
        }
        Command::Audit(AuditCommand::Verify) => {
            let engine = engine(&config).await?;
            match engine.verify_audit_log().await? {
                Ok(n) => {
                    output::say!(
                        "audit log intact: {}, hash chain unbroken",
                        crate::domain::figures::count(n as i64, "event", "events")
                    );
                    Ok(())
                }
                Err(broken) => Err(Failure::runtime(format!("audit log broken: {broken}"))),
            }
        }
        Command::Audit(AuditCommand::Log { limit, json }) => {
            let engine = engine(&config).await?;
            let events = engine.audit_events(None, limit).await?;
            if json {
                output::print_json(&events)
            } else {
                // Reviewers act as reviewer:ID; their names go beside it.
                let names = engine
                    .actor_names(events.iter().map(|e| e.actor.as_str()))
                    .await?;
                output::print_audit(&events, &names);
                Ok(())
            }
        }
    }
}
