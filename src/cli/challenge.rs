//! `attest challenge …`: challenge periods at a shell (`engine::challenges`): list a campaign's
//! challenges, keep a challenged eligibility after all, or uphold its revocation. The same
//! engine functions as the API and the reviewer's link; the CLI user is audited as `cli:USER`.

use super::output::{self, say};
use super::Failure;
use crate::domain::challenge::Answer;
use crate::domain::closing::Channel;
use crate::engine::challenges::Answerer;
use crate::engine::Engine;
use crate::store::challenges::ChallengeView;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ChallengeCommand {
    /// A campaign's challenges, oldest first, with the reason given and the answer.
    List {
        /// The campaign's id.
        campaign: i64,
        #[arg(long)]
        json: bool,
    },
    /// Keep a challenged eligibility after all: its removal is cancelled.
    Keep {
        /// The campaign's id.
        campaign: i64,
        /// The challenge's id (`attest challenge list`).
        challenge: i64,
        #[arg(long)]
        json: bool,
    },
    /// Uphold a challenged revocation: its removal runs at once.
    Uphold {
        /// The campaign's id.
        campaign: i64,
        /// The challenge's id (`attest challenge list`).
        challenge: i64,
        #[arg(long)]
        json: bool,
    },
}

fn show(c: &ChallengeView) {
    say!(
        "#{} item {} {} ({}): {} at {}, revoked by {}; {} (period ends {}){}{}",
        c.id,
        c.item_id,
        c.holder_name,
        c.holder,
        c.role,
        c.scope,
        c.revoked_by,
        c.state,
        c.closes_at.format("%Y-%m-%d %H:%M UTC"),
        c.reason
            .as_deref()
            .map(|r| format!("\n  reason: {r}"))
            .unwrap_or_default(),
        c.answered_by
            .as_deref()
            .map(|by| format!("\n  answered by {by}"))
            .unwrap_or_default(),
    );
}

pub async fn run(engine: &Engine, command: ChallengeCommand, actor: &str) -> Result<(), Failure> {
    let (campaign, challenge, answer, json) = match command {
        ChallengeCommand::List { campaign, json } => {
            let list = engine.challenges(campaign).await?;
            if json {
                return output::print_json(&list);
            }
            if list.is_empty() {
                say!("campaign #{campaign} has no challenges");
            }
            list.iter().for_each(show);
            return Ok(());
        }
        ChallengeCommand::Keep {
            campaign,
            challenge,
            json,
        } => (campaign, challenge, Answer::Keep, json),
        ChallengeCommand::Uphold {
            campaign,
            challenge,
            json,
        } => (campaign, challenge, Answer::Uphold, json),
    };
    let by = Answerer {
        reviewer: None,
        channel: Channel::Cli,
        actor,
    };
    let view = engine
        .answer_challenge(campaign, challenge, answer, &by)
        .await?;
    if json {
        return output::print_json(&view);
    }
    show(&view);
    Ok(())
}
