//! `attest suspension …`: suspensions on a signal at a shell (issue 19): list them, suspend a
//! person, request and approve a restore. The same engine functions as the API; the CLI user
//! is audited as `cli:USER` (and, holding the database, may approve a request it did not make).

use super::output::{self, say};
use super::Failure;
use crate::engine::suspend::SuspensionView;
use crate::engine::Engine;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum SuspensionCommand {
    /// Suspensions, newest first, with each removed eligibility and its state.
    List {
        /// Only this person's (their id as imports and syncs name them).
        #[arg(long)]
        principal: Option<String>,
        /// At most this many (without --principal).
        #[arg(long, default_value_t = 50)]
        limit: u64,
        #[arg(long)]
        json: bool,
    },
    /// Suspend a person: remove every eligibility they hold through its source now.
    Suspend {
        /// The person's id.
        principal: String,
        /// Why (at most 1,000 characters).
        #[arg(long)]
        reason: String,
    },
    /// Request the restore of a person's open suspension (an admin approves it).
    Restore {
        /// The person's id.
        principal: String,
    },
    /// Approve a requested restore: put back exactly what the suspension removed.
    Approve {
        /// The suspension's id.
        id: i64,
    },
}

fn show(s: &SuspensionView) {
    say!(
        "#{} {} {} (by {}, {}): {}",
        s.id,
        s.principal,
        s.state,
        s.requested_by,
        s.created_at.format("%Y-%m-%d %H:%M"),
        s.reason
    );
    for i in &s.items {
        say!(
            "  {} at {} [{}]: removal {}{}",
            i.role,
            i.scope,
            i.source,
            i.removal_state,
            i.restore_state
                .map(|r| format!(", restore {r}"))
                .unwrap_or_default()
        );
    }
}

pub async fn run(engine: &Engine, command: SuspensionCommand, actor: &str) -> Result<(), Failure> {
    match command {
        SuspensionCommand::List {
            principal,
            limit,
            json,
        } => {
            let list = match principal {
                Some(p) => engine.suspensions_of(&p).await?,
                None => engine.recent_suspensions(limit).await?,
            };
            if json {
                return output::print_json(&list);
            }
            if list.is_empty() {
                say!("no suspensions");
            }
            list.iter().for_each(show);
        }
        SuspensionCommand::Suspend { principal, reason } => {
            let (view, created) = engine.suspend(&principal, &reason, actor).await?;
            if !created {
                say!("{principal} was already suspended:");
            }
            show(&view);
        }
        SuspensionCommand::Restore { principal } => {
            show(&engine.request_restore(&principal, actor).await?);
        }
        SuspensionCommand::Approve { id } => {
            show(&engine.approve_restore(id, actor).await?);
        }
    }
    Ok(())
}
