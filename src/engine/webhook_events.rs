//! The events each use case reports (docs/webhooks.md lists their `data`): built here from
//! what the use case has at hand, queued by `Engine::emit` in its transaction. The subject
//! keys name each fact once, so a retried or concurrent change never queues it twice.

use super::webhooks::Event;
use crate::domain::webhooks::EventKind;
use crate::store::reappearance::Reappeared;
use crate::store::remediation::{DueRemoval, Settled, Settlement};
use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::HashMap;

/// `campaign.launched`: the campaign is open for decisions.
pub fn launched(campaign_id: i64, population: i64, reviewers: usize, now: DateTime<Utc>) -> Event {
    Event {
        kind: EventKind::CampaignLaunched,
        campaign_id: Some(campaign_id),
        subject: format!("campaign:{campaign_id}"),
        data: serde_json::json!({ "population": population, "reviewers": reviewers }),
        occurred_at: now,
    }
}

/// `reviewer.finished`: a reviewer has answered every item they hold.
pub fn reviewer_finished(
    campaign_id: i64,
    reviewer_id: i64,
    person_id: &str,
    name: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Event {
    Event {
        kind: EventKind::ReviewerFinished,
        campaign_id: Some(campaign_id),
        subject: format!("campaign:{campaign_id}/reviewer:{reviewer_id}"),
        data: serde_json::json!({ "reviewer_id": reviewer_id, "reviewer": person_id, "reviewer_name": name, "last_decision_by": actor }),
        occurred_at: now,
    }
}

/// `campaign.closed`: decisions are over; what the campaign removes is planned.
pub fn closed(
    campaign_id: i64,
    closed_by: &str,
    counts: serde_json::Value,
    removals_planned: u64,
    rail_reason: Option<&str>,
    now: DateTime<Utc>,
) -> Event {
    Event {
        kind: EventKind::CampaignClosed,
        campaign_id: Some(campaign_id),
        subject: format!("campaign:{campaign_id}"),
        data: serde_json::json!({
            "closed_by": closed_by, "counts": counts, "removals_planned": removals_planned,
            "removals_held_for_confirmation": rail_reason,
        }),
        occurred_at: now,
    }
}

/// `campaign.stage_opened`: a multi-stage campaign moved on to its next stage.
pub fn stage_opened(
    report: &super::stages::StageReport,
    opened_by: &str,
    now: DateTime<Utc>,
) -> Event {
    let id = report.campaign_id;
    Event {
        kind: EventKind::StageOpened,
        campaign_id: Some(id),
        subject: format!("campaign:{id}/stage:{}", report.stage),
        data: serde_json::json!({
            "stage": report.stage, "stages": report.stages, "due_at": report.due_at,
            "items_entered": report.items_entered, "items_settled_earlier": report.items_settled_earlier,
            "reviewers": report.reviewers, "opened_by": opened_by,
        }),
        occurred_at: now,
    }
}

/// `removal.done` / `removal.failed` (an attempt failed, retried later) / `removal.given_up`
/// (no more attempts, or the source still lists it): one per settled removal.
pub fn removals(due: &[DueRemoval], settled: &[Settled], now: DateTime<Utc>) -> Vec<Event> {
    let by_id: HashMap<i64, &DueRemoval> = due.iter().map(|d| (d.id, d)).collect();
    settled
        .iter()
        .filter_map(|s| {
            let d = by_id.get(&s.id)?;
            let t = &d.target;
            let mut data = serde_json::json!({
                "removal_id": s.id, "item_id": t.item_id, "eligibility_id": t.eligibility_id,
                "principal": t.principal_external_id, "role": t.role_name, "scope": t.scope,
                "attempt": s.attempts,
            });
            let (kind, subject) = match &s.settlement {
                Settlement::Done { state, receipt, .. } => {
                    data["outcome"] = serde_json::json!(state.as_str());
                    data["receipt"] = serde_json::json!(receipt);
                    (EventKind::RemovalDone, format!("removal:{}", s.id))
                }
                Settlement::Retry {
                    error,
                    next_attempt_at,
                } => {
                    data["error"] = serde_json::json!(error);
                    data["next_attempt_at"] = serde_json::json!(
                        next_attempt_at.to_rfc3339_opts(SecondsFormat::Secs, true)
                    );
                    (
                        EventKind::RemovalFailed,
                        format!("removal:{}/attempt:{}", s.id, s.attempts),
                    )
                }
                Settlement::Failed { error, receipt } => {
                    data["error"] = serde_json::json!(error);
                    data["receipt"] = serde_json::json!(receipt);
                    (EventKind::RemovalGivenUp, format!("removal:{}", s.id))
                }
            };
            Some(Event {
                kind,
                campaign_id: Some(t.campaign_id),
                subject,
                data,
                occurred_at: now,
            })
        })
        .collect()
}

/// `eligibility.reappeared`: an import or sync lists again what a campaign removed.
pub fn reappeared(back: &[Reappeared], via: &str, now: DateTime<Utc>) -> Vec<Event> {
    back.iter()
        .map(|r| Event {
            kind: EventKind::EligibilityReappeared,
            campaign_id: r.campaign_id,
            subject: format!(
                "eligibility:{}/reappeared:{}",
                r.eligibility_id,
                now.timestamp_micros()
            ),
            data: serde_json::json!({
                "eligibility_id": r.eligibility_id, "principal": r.holder, "role": r.role,
                "scope": r.scope, "removed_at": r.removed_at, "removal_receipt": r.removal_receipt,
                "via": via,
            }),
            occurred_at: now,
        })
        .collect()
}

/// `evidence.stored`: a campaign's evidence bundle is kept in the database.
pub fn evidence_stored(
    campaign_id: i64,
    bundle_id: i64,
    sha256: &str,
    bytes: u64,
    now: DateTime<Utc>,
) -> Event {
    Event {
        kind: EventKind::EvidenceStored,
        campaign_id: Some(campaign_id),
        subject: format!("campaign:{campaign_id}"),
        data: serde_json::json!({ "bundle_id": bundle_id, "sha256": sha256, "bytes": bytes }),
        occurred_at: now,
    }
}
