//! Challenge periods (issue 17, SailPoint's "challenge"), end to end on the real application:
//! a definition with `challenge_days = 7` closes with two revocations by a reviewer, one by a
//! reviewer that nobody contests and one by the policy; every holder gets a mail by real SMTP
//! with a personal link (a GET changes nothing, a forged or oversized POST is refused); holders
//! give reasons; the reviewer keeps one after all through their own link, an admin upholds
//! another through the REST API, one reason goes unanswered; nothing is removed before the
//! period ends except the upheld one; the kept eligibility stays in the built-in source; the
//! figures, the audit log and the evidence bundle (exported and verified with the CLI) agree.
//!
//! Every test gets its own database (SQLite, or PostgreSQL with ATTEST_TEST_DATABASE_URL) and
//! its own SMTP server. Without aiosmtpd a test prints `SKIPPED …` locally and fails under CI.

mod common;

use attest::scheduler::tick;
use chrono::Duration;
use common::app::{field_value, set_cookie, Launched, TestApp};
use common::attest_cli;
use entity::{audit_event, challenge, decision, eligibility, remediation};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;

/// The reviewer tests' organisation: Maria (m1) reviews a1, a2, a3 and a1's second role; Mark
/// (m2) reviews b1 and b2. Unanswered items are removed; the challenge period is seven days.
const DEFINITION: &str = r#"
name = "reviewer-flow"
owner = "own"
schedule = "quarterly"
timezone = "Europe/Berlin"
duration_days = 14
reviewers = "manager"
on_no_response = "remove"
max_auto_remove_percent = 100
challenge_days = 7

[scope]
risk = ["high"]
"#;

async fn launch(app: &TestApp) -> Launched {
    app.import_org().await;
    app.define_as("challenge.toml", DEFINITION).await;
    let launched = app.launch_defined().await;
    app.drain_mail().await;
    launched
}

async fn item_of(app: &TestApp, launched: &Launched, holder: &str, role: &str, scope: &str) -> i64 {
    app.items(launched.campaign_id)
        .await
        .into_iter()
        .find(|i| i.holder_external_id == holder && i.role_name == role && i.scope == scope)
        .unwrap_or_else(|| panic!("{holder} holds {role} at {scope}"))
        .id
}

/// Decides one item on the review page as a browser posts its form.
async fn decide(app: &TestApp, link: &str, item: i64, verdict: &str) {
    let page = app.get(link).await;
    assert_eq!(page.status, StatusCode::OK, "{link}:\n{}", page.body);
    let form = [
        ("csrf".to_string(), page.csrf()),
        (format!("item-{item}"), verdict.to_string()),
        (
            format!("why-{item}"),
            format!("{verdict} in the challenge test"),
        ),
        ("action".to_string(), "save".to_string()),
    ];
    assert_eq!(app.post(link, &form).await.status, StatusCode::SEE_OTHER);
}

/// The challenge link in the latest mail to `email` whose subject starts with `subject`.
fn challenge_link(app: &TestApp, email: &str, subject: &str) -> String {
    let prefix = format!("{}/c/", app.base_url);
    let mails = app.smtp.messages_to(email);
    let mail = mails
        .iter()
        .rev()
        .find(|m| m.subject.starts_with(subject))
        .unwrap_or_else(|| panic!("{email} received a mail \"{subject}…\""));
    let links: Vec<String> = mail
        .links()
        .into_iter()
        .filter(|l| l.starts_with(&prefix))
        .collect();
    assert_eq!(links.len(), 1, "one challenge link in:\n{}", mail.text);
    links[0].clone()
}

async fn challenge_of(app: &TestApp, item: i64) -> challenge::Model {
    challenge::Entity::find()
        .filter(challenge::Column::ItemId.eq(item))
        .one(app.engine.store().conn())
        .await
        .expect("read challenges")
        .unwrap_or_else(|| panic!("item {item} has a challenge"))
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

async fn give_reason(app: &TestApp, link: &str, reason: &str) -> StatusCode {
    let page = app.get(link).await;
    assert_eq!(page.status, StatusCode::OK, "{link}:\n{}", page.body);
    let form = [
        ("csrf", page.csrf()),
        ("action", "reason".to_string()),
        ("reason", reason.to_string()),
    ];
    app.post(link, &form).await.status
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

/// The campaign's console page, read by the admin account `admin_api_token` created.
async fn console_page(app: &TestApp, id: i64) -> String {
    let login = app
        .http
        .get(app.url("/login"))
        .send()
        .await
        .expect("GET /login");
    let cookie = set_cookie(&login, "attest_login").expect("the login cookie");
    let csrf = field_value(&login.text().await.expect("body"), "csrf").expect("csrf");
    let signed_in = app
        .http
        .post(app.url("/login"))
        .header(reqwest::header::COOKIE, format!("attest_login={cookie}"))
        .form(&[
            ("email", "admin@org.test"),
            ("password", "a long enough password"),
            ("csrf", csrf.as_str()),
            ("next", ""),
        ])
        .send()
        .await
        .expect("POST /login");
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let session = set_cookie(&signed_in, "attest_session").expect("a session");
    let page = app
        .http
        .get(app.url(&format!("/audit/campaigns/{id}")))
        .header(reqwest::header::COOKIE, format!("attest_session={session}"))
        .send()
        .await
        .expect("GET the campaign page");
    assert_eq!(page.status(), StatusCode::OK);
    page.text().await.expect("body")
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.starts_with("challenge."))
        .order_by_asc(audit_event::Column::Id)
        .all(app.engine.store().conn())
        .await
        .expect("read the audit log")
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[tokio::test]
async fn holders_challenge_revocations_and_reviewers_keep_or_uphold_them_before_removal() {
    let Some(app) = TestApp::spawn("holders_challenge_revocations").await else {
        return;
    };
    let launched = launch(&app).await;
    let id = launched.campaign_id;
    let anna_ga = item_of(&app, &launched, "a1", "Global Administrator", "/").await;
    let arne_ga = item_of(&app, &launched, "a2", "Global Administrator", "/").await;
    let aiko = item_of(&app, &launched, "a3", "Privileged Role Administrator", "/").await;
    let anna_prod = item_of(
        &app,
        &launched,
        "a1",
        "Privileged Role Administrator",
        "/subscriptions/prod",
    )
    .await;
    let bea_ga = item_of(&app, &launched, "b1", "Global Administrator", "/").await;
    let bo = item_of(&app, &launched, "b2", "Privileged Role Administrator", "/").await;
    let maria = app.link_for("maria@org.test");
    let mark = app.link_for("mark@org.test");
    decide(&app, &maria, anna_ga, "revoke").await;
    decide(&app, &maria, arne_ga, "revoke").await;
    decide(&app, &maria, aiko, "attest").await;
    decide(&app, &maria, anna_prod, "attest").await;
    decide(&app, &mark, bea_ga, "revoke").await;
    // Bo's item is left unanswered: the policy revokes it at close.

    // The deadline closes the campaign; nothing is removed, not even a minute later.
    let due = launched.due_at;
    let ends = due + Duration::days(7);
    for when in [due, due + Duration::minutes(1)] {
        app.clock.set(when);
        tick(&app.engine).await.expect("tick");
    }
    for item in [anna_ga, arne_ga, bea_ga, bo] {
        assert_eq!(
            eligibility_status(&app, item).await,
            "active",
            "item {item}"
        );
        let c = challenge_of(&app, item).await;
        assert_eq!((c.state.as_str(), c.closes_at), ("open", ends));
    }
    let status = app.engine.campaign(id).await.expect("show").summary.status;
    assert!(
        status.contains("4 revocations are in the challenge period"),
        "{status}"
    );
    assert_eq!(challenge_of(&app, bo).await.revoked_by, "policy");
    assert_eq!(challenge_of(&app, anna_ga).await.revoked_by, "human");
    let held = remediation::Entity::find()
        .filter(remediation::Column::CampaignId.eq(id))
        .all(app.engine.store().conn())
        .await
        .expect("read removals");
    assert_eq!(held.len(), 4);
    assert!(held
        .iter()
        .all(|r| r.next_attempt_at == ends && r.attempts == 0));
    assert!(
        challenge::Entity::find()
            .filter(challenge::Column::ItemId.is_in([aiko, anna_prod]))
            .all(app.engine.store().conn())
            .await
            .expect("read")
            .is_empty(),
        "kept items are not challenged"
    );

    // Every holder gets one mail with a personal link; sending again doubles nothing.
    app.drain_mail().await;
    app.drain_mail().await;
    let subject = "Your access";
    for email in [
        "anna@org.test",
        "arne@org.test",
        "bea@org.test",
        "bo@org.test",
    ] {
        let mails: Vec<_> = app
            .smtp
            .messages_to(email)
            .into_iter()
            .filter(|m| m.subject.starts_with(subject))
            .collect();
        assert_eq!(
            mails.len(),
            1,
            "{email}: {:?}",
            mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
        );
    }
    let anna_link = challenge_link(&app, "anna@org.test", subject);
    let bea_link = challenge_link(&app, "bea@org.test", subject);
    let bo_link = challenge_link(&app, "bo@org.test", subject);
    let anna_mail = app.smtp.messages_to("anna@org.test");
    assert!(anna_mail
        .iter()
        .any(|m| m.text.contains("Global Administrator at /")));

    // A scanner's GET changes nothing; a forged POST and an oversized reason are refused.
    let scanned = app.follower.get(&anna_link).send().await.expect("GET");
    assert_eq!(scanned.status(), StatusCode::OK);
    assert_eq!(challenge_of(&app, anna_ga).await.state, "open");
    let forged = app
        .post(
            &anna_link,
            &[("action", "reason"), ("reason", "let me keep it")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        give_reason(&app, &anna_link, &"x".repeat(2001)).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(challenge_of(&app, anna_ga).await.state, "open");
    let invalid = app.get("/c/not-a-token").await;
    assert_eq!(invalid.status, StatusCode::NOT_FOUND);

    // Anna, Bea and Bo give reasons, once each.
    let anna_reason = "I run the payroll break-fix rota";
    let csrf = app.get(&anna_link).await.csrf();
    assert_eq!(
        give_reason(&app, &anna_link, anna_reason).await,
        StatusCode::SEE_OTHER
    );
    let again = [
        ("csrf", csrf.as_str()),
        ("action", "reason"),
        ("reason", "again"),
    ];
    assert_eq!(
        app.post(&anna_link, &again).await.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a reason is given once"
    );
    assert_eq!(
        give_reason(&app, &bea_link, "Needed for the audit").await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        give_reason(&app, &bo_link, "On call this quarter").await,
        StatusCode::SEE_OTHER
    );
    let anna_c = challenge_of(&app, anna_ga).await;
    assert_eq!(
        (anna_c.state.as_str(), anna_c.reason.as_deref()),
        ("submitted", Some(anna_reason))
    );

    // Maria is mailed the reason and keeps Anna's access after all through her link.
    app.drain_mail().await;
    let maria_link = challenge_link(&app, "maria@org.test", "Anna One challenges");
    let page = app.get(&maria_link).await;
    assert!(page.body.contains(anna_reason), "{}", page.body);
    let form = [("csrf", page.csrf()), ("action", "keep".to_string())];
    assert_eq!(
        app.post(&maria_link, &form).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(challenge_of(&app, anna_ga).await.state, "kept");
    let item = app.item(anna_ga).await;
    assert_eq!(
        (item.outcome.as_deref(), item.verdict.as_deref()),
        (Some("kept"), Some("attest"))
    );
    let kept_by = decision::Entity::find_by_id(item.current_decision_id.expect("a decision"))
        .one(app.engine.store().conn())
        .await
        .expect("read decision")
        .expect("the decision");
    assert!(
        kept_by
            .justification
            .as_deref()
            .is_some_and(|j| j.contains("kept after challenge") && j.contains(anna_reason)),
        "{kept_by:?}"
    );
    assert_eq!(kept_by.reviewer_id, item.reviewer_id);

    // An admin upholds Bo's revocation through the API: his removal runs at once. An
    // unchallenged revocation cannot be answered.
    let token = app.admin_api_token("challenge-test").await;
    let (status, list) = api(
        &app,
        &token,
        &format!("/api/v1/campaigns/{id}/challenges"),
        false,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 4);
    let bo_c = challenge_of(&app, bo).await;
    let arne_c = challenge_of(&app, arne_ga).await;
    let (status, body) = api(
        &app,
        &token,
        &format!("/api/v1/campaigns/{id}/challenges/{}/keep", arne_c.id),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = api(
        &app,
        &token,
        &format!("/api/v1/campaigns/{id}/challenges/{}/uphold", bo_c.id),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "upheld");
    app.clock.set(due + Duration::days(1));
    tick(&app.engine).await.expect("tick");
    assert_eq!(eligibility_status(&app, bo).await, "removed");
    for item in [anna_ga, arne_ga, bea_ga] {
        assert_eq!(
            eligibility_status(&app, item).await,
            "active",
            "item {item}"
        );
    }

    // The CLI lists the same challenges.
    let (code, stdout, stderr) =
        attest_cli(&app.db, &["challenge", "list", &id.to_string(), "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let cli: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(cli.as_array().map(Vec::len), Some(4));

    // At the end of the period the unanswered ones stand and are removed; the campaign ends.
    for when in [ends, ends + Duration::minutes(1)] {
        app.clock.set(when);
        tick(&app.engine).await.expect("tick");
    }
    assert_eq!(eligibility_status(&app, anna_ga).await, "active");
    for item in [arne_ga, bea_ga, bo] {
        assert_eq!(
            eligibility_status(&app, item).await,
            "removed",
            "item {item}"
        );
    }
    assert_eq!(challenge_of(&app, arne_ga).await.state, "lapsed");
    assert_eq!(challenge_of(&app, bea_ga).await.state, "expired");
    assert_eq!(challenge_of(&app, bo).await.state, "upheld");
    let view = app.engine.campaign(id).await.expect("show");
    assert_eq!(view.campaign.state.as_str(), "completed");
    let s = &view.summary;
    assert_eq!(
        (s.challenged, s.kept_after_challenge, s.challenges_upheld),
        (3, 1, 1)
    );
    assert_eq!(
        (s.kept_by_people, s.revoked_by_people, s.revoked_by_policy),
        (3, 2, 1)
    );
    assert_eq!(s.removals_done, 3);
    let actions = audit_actions(&app).await;
    for action in [
        "challenge.sent",
        "challenge.submitted",
        "challenge.kept",
        "challenge.upheld",
        "challenge.expired",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }

    // The console's campaign page shows the period, each challenge and the same figures.
    let html = console_page(&app, id).await;
    assert_eq!(html.matches("data-challenge=").count(), 4, "{html}");
    assert!(html.contains("data-challenge-days=\"7\""), "{html}");
    assert!(
        html.contains(r#"data-figure="kept_after_challenge">1<"#),
        "{html}"
    );
    assert!(html.contains(r#"data-figure="challenged">3<"#), "{html}");
    assert!(html.contains(r#"data-state="kept""#) && html.contains(anna_reason));

    // The evidence lists every challenge with its reason, answer and outcome, and verifies.
    let out = app.db.dir().join("evidence");
    let out_text = out.to_str().expect("a UTF-8 path").to_string();
    let (code, _, stderr) = attest_cli(
        &app.db,
        &["evidence", "export", &id.to_string(), "--out", &out_text],
    );
    assert_eq!(code, 0, "evidence export: {stderr}");
    let (code, stdout, stderr) = attest_cli(&app.db, &["evidence", "verify", &out_text]);
    assert_eq!(code, 0, "evidence verify: {stdout}{stderr}");
    assert!(stdout.contains("challenges.csv: 4 rows"), "{stdout}");
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("campaign.json")).expect("campaign.json"),
    )
    .expect("JSON");
    assert_eq!(json["challenges"]["count"], 4);
    assert_eq!(json["summary"]["kept_after_challenge"], 1);
    let csv = std::fs::read_to_string(out.join("challenges.csv")).expect("challenges.csv");
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = rows.records().map(|r| r.expect("a row")).collect();
    assert_eq!(rows.len(), 4);
    let anna_row = rows
        .iter()
        .find(|r| &r[1] == anna_ga.to_string().as_str())
        .expect("Anna's row");
    assert_eq!(&anna_row[10], anna_reason);
    assert_eq!(&anna_row[12], "kept");
    assert_eq!(&anna_row[15], "kept after challenge");
    assert_eq!(&anna_row[16], "cancelled");
    let bea_row = rows
        .iter()
        .find(|r| &r[1] == bea_ga.to_string().as_str())
        .expect("Bea's row");
    assert_eq!((&bea_row[12], &bea_row[16]), ("expired", "removed"));

    // Tampering with the file is caught.
    std::fs::write(
        out.join("challenges.csv"),
        csv.replace(anna_reason, "something else"),
    )
    .expect("write");
    let (code, _, _) = attest_cli(&app.db, &["evidence", "verify", &out_text]);
    assert_ne!(code, 0, "a changed challenges.csv fails verification");
}

#[tokio::test]
async fn a_definition_checks_its_challenge_period() {
    let Some(app) = TestApp::spawn("a_definition_checks_its_challenge_period").await else {
        return;
    };
    app.import_org().await;
    let bad = DEFINITION.replace("challenge_days = 7", "challenge_days = 31");
    let path = app.db.file("bad.toml", &bad);
    let (code, _, stderr) = attest_cli(
        &app.db,
        &["campaign", "define", path.to_str().expect("UTF-8")],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("challenge_days"), "{stderr}");
}

#[tokio::test]
async fn confirming_removals_a_safety_rail_held_keeps_them_in_the_challenge_period() {
    let Some(app) = TestApp::spawn("confirming_removals_keeps_the_challenge_period").await else {
        return;
    };
    app.import_org().await;
    let definition = DEFINITION.replace(
        "max_auto_remove_percent = 100",
        "max_auto_remove_percent = 0",
    );
    app.define_as("challenge-rail.toml", &definition).await;
    let launched = app.launch_defined().await;
    let id = launched.campaign_id;
    let due = launched.due_at;
    let ends = due + Duration::days(7);
    // Nobody answers: every removal is the policy's, and the rail holds them all.
    app.clock.set(due);
    tick(&app.engine).await.expect("tick");
    let removals = || async {
        remediation::Entity::find()
            .filter(remediation::Column::CampaignId.eq(id))
            .all(app.engine.store().conn())
            .await
            .expect("read removals")
    };
    let held = removals().await;
    assert_eq!(held.len(), 6);
    assert!(held.iter().all(|r| r.state == "awaiting_confirmation"));
    let (code, _, stderr) = attest_cli(&app.db, &["campaign", "confirm-removals", &id.to_string()]);
    assert_eq!(code, 0, "{stderr}");
    let confirmed = removals().await;
    assert!(
        confirmed
            .iter()
            .all(|r| r.state == "pending" && r.next_attempt_at == ends),
        "{confirmed:?}"
    );
    app.clock.set(due + Duration::days(1));
    tick(&app.engine).await.expect("tick");
    assert!(removals().await.iter().all(|r| r.attempts == 0));
    for when in [ends, ends + Duration::minutes(1)] {
        app.clock.set(when);
        tick(&app.engine).await.expect("tick");
    }
    assert!(removals().await.iter().all(|r| r.state == "removed"));
    let lapsed = challenge::Entity::find()
        .filter(challenge::Column::CampaignId.eq(id))
        .all(app.engine.store().conn())
        .await
        .expect("read challenges");
    assert_eq!(lapsed.len(), 6);
    assert!(lapsed.iter().all(|c| c.state == "lapsed"));
}

#[tokio::test]
async fn an_admin_answers_a_challenge_on_the_campaign_page() {
    let Some(app) = TestApp::spawn("an_admin_answers_a_challenge_on_the_console").await else {
        return;
    };
    let launched = launch(&app).await;
    let id = launched.campaign_id;
    let anna_ga = item_of(&app, &launched, "a1", "Global Administrator", "/").await;
    let arne_ga = item_of(&app, &launched, "a2", "Global Administrator", "/").await;
    let maria = app.link_for("maria@org.test");
    decide(&app, &maria, anna_ga, "revoke").await;
    decide(&app, &maria, arne_ga, "revoke").await;
    app.clock.set(launched.due_at);
    tick(&app.engine).await.expect("tick");
    app.drain_mail().await;
    let subject = "Your access";
    for (email, reason) in [
        ("anna@org.test", "I am on the payroll rota"),
        ("arne@org.test", "Needed this quarter"),
    ] {
        // Each holder also has the policy's revocation of what Maria left open: the mail about
        // the Global Administrator role is the one answered here.
        let prefix = format!("{}/c/", app.base_url);
        let link = app
            .smtp
            .messages_to(email)
            .iter()
            .filter(|m| {
                m.subject.starts_with(subject) && m.subject.contains("Global Administrator")
            })
            .flat_map(|m| m.links())
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("{email}: a challenge link for Global Administrator"));
        assert_eq!(
            give_reason(&app, &link, reason).await,
            StatusCode::SEE_OTHER
        );
    }
    let anna_c = challenge_of(&app, anna_ga).await;
    let arne_c = challenge_of(&app, arne_ga).await;

    // The page offers both answers for a challenge with a reason; upholding needs its box.
    app.admin_api_token("console-answer").await;
    let session = app
        .sign_in("admin@org.test", "a long enough password")
        .await;
    let page_path = format!("/admin/campaigns/{id}");
    let (status, html) = app.console(&session, &page_path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!("data-answer=\"keep-{}\"", anna_c.id)),
        "{html}"
    );
    assert!(
        html.contains(&format!("data-answer=\"uphold-{}\"", arne_c.id)),
        "{html}"
    );
    let csrf = field_value(&html, "csrf").expect("csrf");
    let post = |path: String, form: Vec<(&'static str, String)>| {
        let request = app
            .http
            .post(app.url(&path))
            .header(reqwest::header::COOKIE, format!("attest_session={session}"))
            .form(&form);
        async move { request.send().await.expect("POST").status() }
    };
    let keep = format!("{page_path}/challenges/{}/keep", anna_c.id);
    let uphold = format!("{page_path}/challenges/{}/uphold", arne_c.id);
    // Without the anti-forgery value, or unconfirmed, nothing changes.
    assert_ne!(
        post(keep.clone(), vec![("confirm", "yes".into())]).await,
        StatusCode::SEE_OTHER
    );
    assert_ne!(
        post(uphold.clone(), vec![("csrf", csrf.clone())]).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(challenge_of(&app, anna_ga).await.state, "submitted");
    assert_eq!(challenge_of(&app, arne_ga).await.state, "submitted");
    let confirmed = |csrf: &str| vec![("csrf", csrf.to_string()), ("confirm", "yes".to_string())];
    assert_eq!(
        post(keep.clone(), confirmed(&csrf)).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(post(uphold, confirmed(&csrf)).await, StatusCode::SEE_OTHER);
    // Answered once: a second answer is refused.
    assert_eq!(post(keep, confirmed(&csrf)).await, StatusCode::CONFLICT);
    let anna_c = challenge_of(&app, anna_ga).await;
    assert_eq!(anna_c.state, "kept");
    assert!(
        anna_c
            .answered_by
            .as_deref()
            .is_some_and(|by| by.contains("admin@org.test")),
        "{anna_c:?}"
    );
    assert_eq!(challenge_of(&app, arne_ga).await.state, "upheld");
    app.clock.set(launched.due_at + Duration::minutes(1));
    tick(&app.engine).await.expect("tick");
    assert_eq!(eligibility_status(&app, arne_ga).await, "removed");
    assert_eq!(eligibility_status(&app, anna_ga).await, "active");
    let (_, html) = app.console(&session, &page_path).await;
    assert!(!html.contains("data-answer=\"keep-"), "{html}");
}
