//! Re-runs for non-responders, end to end on the real application: an admin re-opens a
//! campaign's unanswered items through the REST API (and is refused through the CLI when the
//! request is wrong), the reviewers get fresh links by real SMTP, the earlier links stop
//! working, answers given before the re-run stay settled on the review page, the campaign does
//! not close at its old deadline but at the new one, and the evidence bundle (exported and
//! verified with the CLI) records the round. A definition's `rerun_unanswered_days` does the
//! same by itself at the deadline, once.
//!
//! Every test gets its own database (SQLite, or PostgreSQL with ATTEST_TEST_DATABASE_URL) and
//! its own SMTP server. Without aiosmtpd a test prints `SKIPPED …` locally and fails under CI.

mod common;

use attest::domain::access::Role;
use attest::scheduler::tick;
use chrono::Duration;
use common::app::{Launched, TestApp};
use common::attest_cli;
use entity::{audit_event, campaign, decision};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

/// The reviewer tests' organisation, reviewed with removal on no response: Maria (m1) reviews
/// four eligibilities, Mark (m2) two.
fn definition(extra: &str) -> String {
    format!(
        r#"
name = "reviewer-flow"
owner = "own"
schedule = "quarterly"
timezone = "Europe/Berlin"
duration_days = 14
reviewers = "manager"
on_no_response = "remove"
max_auto_remove_percent = 100
reminders_days_before = [1]
{extra}
[scope]
risk = ["high"]
"#
    )
}

const MARIA: &str = "maria@org.test";
const MARK: &str = "mark@org.test";

async fn launch(app: &TestApp, extra: &str) -> Launched {
    app.import_org().await;
    app.define_as("rerun.toml", &definition(extra)).await;
    let launched = app.launch_defined().await;
    app.drain_mail().await;
    launched
}

/// The item of `holder` in `role` at scope `/`.
async fn item_of(app: &TestApp, launched: &Launched, holder: &str, role: &str) -> i64 {
    app.items(launched.campaign_id)
        .await
        .into_iter()
        .find(|i| i.holder_external_id == holder && i.role_name == role && i.scope == "/")
        .unwrap_or_else(|| panic!("{holder} holds {role} at /"))
        .id
}

async fn campaign_row(app: &TestApp, id: i64) -> campaign::Model {
    campaign::Entity::find_by_id(id)
        .one(app.engine.store().conn())
        .await
        .expect("read campaign")
        .expect("the campaign exists")
}

async fn rerun_events(app: &TestApp) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("campaign.rerun"))
        .all(app.engine.store().conn())
        .await
        .expect("read the audit log")
}

/// Decides on the review page as a browser posts its form; returns the answer.
async fn post_choice(app: &TestApp, link: &str, item: i64, verdict: &str, why: &str) -> StatusCode {
    let page = app.get(link).await;
    assert_eq!(page.status, StatusCode::OK, "{link}:\n{}", page.body);
    let form = [
        ("csrf".to_string(), page.csrf()),
        (format!("item-{item}"), verdict.to_string()),
        (format!("why-{item}"), why.to_string()),
        ("action".to_string(), "save".to_string()),
    ];
    app.post(link, &form).await.status
}

/// An admin's API token, as `attest token create` would give one.
async fn admin_token(app: &TestApp) -> String {
    let email = "admin@org.test";
    app.engine
        .add_account(email, Role::Admin, "a long enough password 1", "test")
        .await
        .expect("add the admin");
    let admin = app
        .engine
        .account_operator(email)
        .await
        .expect("the admin operator");
    app.engine
        .create_api_token(&admin, "rerun-test", Role::Admin)
        .await
        .expect("an API token")
}

async fn api_rerun(app: &TestApp, token: &str, id: i64, body: Value) -> (StatusCode, Value) {
    let answer = app
        .http
        .post(app.url(&format!("/api/v1/campaigns/{id}/rerun")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("POST rerun");
    let status = answer.status();
    (status, answer.json().await.unwrap_or(Value::Null))
}

/// The review links `email` received in mails whose subject starts with `subject`.
fn links_in_mails(app: &TestApp, email: &str, subject: &str) -> Vec<String> {
    app.smtp
        .messages_to(email)
        .iter()
        .filter(|m| m.subject.starts_with(subject))
        .map(|m| m.review_link(&app.base_url))
        .collect()
}

/// Exports the campaign's evidence with the CLI, verifies it with the CLI, and returns its
/// campaign.json and report.html.
fn exported_evidence(app: &TestApp, id: i64, name: &str) -> (Value, String) {
    let out = app.db.dir().join(name);
    let out_text = out.to_str().expect("a UTF-8 path").to_string();
    let (code, _, stderr) = attest_cli(
        &app.db,
        &["evidence", "export", &id.to_string(), "--out", &out_text],
    );
    assert_eq!(code, 0, "evidence export: {stderr}");
    let (code, stdout, stderr) = attest_cli(&app.db, &["evidence", "verify", &out_text]);
    assert_eq!(code, 0, "evidence verify: {stdout}{stderr}");
    let json = std::fs::read_to_string(out.join("campaign.json")).expect("campaign.json");
    let report = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    (
        serde_json::from_str(&json).expect("campaign.json is JSON"),
        report,
    )
}

#[tokio::test]
async fn an_admin_re_runs_the_unanswered_items_with_fresh_links_and_the_old_deadline_passes_by() {
    let Some(app) = TestApp::spawn("an_admin_re_runs_the_unanswered_items").await else {
        return;
    };
    let launched = launch(&app, "").await;
    let id = launched.campaign_id;
    let first_due = launched.due_at;
    let maria_first = app.link_for(MARIA);
    let mark_first = app.link_for(MARK);
    let anna_ga = item_of(&app, &launched, "a1", "Global Administrator").await;
    let arne_ga = item_of(&app, &launched, "a2", "Global Administrator").await;
    // Maria answers one item in the first round; nobody answers anything else.
    assert_eq!(
        post_choice(&app, &maria_first, anna_ga, "attest", "").await,
        StatusCode::SEE_OTHER
    );
    let token = admin_token(&app).await;

    // Wrong requests are refused with the field named, and change nothing.
    let (status, body) = api_rerun(&app, &token, id, serde_json::json!({ "days": 0 })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "days", "{body}");
    let (code, _, stderr) = attest_cli(
        &app.db,
        &["campaign", "rerun", &id.to_string(), "--days", "91"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("between 1 and 90"), "{stderr}");
    let (status, body) = api_rerun(&app, &token, 9999, serde_json::json!({ "days": 7 })).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let unchanged = campaign_row(&app, id).await;
    assert_eq!((unchanged.round, unchanged.due_at), (1, Some(first_due)));
    assert!(rerun_events(&app).await.is_empty());

    // The day before the deadline, the admin re-runs for a week.
    app.clock.advance(Duration::days(13));
    let rerun_at = app.engine.now();
    let (status, body) = api_rerun(&app, &token, id, serde_json::json!({ "days": 7 })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["round"], 2, "{body}");
    assert_eq!(body["items_reopened"], 5, "{body}");
    assert_eq!(body["reviewers_reopened"], 2, "{body}");
    assert_eq!(body["mails_queued"], 2, "{body}");
    let new_due = rerun_at + Duration::days(7);
    let row = campaign_row(&app, id).await;
    assert_eq!((row.round, row.due_at), (2, Some(new_due)));
    assert_eq!(rerun_events(&app).await.len(), 1);
    // The same request again would not extend anything: refused, nothing changed.
    let (status, body) = api_rerun(&app, &token, id, serde_json::json!({ "days": 7 })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(campaign_row(&app, id).await.round, 2);

    // Fresh links by mail; the earlier ones are withdrawn.
    app.drain_mail().await;
    let maria_new = links_in_mails(&app, MARIA, "Access review re-opened");
    let mark_new = links_in_mails(&app, MARK, "Access review re-opened");
    assert_eq!((maria_new.len(), mark_new.len()), (1, 1));
    let (maria_new, mark_new) = (&maria_new[0], &mark_new[0]);
    assert_ne!(maria_new, &maria_first);
    for old in [&maria_first, &mark_first] {
        let page = app.get(old).await;
        assert_eq!(page.status, StatusCode::GONE, "{}", page.body);
        assert!(page.says("This link was withdrawn"), "{}", page.body);
    }

    assert_eq!(app.get(mark_new).await.status, StatusCode::OK);

    // Maria's earlier answer is shown as settled, without a choice; the rest are open.
    let page = app.get(maria_new).await;
    assert!(page.says("re-opened (round 2)"), "{}", page.body);
    assert!(
        page.says(&format!("data-settled=\"{anna_ga}\"")),
        "{}",
        page.body
    );
    assert!(!page.offers(anna_ga), "a settled item offers no choice");
    assert!(page.offers(arne_ga));
    // A forged change to the settled item is refused and changes nothing.
    post_choice(&app, maria_new, anna_ga, "revoke", "changed my mind").await;
    assert_eq!(app.item(anna_ga).await.verdict.as_deref(), Some("attest"));
    assert_eq!(
        post_choice(&app, maria_new, arne_ga, "attest", "").await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.item(arne_ga).await.verdict.as_deref(), Some("attest"));

    let (code, stdout, stderr) = attest_cli(&app.db, &["campaign", "show", &id.to_string()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("re-run (round 2)"), "{stdout}");
    assert!(stdout.contains("5 unanswered items"), "{stdout}");

    // The old deadline passes: nothing closes.
    app.clock.set(first_due + Duration::hours(1));
    tick(&app.engine).await.expect("tick");
    assert_eq!(campaign_row(&app, id).await.state, "active");
    // The new one closes it, and the policy settles what is still unanswered, saying so.
    app.clock.set(new_due + Duration::minutes(1));
    tick(&app.engine).await.expect("tick");
    assert_ne!(campaign_row(&app, id).await.state, "active");
    let items = app.items(id).await;
    let removed: Vec<i64> = items
        .iter()
        .filter(|i| i.outcome.as_deref() == Some("removed_by_policy"))
        .map(|i| i.id)
        .collect();
    assert_eq!(removed.len(), 4, "{items:?}");
    let why = decision::Entity::find()
        .filter(decision::Column::ItemId.eq(removed[0]))
        .one(app.engine.store().conn())
        .await
        .expect("read decisions")
        .and_then(|d| d.justification)
        .unwrap_or_default();
    assert!(why.contains("re-run round 2"), "{why}");

    // The evidence records the re-run.
    let (json, report) = exported_evidence(&app, id, "evidence-admin");
    assert_eq!(json["campaign"]["round"], 2, "{json}");
    let reruns = json["reruns"].as_array().expect("reruns listed");
    assert_eq!(reruns.len(), 1, "{json}");
    assert_eq!(reruns[0]["round"], 2);
    assert_eq!(reruns[0]["items_reopened"], 5);
    assert_eq!(reruns[0]["days"], 7);
    assert_ne!(reruns[0]["started_by"], "scheduler");
    assert!(report.contains("Re-runs for non-responders"), "{report}");
}

#[tokio::test]
async fn a_definition_re_runs_its_non_responders_once_at_the_deadline() {
    let Some(app) = TestApp::spawn("a_definition_re_runs_its_non_responders").await else {
        return;
    };
    let launched = launch(&app, "rerun_unanswered_days = 3").await;
    let id = launched.campaign_id;
    // Maria answers everything; Mark nothing.
    let maria = app.link_for(MARIA);
    for item in &launched.items_by_reviewer[&app.principal("m1").await.id] {
        assert_eq!(
            post_choice(&app, &maria, *item, "attest", "").await,
            StatusCode::SEE_OTHER
        );
    }
    app.clock.set(launched.due_at + Duration::minutes(1));
    let deadline_tick = app.engine.now();
    tick(&app.engine).await.expect("tick at the deadline");
    let row = campaign_row(&app, id).await;
    assert_eq!(row.state, "active", "re-run instead of closed");
    assert_eq!(row.round, 2);
    assert_eq!(row.due_at, Some(deadline_tick + Duration::days(3)));
    app.drain_mail().await;
    assert_eq!(
        links_in_mails(&app, MARK, "Access review re-opened").len(),
        1
    );
    assert!(links_in_mails(&app, MARIA, "Access review re-opened").is_empty());

    // The re-run has its own reminder, the day before its deadline.
    app.clock
        .set(deadline_tick + Duration::days(2) + Duration::minutes(5));
    tick(&app.engine)
        .await
        .expect("tick before the new deadline");
    app.drain_mail().await;
    assert_eq!(links_in_mails(&app, MARK, "Reminder").len(), 1);

    // Its deadline closes the campaign: a definition re-runs once.
    app.clock
        .set(deadline_tick + Duration::days(3) + Duration::minutes(1));
    tick(&app.engine).await.expect("tick at the new deadline");
    let row = campaign_row(&app, id).await;
    assert_ne!(row.state, "active");
    assert_eq!(row.round, 2);
    assert_eq!(rerun_events(&app).await.len(), 1);
    let (json, _) = exported_evidence(&app, id, "evidence-scheduler");
    assert_eq!(json["reruns"][0]["started_by"], "scheduler", "{json}");
    assert_eq!(json["reruns"][0]["items_reopened"], 2, "{json}");
    assert_eq!(json["definition"]["rerun_unanswered_days"], 3, "{json}");
}

#[tokio::test]
async fn a_definition_s_re_run_days_are_checked() {
    let Some(app) = TestApp::spawn("a_definition_s_re_run_days_are_checked").await else {
        return;
    };
    app.import_org().await;
    let file = app
        .db
        .file("bad-rerun.toml", &definition("rerun_unanswered_days = 0"));
    let (code, _, stderr) = attest_cli(
        &app.db,
        &["campaign", "define", file.to_str().expect("a UTF-8 path")],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("rerun_unanswered_days"), "{stderr}");
    assert!(stderr.contains("between 1 and 90"), "{stderr}");
}
