//! `attest campaign …` and `attest serve`.

use super::output::{self, say};
use super::Failure;
use crate::domain::lifecycle::CampaignState;
use crate::domain::mail_state::ReviewerMail;
use crate::engine::campaigns::CampaignView;
use crate::engine::definitions::DefinitionText;
use crate::engine::{Engine, EngineError, Progress};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Validate and store a campaign definition (TOML); a changed file becomes a new version,
    /// and running campaigns keep the version they started with.
    Define {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// List definitions with their schedule and next launch.
    Definitions {
        #[arg(long)]
        json: bool,
    },
    /// List campaigns, newest first.
    List {
        /// Only campaigns in this state (scheduled, launching, active, closing, remediating,
        /// completed, cancelled).
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one campaign's state and progress, and where its reviewers' mail stands (each
    /// reviewer whose mail is not all sent, or everyone with --reviewers).
    Show {
        id: i64,
        /// List every reviewer's mail, not only those whose mail waits or failed.
        #[arg(long)]
        reviewers: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show who would be reviewed and by whom, without creating anything.
    Preview {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Launch a definition for the current period. A period launches once: a second launch
    /// exits 2 naming the campaign that covers it, unless --adhoc starts an extra, off-cycle one.
    Launch {
        name: String,
        #[arg(long)]
        adhoc: bool,
        #[arg(long)]
        json: bool,
    },
    /// Close a campaign now: unanswered items are settled by its on_no_response policy and the
    /// removals that are due are carried out (failed ones are retried by `attest serve`, or by
    /// closing again: on a campaign that is already closed and still removing, close carries
    /// its due removals on).
    Close {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Re-open an active campaign's unanswered items for more days before its policy settles
    /// them: a new deadline, and each reviewer with something unanswered gets a mail with a
    /// fresh link (earlier links stop working). Answers already given stand and cannot change.
    Rerun {
        id: i64,
        /// How many days from now the re-run lasts (1 to 90); it must end after the current
        /// deadline.
        #[arg(long)]
        days: u32,
        #[arg(long)]
        json: bool,
    },
    /// End the open stage of a multi-stage campaign now and open the next, as its deadline
    /// would: the items that go on get the next stage's reviewers and a mail with a fresh link.
    NextStage {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// A multi-stage campaign's stages: the one open, the outcome rule, and the decisions given
    /// in each stage.
    Stages {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Release the automatic removals a safety rail held back for an admin's confirmation.
    ConfirmRemovals { id: i64 },
    /// Stop a campaign: no more decisions, and nothing (more) is removed.
    Cancel { id: i64 },
    /// Queue a fresh invitation (with a new link) to a reviewer of an active campaign; `attest
    /// serve` sends it. With --replace the reviewer's earlier links stop working at once.
    Resend {
        id: i64,
        /// The reviewer's principal id.
        #[arg(long, value_name = "PERSON_ID")]
        reviewer: String,
        /// Revoke the reviewer's earlier links (default: they keep working beside the new one).
        #[arg(long)]
        replace: bool,
    },
    /// Queue the campaign's failed mail again (after a long mail server outage, say): it is
    /// sent at once by `attest serve`, with its attempts counted afresh. (Mail that failed only
    /// because the server was unreachable is also queued again by itself once the server
    /// answers.)
    ResendFailed { id: i64 },
    /// Revoke every link a reviewer holds for a campaign: each then opens only a page saying
    /// it was withdrawn. `resend` gives them a new one.
    RevokeLinks {
        id: i64,
        /// The reviewer's principal id.
        #[arg(long, value_name = "PERSON_ID")]
        reviewer: String,
    },
}

pub async fn run(engine: &Engine, command: CampaignCommand, actor: &str) -> Result<(), Failure> {
    match command {
        CampaignCommand::Define { file, json } => {
            let report = engine.define(&DefinitionText::read(&file)?, actor).await?;
            if json {
                return output::print_json(&report);
            }
            let what = if report.changed {
                "stored as"
            } else {
                "unchanged, still"
            };
            say!("{}: {what} version {}", report.name, report.version);
            if let Some(next) = report.next_launch {
                say!("  next launch: {}", next.to_rfc3339());
            }
            Ok(())
        }
        CampaignCommand::Definitions { json } => {
            let definitions = engine.definitions().await?;
            if json {
                return output::print_json(&definitions);
            }
            say!(
                "{:<28} {:>3} {:<14} {:<16} {:<26} {}",
                "NAME",
                "VER",
                "SCHEDULE",
                "TIMEZONE",
                "NEXT LAUNCH",
                "PERIOD"
            );
            for d in &definitions {
                say!(
                    "{:<28} {:>3} {:<14} {:<16} {:<26} {}",
                    d.name,
                    d.version,
                    d.schedule,
                    d.timezone,
                    d.next_launch
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_else(|| "-".into()),
                    d.next_period.as_deref().unwrap_or("-")
                );
            }
            Ok(())
        }
        CampaignCommand::List { state, json } => {
            let states: Vec<CampaignState> = match state {
                Some(s) => vec![s.parse().map_err(Failure::usage)?],
                None => vec![],
            };
            let campaigns = engine.campaigns(&states).await?;
            if json {
                return output::print_json(&campaigns);
            }
            say!(
                "{:>5} {:<28} {:<10} {:<12} {:>8} {:>8} {:<20}",
                "ID",
                "DEFINITION",
                "PERIOD",
                "STATE",
                "ITEMS",
                "DECIDED",
                "DEADLINE"
            );
            for c in &campaigns {
                say!(
                    "{:>5} {:<28} {:<10} {:<12} {:>8} {:>8} {:<20}",
                    c.campaign.id,
                    c.campaign.name,
                    c.campaign.period,
                    c.campaign.state.as_str(),
                    c.summary.population,
                    c.summary.decided_by_people,
                    c.campaign
                        .due_at
                        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        CampaignCommand::Show {
            id,
            reviewers,
            json,
        } => {
            let view = engine.campaign(id).await?;
            let mail = engine.reviewer_mail(id).await?;
            if json {
                return output::print_json(&ShownCampaign {
                    view: &view,
                    reviewers: &mail,
                });
            }
            show(&view, false)?;
            show_reviewer_mail(&mail, reviewers);
            Ok(())
        }
        CampaignCommand::Preview { name, json } => {
            let preview = engine.preview(&name).await?;
            if json {
                return output::print_json(&preview);
            }
            say!(
                "{} (version {}), period {}",
                preview.name,
                preview.version,
                preview.period
            );
            say!(
                "  population: {}, {}",
                crate::domain::figures::count(
                    preview.population as i64,
                    "eligibility",
                    "eligibilities"
                ),
                crate::domain::figures::count(
                    preview.reviewer_count as i64,
                    "reviewer",
                    "reviewers"
                )
            );
            if preview.carried_forward > 0 {
                say!(
                    "  carried forward unchanged (kept by a person in the last campaign): {}",
                    preview.carried_forward
                );
            }
            for (reason, n) in &preview.items_by_reason {
                say!("  reviewed via {reason}: {n}");
            }
            say!(
                "  flagged (no one but the owner may review): {}",
                preview.flagged
            );
            say!(
                "  recommended for revocation: {}",
                preview.recommended_revoke
            );
            if preview.standing_access > 0 {
                say!(
                    "  standing access (active assignments, recommended: convert to eligible): {}",
                    preview.standing_access
                );
            }
            for e in &preview.excluded {
                say!(
                    "  excluded from automatic removal: {} ({})",
                    e.principal,
                    crate::domain::figures::count(e.items as i64, "item", "items")
                );
            }
            say!("  busiest reviewers:");
            for r in preview.reviewers.iter().take(10) {
                say!("    {:<12} {:<28} {:>6} items", r.id, r.name, r.items);
            }
            Ok(())
        }
        CampaignCommand::Launch { name, adhoc, json } => {
            let progress = output::RowProgress::shown("items", !json);
            let launched = with_heartbeat(
                engine,
                "campaign launch",
                engine.launch(&name, adhoc, actor, &progress),
            )
            .await?;
            progress.finish();
            let view = engine.campaign(launched?.id).await?;
            show(&view, json)
        }
        CampaignCommand::Close { id, json } => {
            let closing = output::RowProgress::waiting(
                &format!("closing campaign #{id}: settling its open items"),
                !json,
            );
            let closed = engine.close(id, actor).await;
            closing.finish();
            match closed {
                Ok(_) => {}
                // Closed earlier, its removals not all done (a crash, a source that was down):
                // closing again carries them on instead of refusing.
                Err(EngineError::Conflict(_))
                    if engine.campaign(id).await?.campaign.state == CampaignState::Remediating =>
                {
                    if !json {
                        say!("campaign #{id} is already closed: carrying on its removals");
                    }
                }
                // Closed and finished already (a close retried after its process was killed, or
                // run twice): the close asked for has happened, so it is no error.
                Err(EngineError::Conflict(_))
                    if engine.campaign(id).await?.campaign.state == CampaignState::Completed =>
                {
                    if !json {
                        say!("campaign #{id} is already closed and its removals are done");
                    }
                }
                Err(e) => return Err(e.into()),
            }
            with_heartbeat(engine, "campaign close", carry_out_removals(engine, json)).await??;
            show(&engine.campaign(id).await?, json)
        }
        CampaignCommand::Rerun { id, days, json } => {
            let report = engine.rerun(id, days, actor).await?;
            if json {
                return output::print_json(&report);
            }
            let r = &report.round;
            say!(
                "campaign #{id}: round {} open until {}; {} re-opened for {}",
                r.round,
                r.due_at.to_rfc3339(),
                crate::domain::figures::count(
                    r.items_reopened,
                    "unanswered item",
                    "unanswered items"
                ),
                crate::domain::figures::count(r.reviewers_reopened, "reviewer", "reviewers")
            );
            say!(
                "  {} queued with fresh links; {} withdrawn",
                crate::domain::figures::count(report.mails_queued as i64, "mail", "mails"),
                crate::domain::figures::count(
                    report.links_withdrawn as i64,
                    "earlier link",
                    "earlier links"
                )
            );
            Ok(())
        }
        CampaignCommand::NextStage { id, json } => {
            super::stages::next_stage(engine, id, json, actor).await
        }
        CampaignCommand::Stages { id, json } => super::stages::stages(engine, id, json).await,
        CampaignCommand::ConfirmRemovals { id } => {
            let confirmed = engine.confirm_removals(id, actor).await?;
            say!(
                "campaign #{id}: {} confirmed",
                crate::domain::figures::count(confirmed as i64, "removal", "removals")
            );
            with_heartbeat(
                engine,
                "campaign confirm-removals",
                carry_out_removals(engine, false),
            )
            .await??;
            show(&engine.campaign(id).await?, false)
        }
        CampaignCommand::Cancel { id } => {
            let cancelled = engine.cancel(id, actor).await?;
            say!(
                "campaign #{} cancelled; nothing more will be removed",
                cancelled.id
            );
            Ok(())
        }
        CampaignCommand::Resend {
            id,
            reviewer,
            replace,
        } => {
            let revoked = engine
                .resend_invitation(id, &reviewer, replace, actor)
                .await?;
            say!("campaign #{id}: a new invitation to {reviewer} is queued");
            if replace {
                say!("  earlier links revoked: {revoked}");
            }
            Ok(())
        }
        CampaignCommand::ResendFailed { id } => {
            let requeued = engine.requeue_failed_mail(id, actor).await?;
            say!("campaign #{id}: {requeued} failed mails queued again; `attest serve` sends them");
            Ok(())
        }
        CampaignCommand::RevokeLinks { id, reviewer } => {
            let revoked = engine.revoke_reviewer_links(id, &reviewer, actor).await?;
            say!(
                "campaign #{id}: {} of {reviewer} revoked",
                crate::domain::figures::count(revoked as i64, "link", "links")
            );
            Ok(())
        }
    }
}

fn show(view: &CampaignView, json: bool) -> Result<(), Failure> {
    if json {
        return output::print_json(view);
    }
    let c = &view.campaign;
    let s = &view.summary;
    let kind = if c.adhoc { " (ad hoc)" } else { "" };
    say!(
        "campaign #{}: {} v{} for {}{kind}",
        c.id,
        c.name,
        c.version,
        c.period
    );
    say!("  state: {}", c.state);
    say!("  {}", s.status);
    if let Some(at) = c.launched_at {
        say!("  launched: {}", at.to_rfc3339());
    }
    if let Some(at) = c.due_at {
        say!("  deadline: {}", at.to_rfc3339());
    }
    for r in &view.rounds {
        say!(
            "  re-run (round {}): {} by {}, {} for {} days (deadline before: {})",
            r.round,
            r.started_at.to_rfc3339(),
            r.started_by,
            crate::domain::figures::count(r.items_reopened, "unanswered item", "unanswered items"),
            r.days,
            r.due_before
                .map_or_else(|| "none".into(), |d| d.to_rfc3339())
        );
    }
    if c.stages > 1 {
        say!(
            "  stage: {} of {} (outcome rule {}; attest campaign stages {} shows each)",
            c.stage,
            c.stages,
            c.spec.stage_outcome,
            c.id
        );
    }
    if c.state == crate::domain::lifecycle::CampaignState::Launching {
        say!("  items launched so far: {}", c.items_created);
    }
    // The figures of the campaign's summary, with the labels every surface uses.
    let lines = s.lines();
    let width = lines
        .iter()
        .map(|(label, _)| label.len())
        .max()
        .unwrap_or(0)
        + 1;
    for (label, value) in lines {
        say!("  {:<width$} {value}", format!("{label}:"));
    }
    if s.mail_failed > 0 {
        let whose = if s.mail_failed_reviewers > 0 {
            format!(
                " (to {})",
                crate::domain::figures::count(s.mail_failed_reviewers, "reviewer", "reviewers")
            )
        } else {
            String::new()
        };
        say!(
            "  FAILED mail was not delivered{whose}; send it again with: attest campaign resend-failed {}",
            c.id
        );
    }
    if let Some(reason) = &c.rail_reason {
        say!("  held back: {reason}");
        // Only while something waits: after confirming (or completing) the command would do
        // nothing, and saying it would mislead.
        if s.removals_held > 0 {
            say!("  confirm with: attest campaign confirm-removals {}", c.id);
        }
    }
    Ok(())
}

/// `campaign show --json`: the campaign with where each reviewer's mail stands.
#[derive(serde::Serialize)]
struct ShownCampaign<'a> {
    #[serde(flatten)]
    view: &'a CampaignView,
    reviewers: &'a [ReviewerMail],
}

/// Reviewers listed by `campaign show` without --reviewers: enough to see who is affected,
/// short enough for a terminal when an outage touched a thousand of them.
const REVIEWERS_SHOWN: usize = 20;

/// Each reviewer whose mail waits or failed (everyone with `all`): one line each.
fn show_reviewer_mail(mail: &[ReviewerMail], all: bool) {
    let listed: Vec<&ReviewerMail> = mail.iter().filter(|m| all || !m.all_sent).collect();
    if listed.is_empty() {
        return;
    }
    let waiting = mail.iter().filter(|m| !m.all_sent).count();
    say!(
        "  mail per reviewer ({} of {} not all sent):",
        waiting,
        crate::domain::figures::count(mail.len() as i64, "reviewer", "reviewers")
    );
    let shown = if all { listed.len() } else { REVIEWERS_SHOWN };
    for m in listed.iter().take(shown) {
        say!("    {} ({}): {}", m.name, m.reviewer, m.text);
    }
    if listed.len() > shown {
        say!(
            "    … and {} more (all of them: --reviewers, or --json)",
            listed.len() - shown
        );
    }
}

/// Carries out the removals that are due now, as `attest serve` would, so a close from the
/// command line takes effect without a running server. Failed removals stay scheduled for retry.
async fn carry_out_removals(engine: &Engine, json: bool) -> Result<(), Failure> {
    let progress = output::RowProgress::shown("removals", !json);
    if progress.watched() {
        progress.total(engine.removals_pending().await?);
    }
    let mut handled = 0;
    loop {
        let step = engine.remediate_step().await;
        match step {
            Ok(0) => break,
            Ok(n) => {
                handled += n as u64;
                progress.update(handled);
            }
            Err(e) => {
                progress.finish();
                return Err(e.into());
            }
        }
    }
    progress.stage("storing evidence");
    engine.complete_finished().await?;
    engine.store_missing_evidence().await?;
    progress.finish();
    Ok(())
}

/// Runs `work` as process `command`, renewing its heartbeat meanwhile (leased work it takes is
/// taken over within seconds if it dies), then gives its leases back. Failing to record the
/// stop only delays a takeover by seconds, so it is logged, not fatal.
async fn with_heartbeat<T>(
    engine: &Engine,
    command: &str,
    work: impl std::future::Future<Output = T>,
) -> Result<T, EngineError> {
    let heartbeat = engine.start_heartbeat(command).await?;
    let done = work.await;
    if let Err(e) = heartbeat.stop().await {
        tracing::warn!("could not record that this process stopped: {e}");
    }
    Ok(done)
}
