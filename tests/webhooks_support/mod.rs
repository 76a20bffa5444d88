//! A webhook receiver for the outbound event tests: a real HTTP server in the test process
//! (axum on 127.0.0.1, an ephemeral port) that checks every signature, records every request,
//! answers a ticket number as its receipt, and can be told to refuse the first N requests or to
//! hold a request unanswered (so `serve` can be killed while it waits for the answer).
//!
//! It also serves `/removals`, a removal webhook (`[sources.NAME] kind = "webhook"`) that
//! removes everyone's eligibility but one holder's, whose removals it always refuses.
#![allow(dead_code)]

use attest::webhooks::signature::{signature, SIGNATURE_HEADER};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// One POST to `/events`.
#[derive(Debug, Clone)]
pub struct Received {
    pub event_id: String,
    pub event_header: String,
    pub idempotency_key: String,
    pub body: serde_json::Value,
    pub signed_right: bool,
    /// 0 while it is held unanswered.
    pub answered: u16,
}

#[derive(Default)]
struct Behaviour {
    received: Vec<Received>,
    /// Refuse (503) this many more requests.
    refuse: usize,
    /// Hold the request with this index (0-based) until released.
    hold_at: Option<usize>,
}

pub struct Receiver {
    pub base: String,
    state: Arc<Mutex<Behaviour>>,
    release: Arc<Notify>,
}

impl Receiver {
    /// Serves on the test's runtime until the test ends: events signed with `secret`, removals
    /// signed with `removal_secret`, of which `refuse_holder`'s are refused.
    pub async fn start(secret: &str, removal_secret: &str, refuse_holder: &str) -> Self {
        let state: Arc<Mutex<Behaviour>> = Arc::default();
        let release = Arc::new(Notify::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let events = {
            let state = state.clone();
            let release = release.clone();
            let secret = secret.to_string();
            move |headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                let release = release.clone();
                let secret = secret.clone();
                async move { answer_event(&state, &release, &secret, &headers, &body).await }
            }
        };
        let removals = {
            let secret = removal_secret.to_string();
            let refuse = refuse_holder.to_string();
            move |headers: HeaderMap, body: Bytes| {
                let secret = secret.clone();
                let refuse = refuse.clone();
                async move {
                    let signed = header(&headers, SIGNATURE_HEADER) == signature(&secret, &body);
                    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                    if !signed {
                        return (StatusCode::UNAUTHORIZED, axum::Json(serde_json::json!({})));
                    }
                    if json["principal"] == refuse.as_str() {
                        return (
                            StatusCode::UNPROCESSABLE_ENTITY,
                            axum::Json(serde_json::json!({"error": "this account is protected"})),
                        );
                    }
                    let receipt = format!("RM-{}", json["item_id"]);
                    (
                        StatusCode::CREATED,
                        axum::Json(serde_json::json!({ "receipt": receipt })),
                    )
                }
            }
        };
        let app = axum::Router::new()
            .route("/events", post(events))
            .route("/removals", post(removals));
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self {
            base,
            state,
            release,
        }
    }

    pub fn events_url(&self) -> String {
        format!("{}/events", self.base)
    }

    pub fn removals_url(&self) -> String {
        format!("{}/removals", self.base)
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().expect("state").received.clone()
    }

    /// Refuse the next `n` requests with 503.
    pub fn refuse_next(&self, n: usize) {
        self.state.lock().expect("state").refuse = n;
    }

    /// Hold the request with index `index` unanswered until [`Receiver::release`].
    pub fn hold_at(&self, index: usize) {
        self.state.lock().expect("state").hold_at = Some(index);
    }

    pub fn release(&self) {
        self.state.lock().expect("state").hold_at = None;
        self.release.notify_waiters();
    }
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn answer_event(
    state: &Mutex<Behaviour>,
    release: &Notify,
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> (StatusCode, axum::Json<serde_json::Value>) {
    let signed_right = header(headers, SIGNATURE_HEADER) == signature(secret, body);
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let (index, hold) = {
        let mut s = state.lock().expect("state");
        let index = s.received.len();
        s.received.push(Received {
            event_id: header(headers, "X-Attest-Delivery"),
            event_header: header(headers, "X-Attest-Event"),
            idempotency_key: header(headers, "Idempotency-Key"),
            body: json,
            signed_right,
            answered: 0,
        });
        (index, s.hold_at == Some(index))
    };
    if hold {
        let released = release.notified();
        let still_held = state.lock().expect("state").hold_at == Some(index);
        if still_held {
            released.await;
        }
    }
    let mut s = state.lock().expect("state");
    let (status, answer) = if !signed_right {
        (
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"error": "bad signature"}),
        )
    } else if s.refuse > 0 {
        s.refuse -= 1;
        (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"error": "the ticketing system is down for maintenance"}),
        )
    } else {
        (
            StatusCode::CREATED,
            serde_json::json!({ "receipt": format!("TKT-{}", index + 1) }),
        )
    };
    s.received[index].answered = status.as_u16();
    (status, axum::Json(answer))
}
