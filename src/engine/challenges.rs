//! Challenge periods (issue 17): opening them at close, the holders' and reviewers' links,
//! a holder's reason, the reviewer's or an admin's answer, and the end of each window. The
//! rules are in `domain::challenge`; the removals they hold are ordinary removals whose first
//! attempt waits for the window's end, so the remediation worker needs no extra check.

use super::{Engine, EngineError};
use crate::domain::challenge::{self as rules, Answer, ChallengeState};
use crate::domain::closing::{Channel, Verdict};
use crate::domain::lifecycle::CampaignState;
use crate::store::challenges::{self, ChallengeView, Party, MAIL_SUBMITTED};
use crate::store::items::{self, NewDecision};
use crate::store::{self as st, campaigns, outbox};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;
use std::collections::BTreeMap;

/// What a challenge link opens: the challenge, and whose link it is.
#[derive(Debug, Clone)]
pub struct ChallengeAccess {
    pub challenge: ChallengeView,
    pub party: Party,
    pub campaign_name: String,
    pub period: String,
}

/// Who answers a challenge and how.
#[derive(Debug, Clone, Copy)]
pub struct Answerer<'a> {
    /// The reviewer answering through their link (recorded as the decision's reviewer).
    pub reviewer: Option<i64>,
    pub channel: Channel,
    /// As the audit log names them (`reviewer:12`, `account:admin@…`, `cli:ops`).
    pub actor: &'a str,
}

fn party_word(party: Party) -> &'static str {
    match party {
        Party::Holder => "holder",
        Party::Reviewer => "reviewer",
    }
}

impl Engine {
    /// At close, inside the closing transaction: holds every planned removal of a campaign
    /// with a challenge period until the window ends (`plan_remediation`'s `not_before`),
    /// opens a challenge for each and queues its holder's mail.
    pub(crate) async fn open_challenges(
        &self,
        txn: &DatabaseTransaction,
        campaign_id: i64,
        closes_at: DateTime<Utc>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, EngineError> {
        let opened = challenges::open(txn, campaign_id, closes_at, now).await?;
        st::audit::append(
            txn,
            now,
            actor,
            "challenge.sent",
            Some(&format!("campaign:{campaign_id}")),
            &serde_json::json!({ "challenges": opened, "closes_at": closes_at }),
        )
        .await?;
        Ok(opened)
    }

    /// The link of a party to a challenge, issued when first asked (by the mail worker, right
    /// before the mail is sent) and the same on every later ask while the link key is.
    pub async fn challenge_link(&self, id: i64, party: Party) -> Result<String, EngineError> {
        let key = self.link_key();
        let word = party_word(party);
        let conn = self.store().conn();
        if let Some((nonce, hash)) = challenges::link(conn, id, party).await? {
            let token = key.challenge_token(id, word, &nonce);
            if super::review::same_secret(&super::review::token_hash(&token), &hash) {
                return Ok(token);
            }
        }
        let nonce = hex::encode(super::random_bytes::<16>()?);
        let token = key.challenge_token(id, word, &nonce);
        challenges::set_link(conn, id, party, &nonce, &super::review::token_hash(&token)).await?;
        Ok(token)
    }

    /// Opens a challenge link; `Ok(Err(why))` when it opens nothing.
    pub async fn open_challenge_link(
        &self,
        token: &str,
    ) -> Result<Result<ChallengeAccess, String>, EngineError> {
        let conn = self.store().conn();
        let hash = super::review::token_hash(token);
        let Some((id, party)) = challenges::by_token_hash(conn, &hash).await? else {
            return Ok(Err("This link is not valid.".into()));
        };
        let Some(challenge) = challenges::view(conn, id).await? else {
            return Ok(Err("This link is not valid.".into()));
        };
        let campaign = self.campaign_row(challenge.campaign_id).await?;
        if campaign.state == CampaignState::Cancelled {
            return Ok(Err(
                "The review was cancelled: nothing will be removed, and nothing needs a reason."
                    .into(),
            ));
        }
        Ok(Ok(ChallengeAccess {
            challenge,
            party,
            campaign_name: campaign.name,
            period: campaign.period,
        }))
    }

    /// The holder's reason, given once through their link before the window ends; the
    /// item's reviewer is mailed.
    pub async fn submit_challenge(
        &self,
        access: &ChallengeAccess,
        reason: &str,
    ) -> Result<(), EngineError> {
        if access.party != Party::Holder {
            return Err(EngineError::Forbidden(
                "only the holder gives a reason".into(),
            ));
        }
        let reason = rules::check_reason(reason).map_err(EngineError::Invalid)?;
        let now = self.now();
        let c = &access.challenge;
        rules::may_submit(c.state, c.closes_at, now).map_err(EngineError::Conflict)?;
        let txn = self.store().begin().await?;
        self.check_remediating(&txn, c.campaign_id).await?;
        if !challenges::submit(&txn, c.id, &reason, now).await? {
            return Err(EngineError::Conflict(
                "a reason was already given, or the challenge period ended".into(),
            ));
        }
        if let Some(reviewer) = c.reviewer_principal_id {
            outbox::queue_to_principal(
                &txn,
                &format!("{MAIL_SUBMITTED}/{}", c.id),
                Some(c.campaign_id),
                reviewer,
                MAIL_SUBMITTED,
                &serde_json::json!({ "challenge_id": c.id }),
                now,
            )
            .await?;
        }
        st::audit::append(
            &txn,
            now,
            &format!("holder:{}", c.holder),
            "challenge.submitted",
            Some(&format!("campaign:{}", c.campaign_id)),
            &serde_json::json!({ "challenge": c.id, "item": c.item_id, "reason_chars": reason.chars().count() }),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Keeps the eligibility after all (its removal is cancelled and the item becomes kept by
    /// a person, the challenge named as the reason), or upholds the revocation (its removal
    /// runs at once). Only once, only after the holder gave a reason, only inside the window.
    pub async fn answer_challenge(
        &self,
        campaign_id: i64,
        id: i64,
        answer: Answer,
        by: &Answerer<'_>,
    ) -> Result<ChallengeView, EngineError> {
        let now = self.now();
        let c = challenges::view(self.store().conn(), id)
            .await?
            .filter(|c| c.campaign_id == campaign_id)
            .ok_or_else(|| {
                EngineError::NotFound(format!("campaign #{campaign_id} has no challenge #{id}"))
            })?;
        rules::may_answer(c.state, c.closes_at, now).map_err(EngineError::Conflict)?;
        let txn = self.store().begin().await?;
        self.check_remediating(&txn, campaign_id).await?;
        if !challenges::answer(&txn, id, answer.state(), by.actor, now).await? {
            return Err(EngineError::Conflict(format!(
                "challenge #{id} was answered meanwhile, or its period ended"
            )));
        }
        match answer {
            Answer::Keep => {
                if !challenges::cancel_removal(&txn, c.item_id).await? {
                    return Err(EngineError::Conflict(format!(
                        "the removal of item {} is already under way",
                        c.item_id
                    )));
                }
                let found = items::items_for_decision(&txn, campaign_id, &[c.item_id]).await?;
                let item = found.first().ok_or_else(|| {
                    EngineError::NotFound(format!(
                        "no item {} in campaign #{campaign_id}",
                        c.item_id
                    ))
                })?;
                let why = format!(
                    "kept after challenge #{id}: {}",
                    c.reason.as_deref().unwrap_or_default()
                );
                let decision = NewDecision {
                    item,
                    verdict: Verdict::Attest,
                    reviewer_id: by.reviewer,
                    acting_for_id: None,
                    justification: Some(&why),
                    channel: by.channel.as_str(),
                    client_addr: None,
                    actor: by.reviewer.is_none().then_some(by.actor),
                };
                items::record_decisions(&txn, campaign_id, &[decision], now).await?;
                challenges::keep_item(&txn, c.item_id).await?;
            }
            Answer::Uphold => challenges::release_removal(&txn, c.item_id, now).await?,
        }
        let action = match answer {
            Answer::Keep => "challenge.kept",
            Answer::Uphold => "challenge.upheld",
        };
        st::audit::append(
            &txn,
            now,
            by.actor,
            action,
            Some(&format!("campaign:{campaign_id}")),
            &serde_json::json!({ "challenge": id, "item": c.item_id, "channel": by.channel }),
        )
        .await?;
        txn.commit().await?;
        challenges::view(self.store().conn(), id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no challenge #{id}")))
    }

    /// One challenge, if it exists.
    pub async fn challenge(&self, id: i64) -> Result<Option<ChallengeView>, EngineError> {
        Ok(challenges::view(self.store().conn(), id).await?)
    }

    /// A campaign's challenges, oldest first.
    pub async fn challenges(&self, campaign_id: i64) -> Result<Vec<ChallengeView>, EngineError> {
        self.campaign_row(campaign_id).await?;
        Ok(challenges::of_campaign(self.store().conn(), campaign_id).await?)
    }

    /// Ends the windows that have passed: a challenge nobody answered leaves the revocation
    /// standing (expired with a reason, lapsed without one); its removal was due at the
    /// window's end anyway. Returns how many ended.
    pub async fn end_challenge_windows(&self) -> Result<u64, EngineError> {
        let now = self.now();
        let due = challenges::ended_unanswered(self.store().conn(), now).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let mut by_campaign: BTreeMap<i64, Vec<(i64, ChallengeState)>> = BTreeMap::new();
        for (id, campaign, state) in due {
            by_campaign.entry(campaign).or_default().push((id, state));
        }
        let mut ended = 0;
        for (campaign_id, rows) in by_campaign {
            let txn = self.store().begin().await?;
            let mut changed = serde_json::Map::new();
            for from in [ChallengeState::Submitted, ChallengeState::Open] {
                let ids: Vec<i64> = rows
                    .iter()
                    .filter(|(_, s)| *s == from)
                    .map(|(id, _)| *id)
                    .collect();
                let to = rules::at_window_end(from);
                let n = challenges::end_window(&txn, &ids, from, to).await?;
                ended += n;
                changed.insert(to.as_str().into(), n.into());
            }
            st::audit::append(
                &txn,
                now,
                "scheduler",
                "challenge.expired",
                Some(&format!("campaign:{campaign_id}")),
                &serde_json::Value::Object(changed),
            )
            .await?;
            txn.commit().await?;
        }
        Ok(ended)
    }

    async fn check_remediating(
        &self,
        txn: &DatabaseTransaction,
        campaign_id: i64,
    ) -> Result<(), EngineError> {
        let state = campaigns::lock_state(txn, campaign_id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no campaign #{campaign_id}")))?;
        if state != CampaignState::Remediating {
            return Err(EngineError::Conflict(format!(
                "campaign #{campaign_id} is {state}: its challenges can no longer change"
            )));
        }
        Ok(())
    }
}
