//! `attest source list | test | sync`: the sources of attest.toml (README, "Sources").

use super::output::{self, say};
use super::Failure;
use crate::engine::sync::{SourceListing, SyncReport, TestReport};
use crate::engine::Engine;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum SourceCommand {
    /// The configured sources: kind, server, where the secret comes from, last sync, counts.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Connect, authenticate, check the permissions removal needs and count; changes nothing.
    /// Exit 1 with one line naming what is wrong.
    Test {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Pull people, roles and eligibility from the source (a full sync of that source's rows:
    /// what it no longer lists is marked removed). Prints new / changed / removed / reappeared.
    /// A sync that would mark most of the source's eligibility removed is refused (a broken
    /// filter or group looks like that) unless --force says the source really shrank.
    Sync {
        name: String,
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(engine: &Engine, command: SourceCommand, actor: &str) -> Result<(), Failure> {
    match command {
        SourceCommand::List { json } => {
            let sources = engine.list_sources().await?;
            if json {
                output::print_json(&sources)
            } else {
                print_list(&sources);
                Ok(())
            }
        }
        SourceCommand::Test { name, json } => {
            let report = engine.test_source(&name, actor).await?;
            if json {
                output::print_json(&report)
            } else {
                print_test(&report);
                Ok(())
            }
        }
        SourceCommand::Sync { name, force, json } => {
            let progress = output::RowProgress::shown("rows written", !json);
            let report = engine
                .sync_source_with(&name, actor, force, &progress)
                .await;
            progress.finish();
            let report = report?;
            if json {
                output::print_json(&report)
            } else {
                print_sync(&report);
                Ok(())
            }
        }
    }
}

fn print_list(sources: &[SourceListing]) {
    if sources.is_empty() {
        say!("no sources configured: add [sources.NAME] tables to attest.toml (see the README); imports fill the built-in source");
        return;
    }
    for s in sources {
        let secret = if s.secret_set { "set" } else { "NOT SET" };
        say!(
            "{} ({}) {} · secret from ${} ({secret}) · on reappearance: {}",
            s.name,
            s.kind,
            s.endpoint,
            s.secret_env,
            s.on_reappearance
        );
        match &s.state {
            Some(state) if state.last_sync_at.is_some() => {
                let when = output::when(&state.last_sync_at);
                match &state.last_sync_error {
                    Some(error) => say!("  last sync {when} FAILED: {error}"),
                    None => say!("  last sync {when}: ok"),
                }
                if let Some(ok) = state.last_success_at {
                    say!(
                        "  holds {} people, {} roles, {} active eligibilities (last success {})",
                        state.people,
                        state.roles,
                        state.eligibility_active,
                        output::when(&Some(ok))
                    );
                }
            }
            _ => match &s.sync_schedule {
                Some(_) => say!("  never synced (attest source sync {})", s.name),
                None => say!("  removals only: no sync"),
            },
        }
        if let Some(schedule) = &s.sync_schedule {
            say!("  serve syncs it: {schedule}");
        }
    }
}

fn print_test(r: &TestReport) {
    say!("source {} ({}): ok, nothing was changed", r.source, r.kind);
    for check in &r.checks {
        say!("  ✓ {check}");
    }
    if let Some(people) = r.people {
        say!("  people: {people}");
    }
    if let Some(eligibility) = r.eligibility {
        say!("  eligibilities: {eligibility}");
    }
}

fn print_sync(r: &SyncReport) {
    say!(
        "synced {} ({}): {} people, {} roles, {} eligibilities listed",
        r.source,
        r.kind,
        r.people,
        r.roles,
        r.eligibility
    );
    say!(
        "  eligibility: {} new, {} changed, {} removed (no longer listed)",
        r.new,
        r.changed,
        r.removed
    );
    say!(
        "  people: {} new or changed, {} disabled (no longer listed); roles: {} new or changed",
        r.people_changed,
        r.people_disabled,
        r.roles_changed
    );
    if r.leavers > 0 {
        say!(
            "  leavers: {} disabled; their eligibility is removed through its sources after the [lifecycle] grace period",
            r.leavers
        );
    }
    if r.activations_new > 0 {
        say!(
            "  activations: {} new (for `attest report activations`)",
            r.activations_new
        );
    }
    if r.reappeared > 0 {
        say!(
            "  REAPPEARED: {} eligibilities a campaign had removed are listed again; audited and recorded as findings:",
            r.reappeared
        );
        for e in &r.reappeared_examples {
            say!(
                "    {} × {} × {}: removed by campaign #{} on {}",
                e.holder,
                e.role,
                e.scope,
                e.campaign_id.unwrap_or_default(),
                output::when(&e.removed_at)
            );
        }
        if r.reappeared > r.reappeared_examples.len() as u64 {
            say!(
                "    … and {} more",
                r.reappeared - r.reappeared_examples.len() as u64
            );
        }
        if r.on_reappearance == "remove" {
            say!(
                "  removed again through {}: {} (failed: {})",
                r.source,
                r.removed_again,
                r.removal_failures.len()
            );
            for failure in &r.removal_failures {
                say!("    failed: {failure}");
            }
        } else {
            say!("  they are active again (on_reappearance = \"flag\"); set on_reappearance = \"remove\" to remove them again on sync");
        }
    } else {
        say!("  reappeared: 0");
    }
    for warning in &r.warnings {
        say!("  warning: {warning}");
    }
    say!("  audit event #{}", r.audit_seq);
}
