//! Outbound events, the engine's side: queued in the transaction of the change they report
//! (`emit`, called by launch, decide, close, remediation, imports and syncs, and evidence),
//! leased and recorded for the sender (`webhooks::sender`), and read back for `attest webhook
//! list` and beside each campaign.

use super::{Engine, EngineError};
use crate::domain::webhooks::{
    endpoints_for, payload, retry_policy, CampaignRef, DeliveryState, EventKind, Subscription,
};
use crate::store::campaigns;
use crate::store::webhooks::{self as hooks, Attempt, CampaignDelivery, DueDelivery, NewDelivery};
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use std::collections::BTreeMap;

/// Deliveries one campaign's view lists (the newest are the most useful, but a campaign's
/// events are few: launch, finishers, close, removals, evidence).
pub const CAMPAIGN_DELIVERIES_SHOWN: u64 = 500;

/// Who wants which event, and the address campaign links in event bodies start with.
#[derive(Debug, Clone, Default)]
pub struct WebhookRouting {
    pub subscriptions: Vec<Subscription>,
    pub base_url: String,
}

/// One configured endpoint with its deliveries by state (`attest webhook list`).
#[derive(Debug, Clone, Serialize)]
pub struct EndpointListing {
    pub name: String,
    pub url: String,
    /// The event types it wants; empty: all.
    pub events: Vec<String>,
    pub secret_env: String,
    pub secret_set: bool,
    pub pending: i64,
    pub failed: i64,
    pub delivered: i64,
    pub given_up: i64,
}

/// What an event is about: its campaign (if any), a key naming the fact (with the endpoint
/// and the type, unique: the same fact is never queued twice) and its `data`.
pub struct Event {
    pub kind: EventKind,
    pub campaign_id: Option<i64>,
    pub subject: String,
    pub data: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
}

impl Engine {
    /// The same engine queueing events for the `[webhooks.NAME]` endpoints of attest.toml.
    pub fn with_webhooks(mut self, routing: WebhookRouting) -> Self {
        self.webhooks = std::sync::Arc::new(routing);
        self
    }

    /// Whether any endpoint wants events of `kind` (callers skip building them otherwise).
    pub fn wants_event(&self, kind: EventKind) -> bool {
        !endpoints_for(&self.webhooks.subscriptions, kind).is_empty()
    }

    /// Queues `events` on `conn` (the caller's transaction), one row per endpoint that wants
    /// each; nothing when none does. Returns rows added.
    pub(crate) async fn emit(
        &self,
        conn: &impl ConnectionTrait,
        events: Vec<Event>,
    ) -> Result<u64, EngineError> {
        let mut rows = Vec::new();
        let mut campaign_refs: BTreeMap<i64, Option<CampaignRef>> = BTreeMap::new();
        for event in events {
            let endpoints = endpoints_for(&self.webhooks.subscriptions, event.kind);
            if endpoints.is_empty() {
                continue;
            }
            let campaign = match event.campaign_id {
                Some(id) => {
                    if let std::collections::btree_map::Entry::Vacant(slot) =
                        campaign_refs.entry(id)
                    {
                        let row = campaigns::campaign(conn, id).await?;
                        slot.insert(row.as_ref().map(|r| self.campaign_ref(r)));
                    }
                    campaign_refs[&id].clone()
                }
                None => None,
            };
            let event_id = new_event_id();
            let body = payload(
                &event_id,
                event.kind.as_str(),
                event.occurred_at,
                campaign.as_ref(),
                event.data,
            )
            .to_string();
            for endpoint in endpoints {
                rows.push(NewDelivery {
                    event_id: event_id.clone(),
                    endpoint: endpoint.to_string(),
                    event_type: event.kind,
                    campaign_id: event.campaign_id,
                    subject_key: event.subject.clone(),
                    payload: body.clone(),
                });
            }
        }
        Ok(hooks::enqueue(conn, rows, self.now()).await?)
    }

    fn campaign_ref(&self, row: &campaigns::CampaignRow) -> CampaignRef {
        CampaignRef {
            id: row.id,
            name: row.name.clone(),
            period: row.period.clone(),
            state: row.state.as_str().to_string(),
            url: format!(
                "{}/admin/campaigns/{}",
                self.webhooks.base_url.trim_end_matches('/'),
                row.id
            ),
        }
    }

    /// Leases up to `step` deliveries that are due to this process for `lease`.
    pub async fn lease_webhooks(
        &self,
        step: u64,
        lease: chrono::Duration,
    ) -> Result<Vec<DueDelivery>, EngineError> {
        let now = self.now();
        let txn = self.store().begin().await?;
        let due = hooks::lease_due(&txn, now, step, self.instance(), now + lease).await?;
        txn.commit().await?;
        Ok(due)
    }

    /// Records how each attempt of a step ended: `Ok(receipt)` delivered, `Err(error)` retried
    /// with backoff or, after the last attempt, given up. Returns the attempts' end states.
    pub async fn record_webhooks(
        &self,
        results: &[(&DueDelivery, Result<Option<String>, String>)],
    ) -> Result<Vec<DeliveryState>, EngineError> {
        let now = self.now();
        let policy = retry_policy();
        let txn = self.store().begin().await?;
        let mut states = Vec::with_capacity(results.len());
        for (delivery, result) in results {
            let attempts = delivery.attempts + 1;
            let attempt = match result {
                Ok(receipt) => Attempt::Delivered {
                    receipt: receipt.clone(),
                },
                Err(error) if policy.should_retry(attempts) => Attempt::Retry {
                    error: error.clone(),
                    next_attempt_at: now + policy.backoff(attempts),
                },
                Err(error) => Attempt::GivenUp {
                    error: format!("gave up after {attempts} attempts: {error}"),
                },
            };
            states.push(match attempt {
                Attempt::Delivered { .. } => DeliveryState::Delivered,
                Attempt::Retry { .. } => DeliveryState::Failed,
                Attempt::GivenUp { .. } => DeliveryState::GivenUp,
            });
            hooks::record(&txn, delivery.id, attempts, &attempt, now).await?;
        }
        txn.commit().await?;
        Ok(states)
    }

    /// Records `attest webhook test NAME` in the audit log, with how the endpoint answered.
    pub async fn audit_webhook_test(
        &self,
        endpoint: &str,
        actor: &str,
        outcome: &Result<(u16, Option<String>), String>,
    ) -> Result<(), EngineError> {
        let details = match outcome {
            Ok((status, receipt)) => serde_json::json!({ "status": status, "receipt": receipt }),
            Err(error) => serde_json::json!({ "error": error }),
        };
        let txn = self.store().begin().await?;
        crate::store::audit::append(
            &txn,
            self.now(),
            actor,
            "webhook.test",
            Some(&format!("webhook:{endpoint}")),
            &details,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Gives back deliveries a step leased and did not send (the next step takes them).
    pub async fn release_webhooks(&self, deliveries: &[&DueDelivery]) -> Result<(), EngineError> {
        let ids: Vec<i64> = deliveries.iter().map(|d| d.id).collect();
        Ok(hooks::release(self.store().conn(), &ids).await?)
    }

    /// The configured endpoints with their deliveries by state.
    pub async fn list_webhooks(
        &self,
        endpoints: &BTreeMap<String, crate::webhooks::WebhookEndpoint>,
    ) -> Result<Vec<EndpointListing>, EngineError> {
        let counts = hooks::counts(self.store().conn()).await?;
        Ok(endpoints
            .iter()
            .map(|(name, e)| {
                let n = |state: DeliveryState| {
                    counts
                        .iter()
                        .filter(|(endpoint, s, _)| endpoint == name && *s == state)
                        .map(|(_, _, n)| *n)
                        .sum()
                };
                EndpointListing {
                    name: name.clone(),
                    url: e.url.clone(),
                    events: e.events.clone(),
                    secret_env: e.secret_env.clone(),
                    secret_set: std::env::var(&e.secret_env).is_ok_and(|v| !v.is_empty()),
                    pending: n(DeliveryState::Pending),
                    failed: n(DeliveryState::Failed),
                    delivered: n(DeliveryState::Delivered),
                    given_up: n(DeliveryState::GivenUp),
                }
            })
            .collect())
    }

    /// The events sent (or being sent) about a campaign, with their receipts.
    pub async fn campaign_webhooks(
        &self,
        campaign_id: i64,
    ) -> Result<Vec<CampaignDelivery>, EngineError> {
        Ok(
            hooks::for_campaign(self.store().conn(), campaign_id, CAMPAIGN_DELIVERIES_SHOWN)
                .await?,
        )
    }

    /// Deliveries waiting (pending or failed and to be retried), for the metrics gauge.
    pub async fn webhooks_waiting(&self) -> Result<Vec<(String, i64)>, EngineError> {
        let mut waiting: BTreeMap<String, i64> = BTreeMap::new();
        for (endpoint, state, n) in hooks::counts(self.store().conn()).await? {
            let entry = waiting.entry(endpoint).or_default();
            if matches!(state, DeliveryState::Pending | DeliveryState::Failed) {
                *entry += n;
            }
        }
        Ok(waiting.into_iter().collect())
    }
}

/// A fresh event id: `evt_` and 128 random bits in hex (the same on every retry, since it is
/// stored with the event).
fn new_event_id() -> String {
    format!("evt_{:032x}", rand::random::<u128>())
}
