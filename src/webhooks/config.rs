//! `[webhooks.NAME]` of attest.toml: where outbound events go. Only the *name* of the
//! environment variable holding an endpoint's HMAC secret is configured; the secret is read
//! when `serve` (or `attest webhook test`) starts sending, and never printed.

use crate::domain::webhooks::{
    EventKind, Subscription, MAX_ENDPOINTS, MAX_ENDPOINT_NAME, MAX_TIMEOUT_SECS, MAX_URL_CHARS,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpoint {
    /// `http://…` or `https://…`, at most 2048 characters.
    pub url: String,
    /// The environment variable holding the HMAC-SHA256 key for `X-Attest-Signature`.
    pub secret_env: String,
    /// The event types it wants (`campaign.launched`, …); unset or empty: all of them.
    #[serde(default)]
    pub events: Vec<String>,
    /// How long a delivery waits for an answer (1 to 60 seconds; 10 when unset).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

impl WebhookEndpoint {
    /// The event types it wants, parsed (checked by [`check`] at load).
    pub fn event_kinds(&self) -> Vec<EventKind> {
        self.events.iter().filter_map(|e| e.parse().ok()).collect()
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(
            self.timeout_secs
                .unwrap_or(crate::domain::webhooks::DEFAULT_TIMEOUT_SECS),
        )
    }
}

/// What the engine needs of the configured endpoints: who wants which event.
pub fn subscriptions(endpoints: &BTreeMap<String, WebhookEndpoint>) -> Vec<Subscription> {
    endpoints
        .iter()
        .map(|(name, e)| Subscription {
            endpoint: name.clone(),
            events: e.event_kinds(),
        })
        .collect()
}

/// Why the `[webhooks.*]` tables of `file` cannot be used, naming the table and the key.
pub fn check(file: &str, endpoints: &BTreeMap<String, WebhookEndpoint>) -> Result<(), String> {
    if endpoints.len() > MAX_ENDPOINTS {
        return Err(format!(
            "{file}: [webhooks]: {} endpoints configured; at most {MAX_ENDPOINTS}",
            endpoints.len()
        ));
    }
    for (name, endpoint) in endpoints {
        let table = format!("{file}: [webhooks.{name}]");
        let valid_name = !name.is_empty()
            && name.len() <= MAX_ENDPOINT_NAME
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_name {
            return Err(format!(
                "{table}: an endpoint name is 1 to {MAX_ENDPOINT_NAME} letters, digits, '-' or '_'"
            ));
        }
        check_url(&endpoint.url).map_err(|why| {
            format!(
                "{table} url = {}: {why}",
                crate::domain::limits::quote(&endpoint.url)
            )
        })?;
        let variable_ok = !endpoint.secret_env.is_empty()
            && endpoint.secret_env.len() <= 128
            && endpoint
                .secret_env
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !variable_ok {
            return Err(format!(
                "{table} secret_env = {}: the name of an environment variable (letters, digits, '_'), not the secret itself",
                crate::domain::limits::quote(&endpoint.secret_env)
            ));
        }
        for event in &endpoint.events {
            event
                .parse::<EventKind>()
                .map_err(|why| format!("{table} events: {why}"))?;
        }
        if let Some(secs) = endpoint.timeout_secs {
            if !(1..=MAX_TIMEOUT_SECS).contains(&secs) {
                return Err(format!(
                    "{table} timeout_secs = {secs}: must be from 1 to {MAX_TIMEOUT_SECS}"
                ));
            }
        }
    }
    Ok(())
}

fn check_url(raw: &str) -> Result<(), String> {
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(format!("longer than {MAX_URL_CHARS} characters"));
    }
    let url = url::Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http:// or https:// URL with a host".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str, events: &[&str]) -> BTreeMap<String, WebhookEndpoint> {
        BTreeMap::from([(
            "tickets".to_string(),
            WebhookEndpoint {
                url: url.into(),
                secret_env: "TICKETS_SECRET".into(),
                events: events.iter().map(|e| e.to_string()).collect(),
                timeout_secs: None,
            },
        )])
    }

    #[test]
    fn errors_name_the_file_table_and_key() {
        assert!(check("attest.toml", &endpoint("https://hooks.example/a", &[])).is_ok());
        let bad_url = check("attest.toml", &endpoint("ftp://x/y", &[])).unwrap_err();
        assert!(
            bad_url.starts_with("attest.toml: [webhooks.tickets] url = "),
            "{bad_url}"
        );
        let bad_event =
            check("attest.toml", &endpoint("https://h/x", &["removal.oops"])).unwrap_err();
        assert!(
            bad_event.contains("[webhooks.tickets] events: unknown event \"removal.oops\""),
            "{bad_event}"
        );
    }
}
