//! Multi-stage reviews: opening a campaign's next stage (at the stage's deadline, or early by
//! an admin) with its own reviewers and fresh links, and settling items by the outcome rule when
//! the last stage ends. `domain::stages` holds the rules; this file carries them out in one
//! transaction per step.

use super::{Engine, EngineError};
use crate::domain::lifecycle::CampaignState;
use crate::domain::reviewers::{ReviewerReason, ReviewerRules};
use crate::domain::stages::{continues, settling_decision};
use crate::store::campaigns::{self, CampaignRow, NewStage, StageRow};
use crate::store::items::{stage_history, stages as item_stages};
use crate::store::outbox::{self, template};
use crate::store::{self as st, directory, items};
use chrono::Duration;
use sea_orm::DatabaseTransaction;
use serde::Serialize;
use std::collections::BTreeMap;

/// What opening a stage did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StageReport {
    pub campaign_id: i64,
    /// The stage now open, and how many the campaign has.
    pub stage: i32,
    pub stages: i32,
    pub due_at: chrono::DateTime<chrono::Utc>,
    /// Items that went on into the stage, and those an earlier stage settled.
    pub items_entered: u64,
    pub items_settled_earlier: u64,
    pub reviewers: u64,
    /// Links of the earlier stage that stopped working.
    pub links_withdrawn: u64,
    /// Stage mails queued (one per reviewer with items and an address).
    pub mails_queued: u64,
}

/// A campaign's stages as every surface shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StagesView {
    pub campaign_id: i64,
    pub stage: i32,
    pub stages: i32,
    /// How the stages' decisions make each item's verdict.
    pub outcome_rule: crate::domain::stages::OutcomeRule,
    /// The stages opened so far, first first.
    pub opened: Vec<StageRow>,
}

impl Engine {
    /// Ends the open stage and opens the next: the items the outcome rule lets go on get the
    /// next stage's reviewer, a fresh deadline and a mail with a fresh link; what the earlier
    /// stage decided stays on record and is shown to them.
    pub async fn next_stage(&self, id: i64, actor: &str) -> Result<StageReport, EngineError> {
        let now = self.now();
        let txn = self.store().begin().await?;
        let state = campaigns::lock_state(&txn, id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no campaign #{id}")))?;
        let campaign = campaigns::campaign(&txn, id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no campaign #{id}")))?;
        if state != CampaignState::Active {
            return Err(EngineError::Conflict(format!(
                "campaign #{id} is {state}: only an active campaign moves to its next stage"
            )));
        }
        if campaign.stage >= campaign.stages {
            return Err(EngineError::Invalid(format!(
                "campaign #{id} is in its last stage ({} of {}); close it instead",
                campaign.stage, campaign.stages
            )));
        }
        let next = campaign.stage + 1;
        let spec = campaign.spec.stage(next);
        let rule = campaign.spec.stage_outcome;
        let in_stage = item_stages::in_stage(&txn, id, campaign.stage).await?;
        let (going, settled): (Vec<&item_stages::StageItem>, Vec<_>) = in_stage
            .iter()
            .partition(|i: &&item_stages::StageItem| continues(rule, i.verdict));
        if going.is_empty() {
            return Err(EngineError::Invalid(format!(
                "no item of campaign #{id} goes on to stage {next}: stage {} settled every one; close it instead",
                campaign.stage
            )));
        }
        let rules = self.stage_rules(&txn, &campaign, next).await?;
        let people = directory::people(&txn).await?;
        let mut groups: BTreeMap<(i64, &'static str, Option<String>), Vec<i64>> = BTreeMap::new();
        for item in &going {
            let a = rules.resolve(&people, item.principal_id, item.role_owner_id);
            groups
                .entry((a.reviewer, a.reason.as_str(), a.flag))
                .or_default()
                .push(item.id);
        }
        let reviewers = groups
            .keys()
            .map(|(r, _, _)| *r)
            .collect::<std::collections::BTreeSet<_>>()
            .len() as u64;
        let due_at = now + Duration::days(i64::from(spec.duration_days));
        let opened = campaigns::open_stage(
            &txn,
            id,
            &NewStage {
                stage: next,
                due_before: campaign.due_at,
                due_at,
                items: going.len() as u64,
                reviewers,
                started_by: actor,
            },
            now,
        )
        .await?;
        if !opened {
            return Err(EngineError::Conflict(format!(
                "campaign #{id} changed while its next stage was being opened; look at it again"
            )));
        }
        for ((reviewer, reason, flag), ids) in &groups {
            let reason: ReviewerReason = reason.parse().map_err(EngineError::Invalid)?;
            item_stages::enter(&txn, id, next, *reviewer, reason, flag.as_deref(), ids).await?;
        }
        campaigns::reopen_sign_offs(&txn, id).await?;
        let loads = items::reviewer_loads(&txn, id).await?;
        items::upsert_campaign_reviewers(&txn, id, &loads, now).await?;
        let links_withdrawn = campaigns::withdraw_links(&txn, id, now).await?;
        let mails_queued = outbox::queue_for_reviewers(
            &txn,
            id,
            template::STAGE,
            Some(&format!("stage{next}")),
            true,
            now,
        )
        .await?;
        let report = StageReport {
            campaign_id: id,
            stage: next,
            stages: campaign.stages,
            due_at,
            items_entered: going.len() as u64,
            items_settled_earlier: settled.len() as u64,
            reviewers,
            links_withdrawn,
            mails_queued,
        };
        st::audit::append(
            &txn,
            now,
            actor,
            "campaign.stage",
            Some(&format!("campaign:{id}")),
            &serde_json::json!({
                "stage": next,
                "stages": campaign.stages,
                "due_before": campaign.due_at,
                "due_at": due_at,
                "reviewers_rule": spec.reviewers,
                "items_entered": report.items_entered,
                "items_settled_earlier": report.items_settled_earlier,
                "reviewers": reviewers,
                "links_withdrawn": links_withdrawn,
                "mails_queued": mails_queued,
            }),
        )
        .await?;
        let event = crate::engine::webhook_events::stage_opened(&report, actor, now);
        self.emit(&txn, vec![event]).await?;
        txn.commit().await?;
        Ok(report)
    }

    /// The campaign's stages and their figures.
    pub async fn stages(&self, id: i64) -> Result<StagesView, EngineError> {
        let campaign = self.campaign_row(id).await?;
        Ok(StagesView {
            campaign_id: id,
            stage: campaign.stage,
            stages: campaign.stages,
            outcome_rule: campaign.spec.stage_outcome,
            opened: campaigns::stage_rows(self.store().conn(), &campaign).await?,
        })
    }

    /// At a multi-stage campaign's close, before the policy: each item of the last stage it
    /// reached gets the verdict its stages' decisions make under the outcome rule, or none (the
    /// policy then settles it). Returns how many items the rule settled on an earlier stage's
    /// decision or left to the policy against the last stage's answer.
    pub(crate) async fn settle_by_outcome_rule(
        &self,
        txn: &DatabaseTransaction,
        campaign: &CampaignRow,
    ) -> Result<u64, EngineError> {
        if campaign.stages <= 1 {
            return Ok(0);
        }
        let rule = campaign.spec.stage_outcome;
        let ids: Vec<i64> = item_stages::in_stage(txn, campaign.id, campaign.stage)
            .await?
            .into_iter()
            .map(|i| i.id)
            .collect();
        let mut changed = 0;
        for chunk in ids.chunks(1000) {
            let votes = stage_history::votes(txn, chunk).await?;
            let current = items::items_for_decision(txn, campaign.id, chunk).await?;
            for item in current {
                let decisions = votes.get(&item.id).map(Vec::as_slice).unwrap_or_default();
                let weighed: Vec<_> = decisions.iter().map(stage_history::vote).collect();
                // Closed early, a campaign never reached its later stages: the rule weighs
                // the stages it ran.
                let chosen = settling_decision(rule, campaign.stage, &weighed)
                    .and_then(|id| decisions.iter().find(|d| d.decision_id == id));
                if chosen.map(|d| d.decision_id) != item.current_decision_id {
                    item_stages::settle_by_rule(txn, item.id, chosen).await?;
                    changed += 1;
                }
            }
        }
        Ok(changed)
    }

    /// Stage `stage`'s reviewer rules, resolved to principals.
    async fn stage_rules(
        &self,
        txn: &DatabaseTransaction,
        campaign: &CampaignRow,
        stage: i32,
    ) -> Result<ReviewerRules, EngineError> {
        let spec = campaign.spec.stage(stage);
        let mut names: Vec<&str> = vec![campaign.spec.owner.as_str()];
        names.extend(spec.named_reviewers.iter().map(String::as_str));
        names.extend(spec.fallback_reviewer.as_deref());
        let refs = directory::principal_refs(txn, &names).await?;
        let id_of = |external: &str| refs.get(external).map(|p| p.id);
        let owner = id_of(&campaign.spec.owner).ok_or_else(|| {
            EngineError::Invalid(format!(
                "{}: the owner \"{}\" no longer exists",
                campaign.name, campaign.spec.owner
            ))
        })?;
        Ok(ReviewerRules::of(&spec, owner, id_of))
    }
}
