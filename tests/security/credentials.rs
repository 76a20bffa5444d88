//! Every credential can be listed and revoked, and a revoked one is refused at once (issue 12,
//! item 3): API tokens (with their last use), console accounts (disabled, re-enabled, a new
//! role, a new password, never the last admin), reviewers' links (revoked, or replaced by a
//! resend). Each test goes through the real server (or the real binary) and checks the audit
//! event the change wrote. See tests/security.rs.

use crate::common::app::{field_value, set_cookie, Launched, TestApp};
use crate::common::{attest_cli, TestDb};
use attest::domain::access::Role;
use attest::engine::definitions::DefinitionText;
use attest::engine::review::LinkProblem;
use attest::engine::NoProgress;
use entity::audit_event;
use reqwest::header;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};

const ADA: &str = "ada@attest.test";
const BOB: &str = "bob@attest.test";
const AUDITOR: &str = "aldo@attest.test";
const PASSWORD: &str = "correct horse battery staple";

// ---------------------------------------------------------------------------------------------
// Helpers: signing in as a browser does, a session's requests, the API, the audit log.
// ---------------------------------------------------------------------------------------------

/// A console session: its cookie and the anti-forgery value of its forms.
#[derive(Debug, Clone)]
struct Session {
    cookie: String,
    csrf: String,
}

/// One answer, read whole.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    location: String,
    cookie: Option<String>,
    body: String,
}

impl Answer {
    fn to_login(&self) -> bool {
        self.status == StatusCode::SEE_OTHER && self.location.starts_with("/login")
    }

    fn says(&self, text: &str) -> bool {
        self.body.to_lowercase().contains(&text.to_lowercase())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("JSON ({e}): {}", self.body))
    }
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("request");
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let cookie = set_cookie(&response, "attest_session");
    Answer {
        status,
        location,
        cookie,
        body: response.text().await.expect("read the answer"),
    }
}

/// Submits the login form: GET /login for its anti-forgery cookie and field, then POST.
async fn login(app: &TestApp, email: &str, password: &str) -> Answer {
    let form = app
        .http
        .get(app.url("/login"))
        .send()
        .await
        .expect("GET /login");
    let login_cookie = set_cookie(&form, "attest_login").expect("the login cookie");
    let body = form.text().await.expect("the login page");
    let csrf = field_value(&body, "csrf").expect("the login form's csrf");
    send(
        app.http
            .post(app.url("/login"))
            .header(header::COOKIE, format!("attest_login={login_cookie}"))
            .form(&[
                ("email", email),
                ("password", password),
                ("csrf", &csrf),
                ("next", ""),
            ]),
    )
    .await
}

/// Signs in (the password must be right) and reads the session's anti-forgery value.
async fn sign_in(app: &TestApp, email: &str, password: &str) -> Session {
    let answer = login(app, email, password).await;
    assert_eq!(
        answer.status,
        StatusCode::SEE_OTHER,
        "{email} signs in: {}",
        answer.body
    );
    let cookie = answer.cookie.expect("a session cookie");
    let page = send(
        app.http
            .get(app.url("/account/password"))
            .header(header::COOKIE, format!("attest_session={cookie}")),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = field_value(&page.body, "csrf").expect("console pages carry the csrf");
    Session { cookie, csrf }
}

impl Session {
    async fn get(&self, app: &TestApp, path: &str) -> Answer {
        send(
            app.http
                .get(app.url(path))
                .header(header::COOKIE, format!("attest_session={}", self.cookie)),
        )
        .await
    }

    /// POSTs a console form with the session's anti-forgery value.
    async fn post(&self, app: &TestApp, path: &str, form: &[(&str, &str)]) -> Answer {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        fields.push(("csrf", &self.csrf));
        send(
            app.http
                .post(app.url(path))
                .header(header::COOKIE, format!("attest_session={}", self.cookie))
                .form(&fields),
        )
        .await
    }
}

async fn api_get(app: &TestApp, token: &str, path: &str) -> Answer {
    send(app.http.get(app.url(path)).bearer_auth(token)).await
}

async fn api_post(app: &TestApp, token: &str, path: &str, body: Option<Value>) -> Answer {
    let request = app.http.post(app.url(path)).bearer_auth(token);
    send(match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string()),
        None => request,
    })
    .await
}

async fn add(app: &TestApp, email: &str, role: Role) {
    app.engine
        .add_account(email, role, PASSWORD, "test")
        .await
        .unwrap_or_else(|e| panic!("add {email}: {e}"));
}

async fn token(app: &TestApp, by: &str, name: &str, role: Role) -> String {
    let admin = app.engine.account_operator(by).await.expect("the admin");
    app.engine
        .create_api_token(&admin, name, role)
        .await
        .expect("create a token")
}

async fn account_id(app: &TestApp, email: &str) -> i64 {
    app.engine
        .accounts()
        .await
        .expect("accounts")
        .into_iter()
        .find(|a| a.email == email)
        .unwrap_or_else(|| panic!("{email} is listed"))
        .id
}

async fn token_listed(app: &TestApp, name: &str) -> attest::engine::credentials::TokenView {
    app.engine
        .api_tokens()
        .await
        .expect("tokens")
        .into_iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("token {name} is listed"))
}

/// The audit events with `action`, oldest first.
async fn events(engine: &attest::engine::Engine, action: &str) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(action))
        .order_by_asc(audit_event::Column::Seq)
        .all(engine.store().conn())
        .await
        .expect("read the audit log")
}

fn details(event: &audit_event::Model) -> Value {
    serde_json::from_str(&event.details).expect("details are JSON")
}

/// The review links `email` received, oldest mail first.
fn links_to(app: &TestApp, email: &str) -> Vec<String> {
    app.smtp
        .messages_to(email)
        .iter()
        .filter(|m| !m.review_links(&app.base_url).0.is_empty())
        .map(|m| {
            m.review_link(&app.base_url)
                .trim_start_matches(&app.base_url)
                .to_string()
        })
        .collect()
}

/// The one review link `email` received that is not among `known`.
fn new_link(app: &TestApp, email: &str, known: &[&String]) -> String {
    let fresh: Vec<String> = links_to(app, email)
        .into_iter()
        .filter(|l| !known.contains(&l))
        .collect();
    assert_eq!(fresh.len(), 1, "one new link for {email}: {fresh:?}");
    fresh[0].clone()
}

/// Decides the first of Maria's items through her link, as her browser would.
async fn decide_through(app: &TestApp, link: &str, csrf: &str, item: i64) -> Answer {
    send(app.http.post(app.url(link)).form(&[
        ("csrf", csrf.to_string()),
        (format!("item-{item}").as_str(), "attest".to_string()),
        ("action", "save".to_string()),
    ]))
    .await
}

async fn launched_with_mail(app: &TestApp) -> Launched {
    let launched = app.launch().await;
    app.drain_mail().await;
    launched
}

// ---------------------------------------------------------------------------------------------
// API tokens.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_api_token_is_refused_at_once_and_its_last_use_is_listed() {
    let test = "a_revoked_api_token_is_refused_at_once_and_its_last_use_is_listed";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    add(&app, ADA, Role::Admin).await;
    let ops = token(&app, ADA, "ops", Role::Admin).await;
    let nightly = token(&app, ADA, "nightly", Role::Auditor).await;
    assert_eq!(token_listed(&app, "nightly").await.last_used_at, None);

    // Last use: written on the first call, then at most once a minute.
    let start = app.engine.now();
    api_get(&app, &nightly, "/api/v1/me").await;
    assert_eq!(
        token_listed(&app, "nightly").await.last_used_at,
        Some(start)
    );
    app.clock.advance(chrono::Duration::seconds(30));
    api_get(&app, &nightly, "/api/v1/me").await;
    assert_eq!(
        token_listed(&app, "nightly").await.last_used_at,
        Some(start),
        "a use within the minute is not written again"
    );
    app.clock.advance(chrono::Duration::seconds(31));
    api_get(&app, &nightly, "/api/v1/me").await;
    let later = app.engine.now();
    assert_eq!(
        token_listed(&app, "nightly").await.last_used_at,
        Some(later)
    );

    // The list, through the API: names, roles, creator, last use; never the token.
    let listed = api_get(&app, &ops, "/api/v1/tokens").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let listed = listed.json();
    let row = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|t| t["name"] == "nightly")
        .expect("nightly is listed")
        .clone();
    assert_eq!(row["role"], "auditor");
    assert_eq!(row["created_by"], ADA);
    assert!(row["last_used_at"].is_string(), "{row}");
    assert!(row["revoked_at"].is_null(), "{row}");
    assert!(
        !listed.to_string().contains(&nightly),
        "the token is never shown again"
    );

    // Revoked: the very next call is refused.
    let id = row["id"].as_i64().expect("id");
    let revoked = api_post(&app, &ops, &format!("/api/v1/tokens/{id}/revoke"), None).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert!(revoked.json()["revoked_at"].is_string());
    let refused = api_get(&app, &nightly, "/api/v1/me").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    let again = api_post(&app, &ops, &format!("/api/v1/tokens/{id}/revoke"), None).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "revoking twice says so");
    assert!(token_listed(&app, "nightly").await.revoked_at.is_some());

    let audited = events(&app.engine, "api_token.revoke").await;
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0].actor, "token:ops");
    assert_eq!(audited[0].target.as_deref(), Some("token:nightly"));
    assert!(
        !audited[0].details.contains(&nightly),
        "no secret in the log"
    );
}

// ---------------------------------------------------------------------------------------------
// Accounts.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_account_is_refused_at_once_and_works_again_once_enabled() {
    let test = "a_disabled_account_is_refused_at_once_and_works_again_once_enabled";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    add(&app, ADA, Role::Admin).await;
    add(&app, BOB, Role::Admin).await;
    let ada = sign_in(&app, ADA, PASSWORD).await;
    let bob = sign_in(&app, BOB, PASSWORD).await;
    let bobs_token = token(&app, BOB, "bobs-script", Role::Admin).await;
    assert_eq!(bob.get(&app, "/admin").await.status, StatusCode::OK);
    assert_eq!(
        api_get(&app, &bobs_token, "/api/v1/me").await.status,
        StatusCode::OK
    );

    // The accounts page lists Bob with his actions; disabling needs its confirmation.
    let page = ada.get(&app, "/admin/accounts").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.says(BOB) && page.says("bobs-script"), "{}", page.body);
    let bob_id = account_id(&app, BOB).await;
    let path = format!("/admin/accounts/{bob_id}/disable");
    let unconfirmed = ada.post(&app, &path, &[]).await;
    assert_eq!(unconfirmed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bob.get(&app, "/admin").await.status, StatusCode::OK);
    let done = ada.post(&app, &path, &[("confirm", "yes")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);

    // At once: his session, his token and his password open nothing.
    assert!(
        bob.get(&app, "/admin").await.to_login(),
        "the session is refused"
    );
    let by_token = api_get(&app, &bobs_token, "/api/v1/me").await;
    assert_eq!(
        by_token.status,
        StatusCode::UNAUTHORIZED,
        "the token is refused"
    );
    assert_eq!(
        login(&app, BOB, PASSWORD).await.status,
        StatusCode::UNAUTHORIZED,
        "a disabled account cannot sign in"
    );
    let disabled = events(&app.engine, "account.disable").await;
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0].actor, format!("account:{ADA}"));
    assert_eq!(
        disabled[0].target.as_deref(),
        Some(format!("account:{BOB}").as_str())
    );
    let d = details(&disabled[0]);
    assert_eq!(d["sessions_revoked"], 1, "{d}");
    assert_eq!(d["tokens_revoked"], json!(["bobs-script"]), "{d}");

    // Enabled again: he signs in afresh; what was revoked stays revoked.
    let done = ada
        .post(&app, &format!("/admin/accounts/{bob_id}/enable"), &[])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let bob_again = sign_in(&app, BOB, PASSWORD).await;
    assert_eq!(bob_again.get(&app, "/admin").await.status, StatusCode::OK);
    assert!(
        bob.get(&app, "/admin").await.to_login(),
        "the old session stays ended"
    );
    assert_eq!(
        api_get(&app, &bobs_token, "/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED,
        "the revoked token stays revoked"
    );
    assert_eq!(events(&app.engine, "account.enable").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_role_applies_at_the_next_request() {
    let test = "a_new_role_applies_at_the_next_request";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    add(&app, ADA, Role::Admin).await;
    add(&app, BOB, Role::Admin).await;
    let ops = token(&app, ADA, "ops", Role::Admin).await;
    let bob = sign_in(&app, BOB, PASSWORD).await;
    let bobs_admin_token = token(&app, BOB, "bob-admin", Role::Admin).await;
    let bobs_reader_token = token(&app, BOB, "bob-reader", Role::Auditor).await;
    assert_eq!(bob.get(&app, "/admin").await.status, StatusCode::OK);

    let bob_id = account_id(&app, BOB).await;
    let changed = api_post(
        &app,
        &ops,
        &format!("/api/v1/accounts/{bob_id}/role"),
        Some(json!({ "role": "auditor" })),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.json()["account"]["role"], "auditor");
    assert_eq!(changed.json()["tokens_revoked"], json!(["bob-admin"]));

    // His admin session ended; signed in again, he reads and may not change.
    assert!(bob.get(&app, "/admin").await.to_login());
    let bob = sign_in(&app, BOB, PASSWORD).await;
    assert_eq!(bob.get(&app, "/admin").await.status, StatusCode::FORBIDDEN);
    assert_eq!(bob.get(&app, "/audit").await.status, StatusCode::OK);
    // An auditor could not have made an admin token: it went with the role; the reader stays.
    assert_eq!(
        api_get(&app, &bobs_admin_token, "/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api_get(&app, &bobs_reader_token, "/api/v1/me").await.status,
        StatusCode::OK
    );
    let audited = events(&app.engine, "account.role").await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].actor, "token:ops");
    let d = details(&audited[0]);
    assert_eq!(
        (d["from"].as_str(), d["to"].as_str()),
        (Some("admin"), Some("auditor"))
    );
    assert_eq!(d["sessions_revoked"], 1);

    // Back to admin through the console form.
    let ada = sign_in(&app, ADA, PASSWORD).await;
    let done = ada
        .post(
            &app,
            &format!("/admin/accounts/{bob_id}/role"),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(bob.get(&app, "/audit").await.to_login());
    let bob = sign_in(&app, BOB, PASSWORD).await;
    assert_eq!(bob.get(&app, "/admin").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_password_refuses_the_old_one_and_ends_the_other_sessions() {
    let test = "a_new_password_refuses_the_old_one_and_ends_the_other_sessions";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    add(&app, ADA, Role::Admin).await;
    add(&app, AUDITOR, Role::Auditor).await;
    let here = sign_in(&app, AUDITOR, PASSWORD).await;
    let elsewhere = sign_in(&app, AUDITOR, PASSWORD).await;
    const NEW: &str = "a much better passphrase";

    // A wrong current password changes nothing, and is audited.
    let wrong = here
        .post(
            &app,
            "/account/password",
            &[("current", "not my password"), ("new", NEW), ("again", NEW)],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong.says("current password is not right"),
        "{}",
        wrong.body
    );
    assert_eq!(
        events(&app.engine, "account.password_change_refused")
            .await
            .len(),
        1
    );
    let short = here
        .post(
            &app,
            "/account/password",
            &[("current", PASSWORD), ("new", "short"), ("again", "short")],
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.says("at least 12 characters"));

    let done = here
        .post(
            &app,
            "/account/password",
            &[("current", PASSWORD), ("new", NEW), ("again", NEW)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        here.get(&app, "/audit").await.status,
        StatusCode::OK,
        "this session stays"
    );
    assert!(
        elsewhere.get(&app, "/audit").await.to_login(),
        "the other one ends"
    );
    assert_eq!(
        login(&app, AUDITOR, PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, AUDITOR, NEW).await.status,
        StatusCode::SEE_OTHER
    );
    let changed = events(&app.engine, "account.password").await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].actor, format!("account:{AUDITOR}"));
    let d = details(&changed[0]);
    assert_eq!(
        (d["by"].as_str(), d["sessions_revoked"].as_u64()),
        (Some("self"), Some(1))
    );
    assert!(!changed[0].details.contains(NEW), "no password in the log");

    // An admin resets it: every session of the account ends.
    let ops = token(&app, ADA, "ops", Role::Admin).await;
    let id = account_id(&app, AUDITOR).await;
    const RESET: &str = "reset by the admin today";
    let reset = api_post(
        &app,
        &ops,
        &format!("/api/v1/accounts/{id}/password"),
        Some(json!({ "password": RESET })),
    )
    .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    assert!(here.get(&app, "/audit").await.to_login());
    assert_eq!(
        login(&app, AUDITOR, NEW).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, AUDITOR, RESET).await.status,
        StatusCode::SEE_OTHER
    );
    let too_short = api_post(
        &app,
        &ops,
        &format!("/api/v1/accounts/{id}/password"),
        Some(json!({ "password": "short" })),
    )
    .await;
    assert_eq!(too_short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(too_short.json()["error"]["field"], "password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_enabled_admin_can_be_neither_disabled_nor_demoted() {
    let test = "the_last_enabled_admin_can_be_neither_disabled_nor_demoted";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    add(&app, ADA, Role::Admin).await;
    add(&app, AUDITOR, Role::Auditor).await;
    let ops = token(&app, ADA, "ops", Role::Admin).await;
    let ada_id = account_id(&app, ADA).await;
    for (path, body) in [
        (format!("/api/v1/accounts/{ada_id}/disable"), None),
        (
            format!("/api/v1/accounts/{ada_id}/role"),
            Some(json!({ "role": "auditor" })),
        ),
    ] {
        let refused = api_post(&app, &ops, &path, body).await;
        assert_eq!(
            refused.status,
            StatusCode::CONFLICT,
            "{path}: {}",
            refused.body
        );
        assert!(refused.says("last enabled admin"), "{}", refused.body);
    }
    let ada = sign_in(&app, ADA, PASSWORD).await;
    let refused = ada
        .post(
            &app,
            &format!("/admin/accounts/{ada_id}/disable"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.says("last enabled admin"));
    assert_eq!(
        ada.get(&app, "/admin").await.status,
        StatusCode::OK,
        "nothing changed"
    );
    assert!(events(&app.engine, "account.disable").await.is_empty());

    // A disabled admin does not count: with Bob disabled, Ada is still the last one.
    add(&app, BOB, Role::Admin).await;
    app.engine
        .disable_account(BOB, "test")
        .await
        .expect("Bob can go: Ada remains");
    assert!(app.engine.disable_account(ADA, "test").await.is_err());
    app.engine
        .enable_account(BOB, "test")
        .await
        .expect("enable Bob");
    let demoted = api_post(
        &app,
        &ops,
        &format!("/api/v1/accounts/{ada_id}/role"),
        Some(json!({ "role": "auditor" })),
    )
    .await;
    assert_eq!(
        demoted.status,
        StatusCode::OK,
        "with Bob an admin, Ada may go: {}",
        demoted.body
    );
}

/// Two admins disabling each other at the same moment: one wins, the other is refused, and an
/// enabled admin remains (on PostgreSQL the changes queue up; SQLite has one writer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_admins_disabling_each_other_at_once_leave_one_admin() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    for email in [ADA, BOB] {
        engine
            .add_account(email, Role::Admin, PASSWORD, "test")
            .await
            .expect("an admin");
    }
    for _ in 0..5 {
        let (one, other) = (engine.clone(), engine.clone());
        let a = tokio::spawn(async move { one.disable_account(ADA, "account:bob").await });
        let b = tokio::spawn(async move { other.disable_account(BOB, "account:ada").await });
        let (a, b) = (a.await.expect("joined"), b.await.expect("joined"));
        assert!(a.is_err() || b.is_err(), "not both: {a:?} {b:?}");
        let enabled_admins = engine
            .accounts()
            .await
            .expect("accounts")
            .into_iter()
            .filter(|a| a.enabled && a.role == Role::Admin)
            .count();
        // One wins (SQLite may also turn both away as busy): never none left.
        assert!(enabled_admins >= 1, "an enabled admin remains");
        for email in [ADA, BOB] {
            engine.enable_account(email, "test").await.expect("enable");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reviewers' links.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_reviewer_link_shows_the_withdrawn_page_and_takes_no_decision() {
    let test = "a_revoked_reviewer_link_shows_the_withdrawn_page_and_takes_no_decision";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    let launched = launched_with_mail(&app).await;
    let id = launched.campaign_id;
    let maria = app.principal("m1").await.id;
    let item = *launched.items_of(maria).iter().next().expect("an item");
    let link = links_to(&app, "maria@org.test")
        .pop()
        .expect("Maria's link");
    let page = send(app.http.get(app.url(&link))).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = field_value(&page.body, "csrf").expect("the page's csrf");

    add(&app, ADA, Role::Admin).await;
    let ada = sign_in(&app, ADA, PASSWORD).await;
    let campaign_page = ada.get(&app, &format!("/admin/campaigns/{id}")).await;
    assert!(
        campaign_page.says("revoke link"),
        "the campaign page offers it"
    );
    assert!(
        campaign_page.says("replace the old link"),
        "and the resend option"
    );
    let done = ada
        .post(
            &app,
            &format!("/admin/campaigns/{id}/revoke-links"),
            &[("reviewer", "m1"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let after = ada.get(&app, &done.location).await;
    assert!(
        after.says("1 earlier link of Maria Manager"),
        "{}",
        after.body
    );

    let started = std::time::Instant::now();
    let withdrawn = send(app.http.get(app.url(&link))).await;
    assert_eq!(withdrawn.status, StatusCode::GONE);
    assert!(withdrawn.says("withdrawn"), "{}", withdrawn.body);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(60),
        "the refusal keeps the constant-time floor"
    );
    let decided = decide_through(&app, &link, &csrf, item).await;
    assert_eq!(decided.status, StatusCode::GONE, "{}", decided.body);
    assert_eq!(app.item(item).await.verdict, None, "nothing was decided");

    let audited = events(&app.engine, "campaign.revoke_links").await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].actor, format!("account:{ADA}"));
    assert_eq!(
        audited[0].target.as_deref(),
        Some(format!("campaign:{id}").as_str())
    );
    let d = details(&audited[0]);
    assert_eq!(
        (d["reviewer"].as_str(), d["links_revoked"].as_u64()),
        (Some("m1"), Some(1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_with_replace_stops_the_old_link_and_one_without_keeps_both() {
    let test = "a_resend_with_replace_stops_the_old_link_and_one_without_keeps_both";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    let launched = launched_with_mail(&app).await;
    let id = launched.campaign_id;
    add(&app, ADA, Role::Admin).await;
    let ops = token(&app, ADA, "ops", Role::Admin).await;
    let first = links_to(&app, "maria@org.test")
        .pop()
        .expect("the first link");

    // Without replace (the default): the old link keeps working beside the new one.
    let resent = api_post(
        &app,
        &ops,
        &format!("/api/v1/campaigns/{id}/resend-invitation"),
        Some(json!({ "reviewer": "m1" })),
    )
    .await;
    assert_eq!(resent.status, StatusCode::ACCEPTED, "{}", resent.body);
    assert_eq!(resent.json()["links_revoked"], 0);
    app.drain_mail().await;
    let second = new_link(&app, "maria@org.test", &[&first]);
    for link in [&first, &second] {
        assert_eq!(
            send(app.http.get(app.url(link))).await.status,
            StatusCode::OK
        );
    }

    // With replace, from the console: both old links stop at once, the new one works. (A
    // resend's mail is keyed by the time: let the manual clock move.)
    app.clock.advance(chrono::Duration::seconds(5));
    let ada = sign_in(&app, ADA, PASSWORD).await;
    let done = ada
        .post(
            &app,
            &format!("/admin/campaigns/{id}/resend"),
            &[("reviewer", "m1"), ("replace", "yes")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    for link in [&first, &second] {
        let refused = send(app.http.get(app.url(link))).await;
        assert_eq!(refused.status, StatusCode::GONE, "{link}");
    }
    app.drain_mail().await;
    let third = new_link(&app, "maria@org.test", &[&first, &second]);
    assert_eq!(
        send(app.http.get(app.url(&third))).await.status,
        StatusCode::OK
    );

    let audited = events(&app.engine, "campaign.resend_invitation").await;
    let last = details(audited.last().expect("audited"));
    assert_eq!(
        (last["replace"].as_bool(), last["links_revoked"].as_u64()),
        (Some(true), Some(2))
    );
}

// ---------------------------------------------------------------------------------------------
// The command line, through the real binary.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_lists_disables_enables_re_roles_re_passwords_and_revokes() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    engine
        .add_account(ADA, Role::Admin, PASSWORD, "test")
        .await
        .expect("Ada");
    engine
        .add_account(BOB, Role::Auditor, PASSWORD, "test")
        .await
        .expect("Bob");
    let ada = engine.account_operator(ADA).await.expect("Ada operates");
    let secret = engine
        .create_api_token(&ada, "ci", Role::Auditor)
        .await
        .expect("a token");
    assert!(engine
        .token_operator(&secret)
        .await
        .expect("look up")
        .is_some());

    let (code, out, err) = attest_cli(&db, &["user", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let listed: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    assert!(!out.contains("argon2"), "no password hash is listed");
    let (code, out, _) = attest_cli(&db, &["user", "tokens"]);
    assert_eq!(code, 0);
    assert!(out.contains("ci") && out.contains(ADA), "{out}");

    // The last admin stays; a bad role names the field.
    let (code, _, err) = attest_cli(&db, &["user", "disable", ADA]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("last enabled admin"), "{err}");
    let (code, _, err) = attest_cli(&db, &["user", "role", BOB, "--role", "boss"]);
    assert_eq!(code, 2);
    assert!(err.contains("--role"), "{err}");

    let (code, _, err) = attest_cli(&db, &["user", "role", BOB, "--role", "admin"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = attest_cli(&db, &["user", "disable", ADA]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("API tokens revoked: ci"), "{out}");
    assert!(engine
        .token_operator(&secret)
        .await
        .expect("look up")
        .is_none());
    assert_eq!(attest_cli(&db, &["user", "enable", ADA]).0, 0);

    // A new password, generated and shown once (no standard input is piped).
    let (code, out, err) = attest_cli(&db, &["user", "password", ADA]);
    assert_eq!(code, 0, "{err}");
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("password (shown once): "))
        .expect("the generated password is printed");
    assert!(engine
        .login(ADA, password, None)
        .await
        .expect("login")
        .is_ok());
    assert!(engine
        .login(ADA, PASSWORD, None)
        .await
        .expect("login")
        .is_err());

    let ada = engine.account_operator(ADA).await.expect("Ada operates");
    engine
        .create_api_token(&ada, "deploy", Role::Admin)
        .await
        .expect("another token");
    let (code, _, err) = attest_cli(&db, &["user", "revoke-token", "deploy"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = attest_cli(&db, &["user", "revoke-token", "deploy"]);
    assert_eq!(code, 2, "revoking twice says so: {err}");
    let (code, _, _) = attest_cli(&db, &["user", "revoke-token", "9999"]);
    assert_eq!(code, 2);

    let actions: Vec<String> = audit_event::Entity::find()
        .filter(audit_event::Column::Actor.starts_with("cli:"))
        .order_by_asc(audit_event::Column::Seq)
        .all(engine.store().conn())
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "account.role",
            "account.disable",
            "account.enable",
            "account.password",
            "api_token.revoke"
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_revokes_and_replaces_a_reviewers_links() {
    use crate::common::app::{DEFINITION, DEFINITION_NAME, ELIGIBILITY, PEOPLE, ROLES};
    use attest::domain::records::ImportKind;
    use attest::engine::import::ImportOptions;
    let db = TestDb::new().await;
    let engine = db.engine().await;
    for (kind, name, content) in [
        (ImportKind::People, "people.csv", PEOPLE),
        (ImportKind::Roles, "roles.csv", ROLES),
        (ImportKind::Eligibility, "eligibility.csv", ELIGIBILITY),
    ] {
        let path = db.file(name, content);
        engine
            .import(
                kind,
                attest::engine::import::ImportInput::open(&path).expect("the import file opens"),
                ImportOptions::default(),
                "test",
                &NoProgress,
            )
            .await
            .expect("import");
    }
    engine
        .define(
            &DefinitionText::read(&db.file("d.toml", DEFINITION)).expect("read the definition"),
            "test",
        )
        .await
        .expect("define");
    let campaign = engine
        .launch(DEFINITION_NAME, false, "test", &NoProgress)
        .await
        .expect("launch")
        .id;
    let maria = attest::store::directory::principal_refs(engine.store().conn(), &["m1"])
        .await
        .expect("m1")["m1"]
        .id;
    let link = engine
        .issue_token(campaign, maria, None)
        .await
        .expect("a link");
    assert!(engine.open_link(&link).await.expect("open").is_ok());

    let id = campaign.to_string();
    let (code, out, err) = attest_cli(&db, &["campaign", "revoke-links", &id, "--reviewer", "m1"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 link of m1 revoked"), "{out}");
    assert_eq!(
        engine.open_link(&link).await.expect("open").err(),
        Some(LinkProblem::Revoked)
    );

    let second = engine
        .issue_token(campaign, maria, None)
        .await
        .expect("a link");
    let (code, _, err) = attest_cli(&db, &["campaign", "resend", &id, "--reviewer", "m1"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        engine.open_link(&second).await.expect("open").is_ok(),
        "kept without --replace"
    );
    let (code, out, err) = attest_cli(
        &db,
        &["campaign", "resend", &id, "--reviewer", "m1", "--replace"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("earlier links revoked: 1"), "{out}");
    assert_eq!(
        engine.open_link(&second).await.expect("open").err(),
        Some(LinkProblem::Revoked)
    );
    let (code, _, err) = attest_cli(
        &db,
        &["campaign", "revoke-links", &id, "--reviewer", "nobody"],
    );
    assert_eq!(code, 2, "an unknown reviewer is bad input: {err}");
    assert_eq!(events(&engine, "campaign.revoke_links").await.len(), 1);
}
