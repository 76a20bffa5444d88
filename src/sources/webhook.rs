//! Webhook removals, for everything attest has no connector for (ticketing, custom scripts):
//! one JSON POST per removal, signed with HMAC-SHA256 of the body in `X-Attest-Signature`
//! (`sha256=HEX`). A 2xx answer whose JSON names a receipt (`receipt` or `id`) is the removal;
//! `"status": "already_gone"` says it was not there; anything else is a failed attempt that the
//! remediation worker retries. Retries carry the same `Idempotency-Key`, so a receiver that
//! saw the first attempt can answer it again instead of opening a second ticket.
//!
//! A webhook cannot be read back: the receipt is the proof, and the evidence says so.

use super::config::{secret_from_env, WebhookConfig};
use super::connector::{justification, Connector, Probe, Snapshot};
use super::{Removal, RemovalTarget, SourceError};
use crate::domain::limits::clip_message;
use std::time::Duration;

/// The signature of the body, shared with outbound events (`webhooks::signature`).
pub use crate::webhooks::signature::{signature, SIGNATURE_HEADER};

/// The longest receipt kept from a receiver's answer.
const RECEIPT_MAX_CHARS: usize = 200;

pub struct WebhookConnector {
    name: String,
    url: String,
    secret: String,
    client: reqwest::Client,
}

impl WebhookConnector {
    pub fn new(name: &str, config: &WebhookConfig) -> Result<Self, SourceError> {
        let secret = secret_from_env(name, &config.secret_env)?;
        url::Url::parse(&config.url).map_err(|e| {
            SourceError(format!(
                "source {name}: url {:?} is not a URL: {e}",
                config.url
            ))
        })?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| SourceError(format!("source {name}: {e}")))?;
        Ok(Self {
            name: name.to_string(),
            url: config.url.clone(),
            secret,
            client,
        })
    }

    fn error(&self, what: impl std::fmt::Display) -> SourceError {
        SourceError(format!("source {}: {what}", self.name))
    }

    /// Posts `body` signed; the answer's status and JSON (when it is JSON).
    async fn post(
        &self,
        body: &serde_json::Value,
        idempotency_key: &str,
    ) -> Result<(reqwest::StatusCode, Option<serde_json::Value>, String), SourceError> {
        let bytes = serde_json::to_vec(body).map_err(|e| self.error(e))?;
        let response = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header(SIGNATURE_HEADER, signature(&self.secret, &bytes))
            .header("Idempotency-Key", idempotency_key)
            .body(bytes)
            .send()
            .await
            .map_err(|e| {
                self.error(format!(
                    "cannot reach {}: {}",
                    self.url,
                    clip_message(&super::graph::describe(&e))
                ))
            })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).ok();
        Ok((status, json, text))
    }
}

fn receipt_of(json: &serde_json::Value) -> Option<String> {
    ["receipt", "id", "ticket"]
        .iter()
        .find_map(|key| match json.get(key) {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
        .map(|r| crate::domain::limits::clip_to(&r, RECEIPT_MAX_CHARS).into_owned())
}

#[async_trait::async_trait]
impl Connector for WebhookConnector {
    fn name(&self) -> &str {
        &self.name
    }

    /// A signed POST of `{"event": "attest.test"}`: the receiver checks the signature and
    /// answers 2xx, removing nothing.
    async fn test(&self) -> Result<Probe, SourceError> {
        let body = serde_json::json!({ "event": "attest.test", "source": self.name });
        let (status, _, text) = self.post(&body, "attest-test").await?;
        if !status.is_success() {
            return Err(self.error(format!(
                "the webhook {} answered {status} to a signed test event: {}",
                self.url,
                clip_message(text.trim())
            )));
        }
        Ok(Probe {
            checks: vec![format!(
                "{} accepted a signed test event ({status})",
                self.url
            )],
            people: None,
            eligibility: None,
        })
    }

    async fn snapshot(&self) -> Result<Snapshot, SourceError> {
        Err(self.error(
            "a webhook only removes; its population comes from imported files (attest import)",
        ))
    }

    async fn remove(&self, target: &RemovalTarget) -> Result<Removal, SourceError> {
        let key = format!("attest-{}-{}", target.campaign_id, target.item_id);
        let body = serde_json::json!({
            "event": "attest.removal",
            "source": self.name,
            "idempotency_key": key,
            "campaign_id": target.campaign_id,
            "item_id": target.item_id,
            "eligibility_id": target.eligibility_id,
            "principal": target.principal_external_id,
            "role": target.role_name,
            "scope": target.scope,
            "justification": justification(target),
        });
        let (status, json, text) = self.post(&body, &key).await?;
        if !status.is_success() {
            return Err(self.error(format!(
                "the webhook answered {status}: {}",
                clip_message(text.trim())
            )));
        }
        let Some(receipt) = json.as_ref().and_then(receipt_of) else {
            return Err(self.error(format!(
                "the webhook answered {status} without a receipt id (expected JSON with \"receipt\" or \"id\")"
            )));
        };
        let receipt = format!("webhook:{}:{receipt}", self.name);
        let gone = json
            .as_ref()
            .and_then(|j| j.get("status"))
            .and_then(|s| s.as_str())
            == Some("already_gone");
        Ok(if gone {
            Removal::AlreadyGone { receipt }
        } else {
            Removal::Removed { receipt }
        })
    }

    async fn is_present(&self, _target: &RemovalTarget) -> Result<Option<bool>, SourceError> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_come_from_receipt_or_id() {
        assert_eq!(
            receipt_of(&serde_json::json!({"receipt": "CHG0042"})),
            Some("CHG0042".into())
        );
        assert_eq!(
            receipt_of(&serde_json::json!({"id": 17})),
            Some("17".into())
        );
        assert_eq!(receipt_of(&serde_json::json!({"ok": true})), None);
        assert_eq!(receipt_of(&serde_json::json!({"id": "  "})), None);
    }
}
