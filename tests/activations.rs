//! The weekly activation review end to end, on SQLite or PostgreSQL (as the run selects):
//! people in several time zones with a break-glass account, roles with owners, eligibility, a
//! campaign reviewed and completed on the manual clock, and an activations file imported
//! through the CLI. Then what `attest report activations`, the REST API and the console show
//! for 2026-W47, that a re-import changes nothing, that a bad week and a bad activations file
//! are refused with a clear error and change nothing, and that two scheduler ticks after the
//! week mail each role owner exactly once.

mod common;
use attest::domain::access::Role;
use attest::engine::NoProgress;
use attest::scheduler::tick;
use common::app::TestApp;
use common::{at, attest_cli};
use entity::{audit_event, campaign};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

const PEOPLE: &str = "\
id,name,email,manager_id,kind,enabled,timezone
own1,Olivia Owner,olivia@org.test,,user,true,Europe/Berlin
own2,Otto Owner,otto@org.test,,user,true,Europe/Berlin
bg1,Break Glass One,,own1,break_glass,true,
u1,Ana Berlin,ana@org.test,own1,user,true,Europe/Berlin
u2,Ben NewYork,ben@org.test,own1,user,true,America/New_York
u3,Chen Tokyo,chen@org.test,own1,user,true,Asia/Tokyo
u4,Dana Utc,dana@org.test,own1,user,true,
u5,Eve Rarely,eve@org.test,own2,user,true,Europe/Berlin
";

const ROLES: &str = "\
name,owner_id,risk,description
Global Administrator,own1,high,Everything
Exchange Administrator,own2,medium,Mail
";

const ELIGIBILITY: &str = "\
principal_id,role,scope,start,end,last_activated_at
bg1,Global Administrator,/,2025-01-10,,
u1,Global Administrator,/,2025-01-10,,
u2,Global Administrator,/,2025-01-10,,2026-09-15
u3,Global Administrator,/,2025-01-10,,2026-11-20T09:00:00Z
u4,Global Administrator,/,2025-01-10,,
u1,Exchange Administrator,/,2025-01-10,,
u5,Exchange Administrator,/,2025-01-10,,2026-09-01
";

/// Week 47 of 2026 is 16–22 November. Chen's Saturday activation is in week 46; Dana's of 13
/// October is before the five weeks the frequency rule counts (19 October on).
const ACTIVATIONS: &str = "\
principal_id,role,scope,activated_at,ended_at,justification
u4,Global Administrator,/,2026-10-13T10:00:00Z,,
u4,Global Administrator,/,2026-10-20T10:00:00Z,,
u4,Global Administrator,/,2026-10-27T10:00:00Z,,
u4,Global Administrator,/,2026-11-03T10:00:00Z,,
u4,Global Administrator,/,2026-11-10T10:00:00Z,,
u4,Global Administrator,/,2026-11-17T10:00:00Z,2026-11-17T11:00:00Z,ticket 4711
u4,Global Administrator,/,2026-11-18T10:00:00Z,,
u1,Exchange Administrator,/,2026-11-04T09:00:00Z,,
u3,Global Administrator,/,2026-11-14T11:00:00Z,,weekend fix
u2,Global Administrator,/,2026-11-17T14:00:00Z,,
u3,Global Administrator,/,2026-11-18T12:00:00Z,,
u1,Global Administrator,/,2026-11-19T07:30:00Z,,
bg1,Global Administrator,/,2026-11-21T03:00:00Z,2026-11-21T04:00:00Z,outage INC-9
";

const DEFINITION: &str = r#"
name = "privileged-quarterly"
description = "Quarterly review of privileged roles"
owner = "own1"
schedule = "quarterly"
timezone = "Europe/Berlin"
duration_days = 14
reviewers = "role_owner"
fallback_reviewer = "own1"
on_no_response = "keep"

[scope]
risk = ["high", "medium"]
"#;

const PASSWORD: &str = "correct horse battery staple";

fn cli(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    attest_cli(&app.db, args)
}

fn cli_ok(app: &TestApp, args: &[&str]) -> String {
    let (code, out, err) = cli(app, args);
    assert_eq!(code, 0, "attest {args:?}: {out}{err}");
    out
}

fn report_json(app: &TestApp) -> Value {
    let out = cli_ok(
        app,
        &["report", "activations", "--week", "2026-W47", "--json"],
    );
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("report JSON: {e}\n{out}"))
}

/// `(holder, role)` of each finding in a list of the report.
fn who(report: &Value, list: &str) -> Vec<(String, String)> {
    report[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} is a list: {report}"))
        .iter()
        .map(|f| {
            (
                f["holder"].as_str().unwrap_or_default().to_string(),
                f["role"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn pair(holder: &str, role: &str) -> (String, String) {
    (holder.to_string(), role.to_string())
}

fn last_activated(app: &TestApp, principal: &str, role: &str) -> Option<String> {
    let out = cli_ok(
        app,
        &["eligibility", "list", "--principal", principal, "--json"],
    );
    let rows: Value = serde_json::from_str(&out).expect("eligibility JSON");
    let row = rows
        .as_array()
        .expect("a list")
        .iter()
        .find(|r| r["role"] == role)
        .unwrap_or_else(|| panic!("{principal} holds {role}: {out}"))
        .clone();
    row["last_activated_at"].as_str().map(str::to_string)
}

/// Imports the organisation, then reviews it in a campaign launched on 1 October 2026 and
/// completed the next day.
async fn organisation_reviewed(app: &TestApp) -> i64 {
    for (kind, name, content) in [
        ("people", "people.csv", PEOPLE),
        ("roles", "roles.csv", ROLES),
        ("eligibility", "eligibility.csv", ELIGIBILITY),
    ] {
        let path = app.db.file(name, content);
        cli_ok(app, &["import", kind, path.to_str().expect("UTF-8 path")]);
    }
    app.define_as("privileged.toml", DEFINITION).await;
    app.clock.set(at("2026-10-01T08:00:00Z"));
    let launched = app
        .engine
        .launch("privileged-quarterly", false, "test", &NoProgress)
        .await
        .expect("launch");
    app.clock.set(at("2026-10-02T08:00:00Z"));
    app.engine.close(launched.id, "test").await.expect("close");
    for _ in 0..3 {
        tick(&app.engine).await.expect("tick");
    }
    let row = campaign::Entity::find_by_id(launched.id)
        .one(app.engine.store().conn())
        .await
        .expect("read campaign")
        .expect("the campaign exists");
    assert_eq!(row.state, "completed", "the campaign completed");
    launched.id
}

async fn queued_events(app: &TestApp) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("report.activations.queued"))
        .all(app.engine.store().conn())
        .await
        .expect("read the audit log")
}

async fn api_get(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let answer = app
        .http
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("API request");
    let status = answer.status();
    (status, answer.json().await.expect("a JSON answer"))
}

/// Signs in as `email` and returns the session cookie.
async fn sign_in(app: &TestApp, email: &str) -> String {
    app.sign_in(email, PASSWORD).await
}

async fn console(app: &TestApp, session: &str, path: &str) -> (StatusCode, String) {
    app.console(session, path).await
}

#[tokio::test]
async fn the_weekly_activation_review_end_to_end() {
    let Some(app) = TestApp::spawn_at("activations", at("2026-09-30T08:00:00Z")).await else {
        return;
    };
    let campaign_id = organisation_reviewed(&app).await;
    app.drain_mail().await;
    let mails_before = app.smtp.messages().len();

    // The import: every row new, and the eligibility's last activation moved forward where
    // the file knows a later one (not Chen's: the eligibility file already had a later one).
    let file = app.db.file("activations.csv", ACTIVATIONS);
    let file = file.to_str().expect("UTF-8 path");
    let out = cli_ok(&app, &["import", "activations", file, "--json"]);
    let first: Value = serde_json::from_str(&out).expect("import JSON");
    assert_eq!(
        (&first["rows"], &first["inserted"], &first["unchanged"]),
        (&Value::from(13), &Value::from(13), &Value::from(0)),
        "{out}"
    );
    assert_eq!(first["last_activation_advanced"], 5, "{out}");
    assert_eq!(
        last_activated(&app, "u4", "Global Administrator").as_deref(),
        Some("2026-11-18T10:00:00Z")
    );
    assert_eq!(
        last_activated(&app, "u3", "Global Administrator").as_deref(),
        Some("2026-11-20T09:00:00Z")
    );

    // The report, as the CLI prints it for scripts.
    let report = report_json(&app);
    assert_eq!(report["week"], "2026-W47");
    assert_eq!(report["from"], "2026-11-16T00:00:00Z");
    assert_eq!(report["activations"], 6, "{report}");
    assert_eq!(
        who(&report, "break_glass"),
        vec![pair("bg1", "Global Administrator")]
    );
    assert_eq!(report["break_glass"][0]["justification"], "outage INC-9");
    // Chen at 21:00 in Tokyo and the break-glass account on a Saturday night; Ana at 08:30 in
    // Berlin (07:30 UTC) and Ben at 09:00 in New York (14:00 UTC) were at work.
    assert_eq!(
        who(&report, "after_hours"),
        vec![
            pair("u3", "Global Administrator"),
            pair("bg1", "Global Administrator")
        ]
    );
    assert_eq!(report["after_hours"][0]["local_time"], "Wed 21:00");
    assert_eq!(report["after_hours"][0]["timezone"], "Asia/Tokyo");
    assert_eq!(report["after_hours"][1]["timezone"], "UTC");
    // Dana: 6 activations in five weeks (the 13 October one is before them) against a median
    // of 1 over the role's five holders.
    assert_eq!(
        who(&report, "frequency"),
        vec![pair("u4", "Global Administrator")]
    );
    let dana = &report["frequency"][0];
    assert_eq!(
        (&dana["activations"], &dana["role_median"], &dana["holders"]),
        (&Value::from(6), &Value::from(1.0), &Value::from(5))
    );
    assert_eq!(dana["frequency"], "far_more");
    // Eve was reviewed in the October campaign and last activated in September.
    assert_eq!(
        who(&report, "not_activated_since_review"),
        vec![pair("u5", "Exchange Administrator")]
    );
    let eve = &report["not_activated_since_review"][0];
    assert_eq!(eve["last_activated_at"], "2026-09-01T00:00:00Z");
    assert_eq!(eve["reviewed_in_campaign"], campaign_id);

    // The same for people.
    let text = cli_ok(&app, &["report", "activations", "--week", "2026-W47"]);
    assert!(
        text.contains("activation review 2026-W47: 6 activations"),
        "{text}"
    );
    assert!(
        text.contains("Dana Utc (u4) Global Administrator: 6 activations"),
        "{text}"
    );

    // Importing the same file again changes nothing.
    let out = cli_ok(&app, &["import", "activations", file, "--json"]);
    let again: Value = serde_json::from_str(&out).expect("import JSON");
    assert_eq!(
        (
            &again["inserted"],
            &again["unchanged"],
            &again["last_activation_advanced"]
        ),
        (&Value::from(0), &Value::from(13), &Value::from(0)),
        "{out}"
    );
    assert_eq!(report_json(&app), report);

    // A bad week is refused, naming the form it must have.
    let (code, out, err) = cli(&app, &["report", "activations", "--week", "2026-47"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("week \"2026-47\" is not an ISO week like 2026-W47 (YYYY-Www)"),
        "{err}"
    );
    let (code, _, err) = cli(&app, &["report", "activations", "--week", "2027-W53"]);
    assert_eq!(code, 2);
    assert!(err.contains("2027 has no week 53"), "{err}");

    // A bad activations file changes nothing: its good row (Eve's activation, which would
    // clear her finding) is not recorded either.
    let bad = app.db.file(
        "bad-activations.csv",
        "principal_id,role,scope,activated_at\n\
         u5,Exchange Administrator,/,2026-11-20T10:00:00Z\n\
         ghost,Exchange Administrator,/,2026-11-20T10:00:00Z\n\
         u5,Exchange Administrator,/,last tuesday\n",
    );
    let (code, out, err) = cli(
        &app,
        &["import", "activations", bad.to_str().expect("UTF-8 path")],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("bad-activations.csv:3: principal_id: unknown person \"ghost\""),
        "{err}"
    );
    assert!(
        err.contains("bad-activations.csv:4: activated_at:"),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");
    assert_eq!(report_json(&app), report);
    assert_eq!(
        last_activated(&app, "u5", "Exchange Administrator").as_deref(),
        Some("2026-09-01T00:00:00Z")
    );

    // The REST API answers from the same function: the same report, and the same refusal.
    // The server's clock is still in October, when week 47 had not begun.
    app.engine
        .add_account("auditor@org.test", Role::Auditor, PASSWORD, "test")
        .await
        .expect("add the auditor");
    app.engine
        .add_account("admin@org.test", Role::Admin, PASSWORD, "test")
        .await
        .expect("add the admin");
    let operator = app
        .engine
        .account_operator("admin@org.test")
        .await
        .expect("the admin");
    let token = app
        .engine
        .create_api_token(&operator, "reports", Role::Auditor)
        .await
        .expect("a token");
    let (status, body) = api_get(&app, &token, "/api/v1/reports/activations?week=2026-W47").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["error"]["message"],
        "week 2026-W47 has not started yet"
    );
    app.clock.set(at("2026-11-25T09:00:00Z"));
    let (status, body) = api_get(&app, &token, "/api/v1/reports/activations?week=2026-W47").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, report);
    let (status, body) = api_get(&app, &token, "/api/v1/reports/activations?week=2026-W99").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "week", "{body}");

    // Once week 47 is over, two ticks (a restart, a second instance) mail each owner once.
    let first = tick(&app.engine).await.expect("tick");
    assert_eq!(first.activation_review, Some(("2026-W47".to_string(), 2)));
    let second = tick(&app.engine).await.expect("tick");
    assert_eq!(second.activation_review, None);
    app.drain_mail().await;
    tick(&app.engine).await.expect("tick");
    app.drain_mail().await;
    let mails = app.smtp.messages();
    let reviews: Vec<_> = mails[mails_before..]
        .iter()
        .filter(|m| m.subject.starts_with("Activation review 2026-W47"))
        .collect();
    assert_eq!(reviews.len(), 2, "one mail per owner: {reviews:#?}");
    assert_eq!(mails.len() - mails_before, 2, "no other mail");
    let olivia = app.smtp.messages_to("olivia@org.test");
    let olivia: Vec<_> = olivia
        .iter()
        .filter(|m| m.subject.starts_with("Activation review"))
        .collect();
    assert_eq!(olivia.len(), 1);
    assert_eq!(
        olivia[0].subject,
        "Activation review 2026-W47: 4 findings in the roles you own"
    );
    for expected in [
        "Break-glass activation: Break Glass One (bg1) activated Global Administrator",
        "Outside working hours: Chen Tokyo (u3)",
        "Unusual frequency: Dana Utc (u4) activated Global Administrator 6 times",
        "/audit/activations?week=2026-W47",
    ] {
        assert!(olivia[0].text.contains(expected), "{}", olivia[0].text);
    }
    assert!(!olivia[0].text.contains("Eve Rarely"));
    let otto = app.smtp.messages_to("otto@org.test");
    let otto: Vec<_> = otto
        .iter()
        .filter(|m| m.subject.starts_with("Activation review"))
        .collect();
    assert_eq!(otto.len(), 1);
    assert!(
        otto[0]
            .text
            .contains("Not activated since the last review: Eve Rarely (u5) holds Exchange Administrator at /: last activated 2026-09-01"),
        "{}",
        otto[0].text
    );
    assert!(otto[0].html.contains("Eve Rarely"));
    let events = queued_events(&app).await;
    assert_eq!(events.len(), 1, "audited once");
    assert_eq!(events[0].target.as_deref(), Some("2026-W47"));
    let details: Value = serde_json::from_str(&events[0].details).expect("details");
    assert_eq!(
        (
            &details["mails"],
            &details["frequency"],
            &details["break_glass"]
        ),
        (&Value::from(2), &Value::from(1), &Value::from(1))
    );

    // The console shows the last complete week by default, with its findings.
    let session = sign_in(&app, "auditor@org.test").await;
    let (status, page) = console(&app, &session, "/audit/activations").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Activation review 2026-W47"), "{page}");
    assert!(page.contains(r#"value="2026-W47""#), "{page}");
    assert!(
        page.contains("Dana Utc") && page.contains("Eve Rarely"),
        "{page}"
    );
    assert!(
        page.contains(r#"href="/audit/activations""#),
        "the navigation links it"
    );
    let (status, page) = console(&app, &session, "/audit/activations?week=2026-W46").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Activation review 2026-W46"));
    assert!(
        page.contains("weekend fix"),
        "Chen's Saturday activation: {page}"
    );
    let (status, page) = console(&app, &session, "/audit/activations?week=soon").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("not an ISO week"), "{page}");
}
