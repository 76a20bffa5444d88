//! Outbound events (docs/webhooks.md): what attest tells `[webhooks.NAME]` endpoints, the
//! versioned JSON body of each event, which endpoint wants which event, how a receipt is read
//! from a receiver's answer, and when a failed delivery is tried again.

use super::retry::RetryPolicy;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// The version of the event body (`"version"`); a change that breaks a receiver raises it.
pub const PAYLOAD_VERSION: u32 = 1;

/// Endpoints one attest.toml may configure.
pub const MAX_ENDPOINTS: usize = 20;
/// The longest endpoint URL.
pub const MAX_URL_CHARS: usize = 2048;
/// The longest endpoint name (as long as a source's: it appears in lists and the console).
pub const MAX_ENDPOINT_NAME: usize = 64;
/// The longest receipt kept from a receiver's answer (longer ones are clipped).
pub const RECEIPT_MAX_CHARS: usize = 200;
/// A delivery's wait for an answer, unless `timeout_secs` says otherwise, and its limits.
pub const DEFAULT_TIMEOUT_SECS: u64 = 10;
pub const MAX_TIMEOUT_SECS: u64 = 60;

/// The event `attest webhook test` sends; never queued, so no filter names it.
pub const PING: &str = "ping";

/// What happened, as `type` of the body and `X-Attest-Event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    CampaignLaunched,
    ReviewerFinished,
    CampaignClosed,
    /// A multi-stage campaign's next stage opened (`engine::stages`).
    StageOpened,
    RemovalDone,
    RemovalFailed,
    RemovalGivenUp,
    EligibilityReappeared,
    EvidenceStored,
}

string_enum!(EventKind, "event", {
    CampaignLaunched => "campaign.launched",
    ReviewerFinished => "reviewer.finished",
    CampaignClosed => "campaign.closed",
    StageOpened => "campaign.stage_opened",
    RemovalDone => "removal.done",
    RemovalFailed => "removal.failed",
    RemovalGivenUp => "removal.given_up",
    EligibilityReappeared => "eligibility.reappeared",
    EvidenceStored => "evidence.stored",
});

/// Where one delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeliveryState {
    /// Queued, not tried yet.
    Pending,
    /// Tried and refused or unreachable; tried again at `next_attempt_at`.
    Failed,
    Delivered,
    /// Every attempt failed: shown, never dropped silently.
    GivenUp,
}

string_enum!(DeliveryState, "delivery state", {
    Pending => "pending",
    Failed => "failed",
    Delivered => "delivered",
    GivenUp => "given_up",
});

/// JSON spells both as stored (`campaign.launched`, `given_up`).
macro_rules! serialized_as_str {
    ($($ty:ty),+) => {$(
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    )+};
}
serialized_as_str!(EventKind, DeliveryState);

/// The retries of a delivery: 30 s after the first failure, doubling, at most an hour apart,
/// 10 attempts in all (about four hours of a receiver being down).
pub fn retry_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 10,
        base_seconds: 30,
        max_seconds: 60 * 60,
    }
}

/// One configured endpoint as the engine sees it: its name and the events it wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub endpoint: String,
    /// Empty: every event.
    pub events: Vec<EventKind>,
}

impl Subscription {
    pub fn wants(&self, kind: EventKind) -> bool {
        self.events.is_empty() || self.events.contains(&kind)
    }
}

/// The endpoints an event of `kind` goes to.
pub fn endpoints_for(subscriptions: &[Subscription], kind: EventKind) -> Vec<&str> {
    subscriptions
        .iter()
        .filter(|s| s.wants(kind))
        .map(|s| s.endpoint.as_str())
        .collect()
}

/// The campaign an event is about, as every body names it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CampaignRef {
    pub id: i64,
    pub name: String,
    pub period: String,
    pub state: String,
    /// Its page in the console.
    pub url: String,
}

/// The body of an event: `{"version", "id", "type", "occurred_at", "campaign", "data"}`.
pub fn payload(
    id: &str,
    kind: &str,
    occurred_at: DateTime<Utc>,
    campaign: Option<&CampaignRef>,
    data: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "version": PAYLOAD_VERSION,
        "id": id,
        "type": kind,
        "occurred_at": occurred_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "campaign": campaign,
        "data": data,
    })
}

/// The receipt of a 2xx answer: `receipt` or `id` of its JSON body, else the `X-Receipt-Id`
/// header, else `Location`; clipped to [`RECEIPT_MAX_CHARS`].
pub fn receipt_of(
    body: Option<&serde_json::Value>,
    receipt_header: Option<&str>,
    location: Option<&str>,
) -> Option<String> {
    let from_body = body.and_then(|json| {
        ["receipt", "id"]
            .iter()
            .find_map(|key| match json.get(key) {
                Some(serde_json::Value::String(s)) if !s.trim().is_empty() => {
                    Some(s.trim().to_string())
                }
                Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                _ => None,
            })
    });
    from_body
        .or_else(|| {
            [receipt_header, location]
                .into_iter()
                .flatten()
                .map(str::trim)
                .find(|s| !s.is_empty())
                .map(str::to_string)
        })
        .map(|r| super::limits::clip_to(&r, RECEIPT_MAX_CHARS).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_without_a_filter_wants_every_event() {
        let subs = vec![
            Subscription {
                endpoint: "all".into(),
                events: vec![],
            },
            Subscription {
                endpoint: "tickets".into(),
                events: vec![EventKind::RemovalGivenUp],
            },
        ];
        assert_eq!(endpoints_for(&subs, EventKind::CampaignClosed), ["all"]);
        assert_eq!(
            endpoints_for(&subs, EventKind::RemovalGivenUp),
            ["all", "tickets"]
        );
        assert!("removal.failure".parse::<EventKind>().is_err());
        assert_eq!(
            "removal.given_up".parse::<EventKind>(),
            Ok(EventKind::RemovalGivenUp)
        );
    }

    #[test]
    fn receipts_come_from_the_body_then_the_headers() {
        let body = serde_json::json!({"receipt": "INC-7"});
        assert_eq!(
            receipt_of(Some(&body), Some("x"), None),
            Some("INC-7".into())
        );
        let body = serde_json::json!({"id": 42});
        assert_eq!(receipt_of(Some(&body), None, None), Some("42".into()));
        assert_eq!(
            receipt_of(None, None, Some("/tickets/9")),
            Some("/tickets/9".into())
        );
        assert_eq!(receipt_of(None, Some("  "), None), None);
        let long = "x".repeat(RECEIPT_MAX_CHARS + 50);
        let body = serde_json::json!({ "receipt": long });
        let kept = receipt_of(Some(&body), None, None).unwrap_or_default();
        assert!(kept.chars().count() <= RECEIPT_MAX_CHARS + 1);
    }

    #[test]
    fn the_body_is_versioned_and_names_its_campaign() {
        let at = DateTime::parse_from_rfc3339("2026-10-01T08:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time");
        let campaign = CampaignRef {
            id: 7,
            name: "quarterly".into(),
            period: "2026-Q4".into(),
            state: "active".into(),
            url: "http://attest/console/campaigns/7".into(),
        };
        let body = payload(
            "evt_1",
            "campaign.launched",
            at,
            Some(&campaign),
            serde_json::json!({"population": 3}),
        );
        assert_eq!(body["version"], 1);
        assert_eq!(body["occurred_at"], "2026-10-01T08:00:00Z");
        assert_eq!(body["campaign"]["id"], 7);
        assert_eq!(body["data"]["population"], 3);
    }
}
