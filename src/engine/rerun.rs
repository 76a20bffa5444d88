//! Re-running a campaign for its non-responders: the unanswered items get a new deadline and
//! their reviewers fresh links, in one transaction, before the policy settles anything. Asked
//! for by an admin (CLI, console, API) while the campaign is active, or by the definition's
//! `rerun_unanswered_days` when the deadline comes.

use super::{Engine, EngineError};
use crate::domain::lifecycle::CampaignState;
use crate::domain::rerun::{plan_rerun, RerunFacts};
use crate::store::campaigns::{self, RoundRow};
use crate::store::outbox::{self, template};
use crate::store::{self as st};
use serde::Serialize;

/// What a re-run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RerunReport {
    pub campaign_id: i64,
    /// The round now open, its deadline and what it re-opened.
    #[serde(flatten)]
    pub round: RoundRow,
    /// Links of the earlier rounds that stopped working.
    pub links_withdrawn: u64,
    /// Reviewers who had signed off with items unanswered and are asked again.
    pub sign_offs_reopened: u64,
    /// Re-run mails queued (one per reviewer with unanswered items and an address).
    pub mails_queued: u64,
}

impl Engine {
    /// Re-opens the campaign's unanswered items for `days` more days: a new deadline, the
    /// earlier links withdrawn, one mail with a fresh link to each reviewer who still has
    /// something to answer. Answers already given stay as they are and can no longer change.
    pub async fn rerun(&self, id: i64, days: u32, actor: &str) -> Result<RerunReport, EngineError> {
        let now = self.now();
        let txn = self.store().begin().await?;
        let state = campaigns::lock_state(&txn, id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no campaign #{id}")))?;
        let campaign = campaigns::campaign(&txn, id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no campaign #{id}")))?;
        let open = campaigns::unanswered(&txn, id).await?;
        let facts = RerunFacts {
            id,
            state,
            round: campaign.round,
            due_at: campaign.due_at,
            unanswered: open.items,
        };
        let plan = plan_rerun(&facts, days, now).map_err(|reason| {
            if state == CampaignState::Active {
                EngineError::Invalid(reason)
            } else {
                EngineError::Conflict(reason)
            }
        })?;
        let sign_offs_reopened = campaigns::reopen_sign_offs(&txn, id).await?;
        let links_withdrawn = campaigns::withdraw_links(&txn, id, now).await?;
        if !campaigns::open_round(&txn, id, &plan, campaign.due_at, open, actor, now).await? {
            return Err(EngineError::Conflict(format!(
                "campaign #{id} changed while it was being re-run; look at it again"
            )));
        }
        let mails_queued = outbox::queue_for_reviewers(
            &txn,
            id,
            template::RERUN,
            Some(&format!("round{}", plan.round)),
            true,
            now,
        )
        .await?;
        let round = campaigns::rounds(&txn, id)
            .await?
            .into_iter()
            .find(|r| r.round == plan.round)
            .ok_or_else(|| EngineError::NotFound(format!("campaign #{id} lost its re-run")))?;
        st::audit::append(
            &txn,
            now,
            actor,
            "campaign.rerun",
            Some(&format!("campaign:{id}")),
            &serde_json::json!({
                "round": round.round,
                "days": round.days,
                "due_before": round.due_before,
                "due_at": round.due_at,
                "items_reopened": round.items_reopened,
                "reviewers_reopened": round.reviewers_reopened,
                "links_withdrawn": links_withdrawn,
                "sign_offs_reopened": sign_offs_reopened,
                "mails_queued": mails_queued,
            }),
        )
        .await?;
        txn.commit().await?;
        Ok(RerunReport {
            campaign_id: id,
            round,
            links_withdrawn,
            sign_offs_reopened,
            mails_queued,
        })
    }

    /// The campaign's re-runs, first first.
    pub async fn rounds(&self, id: i64) -> Result<Vec<RoundRow>, EngineError> {
        Ok(campaigns::rounds(self.store().conn(), id).await?)
    }
}
