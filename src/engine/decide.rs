//! Decisions: attest or revoke one item or many, by the reviewer or a delegate. Append-only:
//! a change of mind is a new decision superseding the last; nothing is overwritten; nothing is
//! accepted once the campaign has closed. A request is checked whole before anything is
//! written, so it lands entirely or not at all.

use super::{Engine, EngineError};
use crate::domain::closing::{Channel, Verdict};
use crate::domain::limits::{check_text, Lines, JUSTIFICATION_MAX_CHARS};
use crate::domain::rerun::settled_before_round;
use crate::store::items::{self, NewDecision};
use crate::store::outbox::{self, template};
use crate::store::{self as st, campaigns};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// Why one answer cannot be recorded, judged on the answer alone: its justification's text,
/// and whether the campaign's policy (`required`) wants one for this verdict. The review page
/// asks this first, to name the item it refuses; [`Engine::decide_each`] asks it again.
pub fn refusal(justification: Option<&str>, verdict: Verdict, required: bool) -> Option<String> {
    match justification.map(str::trim).filter(|j| !j.is_empty()) {
        Some(text) => check_text(text, JUSTIFICATION_MAX_CHARS, Lines::Multi)
            .err()
            .map(|reason| format!("justification: {reason}")),
        None if required => Some(format!(
            "a justification is required to {verdict} (campaign policy)"
        )),
        None => None,
    }
}

/// One request to give the same answer for items of one campaign.
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

/// One item's answer within a request that answers items differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice<'a> {
    pub item_id: i64,
    pub verdict: Verdict,
    pub justification: Option<&'a str>,
}

/// Who decides, and how the decision arrived.
#[derive(Debug, Clone, Copy)]
pub struct Decider<'a> {
    pub reviewer: Option<i64>,
    pub acting_for: Option<i64>,
    pub channel: Channel,
    pub client_addr: Option<&'a str>,
    pub actor: &'a str,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct DecideReport {
    /// Items whose decision was recorded.
    pub decided: usize,
    /// Items that already had exactly this decision (a retried request): nothing recorded.
    pub unchanged: usize,
}

impl Engine {
    /// Whether the source a campaign of `spec` reviews can convert standing access to eligible:
    /// attest's own tables (imports) can, and so can a configured source whose connector says
    /// so (Entra); LDAP groups and webhooks cannot.
    pub fn campaign_converts(&self, spec: &crate::domain::definition::CampaignSpec) -> bool {
        match &spec.scope.source {
            None => self.source().in_database(),
            Some(name) => self
                .sources()
                .connector(name)
                .is_ok_and(|connector| connector.converts()),
        }
    }

    pub async fn decide(&self, request: &DecisionRequest<'_>) -> Result<DecideReport, EngineError> {
        let choices: Vec<Choice> = request
            .item_ids
            .iter()
            .map(|&item_id| Choice {
                item_id,
                verdict: request.verdict,
                justification: request.justification,
            })
            .collect();
        let decider = Decider {
            reviewer: request.reviewer,
            acting_for: request.acting_for,
            channel: request.channel,
            client_addr: request.client_addr,
            actor: request.actor,
        };
        self.decide_each(request.campaign_id, &choices, &decider)
            .await
    }

    /// Records a different answer per item, all or nothing.
    pub async fn decide_each(
        &self,
        id: i64,
        choices: &[Choice<'_>],
        by: &Decider<'_>,
    ) -> Result<DecideReport, EngineError> {
        if choices.is_empty() {
            return Err(EngineError::Invalid("no items were chosen".into()));
        }
        let mut wanted: HashMap<i64, Choice> = HashMap::new();
        for choice in choices {
            let justification = choice
                .justification
                .map(str::trim)
                .filter(|j| !j.is_empty());
            if let Some(reason) = refusal(justification, choice.verdict, false) {
                return Err(EngineError::Invalid(format!(
                    "item {}: {reason}",
                    choice.item_id
                )));
            }
            if wanted
                .insert(
                    choice.item_id,
                    Choice {
                        justification,
                        ..*choice
                    },
                )
                .is_some()
            {
                return Err(EngineError::Invalid(format!(
                    "item {} was chosen twice",
                    choice.item_id
                )));
            }
        }
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
        let mut ids: Vec<i64> = wanted.keys().copied().collect();
        ids.sort_unstable();
        for item in &ids {
            let choice = &wanted[item];
            let required = campaign
                .spec
                .requires_justification_in(campaign.stage, choice.verdict);
            if let Some(reason) = refusal(choice.justification, choice.verdict, required) {
                return Err(EngineError::Invalid(format!("item {item}: {reason}")));
            }
        }
        let found = items::items_for_decision(&txn, id, &ids).await?;
        if found.len() != ids.len() {
            let known: HashSet<i64> = found.iter().map(|i| i.id).collect();
            let missing: Vec<i64> = ids.iter().copied().filter(|i| !known.contains(i)).collect();
            return Err(EngineError::NotFound(format!(
                "campaign #{id} has no item {missing:?}"
            )));
        }
        // Only standing access can be converted, and only where the campaign's source can.
        let converting: Vec<&items::ItemForDecision> = found
            .iter()
            .filter(|i| wanted[&i.id].verdict == Verdict::Convert)
            .collect();
        if let Some(item) = converting
            .iter()
            .find(|i| i.assignment != crate::domain::eligibility::Assignment::Active)
        {
            return Err(EngineError::Invalid(format!(
                "item {}: only standing access (an active assignment) can be converted to eligible; this one is eligible already",
                item.id
            )));
        }
        if let Some(item) = converting.first() {
            if !self.campaign_converts(&campaign.spec) {
                return Err(EngineError::Invalid(format!(
                    "item {}: the campaign's source ({}) cannot convert standing access to eligible; keep or revoke it",
                    item.id,
                    campaign.spec.scope.source.as_deref().unwrap_or("built-in")
                )));
            }
        }
        if let Some(reviewer) = by.reviewer {
            if let Some(other) = found.iter().find(|i| i.reviewer_id != Some(reviewer)) {
                return Err(EngineError::Forbidden(format!(
                    "item {} is not assigned to you",
                    other.id
                )));
            }
        }
        // An admin deciding on a reviewer's behalf decides that reviewer's items only; checked
        // here, in the transaction that records the decisions, so a reassignment in between
        // cannot slip an item past it.
        if let Some(reviewer) = by.acting_for {
            if let Some(other) = found.iter().find(|i| i.reviewer_id != Some(reviewer)) {
                return Err(EngineError::Invalid(format!(
                    "item {} is not assigned to the reviewer you decide for",
                    other.id
                )));
            }
        }
        // A re-run re-opens the unanswered items only: what was answered before it is settled.
        // (Repeating the settled answer word for word changes nothing and is let through.)
        let same = |item: &items::ItemForDecision| {
            let choice = &wanted[&item.id];
            item.verdict == Some(choice.verdict)
                && item.justification.as_deref() == choice.justification
        };
        // A later stage likewise: what an earlier stage decided is that stage's, and settled.
        if let Some(settled) = found
            .iter()
            .find(|i| settled_before_round(i.decided_at, campaign.answers_open_since()) && !same(i))
        {
            return Err(EngineError::Conflict(
                if campaign.stage_started_at >= campaign.round_started_at {
                    format!(
                        "item {} was settled in an earlier stage (this is stage {} of {}); it is no longer open",
                        settled.id, campaign.stage, campaign.stages
                    )
                } else {
                    format!(
                        "item {} was answered before this re-run (round {}) and is settled; a re-run re-opens only the unanswered items",
                        settled.id, campaign.round
                    )
                },
            ));
        }
        // Nobody reviews their own eligibility: an item that could only be assigned to its
        // holder (the campaign owner holding it) is theirs to see and an admin's to decide.
        for person in [by.reviewer, by.acting_for].into_iter().flatten() {
            if let Some(own) = found.iter().find(|i| i.principal_id == person) {
                return Err(EngineError::Forbidden(format!(
                    "item {} is your own eligibility: you may not review it; an admin decides it",
                    own.id
                )));
            }
        }
        let decisions: Vec<NewDecision> = found
            .iter()
            .filter_map(|item| {
                let choice = &wanted[&item.id];
                (!same(item)).then_some(NewDecision {
                    item,
                    verdict: choice.verdict,
                    reviewer_id: by.reviewer,
                    acting_for_id: by.acting_for,
                    justification: choice.justification,
                    channel: by.channel.as_str(),
                    client_addr: by.client_addr,
                    // A reviewer is named by reviewer_id; anyone else by their audit name.
                    actor: by.reviewer.is_none().then_some(by.actor),
                })
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
        let recorded: Vec<serde_json::Value> = decisions
            .iter()
            .map(|d| serde_json::json!({ "item": d.item.id, "verdict": d.verdict, "justification": d.justification }))
            .collect();
        st::audit::append(
            &txn,
            now,
            by.actor,
            "decision.record",
            Some(&format!("campaign:{id}")),
            &serde_json::json!({ "decisions": recorded, "channel": by.channel, "client_addr": by.client_addr }),
        )
        .await?;
        // Whoever's items these are (a reviewer's own, or decided for them by an admin) is told
        // apart from the thanks mail, which goes only to a reviewer who finished themselves.
        if let Some(holder) = by.reviewer.or(by.acting_for) {
            if self.wants_event(crate::domain::webhooks::EventKind::ReviewerFinished)
                && items::undecided_for(&txn, id, holder).await? == 0
            {
                let named = crate::store::directory::names_by_id(&txn, &[holder])
                    .await?
                    .remove(&holder);
                let (person, name) = named.map(|n| (n.id, n.name)).unwrap_or_default();
                let event = crate::engine::webhook_events::reviewer_finished(
                    id, holder, &person, &name, by.actor, now,
                );
                self.emit(&txn, vec![event]).await?;
            }
        }
        if let Some(reviewer) = by.reviewer {
            if items::undecided_for(&txn, id, reviewer).await? == 0 {
                outbox::queue_to_principal(
                    &txn,
                    &format!("{}/{id}/{reviewer}", template::THANKS),
                    Some(id),
                    reviewer,
                    template::THANKS,
                    &serde_json::json!({}),
                    now,
                )
                .await?;
            }
        }
        txn.commit().await?;
        crate::telemetry::decisions(by.channel.as_str(), report.decided);
        Ok(report)
    }
}
