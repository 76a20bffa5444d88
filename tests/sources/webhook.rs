//! Webhook removals: a campaign whose definition names a `kind = "webhook"` source reviews what
//! imports filled and sends each removal as one signed JSON POST; the receipt lands in attest's
//! row and the evidence; a refused POST is a failed attempt, retried with the same
//! idempotency key.

use crate::common::app::{DEFINITION, ELIGIBILITY, PEOPLE, ROLES};
use crate::common::{at, TestDb};
use attest::clock::ManualClock;
use attest::domain::records::ImportKind;
use attest::engine::definitions::DefinitionText;
use attest::engine::evidence::ExportOptions;
use attest::engine::import::{ImportInput, ImportOptions};
use attest::engine::{Engine, NoProgress};
use attest::sources::config::{OnReappearance, SourceConfig, WebhookConfig};
use attest::sources::webhook::{signature, SIGNATURE_HEADER};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: serde_json::Value,
    pub signed_right: bool,
    pub idempotency_key: String,
    pub answered: u16,
}

/// A ticketing system's webhook endpoint: checks the signature, answers 503 to the first
/// `fail_first` removals, then a receipt (`CHG` and a number) to each.
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// Serves on the test's runtime until the test ends.
    pub async fn start(secret: &str, fail_first: usize) -> Self {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let log = received.clone();
        let secret = secret.to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "http://{}/hooks/attest",
            listener.local_addr().expect("addr")
        );
        let app = axum::Router::new().route(
            "/hooks/attest",
            post(move |headers: HeaderMap, body: Bytes| {
                let log = log.clone();
                let secret = secret.clone();
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string()
                    };
                    let signed_right = header(SIGNATURE_HEADER) == signature(&secret, &body);
                    let json: serde_json::Value =
                        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                    let mut log = log.lock().expect("log");
                    let removals = log
                        .iter()
                        .filter(|r| r.body["event"] == "attest.removal")
                        .count();
                    let (status, answer) = if !signed_right {
                        (
                            StatusCode::UNAUTHORIZED,
                            serde_json::json!({"error": "bad signature"}),
                        )
                    } else if json["event"] == "attest.removal" && removals < fail_first {
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            serde_json::json!({"error": "ticketing is down for maintenance"}),
                        )
                    } else {
                        (
                            StatusCode::CREATED,
                            serde_json::json!({"receipt": format!("CHG{:04}", log.len() + 1)}),
                        )
                    };
                    log.push(Received {
                        body: json,
                        signed_right,
                        idempotency_key: header("idempotency-key"),
                        answered: status.as_u16(),
                    });
                    (status, axum::Json(answer))
                }
            }),
        );
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self { url, received }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("log").clone()
    }
}

fn webhook_sources(url: &str, secret_env: &str) -> BTreeMap<String, SourceConfig> {
    BTreeMap::from([(
        "itsm".to_string(),
        SourceConfig::Webhook(WebhookConfig {
            url: url.to_string(),
            secret_env: secret_env.to_string(),
            on_reappearance: OnReappearance::Flag,
        }),
    )])
}

async fn import_org(db: &TestDb, engine: &Engine) {
    for (kind, name, content) in [
        (ImportKind::People, "people.csv", PEOPLE),
        (ImportKind::Roles, "roles.csv", ROLES),
        (ImportKind::Eligibility, "eligibility.csv", ELIGIBILITY),
    ] {
        engine
            .import(
                kind,
                ImportInput::open(&db.file(name, content)).expect("the import file opens"),
                ImportOptions::default(),
                "test",
                &NoProgress,
            )
            .await
            .unwrap_or_else(|e| panic!("import {name}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_removals_are_signed_retried_with_one_key_and_their_receipts_are_the_evidence() {
    let secret_env = "ATTEST_TEST_WEBHOOK_SECRET_RETRY";
    std::env::set_var(secret_env, "hook-secret-that-is-never-printed");
    let receiver = Receiver::start("hook-secret-that-is-never-printed", 2).await;
    let db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(at("2026-10-01T08:00:00Z")));
    let engine = db
        .engine_at(clock.clone())
        .await
        .with_sources(webhook_sources(&receiver.url, secret_env));
    import_org(&db, &engine).await;
    let definition = DEFINITION.replace(
        "on_no_response = \"keep\"",
        "on_no_response = \"remove\"\nmax_auto_remove_percent = 100\nsource = \"itsm\"",
    );
    engine
        .define(&DefinitionText::new("definition.toml", &definition), "test")
        .await
        .expect("define");
    let campaign = engine
        .launch("reviewer-flow", false, "test", &NoProgress)
        .await
        .expect("launch");
    let items = campaign.items_created as usize;
    assert!(items > 2, "the campaign reviews a few items, got {items}");
    engine.close(campaign.id, "test").await.expect("close");
    let _ = engine.confirm_removals(campaign.id, "test").await;
    while engine.remediate_step().await.expect("remediate") > 0 {}

    // Every unanswered item went out as a signed POST; the first two were refused (503).
    let first = receiver.received();
    let removals: Vec<&Received> = first
        .iter()
        .filter(|r| r.body["event"] == "attest.removal")
        .collect();
    assert_eq!(removals.len(), items, "one POST per removal: {removals:#?}");
    assert!(removals.iter().all(|r| r.signed_right), "{removals:#?}");
    assert_eq!(
        removals.iter().filter(|r| r.answered == 503).count(),
        2,
        "{removals:#?}"
    );
    let body = &removals[0].body;
    assert_eq!(body["source"], "itsm");
    assert!(
        body["justification"]
            .as_str()
            .is_some_and(|j| j.contains(&format!("campaign {}", campaign.id))
                && j.contains(&format!("item {}", body["item_id"]))),
        "the justification names the campaign and the item: {body}"
    );
    let still_active = active_count(&db).await;

    // After the backoff the two refused removals are sent again, with the same keys.
    clock.advance(chrono::Duration::hours(1));
    while engine.remediate_step().await.expect("remediate") > 0 {}
    let all = receiver.received();
    let retried: Vec<&Received> = all[first.len()..].iter().collect();
    assert_eq!(retried.len(), 2, "{retried:#?}");
    let refused_keys: Vec<&str> = removals
        .iter()
        .filter(|r| r.answered == 503)
        .map(|r| r.idempotency_key.as_str())
        .collect();
    for r in &retried {
        assert!(refused_keys.contains(&r.idempotency_key.as_str()), "{r:?}");
        assert_eq!(r.answered, 201);
    }
    assert_eq!(
        active_count(&db).await,
        still_active - 2,
        "the retried removals are recorded"
    );

    // attest's rows carry the webhook's receipts; the evidence shows them.
    let folder = db.dir().join("bundle");
    engine
        .export_evidence(campaign.id, &folder, ExportOptions::default())
        .await
        .expect("export");
    let remediation = std::fs::read_to_string(folder.join("items.csv")).expect("items.csv")
        + &std::fs::read_to_string(folder.join("after_remediation.csv"))
            .expect("after_remediation.csv");
    assert!(
        remediation.contains("webhook:itsm:CHG"),
        "the evidence does not carry the webhook receipts:\n{remediation}"
    );
    assert!(!remediation.contains("hook-secret"), "the secret leaked");
}

async fn active_count(db: &TestDb) -> usize {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    entity::eligibility::Entity::find()
        .filter(
            entity::eligibility::Column::Status
                .eq(attest::domain::eligibility::EligibilityStatus::Active),
        )
        .count(db.store().await.conn())
        .await
        .expect("count") as usize
}

/// A step sends at most 200 removals to a source outside the database and gives the rest of
/// its lease back at once, so a slow source never outlasts the lease (issue 15).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_sends_at_most_200_removals_to_a_source_and_gives_the_rest_back() {
    let secret_env = "ATTEST_TEST_WEBHOOK_SECRET_STEP";
    std::env::set_var(secret_env, "step-secret");
    let receiver = Receiver::start("step-secret", 0).await;
    let db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(at("2026-10-01T08:00:00Z")));
    let engine = db
        .engine_at(clock.clone())
        .await
        .with_sources(webhook_sources(&receiver.url, secret_env));
    let mut people = String::from("id,name,email,manager_id\nboss,The Boss,boss@org.test,\n");
    let mut eligibility = String::from("principal_id,role,scope\n");
    for i in 0..250 {
        people.push_str(&format!("h{i},Holder {i},h{i}@org.test,boss\n"));
        eligibility.push_str(&format!("h{i},Global Administrator,/\n"));
    }
    for (kind, name, content) in [
        (ImportKind::People, "people.csv", people.as_str()),
        (
            ImportKind::Roles,
            "roles.csv",
            "name,owner_id,risk\nGlobal Administrator,boss,high\n",
        ),
        (
            ImportKind::Eligibility,
            "eligibility.csv",
            eligibility.as_str(),
        ),
    ] {
        engine
            .import(
                kind,
                ImportInput::open(&db.file(name, content)).expect("the import file opens"),
                ImportOptions::default(),
                "test",
                &NoProgress,
            )
            .await
            .unwrap_or_else(|e| panic!("import {name}: {e}"));
    }
    let definition = r#"
name = "bulk"
owner = "boss"
schedule = "quarterly"
duration_days = 14
reviewers = "manager"
fallback_reviewer = "boss"
on_no_response = "remove"
max_auto_remove_percent = 100
source = "itsm"
"#;
    engine
        .define(&DefinitionText::new("bulk.toml", definition), "test")
        .await
        .expect("define");
    let campaign = engine
        .launch("bulk", false, "test", &NoProgress)
        .await
        .expect("launch");
    engine.close(campaign.id, "test").await.expect("close");
    let _ = engine.confirm_removals(campaign.id, "test").await;

    assert_eq!(engine.remediate_step().await.expect("step"), 200);
    assert_eq!(receiver.received().len(), 200);
    // The other 50 are free at once (not leased for 5 minutes): the next step takes them.
    assert_eq!(engine.remediate_step().await.expect("step"), 50);
    assert_eq!(engine.remediate_step().await.expect("step"), 0);
    let posts = receiver.received();
    assert_eq!(posts.len(), 250);
    let keys: std::collections::BTreeSet<&str> =
        posts.iter().map(|p| p.idempotency_key.as_str()).collect();
    assert_eq!(keys.len(), 250, "a removal was sent twice");
    assert_eq!(active_count(&db).await, 0);
}
