//! Outbound events (issue 19, "Events out"): signed webhooks from an outbox. A campaign run
//! end to end (launch, a reviewer finishing, close, removals done / failed / given up, a
//! reappearance, stored evidence) queues its events; `attest serve` delivers them to a real
//! receiver, is killed (SIGKILL) while an answer is outstanding and started again, and the
//! receiver has every event exactly once by its id, signed, with its receipt shown beside the
//! campaign. Also: a refusing endpoint is retried until it takes the event; bad configuration
//! names its key. Every test runs on SQLite, or PostgreSQL with ATTEST_TEST_DATABASE_URL.

mod common;
mod webhooks_support;

use attest::clock::ManualClock;
use attest::domain::closing::{Channel, Verdict};
use attest::domain::records::ImportKind;
use attest::engine::decide::DecisionRequest;
use attest::engine::definitions::DefinitionText;
use attest::engine::import::{ImportInput, ImportOptions};
use attest::engine::webhooks::WebhookRouting;
use attest::engine::{Engine, NoProgress};
use attest::sources::config::{OnReappearance, SourceConfig, WebhookConfig};
use attest::webhooks::{WebhookEndpoint, WebhookSender};
use common::app::{DEFINITION, ELIGIBILITY, PEOPLE, ROLES, START};
use common::smtp::{dying_with_parent, free_port, kill_group};
use common::{at, attest_cli, attest_cli_env, TestDb};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use webhooks_support::{Received, Receiver};

const EVENTS_SECRET: &str = "events-secret-never-printed";
const REMOVALS_SECRET: &str = "removals-secret-never-printed";

/// The holder whose removals the removal webhook always refuses.
const PROTECTED: &str = "a3";

fn endpoints(url: &str, secret_env: &str) -> BTreeMap<String, WebhookEndpoint> {
    BTreeMap::from([(
        "tickets".to_string(),
        WebhookEndpoint {
            url: url.to_string(),
            secret_env: secret_env.to_string(),
            events: vec![],
            timeout_secs: Some(5),
        },
    )])
}

fn routing(endpoints: &BTreeMap<String, WebhookEndpoint>) -> WebhookRouting {
    WebhookRouting {
        subscriptions: attest::webhooks::config::subscriptions(endpoints),
        base_url: "http://attest.test".into(),
    }
}

async fn import(db: &TestDb, engine: &Engine, kind: ImportKind, name: &str, content: &str) {
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

async fn principal_id(engine: &Engine, external: &str) -> i64 {
    entity::principal::Entity::find()
        .filter(entity::principal::Column::ExternalId.eq(external))
        .one(engine.store().conn())
        .await
        .expect("read principal")
        .unwrap_or_else(|| panic!("no principal {external}"))
        .id
}

/// Runs a campaign over the removal webhook from launch to stored evidence and a reappearance,
/// on the manual clock; returns its id. The events it queues, by type: see [`EXPECTED`].
async fn run_campaign(db: &TestDb, engine: &Engine, clock: &ManualClock) -> i64 {
    import(db, engine, ImportKind::People, "people.csv", PEOPLE).await;
    import(db, engine, ImportKind::Roles, "roles.csv", ROLES).await;
    import(
        db,
        engine,
        ImportKind::Eligibility,
        "eligibility.csv",
        ELIGIBILITY,
    )
    .await;
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
    let id = campaign.id;
    // Mark (m2) keeps both of his items and is done; Maria (m1) never answers, so her four are
    // removed by the policy at the close.
    let mark = principal_id(engine, "m2").await;
    let marks: Vec<i64> = entity::review_item::Entity::find()
        .filter(entity::review_item::Column::CampaignId.eq(id))
        .filter(entity::review_item::Column::ReviewerId.eq(mark))
        .all(engine.store().conn())
        .await
        .expect("items")
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(marks.len(), 2);
    engine
        .decide(&DecisionRequest {
            campaign_id: id,
            item_ids: &marks,
            verdict: Verdict::Attest,
            justification: None,
            reviewer: Some(mark),
            acting_for: None,
            channel: Channel::Web,
            client_addr: None,
            actor: "reviewer:m2",
        })
        .await
        .expect("decide");
    clock.advance(chrono::Duration::days(1));
    engine.close(id, "admin:test").await.expect("close");
    let _ = engine.confirm_removals(id, "admin:test").await;
    // Removals: three go through; the protected holder's is refused until given up (six
    // attempts, minutes to hours apart).
    for _ in 0..10 {
        while engine.remediate_step().await.expect("remediate") > 0 {}
        clock.advance(chrono::Duration::hours(1));
    }
    assert_eq!(
        engine.complete_finished().await.expect("complete"),
        vec![id],
        "the campaign completes once its removals are done or given up"
    );
    // The removed eligibility is listed again by the next import: a reappearance each.
    clock.advance(chrono::Duration::days(1));
    import(
        db,
        engine,
        ImportKind::Eligibility,
        "again.csv",
        ELIGIBILITY,
    )
    .await;
    id
}

/// The distinct events the campaign queues, by type.
const EXPECTED: &[(&str, usize)] = &[
    ("campaign.launched", 1),
    ("reviewer.finished", 1),
    ("campaign.closed", 1),
    ("removal.done", 3),
    ("removal.failed", 5),
    ("removal.given_up", 1),
    ("eligibility.reappeared", 3),
    ("evidence.stored", 1),
];

/// What fact an event reports, from its body (two ids for one fact would be a duplicate).
fn fact(r: &Received) -> String {
    let d = &r.body["data"];
    format!(
        "{} c{} r{} m{} a{} e{} b{}",
        r.body["type"],
        r.body["campaign"]["id"],
        d["reviewer_id"],
        d["removal_id"],
        d["attempt"],
        d["eligibility_id"],
        d["bundle_id"]
    )
}

/// Checks what the receiver got: every request signed and well-formed, every expected event
/// under exactly one id, ids repeated only where `may_repeat` allows. Returns ids by type.
fn check_received(received: &[Received], may_repeat: &BTreeSet<String>) {
    let mut by_id: BTreeMap<&str, Vec<&Received>> = BTreeMap::new();
    for r in received {
        assert!(r.signed_right, "a request was not signed right: {r:?}");
        assert_eq!(r.body["id"], r.event_id.as_str(), "{r:?}");
        assert_eq!(r.idempotency_key, r.event_id, "{r:?}");
        assert_eq!(r.body["type"], r.event_header.as_str(), "{r:?}");
        assert_eq!(r.body["version"], 1, "{r:?}");
        by_id.entry(r.event_id.as_str()).or_default().push(r);
    }
    for (id, copies) in &by_id {
        if copies.len() > 1 {
            assert!(
                may_repeat.contains(*id),
                "event {id} was delivered {} times: {copies:#?}",
                copies.len()
            );
            assert!(
                copies.iter().all(|c| c.body == copies[0].body),
                "a retry changed the body of {id}"
            );
        }
    }
    let mut facts: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for r in received {
        facts
            .entry(fact(r))
            .or_default()
            .insert(r.event_id.as_str());
    }
    for (fact, ids) in &facts {
        assert_eq!(
            ids.len(),
            1,
            "the fact {fact} was sent under several ids: {ids:?}"
        );
    }
    for (kind, count) in EXPECTED {
        let ids: BTreeSet<&str> = received
            .iter()
            .filter(|r| r.body["type"] == *kind)
            .map(|r| r.event_id.as_str())
            .collect();
        let all: Vec<String> = received.iter().map(fact).collect();
        assert_eq!(ids.len(), *count, "{kind}: {ids:?} of {all:#?}");
    }
    let total: usize = EXPECTED.iter().map(|(_, n)| n).sum();
    assert_eq!(by_id.len(), total, "unexpected events: {:#?}", by_id.keys());
}

/// `attest serve --tick 1` on `port`, in the test's folder with its attest.toml.
fn start_serve(db: &TestDb, port: u16) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(db.dir().join("serve.log"))
        .expect("serve log");
    dying_with_parent(env!("CARGO_BIN_EXE_attest"))
        .args(["serve", "--tick", "1"])
        .current_dir(db.dir())
        .env("ATTEST_DATABASE_URL", &db.url)
        .env("ATTEST_BIND", format!("127.0.0.1:{port}"))
        .env("ATTEST_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("ATTEST_LOG", "warn,attest=info")
        .env("ATTEST_TEST_EVENTS_SECRET", EVENTS_SECRET)
        .env("ATTEST_TEST_REMOVALS_SECRET", REMOVALS_SECRET)
        .env_remove("USER")
        .env_remove("LOGNAME")
        .env_remove("USERNAME")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("start attest serve")
}

async fn wait_for(what: &str, db: &TestDb, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !done() {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(db.dir().join("serve.log")).unwrap_or_default();
            panic!("timed out waiting for {what}; serve log:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An admin API token, made by the CLI as the README says.
fn admin_token(db: &TestDb) -> String {
    let (code, out, err) = attest_cli(
        db,
        &["user", "add", "admin@example.test", "--role", "admin"],
    );
    assert_eq!(code, 0, "user add: {out}{err}");
    let (code, out, err) = attest_cli(
        db,
        &[
            "user",
            "token",
            "events",
            "--admin",
            "admin@example.test",
            "--role",
            "admin",
        ],
    );
    assert_eq!(code, 0, "user token: {out}{err}");
    out.lines()
        .last()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| panic!("no token printed: {out}"))
        .to_string()
}

/// The value of cookie `name` set by `answer`.
fn cookie(answer: &reqwest::Response, name: &str) -> Option<String> {
    answer
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_string())
}

/// A console page of the serve on `port`, read by an auditor who signs in as a browser does.
async fn console_page(engine: &Engine, port: u16, path: &str) -> String {
    const PASSWORD: &str = "correct horse battery staple";
    engine
        .add_account(
            "aldo@attest.test",
            attest::domain::access::Role::Auditor,
            PASSWORD,
            "test",
        )
        .await
        .expect("auditor account");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form = http
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("GET /login");
    let login_cookie = cookie(&form, "attest_login").expect("the login page sets its cookie");
    let html = form.text().await.expect("login page");
    let csrf = common::app::field_value(&html, "csrf").expect("csrf");
    let signed_in = http
        .post(format!("{base}/login"))
        .header(
            reqwest::header::COOKIE,
            format!("attest_login={login_cookie}"),
        )
        .form(&[
            ("email", "aldo@attest.test"),
            ("password", PASSWORD),
            ("csrf", &csrf),
            ("next", ""),
        ])
        .send()
        .await
        .expect("POST /login");
    let session = cookie(&signed_in, "attest_session").expect("a session after signing in");
    let page = http
        .get(format!("{base}{path}"))
        .header(reqwest::header::COOKIE, format!("attest_session={session}"))
        .send()
        .await
        .expect("GET page");
    assert_eq!(page.status(), reqwest::StatusCode::OK, "{path}");
    page.text().await.expect("page")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_the_receiver_once_by_id_across_a_kill_and_restart_of_serve() {
    let receiver = Receiver::start(EVENTS_SECRET, REMOVALS_SECRET, PROTECTED).await;
    let db = TestDb::new().await;
    std::env::set_var("ATTEST_TEST_REMOVALS_SECRET", REMOVALS_SECRET);
    let clock = Arc::new(ManualClock::new(at(START)));
    let hooks = endpoints(&receiver.events_url(), "ATTEST_TEST_EVENTS_SECRET");
    let engine = db
        .engine_at(clock.clone())
        .await
        .with_sources(BTreeMap::from([(
            "itsm".to_string(),
            SourceConfig::Webhook(WebhookConfig {
                url: receiver.removals_url(),
                secret_env: "ATTEST_TEST_REMOVALS_SECRET".into(),
                on_reappearance: OnReappearance::Flag,
            }),
        )]))
        .with_webhooks(routing(&hooks));
    let id = run_campaign(&db, &engine, &clock).await;
    assert!(
        receiver.received().is_empty(),
        "nothing is sent before serve runs"
    );

    db.file(
        "attest.toml",
        &format!(
            "[webhooks.tickets]\nurl = \"{}\"\nsecret_env = \"ATTEST_TEST_EVENTS_SECRET\"\ntimeout_secs = 5\n\n\
             [sources.itsm]\nkind = \"webhook\"\nurl = \"{}\"\nsecret_env = \"ATTEST_TEST_REMOVALS_SECRET\"\n",
            receiver.events_url(),
            receiver.removals_url()
        ),
    );
    let token = admin_token(&db);
    // The sixth request is held unanswered; serve is killed while it waits.
    receiver.hold_at(5);
    let port = free_port();
    let mut serve = start_serve(&db, port);
    wait_for("the sixth event to arrive", &db, || {
        receiver.received().len() >= 6
    })
    .await;
    kill_group(&mut serve);
    let held = receiver.received()[5].event_id.clone();
    receiver.release();
    let before_restart = receiver.received().len();
    assert_eq!(
        before_restart, 6,
        "serve sent on while an answer was outstanding"
    );

    let mut serve = start_serve(&db, port);
    let total: usize = EXPECTED.iter().map(|(_, n)| n).sum();
    wait_for("every event to be delivered", &db, || {
        let ids: BTreeSet<String> = receiver
            .received()
            .iter()
            .filter(|r| r.answered / 100 == 2)
            .map(|r| r.event_id.clone())
            .collect();
        ids.len() >= total
    })
    .await;
    let received = receiver.received();
    check_received(&received, &BTreeSet::from([held.clone()]));
    assert_eq!(
        received.iter().filter(|r| r.event_id == held).count(),
        2,
        "the event whose answer the kill lost is sent again after the restart, under its id"
    );

    // The receipts are kept and shown beside the campaign, in the API of the running serve.
    let view: serde_json::Value = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v1/campaigns/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET campaign")
        .error_for_status()
        .expect("campaign view")
        .json()
        .await
        .expect("JSON");
    let webhooks = view["webhooks"].as_array().expect("a webhooks list");
    assert_eq!(webhooks.len(), total, "{webhooks:#?}");
    for w in webhooks {
        assert_eq!(w["endpoint"], "tickets", "{w}");
        assert_eq!(w["state"], "delivered", "{w}");
        assert!(
            w["receipt"].as_str().is_some_and(|r| r.starts_with("TKT-")),
            "no receipt: {w}"
        );
        assert!(w["delivered_at"].is_string(), "{w}");
    }
    let given_up = webhooks
        .iter()
        .find(|w| w["event"] == "removal.given_up")
        .expect("the given-up removal is reported");
    let receipt = given_up["receipt"].as_str().unwrap_or_default();
    let sent = received
        .iter()
        .find(|r| r.body["type"] == "removal.given_up")
        .expect("received");
    assert_eq!(sent.body["data"]["principal"], PROTECTED);
    assert_eq!(sent.body["campaign"]["id"], id);
    assert_eq!(
        receipt,
        format!(
            "TKT-{}",
            received
                .iter()
                .position(|r| r.event_id == sent.event_id && r.answered / 100 == 2)
                .expect("answered")
                + 1
        ),
        "the receipt shown is the one the receiver answered"
    );

    // And on the campaign's console page, as an auditor sees it.
    let page = console_page(&engine, port, &format!("/audit/campaigns/{id}")).await;
    assert!(page.contains("Events sent"), "{page}");
    assert!(
        page.contains("data-webhook=\"removal.given_up\" data-endpoint=\"tickets\"")
            && page.contains(&format!("<td data-receipt>{receipt}</td>")),
        "the given-up removal's receipt is not on the campaign page:\n{page}"
    );

    // `attest webhook list` counts them; the secret is never printed.
    let (code, out, err) = attest_cli_env(
        &db,
        &["webhook", "list", "--json"],
        &[("ATTEST_TEST_EVENTS_SECRET", EVENTS_SECRET)],
    );
    assert_eq!(code, 0, "{out}{err}");
    let listing: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(listing[0]["name"], "tickets");
    assert_eq!(listing[0]["delivered"], total);
    assert_eq!(listing[0]["pending"], 0);
    assert_eq!(listing[0]["secret_set"], true);
    assert!(!out.contains(EVENTS_SECRET) && !err.contains(EVENTS_SECRET));
    kill_group(&mut serve);
    let log = std::fs::read_to_string(db.dir().join("serve.log")).unwrap_or_default();
    assert!(
        !log.contains(EVENTS_SECRET),
        "the secret leaked into the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_endpoint_is_retried_until_it_takes_the_event_and_its_receipt_is_kept() {
    std::env::set_var("ATTEST_TEST_EVENTS_SECRET_RETRY", EVENTS_SECRET);
    let receiver = Receiver::start(EVENTS_SECRET, REMOVALS_SECRET, PROTECTED).await;
    let db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(at(START)));
    let hooks = BTreeMap::from([(
        "tickets".to_string(),
        WebhookEndpoint {
            events: vec!["campaign.launched".into(), "campaign.closed".into()],
            ..endpoints(&receiver.events_url(), "ATTEST_TEST_EVENTS_SECRET_RETRY")["tickets"]
                .clone()
        },
    )]);
    let engine = db
        .engine_at(clock.clone())
        .await
        .with_webhooks(routing(&hooks));
    import(&db, &engine, ImportKind::People, "people.csv", PEOPLE).await;
    import(&db, &engine, ImportKind::Roles, "roles.csv", ROLES).await;
    import(
        &db,
        &engine,
        ImportKind::Eligibility,
        "eligibility.csv",
        ELIGIBILITY,
    )
    .await;
    engine
        .define(&DefinitionText::new("definition.toml", DEFINITION), "test")
        .await
        .expect("define");
    let campaign = engine
        .launch("reviewer-flow", false, "test", &NoProgress)
        .await
        .expect("launch");
    let sender = WebhookSender::new(engine.clone(), &hooks).expect("sender");

    // Down for maintenance: two refusals, each retried after its backoff, never sooner.
    receiver.refuse_next(2);
    assert_eq!(sender.step().await.expect("step"), 1);
    assert_eq!(
        sender.step().await.expect("step"),
        0,
        "retried only after its wait"
    );
    let view = engine.campaign(campaign.id).await.expect("view");
    let launched = &view.webhooks.as_ref().expect("webhooks")[0];
    assert_eq!(launched.state.as_str(), "failed");
    assert!(
        launched
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("503")),
        "{launched:?}"
    );
    assert_eq!(launched.receipt, None);
    for _ in 0..2 {
        clock.advance(chrono::Duration::minutes(5));
        assert_eq!(sender.step().await.expect("step"), 1);
    }
    let view = engine.campaign(campaign.id).await.expect("view");
    let launched = &view.webhooks.as_ref().expect("webhooks")[0];
    assert_eq!(launched.state.as_str(), "delivered");
    assert_eq!(launched.attempts, 3);
    assert_eq!(launched.receipt.as_deref(), Some("TKT-3"));
    let received = receiver.received();
    assert_eq!(received.len(), 3);
    assert!(
        received
            .iter()
            .all(|r| r.event_id == received[0].event_id && r.signed_right),
        "the retries carry the event's one id: {received:#?}"
    );
    assert_eq!(received[0].body["campaign"]["id"], campaign.id);
    assert_eq!(received[0].body["data"]["population"], 6);

    // The filter: a close is wanted, a reviewer finishing is not (nothing is queued for it).
    engine
        .close(campaign.id, "admin:test")
        .await
        .expect("close");
    assert_eq!(sender.step().await.expect("step"), 1);
    let last = receiver.received().pop().expect("the close");
    assert_eq!(last.body["type"], "campaign.closed");
    assert_eq!(last.body["data"]["closed_by"], "admin:test");
    let kinds: Vec<String> = engine
        .campaign(campaign.id)
        .await
        .expect("view")
        .webhooks
        .expect("webhooks")
        .iter()
        .map(|w| w.event.as_str().to_string())
        .collect();
    assert_eq!(kinds, ["campaign.launched", "campaign.closed"]);
}

#[tokio::test]
async fn bad_webhook_configuration_is_refused_naming_the_table_and_key() {
    let db = TestDb::new().await;
    for (toml, expected) in [
        (
            "[webhooks.tickets]\nurl = \"ftp://tickets.example/in\"\nsecret_env = \"T\"\n",
            "[webhooks.tickets] url = \"ftp://tickets.example/in\"",
        ),
        (
            "[webhooks.tickets]\nurl = \"https://tickets.example/in\"\nsecret_env = \"T\"\nevents = [\"removal.oops\"]\n",
            "[webhooks.tickets] events: unknown event \"removal.oops\"",
        ),
        (
            "[webhooks.tickets]\nurl = \"https://tickets.example/in\"\nsecret_env = \"T\"\nsecret = \"hunter2\"\n",
            "secret",
        ),
        (
            "[webhooks.tickets]\nurl = \"https://tickets.example/in\"\nsecret_env = \"T\"\ntimeout_secs = 600\n",
            "[webhooks.tickets] timeout_secs = 600",
        ),
    ] {
        db.file("attest.toml", toml);
        let (code, out, err) = attest_cli(&db, &["webhook", "list"]);
        assert_eq!(code, 2, "{toml}: {out}{err}");
        assert!(err.contains(expected), "{toml}: expected {expected:?} in:\n{err}");
        assert!(err.contains("attest.toml"), "the file is named: {err}");
        assert!(!err.contains("hunter2"), "a value that looks secret is echoed: {err}");
    }
    // A test ping to an endpoint whose secret is unset names the variable; an unknown name
    // names the configured ones.
    db.file(
        "attest.toml",
        "[webhooks.tickets]\nurl = \"http://127.0.0.1:9/in\"\nsecret_env = \"ATTEST_TEST_UNSET_SECRET\"\n",
    );
    let (code, _, err) = attest_cli(&db, &["webhook", "test", "tickets"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ATTEST_TEST_UNSET_SECRET"), "{err}");
    let (code, _, err) = attest_cli(&db, &["webhook", "test", "nope"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("configured: tickets"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_test_sends_a_signed_ping_and_prints_the_receipt() {
    let receiver = Receiver::start(EVENTS_SECRET, REMOVALS_SECRET, PROTECTED).await;
    let db = TestDb::new().await;
    db.file(
        "attest.toml",
        &format!(
            "[webhooks.tickets]\nurl = \"{}\"\nsecret_env = \"ATTEST_TEST_PING_SECRET\"\n",
            receiver.events_url()
        ),
    );
    let secret = [("ATTEST_TEST_PING_SECRET", EVENTS_SECRET)];
    let cli = db.dir().to_path_buf();
    let (code, out, err) = tokio::task::spawn_blocking({
        let db_url = db.url.clone();
        move || {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_attest"))
                .args(["webhook", "test", "tickets"])
                .current_dir(&cli)
                .env("ATTEST_DATABASE_URL", db_url)
                .env("ATTEST_LOG", "warn")
                .envs(secret)
                .output()
                .expect("run attest");
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    })
    .await
    .expect("join");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("answered 201") && out.contains("receipt: TKT-1"),
        "{out}"
    );
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].signed_right);
    assert_eq!(got[0].body["type"], "ping");
    // A refusal is exit 1, with the status.
    receiver.refuse_next(1);
    let (code, out, err) = {
        let cli = db.dir().to_path_buf();
        let db_url = db.url.clone();
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_attest"))
                .args(["webhook", "test", "tickets"])
                .current_dir(&cli)
                .env("ATTEST_DATABASE_URL", db_url)
                .env("ATTEST_LOG", "warn")
                .envs(secret)
                .output()
                .expect("run attest");
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .await
        .expect("join")
    };
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("503"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_never_answers_holds_up_only_its_own_deliveries() {
    std::env::set_var("ATTEST_TEST_EVENTS_SECRET_SILENT", EVENTS_SECRET);
    let receiver = Receiver::start(EVENTS_SECRET, REMOVALS_SECRET, PROTECTED).await;
    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_url = format!("http://{}/hooks", silent.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(at(START)));
    let mut hooks = endpoints(&receiver.events_url(), "ATTEST_TEST_EVENTS_SECRET_SILENT");
    hooks.insert(
        "silent".into(),
        WebhookEndpoint {
            url: silent_url,
            secret_env: "ATTEST_TEST_EVENTS_SECRET_SILENT".into(),
            events: vec![],
            timeout_secs: Some(1),
        },
    );
    let engine = db
        .engine_at(clock.clone())
        .await
        .with_webhooks(routing(&hooks));
    import(&db, &engine, ImportKind::People, "people.csv", PEOPLE).await;
    import(&db, &engine, ImportKind::Roles, "roles.csv", ROLES).await;
    import(
        &db,
        &engine,
        ImportKind::Eligibility,
        "eligibility.csv",
        ELIGIBILITY,
    )
    .await;
    engine
        .define(&DefinitionText::new("definition.toml", DEFINITION), "test")
        .await
        .expect("define");
    let campaign = engine
        .launch("reviewer-flow", false, "test", &NoProgress)
        .await
        .expect("launch");
    engine
        .close(campaign.id, "admin:test")
        .await
        .expect("close");
    let sender = WebhookSender::new(engine.clone(), &hooks).expect("sender");
    assert_eq!(sender.step().await.expect("step"), 4, "two events to each");
    let got = receiver.received();
    assert_eq!(got.len(), 2, "the answering endpoint got both: {got:#?}");
    let deliveries = engine
        .campaign(campaign.id)
        .await
        .expect("view")
        .webhooks
        .expect("webhooks");
    for d in &deliveries {
        let expected = if d.endpoint == "tickets" {
            "delivered"
        } else {
            "failed"
        };
        assert_eq!(d.state.as_str(), expected, "{d:?}");
    }
    let silent_errors: Vec<String> = deliveries
        .iter()
        .filter(|d| d.endpoint == "silent")
        .filter_map(|d| d.last_error.clone())
        .collect();
    assert_eq!(silent_errors.len(), 2);
    assert!(
        silent_errors.iter().all(|e| e.contains("timed out")),
        "{silent_errors:?}"
    );
    let (code, out, err) = {
        db.file(
            "attest.toml",
            &format!(
                "[webhooks.tickets]\nurl = \"{}\"\nsecret_env = \"T\"\n\n[webhooks.silent]\nurl = \"http://127.0.0.1:9/\"\nsecret_env = \"T\"\n",
                receiver.events_url()
            ),
        );
        attest_cli(&db, &["webhook", "list"])
    };
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("silent http://127.0.0.1:9/")
            && out.contains("0 pending, 2 failed (retried), 0 delivered, 0 given up")
            && out.contains("0 pending, 0 failed (retried), 2 delivered, 0 given up"),
        "{out}"
    );
}
