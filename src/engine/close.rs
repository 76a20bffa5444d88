//! Closing a campaign (at its deadline or by an admin), confirming removals a safety rail held
//! back, and cancelling.

use super::{Engine, EngineError};
use crate::domain::closing::{outcome, removal_rail, OnNoResponse, Outcome};
use crate::domain::lifecycle::CampaignState;
use crate::domain::recommendation::Recommendation;
use crate::domain::rerun::automatic_rerun;
use crate::store::campaigns::{self, CampaignRow};
use crate::store::items::{self, UndecidedClass};
use crate::store::outbox::{self, template};
use crate::store::{self as st, directory, remediation};

impl Engine {
    /// Freezes decisions, settles every unanswered item by the definition's policy, and plans
    /// the removals. People's revocations are removed regardless; the policy's wait for an
    /// admin when they would remove too much or leave a role with no holder.
    pub async fn close(&self, id: i64, actor: &str) -> Result<CampaignRow, EngineError> {
        let now = self.now();
        let txn = self.store().begin().await?;
        let campaign = campaigns::campaign(&txn, id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no campaign #{id}")))?;
        if !campaigns::transition(
            &txn,
            id,
            &[CampaignState::Active],
            CampaignState::Closing,
            Some("closed_at"),
            now,
        )
        .await?
        {
            return Err(EngineError::Conflict(match campaign.state {
                CampaignState::Scheduled | CampaignState::Launching => {
                    format!("campaign #{id} is still launching; it can be closed once active")
                }
                CampaignState::Cancelled => format!("campaign #{id} was cancelled"),
                _ => format!(
                    "campaign #{id} is already closed (state {})",
                    campaign.state
                ),
            }));
        }
        campaigns::set_ended_by(&txn, id, campaigns::EndedBy::Closed, actor).await?;
        let spec = &campaign.spec;
        // Closed by an admin before the deadline: the unanswered items were not "unanswered by
        // the deadline", and their decisions must not say so.
        let when = match campaign.due_at {
            Some(due) if now < due => format!(
                "no answer when {actor} closed the campaign before its deadline ({})",
                due.format("%Y-%m-%d %H:%M UTC")
            ),
            _ if campaign.stages > 1 => format!(
                "no decision settles it under the outcome rule {} by the end of stage {} of {}",
                spec.stage_outcome, campaign.stage, campaign.stages
            ),
            _ if campaign.round > 1 => format!(
                "no answer by the deadline, nor by the end of re-run round {}",
                campaign.round
            ),
            _ => "no answer by the deadline".to_string(),
        };
        // A multi-stage campaign's items first get the verdict their stages' decisions make.
        let settled_by_rule = self.settle_by_outcome_rule(&txn, &campaign).await?;
        items::settle_human(&txn, id).await?;
        let mut policy_removals = 0;
        for excluded in [true, false] {
            for &recommendation in Recommendation::ALL {
                let result = outcome(None, excluded, recommendation, spec.on_no_response);
                let why = policy_justification(&when, result, spec.on_no_response);
                let settled = items::settle_undecided(
                    &txn,
                    id,
                    UndecidedClass {
                        excluded,
                        recommendation,
                    },
                    result,
                    &why,
                    now,
                )
                .await?;
                if result == Outcome::RemovedByPolicy {
                    policy_removals += settled;
                }
            }
        }
        let emptied = items::roles_emptied_by_policy(&txn, id).await?;
        let rail = removal_rail(
            campaign.population as u64,
            policy_removals,
            spec.max_auto_remove_percent,
            &emptied,
        );
        // A challenge period holds every planned removal until it ends (none: at once).
        let challenge_end = spec
            .challenge_days
            .map(|days| crate::domain::challenge::window_end(now, days));
        let planned = items::plan_remediation(&txn, id, rail.is_some(), challenge_end, now).await?;
        if let Some(end) = challenge_end {
            self.open_challenges(&txn, id, end, actor, now).await?;
        }
        campaigns::set_rail_reason(&txn, id, rail.as_deref()).await?;
        campaigns::transition(
            &txn,
            id,
            &[CampaignState::Closing],
            CampaignState::Remediating,
            None,
            now,
        )
        .await?;
        if let Some(reason) = &rail {
            let owner = directory::principal_refs(&txn, &[spec.owner.as_str()]).await?;
            if let Some(owner) = owner.get(&spec.owner) {
                outbox::queue_to_principal(
                    &txn,
                    &format!("{}/{id}", template::REMOVALS_AWAITING_CONFIRMATION),
                    Some(id),
                    owner.id,
                    template::REMOVALS_AWAITING_CONFIRMATION,
                    &serde_json::json!({ "reason": reason }),
                    now,
                )
                .await?;
            }
        }
        let counts = campaigns::counts(&txn, id).await?;
        st::audit::append(
            &txn,
            now,
            actor,
            "campaign.close",
            Some(&format!("campaign:{id}")),
            &serde_json::json!({
                "counts": counts,
                "removals_planned": planned,
                "rail_reason": rail,
                "stage": campaign.stage,
                "stages": campaign.stages,
                "outcome_rule": (campaign.stages > 1).then_some(spec.stage_outcome),
                "settled_by_rule": settled_by_rule,
            }),
        )
        .await?;
        let event = crate::engine::webhook_events::closed(
            id,
            actor,
            serde_json::json!(counts),
            planned,
            rail.as_deref(),
            now,
        );
        self.emit(&txn, vec![event]).await?;
        txn.commit().await?;
        self.campaign_row(id).await
    }

    /// Releases the removals a safety rail held for an admin's confirmation.
    pub async fn confirm_removals(&self, id: i64, actor: &str) -> Result<u64, EngineError> {
        let now = self.now();
        let txn = self.store().begin().await?;
        let state = campaigns::lock_state(&txn, id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no campaign #{id}")))?;
        if state != CampaignState::Remediating {
            return Err(EngineError::Conflict(format!(
                "campaign #{id} is {state}: only a closed campaign's removals can be confirmed"
            )));
        }
        let confirmed = remediation::confirm(&txn, id, now).await?;
        if confirmed == 0 {
            return Err(EngineError::Invalid(format!(
                "campaign #{id} has no removals awaiting confirmation"
            )));
        }
        st::audit::append(
            &txn,
            now,
            actor,
            "campaign.confirm_removals",
            Some(&format!("campaign:{id}")),
            &serde_json::json!({ "removals_confirmed": confirmed }),
        )
        .await?;
        txn.commit().await?;
        Ok(confirmed)
    }

    /// Stops a campaign: no more decisions, and nothing (more) is removed.
    pub async fn cancel(&self, id: i64, actor: &str) -> Result<CampaignRow, EngineError> {
        use CampaignState::*;
        let now = self.now();
        let txn = self.store().begin().await?;
        let campaign = campaigns::campaign(&txn, id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no campaign #{id}")))?;
        let from = [Scheduled, Launching, Active, Closing, Remediating];
        if !campaigns::transition(&txn, id, &from, Cancelled, Some("cancelled_at"), now).await? {
            return Err(EngineError::Conflict(format!(
                "campaign #{id} is {}: only a campaign that has not completed can be cancelled",
                campaign.state
            )));
        }
        campaigns::set_ended_by(&txn, id, campaigns::EndedBy::Cancelled, actor).await?;
        st::audit::append(
            &txn,
            now,
            actor,
            "campaign.cancel",
            Some(&format!("campaign:{id}")),
            &serde_json::json!({ "state_before": campaign.state }),
        )
        .await?;
        txn.commit().await?;
        self.campaign_row(id).await
    }

    /// Closes every active campaign whose deadline has passed.
    pub async fn close_due(&self) -> Result<Vec<i64>, EngineError> {
        let now = self.now();
        let mut closed = Vec::new();
        for campaign in campaigns::campaigns(self.store().conn(), &[CampaignState::Active]).await? {
            if campaign.due_at.is_some_and(|due| due <= now) {
                // A stage's deadline opens the next stage; the last one's closes the campaign.
                if campaign.stage < campaign.stages {
                    match self.next_stage(campaign.id, "scheduler").await {
                        Ok(_) | Err(EngineError::Conflict(_)) => continue,
                        // Nothing goes on (an earlier stage settled every item): close.
                        Err(EngineError::Invalid(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                // The definition may give the silent a second chance before its policy speaks.
                let open = campaigns::unanswered(self.store().conn(), campaign.id).await?;
                let rerun = automatic_rerun(
                    campaign.spec.rerun_unanswered_days,
                    campaign.round,
                    open.items,
                );
                if let Some(days) = rerun {
                    match self.rerun(campaign.id, days, "scheduler").await {
                        Ok(_) => continue,
                        // Re-run, closed or cancelled by another instance meanwhile.
                        Err(EngineError::Conflict(_)) => continue,
                        // Nothing a re-run may open (the rounds are used up): the deadline
                        // closes it as it would without one.
                        Err(EngineError::Invalid(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                match self.close(campaign.id, "scheduler").await {
                    Ok(_) => closed.push(campaign.id),
                    Err(EngineError::Conflict(_)) => {} // closed by another instance meanwhile
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(closed)
    }

    pub(crate) async fn campaign_row(&self, id: i64) -> Result<CampaignRow, EngineError> {
        campaigns::campaign(self.store().conn(), id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no campaign #{id}")))
    }
}

/// What a policy decision says about itself, so it never reads like a person's.
fn policy_justification(when: &str, outcome: Outcome, policy: OnNoResponse) -> String {
    match outcome {
        Outcome::KeptExcluded => format!(
            "{when}; excluded from automatic removal (break-glass or listed exclusion): kept"
        ),
        _ => format!("{when}; policy on_no_response = {policy}"),
    }
}
