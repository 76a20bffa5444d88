//! The reviewer's side: personal links (256 random bits, only their SHA-256 stored, compared
//! in constant time), the page they open, hand-overs and sign-off. Opening a link changes
//! nothing; only the POSTs below do.

use super::{Engine, EngineError};
use crate::domain::lifecycle::CampaignState;
use crate::store::campaigns::{self, CampaignRow};
use crate::store::outbox::{self, template};
use crate::store::review::{self, ReviewerItem};
use crate::store::{self as st, directory, items};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What an opened link grants: one reviewer's items in one campaign.
#[derive(Debug, Clone)]
pub struct ReviewerAccess {
    pub campaign: CampaignRow,
    pub reviewer_id: i64,
    /// The anti-forgery value every POST from this link must carry.
    pub csrf: String,
}

/// Why a link does not open a review. Each reads as a page of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkProblem {
    /// Not a token attest issued (mistyped, truncated or forged).
    Unknown,
    /// Past its expiry.
    Expired { at: DateTime<Utc> },
    /// The campaign no longer (or not yet) takes decisions.
    Closed {
        state: CampaignState,
        at: Option<DateTime<Utc>>,
    },
    /// Withdrawn by an admin.
    Revoked,
}

/// SHA-256 of a token, as stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The anti-forgery value of a link: bound to the token, so a form from one link cannot be
/// replayed against another.
pub fn csrf_for(token: &str) -> String {
    hex::encode(Sha256::digest(
        format!("attest-anti-forgery\0{token}").as_bytes(),
    ))
}

/// Compares two secrets without leaking where they differ through timing.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A reviewer's page: the campaign, their items grouped by holder, and progress.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReviewPage {
    pub campaign_id: i64,
    pub campaign_name: String,
    pub description: Option<String>,
    pub period: String,
    pub due_at: Option<DateTime<Utc>>,
    /// The zone the deadline is shown in: the reviewer's, else the campaign's.
    pub timezone: String,
    pub reviewer_name: String,
    pub justification_for_attest: bool,
    pub justification_for_revoke: bool,
    /// Whether the campaign's source can convert standing access to eligible (the third
    /// choice on standing items).
    pub can_convert: bool,
    pub items: Vec<ReviewerItem>,
    /// Each item's last review (by item id): what the latest completed campaign over the same
    /// eligibility decided. An item absent here is new since the last review.
    pub previous: std::collections::HashMap<i64, items::previous::PreviousDecision>,
    pub decided: usize,
    pub signed_off_at: Option<DateTime<Utc>>,
    /// The round open (2 and up after a re-run for non-responders), and when the answering
    /// period opened (that round, or a later stage): items answered before it are settled and
    /// shown without a choice.
    pub round: i32,
    pub round_started_at: Option<DateTime<Utc>>,
    /// The stage open and how many the campaign has (1 of 1 for most campaigns).
    pub stage: i32,
    pub stages: i32,
    /// What the earlier stages decided on each item (by item id), first stage first.
    pub earlier_stages: std::collections::HashMap<i64, Vec<items::stage_history::StageDecision>>,
}

impl ReviewPage {
    /// Whether the campaign wants a justification with this answer.
    pub fn requires_justification(&self, verdict: crate::domain::closing::Verdict) -> bool {
        match verdict {
            // Converting keeps the access (as an eligibility): it asks what keeping asks.
            crate::domain::closing::Verdict::Attest | crate::domain::closing::Verdict::Convert => {
                self.justification_for_attest
            }
            crate::domain::closing::Verdict::Revoke => self.justification_for_revoke,
        }
    }
}

impl Engine {
    /// Issues a new link token for a reviewer of a campaign, valid until the deadline (and only
    /// while the campaign is active). Returns the token; only its hash is kept.
    pub async fn issue_token(
        &self,
        campaign_id: i64,
        reviewer_id: i64,
        mail_id: Option<i64>,
    ) -> Result<String, EngineError> {
        let campaign = self.campaign_row(campaign_id).await?;
        self.issue_tokens(&campaign, &[(reviewer_id, mail_id)])
            .await?
            .pop()
            .ok_or_else(|| EngineError::Io("no token was issued".into()))
    }

    /// Issues link tokens for several reviewers of one campaign (reviewer, the mail that will
    /// carry the link) in one statement, committed when this returns; the tokens come back in
    /// the order asked.
    pub async fn issue_tokens(
        &self,
        campaign: &CampaignRow,
        grants: &[(i64, Option<i64>)],
    ) -> Result<Vec<String>, EngineError> {
        let now = self.now();
        let expires_at = campaign.due_at.unwrap_or(now + chrono::Duration::days(30));
        let mut tokens = Vec::with_capacity(grants.len());
        let mut rows = Vec::with_capacity(grants.len());
        for (reviewer_id, mail_id) in grants {
            let token = super::random_token()?;
            rows.push(review::NewToken {
                campaign_id: campaign.id,
                reviewer_id: *reviewer_id,
                token_hash: token_hash(&token),
                mail_id: *mail_id,
                expires_at,
            });
            tokens.push(token);
        }
        review::insert_tokens(self.store().conn(), &rows, now).await?;
        Ok(tokens)
    }

    /// Resolves a presented token. Reads only.
    pub async fn open_link(
        &self,
        token: &str,
    ) -> Result<Result<ReviewerAccess, LinkProblem>, EngineError> {
        let hash = token_hash(token);
        let Some(row) = review::token_by_hash(self.store().conn(), &hash).await? else {
            return Ok(Err(LinkProblem::Unknown));
        };
        if !same_secret(&row.token_hash, &hash) {
            return Ok(Err(LinkProblem::Unknown));
        }
        let campaign = self.campaign_row(row.campaign_id).await?;
        if row.revoked_at.is_some() {
            return Ok(Err(LinkProblem::Revoked));
        }
        if campaign.state != CampaignState::Active {
            let at = campaign.cancelled_at.or(campaign.closed_at);
            return Ok(Err(LinkProblem::Closed {
                state: campaign.state,
                at,
            }));
        }
        if row.expires_at <= self.now() {
            return Ok(Err(LinkProblem::Expired { at: row.expires_at }));
        }
        Ok(Ok(ReviewerAccess {
            campaign,
            reviewer_id: row.reviewer_id,
            csrf: csrf_for(token),
        }))
    }

    /// Which of `ids` are the reviewer's items in the link's campaign.
    pub async fn assigned_among(
        &self,
        access: &ReviewerAccess,
        ids: &[i64],
    ) -> Result<std::collections::HashSet<i64>, EngineError> {
        Ok(review::assigned_among(
            self.store().conn(),
            access.campaign.id,
            access.reviewer_id,
            ids,
        )
        .await?
        .into_iter()
        .collect())
    }

    pub async fn review_page(&self, access: &ReviewerAccess) -> Result<ReviewPage, EngineError> {
        let conn = self.store().conn();
        let c = &access.campaign;
        let items = review::reviewer_items(conn, c.id, access.reviewer_id).await?;
        let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
        let previous = items::previous::of_items(conn, c.id, &ids).await?;
        let earlier_stages = if c.stage > 1 {
            items::stage_history::earlier_stages(conn, &ids, c.stage).await?
        } else {
            Default::default()
        };
        let reviewer = directory::names_by_id(conn, &[access.reviewer_id])
            .await?
            .remove(&access.reviewer_id);
        let timezone = directory::timezone_of(conn, access.reviewer_id)
            .await?
            .unwrap_or_else(|| c.spec.timezone.clone());
        Ok(ReviewPage {
            campaign_id: c.id,
            campaign_name: c.name.clone(),
            description: c.spec.description.clone(),
            period: c.period.clone(),
            due_at: c.due_at,
            timezone,
            reviewer_name: reviewer.map(|r| r.name).unwrap_or_default(),
            justification_for_attest: c
                .spec
                .requires_justification_in(c.stage, crate::domain::closing::Verdict::Attest),
            justification_for_revoke: c
                .spec
                .requires_justification_in(c.stage, crate::domain::closing::Verdict::Revoke),
            can_convert: self.campaign_converts(&c.spec),
            decided: items.iter().filter(|i| i.verdict.is_some()).count(),
            items,
            previous,
            signed_off_at: review::sign_off_of(conn, c.id, access.reviewer_id).await?,
            round: c.round,
            round_started_at: c.answers_open_since(),
            stage: c.stage,
            stages: c.stages,
            earlier_stages,
        })
    }

    /// Hands undecided items (`None`: all of them) to another principal, named by external id
    /// or email, who gets an invitation of their own.
    pub async fn reassign(
        &self,
        access: &ReviewerAccess,
        items_wanted: Option<&[i64]>,
        to: &str,
        actor: &str,
    ) -> Result<u64, EngineError> {
        let to = to.trim();
        if to.is_empty() {
            return Err(EngineError::Invalid(
                "say who should review instead (their id or email)".into(),
            ));
        }
        let campaign_id = access.campaign.id;
        let now = self.now();
        let txn = self.store().begin().await?;
        let state = campaigns::lock_state(&txn, campaign_id).await?;
        if state != Some(CampaignState::Active) {
            return Err(EngineError::Conflict(format!(
                "campaign #{campaign_id} is closed: nothing can be handed over"
            )));
        }
        let target = directory::reviewer_candidate(&txn, to)
            .await?
            .ok_or_else(|| {
                EngineError::Invalid(format!(
                    "no enabled person with id or email {} may review",
                    crate::domain::limits::quote(to)
                ))
            })?;
        if target == access.reviewer_id {
            return Err(EngineError::Invalid("these items are already yours".into()));
        }
        let mine = review::reviewer_items(&txn, campaign_id, access.reviewer_id).await?;
        let chosen: Vec<i64> = match items_wanted {
            None => mine
                .iter()
                .filter(|i| i.verdict.is_none())
                .map(|i| i.id)
                .collect(),
            Some(ids) => {
                if let Some(other) = ids.iter().find(|id| !mine.iter().any(|i| i.id == **id)) {
                    return Err(EngineError::Forbidden(format!(
                        "item {other} is not assigned to you"
                    )));
                }
                ids.to_vec()
            }
        };
        if chosen.is_empty() {
            return Err(EngineError::Invalid(
                "choose at least one undecided item to hand over".into(),
            ));
        }
        let moved =
            review::reassign(&txn, campaign_id, access.reviewer_id, target, &chosen).await?;
        if moved == 0 {
            return Err(EngineError::Invalid(
                "nothing was handed over: the items are decided already, or that person holds them"
                    .into(),
            ));
        }
        let loads = items::reviewer_loads(&txn, campaign_id).await?;
        items::upsert_campaign_reviewers(&txn, campaign_id, &loads, now).await?;
        outbox::queue_to_principal(
            &txn,
            &format!(
                "{}/{campaign_id}/{target}/handed-over/{}",
                template::INVITATION,
                now.timestamp_micros()
            ),
            Some(campaign_id),
            target,
            template::INVITATION,
            &serde_json::json!({ "handed_over_by": access.reviewer_id, "items": moved }),
            now,
        )
        .await?;
        st::audit::append(
            &txn,
            now,
            actor,
            "review.reassign",
            Some(&format!("campaign:{campaign_id}")),
            &serde_json::json!({ "items": chosen, "moved": moved, "from": access.reviewer_id, "to": target }),
        )
        .await?;
        txn.commit().await?;
        Ok(moved)
    }

    /// "I have finished": recorded with time and address; it ends the reviewer's reminders.
    pub async fn sign_off(
        &self,
        access: &ReviewerAccess,
        client_addr: Option<&str>,
        actor: &str,
    ) -> Result<(), EngineError> {
        let campaign_id = access.campaign.id;
        let now = self.now();
        let txn = self.store().begin().await?;
        if campaigns::lock_state(&txn, campaign_id).await? != Some(CampaignState::Active) {
            return Err(EngineError::Conflict(format!(
                "campaign #{campaign_id} is closed"
            )));
        }
        review::sign_off(&txn, campaign_id, access.reviewer_id, client_addr, now).await?;
        st::audit::append(
            &txn,
            now,
            actor,
            "review.sign_off",
            Some(&format!("campaign:{campaign_id}")),
            &serde_json::json!({ "reviewer": access.reviewer_id, "client_addr": client_addr }),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}
