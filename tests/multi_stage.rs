//! Multi-stage reviews (issue 17; Entra's stages, midPoint's outcome strategies), end to end on
//! the real application: a definition with a second stage reviewed by the role owner. Stage 1's
//! managers decide some items through their links; the deadline opens stage 2 (the scheduler),
//! or an admin opens it early (REST API, CLI); the role owner gets a mail by real SMTP with a
//! fresh link, sees what stage 1 decided beside each item and decides; the earlier links stop
//! working. At the last deadline the outcome rule turns the stages' decisions into each item's
//! verdict, the policy settles the rest, removals run in the built-in source, and the figures
//! (API, CLI, console) and the evidence bundle (exported and verified with the CLI) agree.
//!
//! Every test gets its own database (SQLite, or PostgreSQL with ATTEST_TEST_DATABASE_URL) and
//! its own SMTP server. Without aiosmtpd a test prints `SKIPPED …` locally and fails under CI.

mod common;

use attest::scheduler::tick;
use chrono::Duration;
use common::app::{Launched, TestApp};
use common::attest_cli;
use entity::{audit_event, decision, eligibility};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;

/// Stage 1: each holder's manager, 14 days. Stage 2: the role's owner (Olga), 7 days, who must
/// justify every answer. Unanswered items are removed.
const DEFINITION: &str = r#"
name = "reviewer-flow"
owner = "own"
schedule = "quarterly"
timezone = "Europe/Berlin"
duration_days = 14
reviewers = "manager"
on_no_response = "remove"
max_auto_remove_percent = 100
reminders_days_before = [2]
require_justification = ["revoke"]
stage_outcome = "RULE"

[[later_stages]]
reviewers = "role_owner"
duration_days = 7
require_justification = ["attest", "revoke"]

[scope]
risk = ["high"]
"#;

/// The six high-risk items of the test organisation, by holder and role.
struct Items {
    anna_ga: i64,
    arne_ga: i64,
    aiko: i64,
    anna_prod: i64,
    bea_ga: i64,
    bo: i64,
}

async fn launch(app: &TestApp, rule: &str) -> (Launched, Items) {
    app.import_org().await;
    app.define_as("stages.toml", &DEFINITION.replace("RULE", rule))
        .await;
    let launched = app.launch_defined().await;
    app.drain_mail().await;
    let items = app.items(launched.campaign_id).await;
    let find = |holder: &str, role: &str, scope: &str| {
        items
            .iter()
            .find(|i| i.holder_external_id == holder && i.role_name == role && i.scope == scope)
            .unwrap_or_else(|| panic!("{holder} holds {role} at {scope}"))
            .id
    };
    let pra = "Privileged Role Administrator";
    let ga = "Global Administrator";
    let ids = Items {
        anna_ga: find("a1", ga, "/"),
        arne_ga: find("a2", ga, "/"),
        aiko: find("a3", pra, "/"),
        anna_prod: find("a1", pra, "/subscriptions/prod"),
        bea_ga: find("b1", ga, "/"),
        bo: find("b2", pra, "/"),
    };
    (launched, ids)
}

/// Decides items on the review page as a browser posts its form; returns the status.
async fn decide(app: &TestApp, link: &str, choices: &[(i64, &str)]) -> StatusCode {
    let page = app.get(link).await;
    assert_eq!(page.status, StatusCode::OK, "{link}:\n{}", page.body);
    let mut form = vec![
        ("csrf".to_string(), page.csrf()),
        ("action".to_string(), "save".to_string()),
    ];
    for (item, verdict) in choices {
        form.push((format!("item-{item}"), verdict.to_string()));
        form.push((format!("why-{item}"), format!("{verdict} in stage test")));
    }
    app.post(link, &form).await.status
}

/// Stage 1 as every test plays it: Maria keeps Anna's and Aiko's, revokes Arne's and leaves
/// Anna's second role; Mark keeps Bea's and leaves Bo's.
async fn stage_one(app: &TestApp, items: &Items) -> (String, String) {
    let maria = app.link_for("maria@org.test");
    let mark = app.link_for("mark@org.test");
    let maria_choices = [
        (items.anna_ga, "attest"),
        (items.arne_ga, "revoke"),
        (items.aiko, "attest"),
    ];
    assert_eq!(
        decide(app, &maria, &maria_choices).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        decide(app, &mark, &[(items.bea_ga, "attest")]).await,
        StatusCode::SEE_OTHER
    );
    (maria, mark)
}

async fn eligibility_status(app: &TestApp, item: i64) -> String {
    let item = app.item(item).await;
    eligibility::Entity::find_by_id(item.eligibility_id)
        .one(app.engine.store().conn())
        .await
        .expect("read eligibility")
        .expect("the eligibility exists")
        .status
}

async fn api(app: &TestApp, token: &str, path: &str, post: bool) -> (StatusCode, Value) {
    let request = if post {
        app.http.post(app.url(path))
    } else {
        app.http.get(app.url(path))
    };
    let answer = request.bearer_auth(token).send().await.expect("API call");
    let status = answer.status();
    (status, answer.json().await.unwrap_or(Value::Null))
}

/// The verdict, outcome and stage of the decision in force of each item.
async fn settled(app: &TestApp, item: i64) -> (String, String, i32) {
    let item = app.item(item).await;
    let stage = match item.current_decision_id {
        Some(id) => {
            decision::Entity::find_by_id(id)
                .one(app.engine.store().conn())
                .await
                .expect("read decision")
                .expect("the decision")
                .stage
        }
        None => 0,
    };
    (
        item.verdict.unwrap_or_default(),
        item.outcome.unwrap_or_default(),
        stage,
    )
}

#[tokio::test]
async fn a_second_stage_opens_at_the_deadline_and_any_revocation_removes() {
    let Some(app) = TestApp::spawn("second_stage_any_revoke").await else {
        return;
    };
    let (launched, items) = launch(&app, "any_revoke").await;
    let id = launched.campaign_id;
    let (maria, _) = stage_one(&app, &items).await;
    let olga = app.principal("own").await.id;

    // Stage 1's deadline opens stage 2: what stage 1 revoked stays behind, the rest goes to
    // the role owner with a fresh deadline.
    let stage_two_due = launched.due_at + Duration::days(7);
    app.clock.set(launched.due_at);
    // With an outbound event endpoint configured, the stage's opening is an event of its own.
    let hooks = std::collections::BTreeMap::from([(
        "tickets".to_string(),
        attest::webhooks::WebhookEndpoint {
            url: "http://127.0.0.1:9/events".into(),
            secret_env: "ATTEST_TEST_STAGE_HOOK_SECRET".into(),
            events: vec!["campaign.stage_opened".into()],
            timeout_secs: Some(5),
        },
    )]);
    let engine = app
        .engine
        .clone()
        .with_webhooks(attest::engine::webhooks::WebhookRouting {
            subscriptions: attest::webhooks::config::subscriptions(&hooks),
            base_url: "http://attest.test".into(),
        });
    tick(&engine).await.expect("tick");
    let events = entity::webhook_delivery::Entity::find()
        .all(app.engine.store().conn())
        .await
        .expect("read the outbox of events");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (
            events[0].event_type.as_str(),
            events[0].subject_key.as_str()
        ),
        (
            "campaign.stage_opened",
            format!("campaign:{id}/stage:2").as_str()
        )
    );
    let data: Value = serde_json::from_str(&events[0].payload).expect("JSON");
    assert_eq!(
        (&data["data"]["items_entered"], &data["data"]["opened_by"]),
        (&Value::from(5), &Value::from("scheduler"))
    );
    let view = app.engine.campaign(id).await.expect("show");
    assert_eq!(view.campaign.state.as_str(), "active");
    assert_eq!((view.campaign.stage, view.campaign.stages), (2, 2));
    assert_eq!(view.campaign.due_at, Some(stage_two_due));
    let arne = app.item(items.arne_ga).await;
    assert_eq!((arne.stage, arne.verdict.as_deref()), (1, Some("revoke")));
    for item in [
        items.anna_ga,
        items.aiko,
        items.anna_prod,
        items.bea_ga,
        items.bo,
    ] {
        let i = app.item(item).await;
        assert_eq!((i.stage, i.reviewer_id, i.verdict), (2, Some(olga), None));
    }

    // Olga's mail carries a fresh link; Maria's stage-1 link no longer opens anything.
    app.drain_mail().await;
    let mails = app.smtp.messages_to("olga@org.test");
    let stage_mail = mails
        .iter()
        .find(|m| m.subject.starts_with("Access review, stage 2 of 2"))
        .unwrap_or_else(|| {
            panic!(
                "a stage mail: {:?}",
                mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
            )
        });
    assert!(
        stage_mail.text.contains("5 eligibilities wait"),
        "{}",
        stage_mail.text
    );
    let olga_link = app.latest_link("olga@org.test");
    assert_ne!(app.get(&maria).await.status, StatusCode::OK);

    // Olga sees stage 1's decisions beside each item, and must justify even a keep.
    let page = app.get(&olga_link).await;
    assert!(
        page.body.contains("stage 2 of 2") || page.body.contains("2 of 2"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Stage 1: Kept by Maria Manager (m1)"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(&format!("item-{}\"", items.arne_ga)));
    let unjustified = [
        ("csrf".to_string(), page.csrf()),
        ("action".to_string(), "save".to_string()),
        (format!("item-{}", items.aiko), "attest".to_string()),
    ];
    let refused = app.post(&olga_link, &unjustified).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert_eq!(app.item(items.aiko).await.verdict, None);
    let olga_choices = [
        (items.anna_ga, "revoke"),
        (items.aiko, "attest"),
        (items.anna_prod, "attest"),
    ];
    assert_eq!(
        decide(&app, &olga_link, &olga_choices).await,
        StatusCode::SEE_OTHER
    );

    // The stages' figures, from one place: the API and the CLI agree.
    let token = app.admin_api_token("stages-test").await;
    let (status, stages) = api(
        &app,
        &token,
        &format!("/api/v1/campaigns/{id}/stages"),
        false,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{stages}");
    assert_eq!(stages["outcome_rule"], "any_revoke");
    let one = &stages["opened"][0];
    assert_eq!(
        (
            &one["items"],
            &one["attested"],
            &one["revoked"],
            &one["unanswered"]
        ),
        (
            &Value::from(6),
            &Value::from(3),
            &Value::from(1),
            &Value::from(2)
        )
    );
    let two = &stages["opened"][1];
    assert_eq!(
        (
            &two["items"],
            &two["attested"],
            &two["revoked"],
            &two["unanswered"],
            &two["open"]
        ),
        (
            &Value::from(5),
            &Value::from(2),
            &Value::from(1),
            &Value::from(2),
            &Value::from(true)
        )
    );
    assert_eq!(two["reviewers"], "role_owner");
    let (code, stdout, stderr) =
        attest_cli(&app.db, &["campaign", "stages", &id.to_string(), "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let cli: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(cli["opened"], stages["opened"]);
    // A campaign in its last stage has no next one.
    let (status, body) = api(
        &app,
        &token,
        &format!("/api/v1/campaigns/{id}/next-stage"),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // The last deadline closes it: any revocation removes, one keep with none keeps, the
    // silent go to the policy.
    app.run_to_completion(id).await;
    let verdicts = [
        (items.anna_ga, ("revoke", "revoked", 2)),
        (items.arne_ga, ("revoke", "revoked", 1)),
        (items.aiko, ("attest", "kept", 2)),
        (items.anna_prod, ("attest", "kept", 2)),
        (items.bea_ga, ("attest", "kept", 1)),
        (items.bo, ("revoke", "removed_by_policy", 2)),
    ];
    for (item, (verdict, outcome, stage)) in verdicts {
        let (v, o, s) = settled(&app, item).await;
        assert_eq!(
            (v.as_str(), o.as_str(), s),
            (verdict, outcome, stage),
            "item {item}"
        );
    }
    for (item, status) in [
        (items.anna_ga, "removed"),
        (items.arne_ga, "removed"),
        (items.bo, "removed"),
        (items.aiko, "active"),
        (items.anna_prod, "active"),
        (items.bea_ga, "active"),
    ] {
        assert_eq!(eligibility_status(&app, item).await, status, "item {item}");
    }
    let stage_events = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("campaign.stage"))
        .order_by_asc(audit_event::Column::Id)
        .all(app.engine.store().conn())
        .await
        .expect("audit");
    assert_eq!(stage_events.len(), 1);
    assert_eq!(stage_events[0].actor, "scheduler");

    // The console shows both stages.
    let session = app
        .sign_in("admin@org.test", "a long enough password")
        .await;
    let (status, html) = app
        .console(&session, &format!("/admin/campaigns/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html.matches("data-stage-row=").count(), 2, "{html}");

    // The evidence shows every stage's decisions and which one is in force, and verifies.
    let out = app.db.dir().join("evidence");
    let out_text = out.to_str().expect("a UTF-8 path").to_string();
    let (code, _, stderr) = attest_cli(
        &app.db,
        &["evidence", "export", &id.to_string(), "--out", &out_text],
    );
    assert_eq!(code, 0, "evidence export: {stderr}");
    let (code, stdout, stderr) = attest_cli(&app.db, &["evidence", "verify", &out_text]);
    assert_eq!(code, 0, "evidence verify: {stdout}{stderr}");
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("campaign.json")).expect("campaign.json"),
    )
    .expect("JSON");
    assert_eq!(json["stages"]["outcome_rule"], "any_revoke");
    assert_eq!(
        json["stages"]["opened"],
        stages["opened"]
            .clone()
            .as_array()
            .map(|a| {
                let mut a = a.clone();
                a[1]["open"] = Value::from(false);
                Value::from(a)
            })
            .unwrap()
    );
    let decisions = csv_rows(&out.join("decisions.csv"));
    let stage_of = |row: &csv::StringRecord| row[11].to_string();
    let human_in_stage_two = decisions
        .iter()
        .filter(|r| &r[3] == "human" && stage_of(r) == "2")
        .count();
    assert_eq!(human_in_stage_two, 3);
    assert_eq!(
        decisions
            .iter()
            .filter(|r| &r[3] == "human" && stage_of(r) == "1")
            .count(),
        4
    );
    let item_rows = csv_rows(&out.join("items.csv"));
    let decided_in = |item: i64| {
        item_rows
            .iter()
            .find(|r| &r[0] == item.to_string().as_str())
            .map(|r| r[r.len() - 1].to_string())
            .expect("the item's row")
    };
    assert_eq!(decided_in(items.bea_ga), "1");
    assert_eq!(decided_in(items.anna_ga), "2");
}

fn csv_rows(path: &std::path::Path) -> Vec<csv::StringRecord> {
    let text = std::fs::read_to_string(path).expect("read csv");
    let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    reader.records().map(|r| r.expect("a row")).collect()
}

/// Stage 2 opened early by an admin (`via_cli`: the CLI, else the REST API); Olga keeps
/// Arne's (revoked in stage 1) and Bea's is left; returns the items.
async fn early_second_stage(app: &TestApp, rule: &str, via_cli: bool) -> (i64, Items) {
    let (launched, items) = launch(app, rule).await;
    let id = launched.campaign_id;
    stage_one(app, &items).await;
    if via_cli {
        let (code, stdout, stderr) =
            attest_cli(&app.db, &["campaign", "next-stage", &id.to_string()]);
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("stage 2 of 2"), "{stdout}");
        // The CLI runs on the wall clock: the app's follows it from here.
        app.clock.set(chrono::Utc::now() + Duration::minutes(1));
    } else {
        let token = app.admin_api_token("stages-test").await;
        let (status, body) = api(
            app,
            &token,
            &format!("/api/v1/campaigns/{id}/next-stage"),
            true,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["stage"], 2);
    }
    app.drain_mail().await;
    let olga_link = app.latest_link("olga@org.test");
    let mut choices = vec![(items.aiko, "attest"), (items.anna_ga, "attest")];
    if rule == "last_stage_wins" {
        choices.push((items.arne_ga, "attest"));
    }
    assert_eq!(
        decide(app, &olga_link, &choices).await,
        StatusCode::SEE_OTHER
    );
    app.run_to_completion(id).await;
    (id, items)
}

#[tokio::test]
async fn all_must_attest_leaves_an_item_one_stage_did_not_answer_to_the_policy() {
    // On the wall clock: the CLI that opens stage 2 has no other.
    let Some(app) = TestApp::spawn_at("all_must_attest", chrono::Utc::now()).await else {
        return;
    };
    let (_, items) = early_second_stage(&app, "all_must_attest", true).await;
    // Bea's was kept in stage 1 only: not every stage attested, so the policy removes it.
    for (item, expected) in [
        (items.anna_ga, ("attest", "kept", 2)),
        (items.aiko, ("attest", "kept", 2)),
        (items.arne_ga, ("revoke", "revoked", 1)),
        (items.bea_ga, ("revoke", "removed_by_policy", 2)),
        (items.anna_prod, ("revoke", "removed_by_policy", 2)),
    ] {
        let (v, o, s) = settled(&app, item).await;
        assert_eq!((v.as_str(), o.as_str(), s), expected, "item {item}");
    }
    assert_eq!(eligibility_status(&app, items.bea_ga).await, "removed");
    assert_eq!(eligibility_status(&app, items.anna_ga).await, "active");
}

#[tokio::test]
async fn the_last_stage_that_answered_wins() {
    let Some(app) = TestApp::spawn("last_stage_wins").await else {
        return;
    };
    let (id, items) = early_second_stage(&app, "last_stage_wins", false).await;
    // Arne's, revoked in stage 1, went on and Olga kept it; Bea's keeps stage 1's answer.
    for (item, expected) in [
        (items.arne_ga, ("attest", "kept", 2)),
        (items.bea_ga, ("attest", "kept", 1)),
        (items.bo, ("revoke", "removed_by_policy", 2)),
    ] {
        let (v, o, s) = settled(&app, item).await;
        assert_eq!((v.as_str(), o.as_str(), s), expected, "item {item}");
    }
    assert_eq!(eligibility_status(&app, items.arne_ga).await, "active");
    let view = app.engine.campaign(id).await.expect("show");
    let stages = view.opened_stages.expect("stages");
    assert_eq!((stages[0].revoked, stages[1].items), (1, 6));
}

#[tokio::test]
async fn a_definition_checks_its_stages() {
    let Some(app) = TestApp::spawn("a_definition_checks_its_stages").await else {
        return;
    };
    app.import_org().await;
    for (bad, key) in [
        (DEFINITION.replace("RULE", "majority"), "stage_outcome"),
        (
            DEFINITION
                .replace("RULE", "any_revoke")
                .replace("duration_days = 7", "duration_days = 2"),
            "stage 2: duration_days",
        ),
        (
            DEFINITION
                .replace("RULE", "any_revoke")
                .replace("\"role_owner\"", "\"named\""),
            "stage 2: named_reviewers",
        ),
    ] {
        let path = app.db.file("bad.toml", &bad);
        let (code, _, stderr) = attest_cli(
            &app.db,
            &["campaign", "define", path.to_str().expect("UTF-8")],
        );
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(key), "{key}: {stderr}");
    }
    let single = DEFINITION
        .replace(
            "stage_outcome = \"RULE\"\n",
            "stage_outcome = \"any_revoke\"\n",
        )
        .split("[[later_stages]]")
        .next()
        .expect("head")
        .to_string()
        + "[scope]\nrisk = [\"high\"]\n";
    let path = app.db.file("single.toml", &single);
    let (code, _, stderr) = attest_cli(
        &app.db,
        &["campaign", "define", path.to_str().expect("UTF-8")],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("applies only with [[later_stages]]"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_campaign_closed_in_its_first_stage_weighs_only_the_stage_it_ran() {
    let Some(app) = TestApp::spawn("closed_in_the_first_stage").await else {
        return;
    };
    let (launched, items) = launch(&app, "all_must_attest").await;
    let id = launched.campaign_id;
    stage_one(&app, &items).await;
    let token = app.admin_api_token("stages-test").await;
    let (status, body) = api(&app, &token, &format!("/api/v1/campaigns/{id}/close"), true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Every stage that ran (one) attested Bea's: kept; nobody answered Bo's: the policy's.
    for (item, expected) in [
        (items.bea_ga, ("attest", "kept", 1)),
        (items.arne_ga, ("revoke", "revoked", 1)),
        (items.bo, ("revoke", "removed_by_policy", 1)),
    ] {
        let (v, o, s) = settled(&app, item).await;
        assert_eq!((v.as_str(), o.as_str(), s), expected, "item {item}");
    }
    let view = app.engine.campaign(id).await.expect("show");
    assert_eq!((view.campaign.stage, view.campaign.stages), (1, 2));
}
