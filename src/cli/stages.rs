//! `attest campaign next-stage` and `attest campaign stages`: a multi-stage campaign's stages,
//! and an admin opening the next one early (`engine::stages`).

use super::output::{self, say};
use super::Failure;
use crate::domain::figures::count;
use crate::engine::stages::StagesView;
use crate::engine::Engine;

/// Ends the open stage and opens the next; says what entered it.
pub async fn next_stage(engine: &Engine, id: i64, json: bool, actor: &str) -> Result<(), Failure> {
    let report = engine.next_stage(id, actor).await?;
    if json {
        return output::print_json(&report);
    }
    say!(
        "campaign #{id}: stage {} of {} open until {}; {} went on to {}, {} settled earlier",
        report.stage,
        report.stages,
        report.due_at.to_rfc3339(),
        count(report.items_entered as i64, "item", "items"),
        count(report.reviewers as i64, "reviewer", "reviewers"),
        report.items_settled_earlier
    );
    say!(
        "  {} queued with fresh links; {} withdrawn",
        count(report.mails_queued as i64, "mail", "mails"),
        count(
            report.links_withdrawn as i64,
            "earlier link",
            "earlier links"
        )
    );
    Ok(())
}

/// Lists the campaign's stages and the decisions given in each.
pub async fn stages(engine: &Engine, id: i64, json: bool) -> Result<(), Failure> {
    let view = engine.stages(id).await?;
    if json {
        return output::print_json(&view);
    }
    print_stages(&view);
    Ok(())
}

fn print_stages(view: &StagesView) {
    say!(
        "campaign #{}: stage {} of {}, outcome rule {}",
        view.campaign_id,
        view.stage,
        view.stages,
        view.outcome_rule
    );
    for s in &view.opened {
        say!(
            "  stage {} ({} reviewers){}: started {} by {}, due {}; {} entered: {} attested, {} revoked, {} converted, {} unanswered",
            s.stage,
            s.reviewers,
            if s.open { ", open" } else { "" },
            s.started_at.map_or_else(|| "-".into(), |t| t.to_rfc3339()),
            s.started_by,
            s.due_at.map_or_else(|| "-".into(), |t| t.to_rfc3339()),
            s.items,
            s.attested,
            s.revoked,
            s.converted,
            s.unanswered
        );
    }
}
