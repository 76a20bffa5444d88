//! Reminders and escalations of active campaigns: one digest per reviewer with undecided items
//! (never one per item, never to someone who has finished or signed off), and after
//! `escalate_after_days` the undecided items move to the fallback reviewer.

use super::{Engine, EngineError};
use crate::domain::lifecycle::CampaignState;
use crate::domain::reminders::{due_reminder, escalation_due};
use crate::store::campaigns::{self, CampaignRow};
use crate::store::items;
use crate::store::outbox::{self, template};
use crate::store::{self as st, directory};
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RemindReport {
    pub reminders: u64,
    pub escalated_items: u64,
}

impl Engine {
    /// Sends the reminders and escalations due now across active campaigns.
    pub async fn remind_step(&self) -> Result<RemindReport, EngineError> {
        let mut report = RemindReport::default();
        for campaign in campaigns::campaigns(self.store().conn(), &[CampaignState::Active]).await? {
            report.reminders += self.remind(&campaign).await?;
            report.escalated_items += self.escalate(&campaign).await?;
        }
        Ok(report)
    }

    async fn remind(&self, campaign: &CampaignRow) -> Result<u64, EngineError> {
        let now = self.now();
        let Some(due_at) = campaign.due_at else {
            return Ok(0);
        };
        let Some(days) = due_reminder(&campaign.spec.reminders_days_before, due_at, now) else {
            return Ok(0);
        };
        let txn = self.store().begin().await?;
        let queued = outbox::queue_for_reviewers(
            &txn,
            campaign.id,
            template::REMINDER,
            // A re-run's and a later stage's reminders are their own: the first round's do not
            // stand in for them.
            Some(&match (campaign.stage, campaign.round) {
                (1, 1) => format!("{days}d"),
                (1, round) => format!("round{round}/{days}d"),
                (stage, 1) => format!("stage{stage}/{days}d"),
                (stage, round) => format!("stage{stage}/round{round}/{days}d"),
            }),
            true,
            now,
        )
        .await?;
        if queued > 0 {
            st::audit::append(
                &txn,
                now,
                "scheduler",
                "campaign.remind",
                Some(&format!("campaign:{}", campaign.id)),
                &serde_json::json!({ "days_before_deadline": days, "reminders": queued }),
            )
            .await?;
        }
        txn.commit().await?;
        Ok(queued)
    }

    async fn escalate(&self, campaign: &CampaignRow) -> Result<u64, EngineError> {
        let now = self.now();
        // Escalation counts from the open stage's start, to that stage's fallback reviewer.
        let Some(started_at) = campaign.stage_started_at.or(campaign.launched_at) else {
            return Ok(0);
        };
        if !escalation_due(started_at, campaign.spec.escalate_after_days, now) {
            return Ok(0);
        }
        let stage = campaign.spec.stage(campaign.stage);
        let Some(fallback) = stage.fallback_reviewer.as_deref() else {
            return Ok(0);
        };
        let conn = self.store().conn();
        let Some(fallback) = directory::principal_refs(conn, &[fallback])
            .await?
            .get(fallback)
            .map(|p| p.id)
        else {
            return Ok(0);
        };
        let txn = self.store().begin().await?;
        let moved = items::escalate_undecided(&txn, campaign.id, fallback, now).await?;
        if moved > 0 {
            let loads = items::reviewer_loads(&txn, campaign.id).await?;
            items::upsert_campaign_reviewers(&txn, campaign.id, &loads, now).await?;
            outbox::queue_to_principal(
                &txn,
                &match campaign.stage {
                    1 => format!("{}/{}/{fallback}", template::ESCALATION, campaign.id),
                    n => format!(
                        "{}/{}/{fallback}/stage{n}",
                        template::ESCALATION,
                        campaign.id
                    ),
                },
                Some(campaign.id),
                fallback,
                template::ESCALATION,
                &serde_json::json!({ "items": moved }),
                now,
            )
            .await?;
            st::audit::append(
                &txn,
                now,
                "scheduler",
                "campaign.escalate",
                Some(&format!("campaign:{}", campaign.id)),
                &serde_json::json!({ "items": moved, "to": fallback }),
            )
            .await?;
        }
        txn.commit().await?;
        Ok(moved)
    }
}
