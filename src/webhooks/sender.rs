//! The sender: a step function `serve` runs every few seconds. A step leases the deliveries
//! that are due (so two instances never send one row at once), POSTs them signed, the
//! endpoints side by side (an unreachable one holds up only its own deliveries, for at most
//! its timeout each) and each endpoint's in queue order, and records each outcome as soon as
//! it is answered: 2xx is delivered with the receiver's receipt; anything else is retried with
//! backoff and, after the last attempt, given up (shown in `attest webhook list` and beside
//! the campaign).
//!
//! Crash safety: an attempt is recorded only after the receiver answered. A crash in between
//! sends the event again once another process finds this one gone (seconds; see
//! `domain::liveness`), with the same body and the same `X-Attest-Delivery` id, so a receiver
//! that keeps ids sees each event once.

use super::config::WebhookEndpoint;
use super::signature::{signature, SIGNATURE_HEADER};
use crate::domain::limits::clip_message;
use crate::domain::webhooks::{receipt_of, DeliveryState, PING};
use crate::engine::{Engine, EngineError};
use crate::store::webhooks::DueDelivery;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Deliveries leased per step.
const STEP: u64 = 100;
/// How long a step's deliveries stay leased: longer than a step can take (an endpoint's
/// deliveries one after another, each at most its timeout) would be better, but a crashed
/// holder is found gone by its heartbeat within seconds anyway.
const LEASE_MINUTES: i64 = 10;
/// A step sends at most this many deliveries to one endpoint, so one that times out on each
/// cannot keep the lease past its end.
const PER_ENDPOINT_STEP: usize = 20;

/// What the sender knows of one endpoint: its address, secret and HTTP client.
struct Target {
    url: String,
    secret: String,
    client: reqwest::Client,
}

/// How a POST was answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub receipt: Option<String>,
}

/// Sends the webhook outbox.
#[derive(Clone)]
pub struct WebhookSender {
    engine: Engine,
    targets: std::sync::Arc<BTreeMap<String, Target>>,
}

impl WebhookSender {
    /// A sender for `endpoints`, reading each secret from its environment variable (an unset
    /// one is an error naming the endpoint and the variable, never a value).
    pub fn new(
        engine: Engine,
        endpoints: &BTreeMap<String, WebhookEndpoint>,
    ) -> Result<Self, String> {
        let mut targets = BTreeMap::new();
        for (name, endpoint) in endpoints {
            let secret = match std::env::var(&endpoint.secret_env) {
                Ok(value) if !value.is_empty() => value,
                _ => {
                    return Err(format!(
                        "[webhooks.{name}]: the environment variable {} that holds its secret is not set",
                        endpoint.secret_env
                    ))
                }
            };
            let client = reqwest::Client::builder()
                .connect_timeout(endpoint.timeout())
                .timeout(endpoint.timeout())
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| format!("[webhooks.{name}]: {e}"))?;
            targets.insert(
                name.clone(),
                Target {
                    url: endpoint.url.clone(),
                    secret,
                    client,
                },
            );
        }
        Ok(Self {
            engine,
            targets: std::sync::Arc::new(targets),
        })
    }

    /// Sends what is due; returns how many deliveries were attempted (0: nothing was due).
    pub async fn step(&self) -> Result<usize, EngineError> {
        let due = self
            .engine
            .lease_webhooks(STEP, chrono::Duration::minutes(LEASE_MINUTES))
            .await?;
        if due.is_empty() {
            return Ok(0);
        }
        let mut by_endpoint: BTreeMap<&str, Vec<&DueDelivery>> = BTreeMap::new();
        for delivery in &due {
            by_endpoint
                .entry(delivery.endpoint.as_str())
                .or_default()
                .push(delivery);
        }
        let mut given_back = Vec::new();
        let sends = by_endpoint.into_iter().map(|(endpoint, mut deliveries)| {
            if deliveries.len() > PER_ENDPOINT_STEP {
                given_back.extend(deliveries.split_off(PER_ENDPOINT_STEP));
            }
            async move {
                let mut sent = 0;
                for delivery in deliveries {
                    self.send_one(endpoint, delivery).await?;
                    sent += 1;
                }
                Ok::<usize, EngineError>(sent)
            }
        });
        let mut sent = 0;
        let mut failure = None;
        for result in futures::future::join_all(sends).await {
            match result {
                Ok(n) => sent += n,
                Err(e) => failure = Some(e),
            }
        }
        self.engine.release_webhooks(&given_back).await?;
        match failure {
            Some(e) => Err(e),
            None => Ok(sent),
        }
    }

    /// Sends one delivery and records its outcome at once (so a crash repeats at most the
    /// deliveries in flight, never those already answered).
    async fn send_one(&self, endpoint: &str, delivery: &DueDelivery) -> Result<(), EngineError> {
        let started = Instant::now();
        let result = self
            .post(
                endpoint,
                &delivery.event_type,
                &delivery.event_id,
                &delivery.payload,
            )
            .await
            .and_then(|answer| {
                if (200..300).contains(&answer.status) {
                    Ok(answer.receipt)
                } else {
                    Err(format!("the endpoint answered {}", answer.status))
                }
            });
        crate::telemetry::webhook_latency(endpoint, started.elapsed());
        let states = self
            .engine
            .record_webhooks(&[(delivery, result.clone())])
            .await?;
        let state = states.first().copied().unwrap_or(DeliveryState::Failed);
        if let Err(error) = &result {
            tracing::warn!(
                endpoint = %delivery.endpoint,
                event = %delivery.event_type,
                "webhook delivery {}: {error}",
                if state == DeliveryState::GivenUp {
                    "given up"
                } else {
                    "failed (retried)"
                }
            );
        }
        crate::telemetry::webhook(&delivery.endpoint, state.as_str());
        Ok(())
    }

    /// POSTs `body` to `endpoint`, signed, with the event's headers.
    pub async fn post(
        &self,
        endpoint: &str,
        event_type: &str,
        event_id: &str,
        body: &str,
    ) -> Result<Answer, String> {
        let Some(target) = self.targets.get(endpoint) else {
            return Err(format!(
                "no [webhooks.{endpoint}] is configured in this process's attest.toml"
            ));
        };
        let response = target
            .client
            .post(&target.url)
            .header("Content-Type", "application/json")
            .header("User-Agent", concat!("attest/", env!("CARGO_PKG_VERSION")))
            .header("X-Attest-Event", event_type)
            .header("X-Attest-Delivery", event_id)
            .header("Idempotency-Key", event_id)
            .header(SIGNATURE_HEADER, signature(&target.secret, body.as_bytes()))
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| {
                format!(
                    "cannot reach {}: {}",
                    target.url,
                    clip_message(&crate::sources::graph::describe(&e))
                )
            })?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (receipt_header, location) = (header("X-Receipt-Id"), header("Location"));
        // The body only for its receipt: a receiver's answer is read up to a small bound.
        let text = response.text().await.unwrap_or_default();
        let json: Option<serde_json::Value> = serde_json::from_str(&text).ok();
        Ok(Answer {
            status,
            receipt: receipt_of(
                json.as_ref(),
                receipt_header.as_deref(),
                location.as_deref(),
            ),
        })
    }

    /// `attest webhook test NAME`: a signed `ping` event, never queued.
    pub async fn ping(&self, endpoint: &str) -> Result<Answer, String> {
        let id = format!("ping_{:032x}", rand::random::<u128>());
        let body = crate::domain::webhooks::payload(
            &id,
            PING,
            self.engine.now(),
            None,
            serde_json::json!({ "endpoint": endpoint }),
        )
        .to_string();
        self.post(endpoint, PING, &id, &body).await
    }
}

/// How long to wait between steps when nothing was due.
pub const INTERVAL: Duration = Duration::from_secs(2);
