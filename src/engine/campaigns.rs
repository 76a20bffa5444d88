//! Reading campaigns: `attest campaign list` and `show`.

use super::{Engine, EngineError};
use crate::domain::lifecycle::CampaignState;
use crate::domain::mail_state::ReviewerMail;
use crate::domain::summary::CampaignSummary;
use crate::store::campaigns::{self, CampaignCounts, CampaignRow, RoundRow};
use crate::store::items::{self, ItemFilter, ItemView};
use crate::store::outbox::{self, template};
use serde::Serialize;

/// A campaign with its progress, as `show --json` prints it (`id` at the top level).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CampaignView {
    #[serde(flatten)]
    pub campaign: CampaignRow,
    /// Every figure of the campaign, as every page, command, mail and report shows it.
    pub summary: CampaignSummary,
    /// The raw counts the summary is made from (kept for API clients that read them; the
    /// summary is what people see).
    pub counts: CampaignCounts,
    /// Its re-runs for non-responders, first first (none when it ran one round).
    pub rounds: Vec<RoundRow>,
    /// The outbound events about it (docs/webhooks.md), oldest first, each with its endpoint,
    /// state and the receiver's receipt: only in the view of one campaign, not in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<Vec<crate::store::webhooks::CampaignDelivery>>,
    /// A multi-stage campaign's outcome rule and the stages it opened so far, with their
    /// figures: only in the view of one campaign, not in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome_rule: Option<crate::domain::stages::OutcomeRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opened_stages: Option<Vec<crate::store::campaigns::StageRow>>,
}

impl CampaignView {
    pub fn new(campaign: CampaignRow, counts: CampaignCounts, rounds: Vec<RoundRow>) -> Self {
        let summary = campaign.summary(&counts);
        Self {
            campaign,
            summary,
            counts,
            rounds,
            webhooks: None,
            outcome_rule: None,
            opened_stages: None,
        }
    }
}

impl Engine {
    pub async fn campaign(&self, id: i64) -> Result<CampaignView, EngineError> {
        let conn = self.store().conn();
        let campaign = campaigns::campaign(conn, id).await?.ok_or_else(|| {
            EngineError::NotFound(format!("no campaign #{id} (see attest campaign list)"))
        })?;
        let counts = campaigns::counts(conn, id).await?;
        let rounds = campaigns::rounds(conn, id).await?;
        let stages = if campaign.stages > 1 {
            Some(campaigns::stage_rows(conn, &campaign).await?)
        } else {
            None
        };
        let mut view = CampaignView::new(campaign, counts, rounds);
        view.webhooks = Some(self.campaign_webhooks(id).await?);
        if stages.is_some() {
            view.outcome_rule = Some(view.campaign.spec.stage_outcome);
            view.opened_stages = stages;
        }
        Ok(view)
    }

    /// Where each reviewer's mail of the campaign stands (invitation and other mail).
    pub async fn reviewer_mail(&self, id: i64) -> Result<Vec<ReviewerMail>, EngineError> {
        self.campaign_row(id).await?;
        Ok(outbox::reviewer_mail(self.store().conn(), id).await?)
    }

    /// Campaigns, newest first, optionally only in some states.
    pub async fn campaigns(
        &self,
        states: &[CampaignState],
    ) -> Result<Vec<CampaignView>, EngineError> {
        Ok(self.campaigns_page(states, 0..usize::MAX).await?.0)
    }

    /// Campaigns, newest first, optionally only in some states, with their counts read only for
    /// `range` (a page of them); and how many there are in all.
    pub async fn campaigns_page(
        &self,
        states: &[CampaignState],
        range: std::ops::Range<usize>,
    ) -> Result<(Vec<CampaignView>, u64), EngineError> {
        let conn = self.store().conn();
        let all = campaigns::campaigns(conn, states).await?;
        let total = all.len() as u64;
        let mut views = Vec::new();
        for campaign in all.into_iter().skip(range.start).take(range.len()) {
            let counts = campaigns::counts(conn, campaign.id).await?;
            let rounds = campaigns::rounds(conn, campaign.id).await?;
            views.push(CampaignView::new(campaign, counts, rounds));
        }
        Ok((views, total))
    }

    /// Each reviewer of campaign `id` with their items and progress.
    pub async fn reviewer_summaries(
        &self,
        id: i64,
    ) -> Result<Vec<crate::store::evidence::ReviewerSummary>, EngineError> {
        Ok(crate::store::evidence::reviewer_summaries(self.store().conn(), id).await?)
    }

    /// A page of a campaign's items, and how many match the filter in all.
    pub async fn items(
        &self,
        id: i64,
        filter: &ItemFilter,
        limit: u64,
        offset: u64,
    ) -> Result<(Vec<ItemView>, u64), EngineError> {
        let context = self.campaign_row(id).await?.spec.context;
        let (mut items, total) =
            items::list_items(self.store().conn(), id, filter, limit.min(1000), offset).await?;
        for item in &mut items {
            item.holder_context =
                crate::domain::directory::holder_context(&context, item.frozen_context.as_deref())
                    .into_iter()
                    .map(|(name, value)| items::Attribute { name, value })
                    .collect();
        }
        Ok((items, total))
    }

    /// Queues the campaign's failed mail again (all of it but mail to people without an
    /// address), to be sent at once with its attempts counted afresh. Returns how many.
    pub async fn requeue_failed_mail(&self, id: i64, actor: &str) -> Result<u64, EngineError> {
        self.campaign_row(id).await?;
        let now = self.now();
        let txn = self.store().begin().await?;
        let requeued = outbox::requeue_failed(&txn, Some(id), false, now).await?;
        crate::store::audit::append(
            &txn,
            now,
            actor,
            "mail.requeued",
            Some(&format!("campaign:{id}")),
            &serde_json::json!({ "mails": requeued, "why": "an admin queued the failed mail again" }),
        )
        .await?;
        txn.commit().await?;
        Ok(requeued)
    }

    /// Sends a reviewer of an active campaign a fresh invitation (with a new link). With
    /// `replace`, the reviewer's links issued so far are revoked in the same transaction (at
    /// once, not when the new mail goes out: a leaked link must stop now); without it they keep
    /// working beside the new one. Returns how many links were revoked.
    pub async fn resend_invitation(
        &self,
        id: i64,
        reviewer: &str,
        replace: bool,
        actor: &str,
    ) -> Result<u64, EngineError> {
        let campaign = self.campaign_row(id).await?;
        if !campaign.state.accepts_decisions() {
            return Err(EngineError::Conflict(format!(
                "campaign #{id} is {}: there is nothing to review",
                campaign.state
            )));
        }
        let conn = self.store().conn();
        let found = crate::store::directory::principal_refs(conn, &[reviewer]).await?;
        let reviewer_id = found.get(reviewer).map(|p| p.id).ok_or_else(|| {
            EngineError::NotFound(format!(
                "no principal {}",
                crate::domain::limits::quote(reviewer)
            ))
        })?;
        if items::undecided_for(conn, id, reviewer_id).await? == 0
            && crate::store::review::reviewer_items(conn, id, reviewer_id)
                .await?
                .is_empty()
        {
            return Err(EngineError::Invalid(format!(
                "{reviewer} reviews nothing in campaign #{id}"
            )));
        }
        let now = self.now();
        let txn = self.store().begin().await?;
        let revoked = if replace {
            crate::store::credentials::revoke_reviewer_tokens(&txn, id, reviewer_id, now).await?
        } else {
            0
        };
        outbox::queue_to_principal(
            &txn,
            &format!(
                "{}/{id}/{reviewer_id}/resent/{}",
                template::INVITATION,
                now.timestamp_micros()
            ),
            Some(id),
            reviewer_id,
            template::INVITATION,
            &serde_json::json!({ "resent": true }),
            now,
        )
        .await?;
        crate::store::audit::append(
            &txn,
            now,
            actor,
            "campaign.resend_invitation",
            Some(&format!("campaign:{id}")),
            &serde_json::json!({ "reviewer": reviewer, "replace": replace, "links_revoked": revoked }),
        )
        .await?;
        txn.commit().await?;
        Ok(revoked)
    }
}
