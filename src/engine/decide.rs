//! Decisions: attest or revoke one item or many, by the reviewer or a delegate. Append-only:
//! a change of mind is a new decision superseding the last; nothing is overwritten; nothing is
//! accepted once the campaign has closed.

use super::{Engine, EngineError};
use crate::domain::closing::Verdict;
use crate::store::items::{self, NewDecision};
use crate::store::{self as st, campaigns};
use serde::Serialize;
use std::collections::HashSet;

/// How a decision arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The reviewer's mailed link.
    Link,
    /// An admin in the web UI.
    Web,
    Api,
    Cli,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Link => "link",
            Channel::Web => "web",
            Channel::Api => "api",
            Channel::Cli => "cli",
        }
    }
}

/// One request to decide items of one campaign.
#[derive(Debug, Clone)]
pub struct DecisionRequest<'a> {
    pub campaign_id: i64,
    pub item_ids: &'a [i64],
    pub verdict: Verdict,
    pub justification: Option<&'a str>,
    /// The reviewer deciding (principal id). When set, every item must be assigned to them.
    pub reviewer: Option<i64>,
    /// The principal a delegate decides for, if any.
    pub acting_for: Option<i64>,
    pub channel: Channel,
    pub client_addr: Option<&'a str>,
    /// Who, as the audit log names them (`reviewer:u123`, `account:admin@…`).
    pub actor: &'a str,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DecideReport {
    /// Items whose decision was recorded.
    pub decided: usize,
    /// Items that already had exactly this decision (a retried request): nothing recorded.
    pub unchanged: usize,
}

impl Engine {
    pub async fn decide(&self, request: &DecisionRequest<'_>) -> Result<DecideReport, EngineError> {
        let id = request.campaign_id;
        if request.item_ids.is_empty() {
            return Err(EngineError::Invalid("no items were chosen".into()));
        }
        let justification = request
            .justification
            .map(str::trim)
            .filter(|j| !j.is_empty());
        let now = self.now();
        let txn = self.store().begin().await?;
        let state = campaigns::lock_state(&txn, id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no campaign #{id}")))?;
        if !state.accepts_decisions() {
            return Err(EngineError::Conflict(format!(
                "campaign #{id} is {state}: it does not accept decisions (only an active campaign does)"
            )));
        }
        let campaign = campaigns::campaign(&txn, id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no campaign #{id}")))?;
        if campaign.spec.requires_justification(request.verdict) && justification.is_none() {
            return Err(EngineError::Invalid(format!(
                "a justification is required to {} (campaign policy)",
                request.verdict
            )));
        }
        let wanted: HashSet<i64> = request.item_ids.iter().copied().collect();
        let found =
            items::items_for_decision(&txn, id, &wanted.iter().copied().collect::<Vec<_>>())
                .await?;
        if found.len() != wanted.len() {
            let known: HashSet<i64> = found.iter().map(|i| i.id).collect();
            let mut missing: Vec<i64> = wanted.difference(&known).copied().collect();
            missing.sort_unstable();
            return Err(EngineError::NotFound(format!(
                "campaign #{id} has no item {missing:?}"
            )));
        }
        if let Some(reviewer) = request.reviewer {
            if let Some(other) = found.iter().find(|i| i.reviewer_id != Some(reviewer)) {
                return Err(EngineError::Forbidden(format!(
                    "item {} is not assigned to you",
                    other.id
                )));
            }
        }
        let decisions: Vec<NewDecision> = found
            .iter()
            .filter(|i| {
                i.verdict != Some(request.verdict) || i.justification.as_deref() != justification
            })
            .map(|item| NewDecision {
                item,
                verdict: request.verdict,
                reviewer_id: request.reviewer,
                acting_for_id: request.acting_for,
                justification,
                channel: request.channel.as_str(),
                client_addr: request.client_addr,
            })
            .collect();
        let report = DecideReport {
            decided: decisions.len(),
            unchanged: found.len() - decisions.len(),
        };
        if decisions.is_empty() {
            return Ok(report);
        }
        items::record_decisions(&txn, id, &decisions, now).await?;
        let mut ids: Vec<i64> = decisions.iter().map(|d| d.item.id).collect();
        ids.sort_unstable();
        st::audit::append(
            &txn,
            now,
            request.actor,
            "decision.record",
            Some(&format!("campaign:{id}")),
            &serde_json::json!({
                "verdict": request.verdict, "items": ids, "channel": request.channel,
                "justification": justification, "client_addr": request.client_addr,
            }),
        )
        .await?;
        txn.commit().await?;
        Ok(report)
    }
}
