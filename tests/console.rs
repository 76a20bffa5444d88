//! The admin and auditor console on the real application: who may open and post what (every
//! console route, walked with no session, a reviewer's token, an auditor's session, an admin's
//! session and API tokens), sign-in refusals (wrong password, throttling, expired session, forms
//! without their anti-forgery value) each audited, the admin's pages and actions end to end,
//! and the evidence an auditor downloads from the console matching the API's byte for byte.
//!
//! Every test gets its own database (SQLite, or PostgreSQL with ATTEST_TEST_DATABASE_URL) and
//! its own SMTP server. Without aiosmtpd a test prints `SKIPPED …` locally and fails under CI.

mod common;

use attest::domain::access::Role;
use attest::domain::closing::Channel;
use attest::engine::decide::DecisionRequest;
use attest::engine::NoProgress;
use chrono::Duration;
use common::app::{field_value, Launched, TestApp, DEFINITION, DEFINITION_NAME};
use common::unzip;
use entity::{audit_event, campaign, campaign_definition, outbox_mail};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use std::collections::BTreeMap;

const ADMIN: &str = "ada@attest.test";
const AUDITOR: &str = "aldo@attest.test";
const PASSWORD: &str = "correct horse battery staple";

// ---------------------------------------------------------------------------------------------
// Helpers: an HTTP answer with its cookies, signing in as a browser does, the audit log.
// ---------------------------------------------------------------------------------------------

/// One answer, read whole, with the headers the console tests look at.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    location: String,
    set_cookies: Vec<String>,
    content_type: String,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn says(&self, text: &str) -> bool {
        self.text().to_lowercase().contains(&text.to_lowercase())
    }

    /// The value `name` is set to by a `Set-Cookie` of this answer.
    fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies.iter().find_map(|c| {
            let (k, v) = c.split(';').next()?.split_once('=')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
    }

    /// The whole `Set-Cookie` line for `name`.
    fn cookie_line(&self, name: &str) -> Option<&str> {
        self.set_cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(String::as_str)
    }

    fn to_login(&self) -> bool {
        self.status == StatusCode::SEE_OTHER && self.location.starts_with("/login?next=")
    }
}

async fn send(request: reqwest::RequestBuilder, what: &str) -> Answer {
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let headers = response.headers().clone();
    let get = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    Answer {
        status: response.status(),
        location: get(header::LOCATION),
        content_type: get(header::CONTENT_TYPE),
        set_cookies: headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect(),
        body: response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("read the answer to {what}: {e}"))
            .to_vec(),
    }
}

/// Who is asking: the headers they send and the anti-forgery value their forms carry.
#[derive(Debug, Clone)]
struct Caller {
    name: &'static str,
    headers: HeaderMap,
    csrf: Option<String>,
}

impl Caller {
    fn anonymous() -> Self {
        Self {
            name: "no session",
            headers: HeaderMap::new(),
            csrf: None,
        }
    }

    fn with_cookie(name: &'static str, session: &str, csrf: Option<String>) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("attest_session={session}")).expect("cookie header"),
        );
        Self {
            name,
            headers,
            csrf,
        }
    }

    fn with_bearer(name: &'static str, token: &str) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).expect("authorization header"),
        );
        Self {
            name,
            headers,
            csrf: None,
        }
    }

    async fn get(&self, app: &TestApp, path: &str) -> Answer {
        send(
            app.http.get(app.url(path)).headers(self.headers.clone()),
            &format!("{} GET {path}", self.name),
        )
        .await
    }

    /// POSTs `form`, with this caller's anti-forgery value added when it has one.
    async fn post(&self, app: &TestApp, path: &str, form: &[(&str, &str)]) -> Answer {
        let mut fields: Vec<(String, String)> = form
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(csrf) = &self.csrf {
            fields.push(("csrf".into(), csrf.clone()));
        }
        self.post_exactly(app, path, &fields).await
    }

    /// POSTs exactly `fields` (no anti-forgery value unless it is among them).
    async fn post_exactly(&self, app: &TestApp, path: &str, fields: &[(String, String)]) -> Answer {
        send(
            app.http
                .post(app.url(path))
                .headers(self.headers.clone())
                .form(fields),
            &format!("{} POST {path}", self.name),
        )
        .await
    }
}

/// Submits the login form as a browser does: GET /login for its anti-forgery cookie and field,
/// then POST them with the credentials.
async fn login_attempt(app: &TestApp, email: &str, password: &str) -> Answer {
    let form = send(app.http.get(app.url("/login")), "GET /login").await;
    assert_eq!(form.status, StatusCode::OK, "the login page opens");
    let cookie = form
        .cookie("attest_login")
        .expect("the login page sets its cookie");
    let csrf = field_value(&form.text(), "csrf").expect("the login form has its csrf field");
    send(
        app.http
            .post(app.url("/login"))
            .header(header::COOKIE, format!("attest_login={cookie}"))
            .form(&[
                ("email", email),
                ("password", password),
                ("csrf", &csrf),
                ("next", ""),
            ]),
        "POST /login",
    )
    .await
}

/// Signs in and returns the session as a caller, with the csrf its console pages carry.
async fn sign_in(app: &TestApp, name: &'static str, email: &str) -> Caller {
    let answer = login_attempt(app, email, PASSWORD).await;
    assert_eq!(
        answer.status,
        StatusCode::SEE_OTHER,
        "{email} signs in: {}",
        answer.text()
    );
    let session = answer
        .cookie("attest_session")
        .expect("a session cookie after signing in");
    let caller = Caller::with_cookie(name, &session, None);
    let page = caller.get(app, "/audit").await;
    assert_eq!(page.status, StatusCode::OK, "{email} reads /audit");
    let csrf = field_value(&page.text(), "csrf").expect("console pages carry the csrf");
    Caller::with_cookie(name, &session, Some(csrf))
}

/// An admin and an auditor account.
async fn accounts(app: &TestApp) {
    app.engine
        .add_account(ADMIN, Role::Admin, PASSWORD, "test")
        .await
        .expect("add the admin");
    app.engine
        .add_account(AUDITOR, Role::Auditor, PASSWORD, "test")
        .await
        .expect("add the auditor");
}

/// An API token with `role`, created by the admin account.
async fn api_token(app: &TestApp, name: &str, role: Role) -> String {
    let admin = app
        .engine
        .account_operator(ADMIN)
        .await
        .expect("the admin account");
    app.engine
        .create_api_token(&admin, name, role)
        .await
        .expect("create an API token")
}

/// The audit events with `action`, oldest first.
async fn events(app: &TestApp, action: &str) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(action))
        .order_by_asc(audit_event::Column::Seq)
        .all(app.engine.store().conn())
        .await
        .expect("read the audit log")
}

async fn event_count(app: &TestApp) -> u64 {
    audit_event::Entity::find()
        .count(app.engine.store().conn())
        .await
        .expect("count audit events")
}

async fn state_of(app: &TestApp, id: i64) -> String {
    campaign::Entity::find_by_id(id)
        .one(app.engine.store().conn())
        .await
        .expect("read the campaign")
        .expect("the campaign exists")
        .state
        .to_string()
}

async fn campaign_count(app: &TestApp) -> u64 {
    campaign::Entity::find()
        .count(app.engine.store().conn())
        .await
        .expect("count campaigns")
}

async fn mail_count(app: &TestApp) -> u64 {
    outbox_mail::Entity::find()
        .count(app.engine.store().conn())
        .await
        .expect("count mails")
}

/// The path of a review link (`/r/…`).
fn path_of(link: &str, app: &TestApp) -> String {
    link.strip_prefix(&app.base_url).unwrap_or(link).to_string()
}

// ---------------------------------------------------------------------------------------------
// (1) Every console route, for every kind of caller.
// ---------------------------------------------------------------------------------------------

/// A form's fields, by name.
type Fields<'a> = Vec<(&'a str, &'a str)>;

/// What a caller must get.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// 200 with the page (or file).
    Page,
    /// A redirect to the sign-in page, remembering where they were going.
    Login,
    /// 403: signed in, but the role may not.
    Forbidden,
    /// Reached the handler as an admin, which stopped at the missing confirmation (422).
    Unconfirmed,
    /// Reached the handler and did it (a redirect elsewhere than the login page).
    Done,
    /// A signed-in operator on /login goes on to their console.
    Home,
    /// A reviewer's link that does not exist (404).
    NoSuchLink,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Who {
    Anonymous,
    Reviewer,
    Auditor,
    Admin,
    Token,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    /// Everyone: /login, /healthz, /static.
    Public,
    /// Admins only.
    AdminPage,
    /// Admins and auditors.
    ReaderPage,
    /// An admin's form: allowed to admins only; posted without its confirmation.
    AdminForm,
    /// An admin's form that needs no confirmation: done when allowed.
    AdminFormDone,
    /// The reviewer's own link: its token is the key, whoever holds it.
    ReviewLink,
    /// A link that was never issued.
    ForgedLink,
    /// Signing out: any signed-in console user.
    Logout,
}

fn expected(kind: Kind, who: Who, path: &str) -> Expect {
    use Expect::*;
    match (kind, who) {
        (Kind::Public, Who::Auditor | Who::Admin) if path.starts_with("/login") => Home,
        (Kind::Public, _) => Page,
        (Kind::ReviewLink, _) => Page,
        (Kind::ForgedLink, _) => NoSuchLink,
        // Console pages are for people signed in: reviewers have no account, and API tokens
        // are for /api/v1.
        (_, Who::Anonymous | Who::Reviewer | Who::Token) => Login,
        (Kind::AdminPage | Kind::AdminForm | Kind::AdminFormDone, Who::Auditor) => Forbidden,
        (Kind::AdminPage | Kind::ReaderPage, Who::Admin | Who::Auditor) => Page,
        (Kind::AdminForm, Who::Admin) => Unconfirmed,
        (Kind::AdminFormDone | Kind::Logout, Who::Admin | Who::Auditor) => Done,
    }
}

fn check(route: &str, caller: &Caller, expect: Expect, got: &Answer) {
    let ok = match expect {
        Expect::Page => got.status == StatusCode::OK,
        Expect::Login => got.to_login(),
        Expect::Forbidden => got.status == StatusCode::FORBIDDEN,
        Expect::Unconfirmed => got.status == StatusCode::UNPROCESSABLE_ENTITY,
        Expect::Done => got.status == StatusCode::SEE_OTHER && !got.to_login(),
        Expect::Home => {
            got.status == StatusCode::SEE_OTHER
                && (got.location == "/admin" || got.location == "/audit")
        }
        Expect::NoSuchLink => got.status == StatusCode::NOT_FOUND,
    };
    assert!(
        ok,
        "{route} as {}: expected {expect:?}, got {} (Location {:?}):\n{}",
        caller.name,
        got.status,
        got.location,
        got.text().chars().take(600).collect::<String>()
    );
    if got.status == StatusCode::OK && got.content_type.starts_with("text/html") {
        let body = got.text();
        assert!(
            !body.contains("<script"),
            "{route} as {}: console pages run no script",
            caller.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_route_answers_each_caller_as_design_section_1_allows() {
    let test = "every_console_route_answers_each_caller_as_design_section_1_allows";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    let launched = app.launch().await;
    let id = launched.campaign_id;
    app.drain_mail().await;
    let maria_link = path_of(&app.link_for("maria@org.test"), &app);
    let maria_token = maria_link.trim_start_matches("/r/").to_string();
    accounts(&app).await;
    let admin = sign_in(&app, "an admin session", ADMIN).await;
    let auditor = sign_in(&app, "an auditor session", AUDITOR).await;
    let admin_token = api_token(&app, "deploy", Role::Admin).await;
    let auditor_token = api_token(&app, "auditors-script", Role::Auditor).await;
    let callers: Vec<(Who, Caller)> = vec![
        (Who::Anonymous, Caller::anonymous()),
        // A reviewer has only the token of their link; it opens nothing else, however sent.
        (
            Who::Reviewer,
            Caller::with_cookie("a reviewer's token as a cookie", &maria_token, None),
        ),
        (
            Who::Reviewer,
            Caller::with_bearer("a reviewer's token as a bearer", &maria_token),
        ),
        (Who::Auditor, auditor.clone()),
        (Who::Admin, admin.clone()),
        (
            Who::Token,
            Caller::with_bearer("an admin API token", &admin_token),
        ),
        (
            Who::Token,
            Caller::with_bearer("an auditor API token", &auditor_token),
        ),
    ];
    let gets: Vec<(Kind, String)> = vec![
        (Kind::Public, "/login".into()),
        (Kind::Public, "/healthz".into()),
        (Kind::Public, "/static/attest.css".into()),
        (Kind::AdminPage, "/admin".into()),
        (Kind::AdminPage, format!("/admin/campaigns/{id}")),
        (
            Kind::AdminPage,
            format!("/admin/campaigns/{id}?reviewer=m1&show=undecided&page=1"),
        ),
        (Kind::AdminPage, "/admin/definitions".into()),
        (
            Kind::AdminPage,
            format!("/admin/definitions/{DEFINITION_NAME}"),
        ),
        (
            Kind::AdminPage,
            format!("/admin/definitions/{DEFINITION_NAME}/preview"),
        ),
        (Kind::AdminPage, "/admin/eligibility?q=admin&page=1".into()),
        (Kind::AdminPage, "/admin/log".into()),
        (Kind::ReaderPage, "/audit".into()),
        (Kind::ReaderPage, format!("/audit/campaigns/{id}")),
        (
            Kind::ReaderPage,
            format!("/audit/campaigns/{id}?show=decided"),
        ),
        (
            Kind::ReaderPage,
            format!("/audit/campaigns/{id}/evidence.zip"),
        ),
        (Kind::ReaderPage, "/audit/log".into()),
        (Kind::AdminPage, "/admin/accounts".into()),
        (Kind::ReaderPage, "/account/password".into()),
        (Kind::ReviewLink, maria_link.clone()),
        (
            Kind::ForgedLink,
            "/r/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
        ),
    ];
    let before_events = event_count(&app).await;
    for (kind, path) in &gets {
        for (who, caller) in &callers {
            let got = caller.get(&app, path).await;
            check(
                &format!("GET {path}"),
                caller,
                expected(*kind, *who, path),
                &got,
            );
        }
    }
    // Reading wrote nothing but the evidence export's own note, if any: no audit events from
    // GETs of pages, so looking is never mistaken for acting.
    let after_reading = event_count(&app).await;
    let reads: Vec<String> = audit_event::Entity::find()
        .filter(audit_event::Column::Seq.gt(0))
        .order_by_asc(audit_event::Column::Seq)
        .all(app.engine.store().conn())
        .await
        .expect("read the audit log")
        .into_iter()
        .skip(before_events as usize)
        .map(|e| e.action)
        .collect();
    assert!(
        reads
            .iter()
            .all(|a| a.starts_with("evidence.") || a == "auth.login"),
        "GETs changed nothing ({before_events} → {after_reading} events): {reads:?}"
    );

    // Forms. Each is posted with the caller's own anti-forgery value (when they have one), so
    // a refusal is about who they are; the admin's destructive forms lack their confirmation,
    // so nothing changes even where they are allowed.
    let auditor_account = app
        .engine
        .accounts()
        .await
        .expect("accounts")
        .into_iter()
        .find(|a| a.email == AUDITOR)
        .expect("the auditor's account")
        .id;
    let deploy_token = app
        .engine
        .api_tokens()
        .await
        .expect("tokens")
        .into_iter()
        .find(|t| t.name == "deploy")
        .expect("the deploy token")
        .id;
    let posts: Vec<(Kind, String, Fields)> = vec![
        (
            Kind::AdminForm,
            format!("/admin/campaigns/{id}/close"),
            vec![],
        ),
        (
            Kind::AdminForm,
            format!("/admin/campaigns/{id}/revoke-links"),
            vec![("reviewer", "m1")],
        ),
        (
            Kind::AdminForm,
            format!("/admin/accounts/{auditor_account}/disable"),
            vec![],
        ),
        (
            Kind::AdminForm,
            format!("/admin/tokens/{deploy_token}/revoke"),
            vec![],
        ),
        (
            Kind::AdminForm,
            format!("/admin/campaigns/{id}/cancel"),
            vec![],
        ),
        (
            Kind::AdminForm,
            format!("/admin/campaigns/{id}/confirm-removals"),
            vec![],
        ),
        (
            Kind::AdminForm,
            format!("/admin/definitions/{DEFINITION_NAME}/launch"),
            vec![("adhoc", "yes")],
        ),
        (
            Kind::AdminFormDone,
            format!("/admin/campaigns/{id}/resend"),
            vec![("reviewer", "m2")],
        ),
        (
            Kind::AdminFormDone,
            "/admin/definitions".into(),
            vec![("toml", DEFINITION)],
        ),
    ];
    let mails_before = mail_count(&app).await;
    for (kind, path, form) in &posts {
        for (who, caller) in &callers {
            let got = caller.post(&app, path, form).await;
            check(
                &format!("POST {path}"),
                caller,
                expected(*kind, *who, path),
                &got,
            );
        }
        assert_eq!(state_of(&app, id).await, "active", "after POST {path}");
        assert_eq!(campaign_count(&app).await, 1, "after POST {path}");
    }
    // Only the admin's resend queued a mail; the definition upload was the same text, so no
    // new version either.
    assert_eq!(
        mail_count(&app).await,
        mails_before + 1,
        "one resent invitation"
    );
    let versions = campaign_definition::Entity::find()
        .count(app.engine.store().conn())
        .await
        .expect("count definitions");
    assert_eq!(
        versions, 1,
        "re-uploading the same definition stores nothing"
    );
    let resent = events(&app, "campaign.resend_invitation").await;
    assert_eq!(resent.len(), 1, "{resent:?}");
    assert_eq!(resent[0].actor, format!("account:{ADMIN}"));
    let defined: Vec<_> = events(&app, "definition.define")
        .await
        .into_iter()
        .filter(|e| e.actor == format!("account:{ADMIN}"))
        .collect();
    assert_eq!(
        defined.len(),
        1,
        "the admin's upload is audited: {defined:?}"
    );
    // Auditors changed nothing: no event names them but their sign-in.
    let by_auditor: Vec<String> = audit_event::Entity::find()
        .filter(audit_event::Column::Actor.eq(format!("account:{AUDITOR}")))
        .all(app.engine.store().conn())
        .await
        .expect("read the audit log")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(by_auditor, vec!["auth.login".to_string()], "{by_auditor:?}");

    // A reviewer's link is their own page only: Maria's page neither shows nor takes Mark's
    // items.
    let mark = app.principal("m2").await.id;
    let marks_item = *launched
        .items_of(mark)
        .iter()
        .next()
        .expect("Mark has an item");
    let page = Caller::anonymous().get(&app, &maria_link).await;
    assert!(
        !page.text().contains(&format!("name=\"item-{marks_item}\"")),
        "Maria's page offers none of Mark's items"
    );
    let csrf = field_value(&page.text(), "csrf").expect("the review page's csrf");
    let got = Caller::anonymous()
        .post_exactly(
            &app,
            &maria_link,
            &[
                ("csrf".into(), csrf),
                (format!("item-{marks_item}"), "revoke".into()),
                (format!("why-{marks_item}"), "not mine to decide".into()),
                ("action".into(), "save".into()),
            ],
        )
        .await;
    assert_ne!(got.status, StatusCode::SEE_OTHER, "{}", got.text());
    assert_eq!(
        app.item(marks_item).await.verdict,
        None::<String>,
        "Mark's item stays undecided"
    );

    // Signing out: a session ends, and its cookie then opens nothing.
    for (who, caller) in &callers {
        let got = caller.post(&app, "/logout", &[]).await;
        check(
            "POST /logout",
            caller,
            expected(Kind::Logout, *who, "/logout"),
            &got,
        );
        if matches!(who, Who::Admin | Who::Auditor) {
            assert_eq!(got.location, "/login");
            let line = got
                .cookie_line("attest_session")
                .expect("the cookie is cleared");
            assert!(line.contains("Max-Age=0"), "{line}");
            assert!(
                caller.get(&app, "/audit").await.to_login(),
                "{} signed out",
                caller.name
            );
        }
    }
    assert_eq!(events(&app, "auth.logout").await.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// (2) Sign-in refusals, each refused and audited.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_slow_further_attempts_and_every_refusal_is_audited() {
    let test = "wrong_passwords_slow_further_attempts_and_every_refusal_is_audited";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    accounts(&app).await;

    // A wrong password: refused, the same words as an unknown account, audited.
    let wrong = login_attempt(&app, ADMIN, "not the password at all").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text());
    assert!(wrong.says("do not match an account"), "{}", wrong.text());
    assert!(wrong.cookie("attest_session").is_none(), "no session");
    let unknown = login_attempt(&app, "nobody@attest.test", PASSWORD).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let failed = events(&app, "auth.login_failed").await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[0].actor, format!("account:{ADMIN}"));
    assert!(
        failed[0].details.contains("wrong password"),
        "{}",
        failed[0].details
    );
    assert!(
        failed[0].details.contains("127.0.0.1"),
        "the address is recorded"
    );
    assert!(
        failed[1].details.contains("unknown account"),
        "{}",
        failed[1].details
    );

    // After five failures from this address, even the right password has to wait (the
    // security tests cover how the wait grows, and that other addresses are not held).
    for attempt in 2..=5 {
        let answer = login_attempt(&app, ADMIN, "still wrong, sorry").await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}: {}",
            answer.text()
        );
    }
    let held = login_attempt(&app, ADMIN, PASSWORD).await;
    assert_eq!(
        held.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        held.text()
    );
    assert!(held.says("too many failed sign-ins"), "{}", held.text());
    assert!(
        held.cookie("attest_session").is_none(),
        "no session while held"
    );
    let failed = events(&app, "auth.login_failed").await;
    assert_eq!(failed.len(), 7, "five wrong, one unknown, one while held");
    let last = failed.last().expect("an event");
    assert!(last.details.contains("throttled"), "{}", last.details);
    assert!(
        failed[5].details.contains("\"failed_logins\":5"),
        "the fifth failure is counted: {}",
        failed[5].details
    );

    // The wait runs out (a second, after five failures).
    app.clock.advance(Duration::seconds(1));
    let back = login_attempt(&app, ADMIN, PASSWORD).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.text());
    assert_eq!(back.location, "/admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire_after_twelve_hours_and_the_refusal_is_audited() {
    let test = "sessions_expire_after_twelve_hours_and_the_refusal_is_audited";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    accounts(&app).await;
    let signed_in = login_attempt(&app, AUDITOR, PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    assert_eq!(signed_in.location, "/audit", "an auditor starts at /audit");
    let line = signed_in
        .cookie_line("attest_session")
        .expect("a session cookie")
        .to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(line.contains(attribute), "{attribute} in {line}");
    }
    assert!(!line.contains("Secure"), "plain http: no Secure ({line})");
    let session = signed_in.cookie("attest_session").expect("the session");
    let auditor = Caller::with_cookie("an auditor session", &session, None);
    assert_eq!(auditor.get(&app, "/audit").await.status, StatusCode::OK);

    // 11 hours 59 minutes on it still works; past 12 hours it does not.
    app.clock
        .advance(Duration::hours(11) + Duration::minutes(59));
    assert_eq!(auditor.get(&app, "/audit/log").await.status, StatusCode::OK);
    app.clock.advance(Duration::minutes(2));
    let expired = auditor.get(&app, "/audit/log").await;
    assert!(expired.to_login(), "{expired:?}");
    assert_eq!(expired.location, "/login?next=%2Faudit%2Flog");
    let cleared = expired
        .cookie_line("attest_session")
        .expect("the stale cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let audited = events(&app, "auth.session_expired").await;
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0].actor, format!("account:{AUDITOR}"));
    assert!(
        audited[0].details.contains("expired"),
        "{}",
        audited[0].details
    );

    // A made-up cookie is refused too, without an event for a name no one has.
    let before = event_count(&app).await;
    let forged = Caller::with_cookie("a made-up cookie", "bm90LWEtc2Vzc2lvbg", None);
    assert!(forged.get(&app, "/audit").await.to_login());
    assert_eq!(event_count(&app).await, before);

    // Signing in again works, and /login sends a signed-in operator on.
    let again = login_attempt(&app, AUDITOR, PASSWORD).await;
    let session = again.cookie("attest_session").expect("a new session");
    let auditor = Caller::with_cookie("an auditor session", &session, None);
    let login = auditor.get(&app, "/login?next=/audit/log").await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    assert_eq!(login.location, "/audit/log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_secure_when_the_instance_is_reached_over_https() {
    let test = "cookies_are_secure_when_the_instance_is_reached_over_https";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    accounts(&app).await;
    // The same engine behind a server whose public address is https (a TLS proxy in front).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(attest::web::serve(
        listener,
        attest::web::AppState {
            engine: app.engine.clone(),
            base_url: "https://attest.example.org".into(),
        },
        async move {
            let _ = stopped.await;
        },
    ));
    let base = format!("http://127.0.0.1:{port}");
    let form = send(app.http.get(format!("{base}/login")), "GET /login").await;
    let login_line = form.cookie_line("attest_login").expect("the login cookie");
    assert!(
        login_line.contains("Secure")
            && login_line.contains("HttpOnly")
            && login_line.contains("SameSite=Strict"),
        "{login_line}"
    );
    let cookie = form.cookie("attest_login").expect("the login cookie");
    let csrf = field_value(&form.text(), "csrf").expect("csrf");
    let answer = send(
        app.http
            .post(format!("{base}/login"))
            .header(header::COOKIE, format!("attest_login={cookie}"))
            .form(&[("email", ADMIN), ("password", PASSWORD), ("csrf", &csrf)]),
        "POST /login",
    )
    .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text());
    let line = answer
        .cookie_line("attest_session")
        .expect("session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(line.contains(attribute), "{attribute} in {line}");
    }
    let _ = stop.send(());
    let _ = server.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_their_anti_forgery_value_are_refused_and_audited() {
    let test = "forms_without_their_anti_forgery_value_are_refused_and_audited";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    let launched = app.launch().await;
    let id = launched.campaign_id;
    accounts(&app).await;
    let admin = sign_in(&app, "an admin session", ADMIN).await;
    let csrf = admin.csrf.clone().expect("the admin's csrf");
    let no_csrf = Caller {
        csrf: None,
        ..admin.clone()
    };
    let wrong_csrf = Caller {
        csrf: Some(format!("{}x", &csrf[..csrf.len() - 1])),
        ..admin.clone()
    };
    let mails = mail_count(&app).await;
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("/admin/campaigns/{id}/cancel"),
            vec![("confirm", "yes")],
        ),
        (
            format!("/admin/campaigns/{id}/close"),
            vec![("confirm", "yes")],
        ),
        (
            format!("/admin/campaigns/{id}/resend"),
            vec![("reviewer", "m1")],
        ),
        (
            format!("/admin/definitions/{DEFINITION_NAME}/launch"),
            vec![("confirm", "yes"), ("adhoc", "yes")],
        ),
        ("/admin/definitions".into(), vec![("toml", DEFINITION)]),
        ("/logout".into(), vec![]),
    ];
    let mut refused = 0;
    for (path, form) in &forms {
        for caller in [&no_csrf, &wrong_csrf] {
            let got = caller.post(&app, path, form).await;
            assert_eq!(
                got.status,
                StatusCode::FORBIDDEN,
                "POST {path}: {}",
                got.text()
            );
            assert!(got.says("anti-forgery"), "{}", got.text());
            refused += 1;
        }
    }
    // Nothing changed, the session still works, and each refusal is in the log by name.
    assert_eq!(state_of(&app, id).await, "active");
    assert_eq!(campaign_count(&app).await, 1);
    assert_eq!(mail_count(&app).await, mails);
    assert_eq!(admin.get(&app, "/admin").await.status, StatusCode::OK);
    let audited = events(&app, "console.forgery_refused").await;
    assert_eq!(audited.len(), refused, "{audited:?}");
    assert!(audited
        .iter()
        .all(|e| e.actor == format!("account:{ADMIN}")));

    // The login form without its anti-forgery value: refused, and (anonymous) not audited.
    let before = event_count(&app).await;
    let got = send(
        app.http
            .post(app.url("/login"))
            .form(&[("email", ADMIN), ("password", PASSWORD)]),
        "POST /login without csrf",
    )
    .await;
    assert_eq!(got.status, StatusCode::FORBIDDEN, "{}", got.text());
    assert!(got.cookie("attest_session").is_none());
    assert_eq!(
        event_count(&app).await,
        before,
        "an anonymous post is not audited: anyone could send it as often as they like"
    );

    // With it, the same actions go through, audited under the admin's name.
    let got = admin
        .post(
            &app,
            &format!("/admin/campaigns/{id}/cancel"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(got.status, StatusCode::SEE_OTHER, "{}", got.text());
    assert_eq!(
        got.location,
        format!("/admin/campaigns/{id}?done=cancelled")
    );
    assert_eq!(state_of(&app, id).await, "cancelled");
    let cancelled = events(&app, "campaign.cancel").await;
    assert_eq!(cancelled.len(), 1, "{cancelled:?}");
    assert_eq!(cancelled[0].actor, format!("account:{ADMIN}"));
}

// ---------------------------------------------------------------------------------------------
// The admin's pages and actions, end to end.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_defines_previews_launches_filters_resends_and_closes_from_the_console() {
    let test = "an_admin_defines_previews_launches_filters_resends_and_closes_from_the_console";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    app.import_org().await;
    accounts(&app).await;
    let admin = sign_in(&app, "an admin session", ADMIN).await;
    let actor = format!("account:{ADMIN}");

    // An invalid definition is refused with its reasons, the text kept for correcting.
    let bad = DEFINITION.replace("reviewers = \"manager\"", "reviewers = \"whoever\"");
    let got = admin
        .post(&app, "/admin/definitions", &[("toml", &bad)])
        .await;
    assert_eq!(
        got.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        got.text()
    );
    assert!(
        got.says("uploaded-definition.toml") && got.says("reviewers"),
        "{}",
        got.text()
    );
    assert!(got.says("whoever"), "the text is kept in the box");
    assert!(
        !got.says("/tmp/"),
        "no temporary path in the message: {}",
        got.text()
    );

    // A valid one is stored, audited under the admin's name, and shown as written.
    let got = admin
        .post(&app, "/admin/definitions", &[("toml", DEFINITION)])
        .await;
    assert_eq!(got.status, StatusCode::SEE_OTHER, "{}", got.text());
    assert_eq!(
        got.location,
        format!("/admin/definitions/{DEFINITION_NAME}?done=defined")
    );
    let defined = events(&app, "definition.define").await;
    assert_eq!(defined.len(), 1);
    assert_eq!(defined[0].actor, actor);
    let list = admin.get(&app, "/admin/definitions").await;
    assert!(
        list.says(DEFINITION_NAME) && list.says("quarterly"),
        "{}",
        list.text()
    );
    assert!(
        list.says("2027-Q2"),
        "the next launch's period: {}",
        list.text()
    );
    let shown = admin.get(&app, &got.location).await;
    assert!(shown.says("Stored as a new version"), "{}", shown.text());
    assert!(
        shown
            .text()
            .contains("require_justification = [&#34;revoke&#34;]")
            || shown
                .text()
                .contains("require_justification = [&quot;revoke&quot;]"),
        "the TOML as written: {}",
        shown.text()
    );

    // Preview: six high-risk eligibilities for three reviewers; nothing is created.
    let preview = admin
        .get(
            &app,
            &format!("/admin/definitions/{DEFINITION_NAME}/preview"),
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK);
    assert!(
        preview.text().contains("<dd>6</dd>"),
        "population 6: {}",
        preview.text()
    );
    assert!(preview.says("Maria Manager"), "{}", preview.text());
    assert_eq!(campaign_count(&app).await, 0, "a preview creates nothing");

    // Launch: refused without the confirmation, done with it.
    let launch = format!("/admin/definitions/{DEFINITION_NAME}/launch");
    let got = admin.post(&app, &launch, &[]).await;
    assert_eq!(got.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(campaign_count(&app).await, 0);
    let got = admin.post(&app, &launch, &[("confirm", "yes")]).await;
    assert_eq!(got.status, StatusCode::SEE_OTHER, "{}", got.text());
    let id: i64 = got
        .location
        .strip_prefix("/admin/campaigns/")
        .and_then(|rest| rest.strip_suffix("?done=launched"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("redirected to the new campaign: {}", got.location));
    assert_eq!(state_of(&app, id).await, "active");
    let launches = events(&app, "campaign.launch").await;
    assert_eq!(launches.len(), 1);
    assert_eq!(launches[0].actor, actor);
    // The same period again is a conflict, said on a page.
    let again = admin.post(&app, &launch, &[("confirm", "yes")]).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text());
    assert!(again.says("already has campaign"), "{}", again.text());

    let page = admin.get(&app, &got.location).await;
    assert!(
        page.says("one invitation per reviewer is queued"),
        "{}",
        page.text()
    );
    assert!(page.says("Maria Manager") && page.says("Mark Manager"));
    assert!(page.says("Items 1–6 of 6"), "{}", page.text());

    // Decisions arrive; the filters narrow the items.
    let items = app.items(id).await;
    let maria = app.principal("m1").await.id;
    let a3 = items
        .iter()
        .find(|i| i.holder_external_id == "a3")
        .expect("a3's item")
        .id;
    app.engine
        .decide(&DecisionRequest {
            campaign_id: id,
            item_ids: &[a3],
            verdict: attest::domain::closing::Verdict::Revoke,
            justification: Some("Left the team in December"),
            reviewer: Some(maria),
            acting_for: None,
            channel: Channel::Link,
            client_addr: None,
            actor: "reviewer:m1",
        })
        .await
        .expect("Maria revokes a3");
    let path = format!("/admin/campaigns/{id}");
    let count = |answer: &Answer| -> String {
        let text = answer.text();
        let start = text.find("Items ").map_or(0, |i| i);
        text[start..].chars().take(30).collect()
    };
    for (query, want) in [
        ("?reviewer=m1", "Items 1–4 of 4"),
        ("?reviewer=m2", "Items 1–2 of 2"),
        ("?holder=a1", "Items 1–2 of 2"),
        ("?show=undecided", "Items 1–5 of 5"),
        ("?show=decided", "Items 1–1 of 1"),
        ("?show=revoked", "Items 1–1 of 1"),
        ("?show=flagged", "Items 0–0 of 0"),
        ("?reviewer=m2&show=revoked", "Items 0–0 of 0"),
    ] {
        let got = admin.get(&app, &format!("{path}{query}")).await;
        assert_eq!(got.status, StatusCode::OK, "{query}");
        assert!(
            got.says(want),
            "{query}: {want} expected, the page says {:?}",
            count(&got)
        );
    }
    let revoked = admin.get(&app, &format!("{path}?show=revoked")).await;
    assert!(
        revoked.says("Left the team in December"),
        "the justification is shown"
    );

    // Resend an invitation to a reviewer with open items: a new mail, audited.
    let mails = mail_count(&app).await;
    let got = admin
        .post(&app, &format!("{path}/resend"), &[("reviewer", "m2")])
        .await;
    assert_eq!(got.status, StatusCode::SEE_OTHER, "{}", got.text());
    assert_eq!(mail_count(&app).await, mails + 1);
    let notice = admin.get(&app, &got.location).await;
    assert!(
        notice.says("A new invitation (with a new link) to Mark Manager"),
        "{}",
        notice.text()
    );
    let resent = events(&app, "campaign.resend_invitation").await;
    assert_eq!(
        (resent.len(), resent[0].actor.as_str()),
        (1, actor.as_str())
    );
    // A made-up notice shows nothing.
    let crafted = admin
        .get(&app, &format!("{path}?done=resent&to=Call+0800+now"))
        .await;
    assert!(!crafted.says("0800"));

    // Close: refused without the confirmation, done with it, audited.
    let got = admin.post(&app, &format!("{path}/close"), &[]).await;
    assert_eq!(got.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(state_of(&app, id).await, "active");
    let got = admin
        .post(&app, &format!("{path}/close"), &[("confirm", "yes")])
        .await;
    assert_eq!(got.status, StatusCode::SEE_OTHER, "{}", got.text());
    assert_ne!(state_of(&app, id).await, "active");
    let closed = events(&app, "campaign.close").await;
    assert_eq!(
        (closed.len(), closed[0].actor.as_str()),
        (1, actor.as_str())
    );
    // Resending to a closed campaign is refused on a page.
    let got = admin
        .post(&app, &format!("{path}/resend"), &[("reviewer", "m2")])
        .await;
    assert_eq!(got.status, StatusCode::CONFLICT, "{}", got.text());

    // The audit log shows it all, with the admin's name, and pages back.
    let log = admin.get(&app, "/admin/log").await;
    assert!(log.says("Hash chain intact"), "{}", log.text());
    for action in [
        "campaign.close",
        "campaign.resend_invitation",
        "campaign.launch",
        "definition.define",
    ] {
        assert!(log.says(action), "{action} in the log");
    }
    let newest = audit_event::Entity::find()
        .order_by_desc(audit_event::Column::Seq)
        .one(app.engine.store().conn())
        .await
        .expect("read")
        .expect("an event");
    let older = admin
        .get(&app, &format!("/admin/log?before={}", newest.seq))
        .await;
    assert!(older.says("Newest events"), "{}", older.text());
    assert!(!older
        .text()
        .contains(&format!("<td class=\"n\">{}</td>", newest.seq)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eligibility_browser_and_the_item_list_page_through_a_synthetic_organisation() {
    let test = "the_eligibility_browser_and_the_item_list_page_through_a_synthetic_organisation";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    let spec = attest::synth::OrgSpec {
        people: 80,
        eligibilities: 300,
        seed: 11,
    };
    let files =
        attest::synth::write_org(&spec, app.db.dir(), app.engine.now()).expect("write the org");
    for (kind, path) in [
        (attest::domain::records::ImportKind::People, &files.people),
        (attest::domain::records::ImportKind::Roles, &files.roles),
        (
            attest::domain::records::ImportKind::Eligibility,
            &files.eligibility,
        ),
    ] {
        app.engine
            .import(
                kind,
                attest::engine::import::ImportInput::open(path).expect("the import file opens"),
                Default::default(),
                "test",
                &NoProgress,
            )
            .await
            .expect("import");
    }
    accounts(&app).await;
    let admin = sign_in(&app, "an admin session", ADMIN).await;

    let first = admin.get(&app, "/admin/eligibility").await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.says("Rows 1–50 (page 1)"), "{}", first.text());
    assert!(first.text().contains("rel=\"next\""), "a next page");
    let second = admin.get(&app, "/admin/eligibility?page=2").await;
    assert!(second.says("Rows 51–100 (page 2)"), "{}", second.text());
    assert!(second.text().contains("rel=\"prev\""));
    let global = admin
        .get(&app, "/admin/eligibility?role=Global+Administrator")
        .await;
    let rows = global
        .text()
        .matches("<tr><td><a href=\"/admin/eligibility?principal=")
        .count();
    assert!(rows > 0, "{}", global.text());
    assert_eq!(
        global
            .text()
            .matches("<td>Global Administrator <span")
            .count(),
        rows,
        "only Global Administrators"
    );
    let search = admin.get(&app, "/admin/eligibility?q=p0000001").await;
    assert!(search.says("p0000001"), "{}", search.text());
    let nothing = admin.get(&app, "/admin/eligibility?q=zzzz-nobody").await;
    assert!(nothing.says("Nothing matches"));

    // A campaign over all of it pages its items 50 at a time.
    let definition = r#"
name = "everything"
owner = "p0000000"
schedule = "quarterly"
duration_days = 14
reviewers = "manager"
fallback_reviewer = "p0000001"
on_no_response = "keep"
"#;
    let got = admin
        .post(&app, "/admin/definitions", &[("toml", definition)])
        .await;
    assert_eq!(got.status, StatusCode::SEE_OTHER, "{}", got.text());
    let got = admin
        .post(
            &app,
            "/admin/definitions/everything/launch",
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(got.status, StatusCode::SEE_OTHER, "{}", got.text());
    let path = got.location.split('?').next().expect("a path").to_string();
    let id: i64 = path
        .rsplit('/')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("an id");
    let total = app
        .engine
        .campaign(id)
        .await
        .expect("the campaign")
        .counts
        .items as u64;
    assert!(total > 100, "the campaign has {total} items");
    let pages = total.div_ceil(50);
    let page = admin.get(&app, &path).await;
    assert!(
        page.says(&format!("Items 1–50 of {total} (page 1 of {pages})")),
        "{}",
        page.text()
    );
    let last = admin.get(&app, &format!("{path}?page={pages}")).await;
    let first_on_last = (pages - 1) * 50 + 1;
    assert!(
        last.says(&format!(
            "Items {first_on_last}–{total} of {total} (page {pages} of {pages})"
        )),
        "{}",
        last.text()
    );
    assert!(!last.text().contains("rel=\"next\""));
    assert!(last.text().contains("rel=\"prev\""));
    let beyond = admin.get(&app, &format!("{path}?page=99")).await;
    assert_eq!(beyond.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// (4) Evidence: the console's download and the API's are the same bundle, and it verifies.
// ---------------------------------------------------------------------------------------------

/// Decides every item (revoking one, justified), closes, removes and completes the campaign.
async fn complete(app: &TestApp, launched: &Launched) {
    let id = launched.campaign_id;
    for (reviewer, items) in &launched.items_by_reviewer {
        let ids: Vec<i64> = items.iter().copied().collect();
        let (revoke, keep) = ids.split_at(1);
        for (ids, verdict, why) in [
            (
                revoke,
                attest::domain::closing::Verdict::Revoke,
                Some("No longer needed"),
            ),
            (keep, attest::domain::closing::Verdict::Attest, None),
        ] {
            if ids.is_empty() {
                continue;
            }
            app.engine
                .decide(&DecisionRequest {
                    campaign_id: id,
                    item_ids: ids,
                    verdict,
                    justification: why,
                    reviewer: Some(*reviewer),
                    acting_for: None,
                    channel: Channel::Link,
                    client_addr: Some("192.0.2.7"),
                    actor: "reviewer",
                })
                .await
                .expect("decide");
        }
    }
    app.clock.advance(Duration::days(1));
    app.engine.close(id, "test").await.expect("close");
    for _ in 0..100 {
        if app.engine.remediate_step().await.expect("remediate") == 0 {
            break;
        }
    }
    assert_eq!(
        app.engine.complete_finished().await.expect("complete"),
        vec![id]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_downloads_the_same_verified_evidence_from_the_console_and_the_api() {
    let test = "an_auditor_downloads_the_same_verified_evidence_from_the_console_and_the_api";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    let launched = app.launch().await;
    let id = launched.campaign_id;
    complete(&app, &launched).await;
    accounts(&app).await;
    let auditor = sign_in(&app, "an auditor session", AUDITOR).await;
    let token = api_token(&app, "auditors-evidence", Role::Auditor).await;

    // The auditor's campaign page: completeness, decisions with their justifications.
    let page = auditor.get(&app, &format!("/audit/campaigns/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    for (label, key, value) in [
        ("Population", "population", "6"),
        ("Decided by people", "decided_by_people", "6"),
        ("Undecided", "undecided", "0"),
        ("Removed", "removals_done", "2"),
        ("Removals given up", "removals_given_up", "0"),
    ] {
        assert!(
            text.contains(&format!(
                "<dt>{label}</dt><dd data-figure=\"{key}\">{value}<"
            )),
            "{label} {value} on the auditor's page:\n{text}"
        );
    }
    assert!(page.says("No longer needed"), "justifications are shown");
    assert!(
        !text.contains("method=\"post\" action=\"/admin"),
        "no admin forms for an auditor"
    );

    let console = auditor
        .get(&app, &format!("/audit/campaigns/{id}/evidence.zip"))
        .await;
    assert_eq!(console.status, StatusCode::OK, "{}", console.text());
    assert_eq!(console.content_type, "application/zip");
    let api = Caller::with_bearer("an auditor API token", &token)
        .get(&app, &format!("/api/v1/campaigns/{id}/evidence"))
        .await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.text());
    let (from_console, from_api) = (unzip(&console.body), unzip(&api.body));
    assert_eq!(
        from_console.keys().collect::<Vec<_>>(),
        from_api.keys().collect::<Vec<_>>(),
        "the same files"
    );
    for name in [
        "items.csv",
        "campaign.json",
        "audit.jsonl",
        "report.html",
        "manifest.json",
    ] {
        assert!(from_console.contains_key(name), "{name} in the bundle");
    }
    for (name, content) in &from_console {
        assert!(
            from_api.get(name) == Some(content),
            "{name} differs between the console's and the API's download"
        );
    }
    let items = String::from_utf8_lossy(&from_console["items.csv"]).into_owned();
    assert_eq!(items.lines().count(), 7, "a header and six items:\n{items}");

    let path = app.db.dir().join("evidence-from-console.zip");
    std::fs::write(&path, &console.body).expect("save the bundle");
    let verification = attest::evidence::verify::verify(&path, None);
    assert!(
        verification.problem.is_none(),
        "the bundle verifies: {verification:?}"
    );
    assert!(!verification.passed.is_empty());
}

#[tokio::test]
async fn the_coverage_page_shows_which_roles_were_reviewed_on_schedule() {
    let test = "the_coverage_page_shows_which_roles_were_reviewed_on_schedule";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    let launched = app.launch().await;
    complete(&app, &launched).await;
    accounts(&app).await;
    let auditor = sign_in(&app, "an auditor session", AUDITOR).await;
    let page = auditor.get(&app, "/audit/coverage").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let text = page.text();
    let row = |role: &str| -> String {
        let start = text
            .find(&format!("<td>{role}</td>"))
            .unwrap_or_else(|| panic!("{role} is listed:\n{text}"));
        let end = text[start..]
            .find("</tr>")
            .map_or(text.len(), |e| start + e);
        text[start..end].to_string()
    };
    let reviewed = row("Global Administrator");
    assert!(
        reviewed.contains(&format!("#{}", launched.campaign_id)),
        "{reviewed}"
    );
    assert!(reviewed.contains("<td>yes</td>"), "{reviewed}");
    let never = row("Reader");
    assert!(
        never.contains("never") && never.contains("<strong class=\"bad\">no</strong>"),
        "{never}"
    );
    assert!(page.says("not reviewed within their cadence"));
    // Anonymous visitors are sent to sign in.
    let anonymous = app.get("/audit/coverage").await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
}

/// Issue 13: an eligibility a campaign removed and an import lists again is shown to admins and
/// auditors as a finding on their dashboards, naming the campaign that had removed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_access_that_came_back_is_a_finding_on_both_dashboards() {
    let test = "removed_access_that_came_back_is_a_finding_on_both_dashboards";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    app.import_org().await;
    let definition = DEFINITION.replace(
        "on_no_response = \"keep\"",
        "on_no_response = \"remove\"\nmax_auto_remove_percent = 100",
    );
    app.define_as("remove-unanswered.toml", &definition).await;
    let id = app.launch_defined().await.campaign_id;
    app.engine.close(id, "test").await.expect("close");
    let _ = app.engine.confirm_removals(id, "test").await;
    while app.engine.remediate_step().await.expect("remediate") > 0 {}
    accounts(&app).await;
    let admin = sign_in(&app, "an admin session", ADMIN).await;
    let auditor = sign_in(&app, "an auditor session", AUDITOR).await;
    let finding = "Finding: removed access came back";
    let before = auditor.get(&app, "/audit").await;
    assert!(
        !before.says(finding),
        "no finding before anything came back"
    );

    let again = app
        .db
        .file("eligibility-again.csv", common::app::ELIGIBILITY);
    let report = app
        .engine
        .import(
            attest::domain::records::ImportKind::Eligibility,
            attest::engine::import::ImportInput::open(&again).expect("the import file opens"),
            attest::engine::import::ImportOptions::default(),
            "test",
            &NoProgress,
        )
        .await
        .expect("import again");
    assert_eq!(report.reappeared, 6, "the campaign removed six");
    for (caller, path) in [(&admin, "/admin"), (&auditor, "/audit")] {
        let page = caller.get(&app, path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        let text = page.text();
        assert!(page.says(finding), "{path} shows no finding:\n{text}");
        assert!(
            page.says("6 times an eligibility that a campaign removed"),
            "{path}:\n{text}"
        );
        assert!(page.says(&format!("campaign #{id}</a>")), "{path}:\n{text}");
        assert!(page.says("Global Administrator"), "{path}:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_page_shows_each_source_its_last_sync_and_errors_and_admins_can_test_and_sync() {
    use attest::sources::config::{LdapConfig, LdapGroup, SourceConfig, WebhookConfig};
    use common::slapd::{group_dn, Slapd, PEOPLE_BASE, SERVICE_DN, SERVICE_PASSWORD};
    if !common::slapd::available(
        "sources_page_shows_each_source_its_last_sync_and_errors_and_admins_can_test_and_sync",
    ) {
        return;
    }
    let slapd = Slapd::start(30);
    std::env::set_var("ATTEST_TEST_CONSOLE_LDAP_PW", SERVICE_PASSWORD);
    let ldap = |url: &str| {
        SourceConfig::Ldap(LdapConfig {
            url: url.into(),
            starttls: false,
            tls_insecure: false,
            bind_dn: SERVICE_DN.into(),
            password_env: "ATTEST_TEST_CONSOLE_LDAP_PW".into(),
            people_base: PEOPLE_BASE.into(),
            people_filter: "(objectClass=inetOrgPerson)".into(),
            member_attribute: "member".into(),
            on_reappearance: Default::default(),
            sync_schedule: None,
            groups: vec![LdapGroup {
                dn: group_dn("domain-admins"),
                role: "Domain Admins".into(),
                scope: "/".into(),
                risk: "high".into(),
                owner: None,
                description: None,
            }],
        })
    };
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let sources = BTreeMap::from([
        ("corp".to_string(), ldap(&slapd.url)),
        (
            "old-dc".to_string(),
            ldap(&format!("ldap://127.0.0.1:{closed}")),
        ),
        (
            "itsm".to_string(),
            SourceConfig::Webhook(WebhookConfig {
                url: "https://itsm.example/hooks/attest".into(),
                secret_env: "ATTEST_TEST_CONSOLE_UNSET_SECRET".into(),
                on_reappearance: Default::default(),
            }),
        ),
    ]);
    let Some(app) =
        TestApp::spawn_with_sources("sources_page", common::at(common::app::START), sources).await
    else {
        return;
    };
    accounts(&app).await;
    let admin = sign_in(&app, "admin", ADMIN).await;
    let auditor = sign_in(&app, "auditor", AUDITOR).await;

    let page = admin.get(&app, "/admin/sources").await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "corp",
        "old-dc",
        "itsm",
        "never",
        "removals only",
        "(not set)",
    ] {
        assert!(
            page.says(text),
            "the sources page lacks {text:?}:\n{}",
            page.text()
        );
    }
    assert!(!page.says(SERVICE_PASSWORD), "the page shows a secret");

    // A form without the session's anti-forgery value changes nothing.
    let forged = admin
        .post_exactly(&app, "/admin/sources/corp/sync", &[])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let synced = admin.post(&app, "/admin/sources/corp/sync", &[]).await;
    assert_eq!(synced.status, StatusCode::OK, "{}", synced.text());
    assert!(synced.says("30 people"), "{}", synced.text());
    let failed = admin.post(&app, "/admin/sources/old-dc/sync", &[]).await;
    assert_eq!(failed.status, StatusCode::BAD_GATEWAY, "{}", failed.text());
    assert!(failed.says("cannot reach"), "{}", failed.text());
    let tested = admin.post(&app, "/admin/sources/corp/test", &[]).await;
    assert_eq!(tested.status, StatusCode::OK, "{}", tested.text());
    assert!(tested.says("Nothing was changed"), "{}", tested.text());

    // Auditors read the same states, and may not act.
    let page = auditor.get(&app, "/audit/sources").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.says("failed:") && page.says("cannot reach"),
        "{}",
        page.text()
    );
    assert!(!page.says("Sync now"), "auditors get no actions");
    let refused = auditor.post(&app, "/admin/sources/corp/sync", &[]).await;
    assert_ne!(refused.status, StatusCode::OK, "an auditor synced a source");
    assert_eq!(events(&app, "source.sync").await.len(), 1);
    assert_eq!(events(&app, "source.sync_failed").await.len(), 1);
    assert_eq!(events(&app, "source.test").await.len(), 1);
}

/// Issue 14: a campaign that is closed and still removing does not call itself open, and its
/// decided share never rounds a real share to nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_campaign_still_removing_is_not_called_open() {
    let Some(app) = TestApp::spawn("closed_not_open").await else {
        return;
    };
    accounts(&app).await;
    let launched = app.launch().await;
    let id = launched.campaign_id;
    let admin = sign_in(&app, "admin", ADMIN).await;
    let open = admin.get(&app, &format!("/admin/campaigns/{id}")).await;
    assert!(open.says("The campaign is still open"), "{}", open.text());

    app.engine.close(id, "test").await.expect("close");
    let state = app.engine.campaign(id).await.expect("show").campaign.state;
    assert!(
        !state.is_final(),
        "closed, removals not carried out yet: {state}"
    );
    let page = admin.get(&app, &format!("/admin/campaigns/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.says("still open"), "{}", page.text());
    assert!(
        page.says("its removals are not all done"),
        "{}",
        page.text()
    );
}

/// Issue 14: an item only its holder could review waits in the admins' queue, linked from the
/// dashboard; an admin decides it there with a justification (one without is refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_only_its_holder_could_review_is_decided_from_the_admins_queue() {
    let Some(app) =
        TestApp::spawn("an_item_only_its_holder_could_review_is_decided_from_the_admins_queue")
            .await
    else {
        return;
    };
    app.import_org().await;
    let extra = app.db.file(
        "owner-eligibility.csv",
        "principal_id,role,scope,start,end,last_activated_at\nown,Global Administrator,/,2025-01-10,,\n",
    );
    app.engine
        .import(
            attest::domain::records::ImportKind::Eligibility,
            attest::engine::import::ImportInput::open(&extra).expect("the import file opens"),
            attest::engine::import::ImportOptions::default(),
            "test",
            &NoProgress,
        )
        .await
        .expect("import the owner's eligibility");
    app.define_as(
        "self.toml",
        &DEFINITION.replace("fallback_reviewer = \"fb\"", "fallback_reviewer = \"own\""),
    )
    .await;
    let launched = app.launch_defined().await;
    accounts(&app).await;
    let admin = sign_in(&app, "admin", ADMIN).await;

    let dashboard = admin.get(&app, "/admin").await;
    assert!(
        dashboard.says("1 item waits for an admin's decision"),
        "{}",
        dashboard.text()
    );
    let queue = admin.get(&app, "/admin/queue").await;
    assert_eq!(queue.status, StatusCode::OK);
    assert!(queue.says("Olga Owner"), "{}", queue.text());
    let own_item = app
        .items(launched.campaign_id)
        .await
        .into_iter()
        .find(|i| i.holder_external_id == "own")
        .expect("the owner's item");
    let path = format!("/admin/queue/{}", own_item.id);

    let refused = admin
        .post(&app, &path, &[("verdict", "attest"), ("justification", "")])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text());
    assert!(refused.says("justification"), "{}", refused.text());
    assert!(app.item(own_item.id).await.verdict.is_none());

    let done = admin
        .post(
            &app,
            &path,
            &[
                ("verdict", "revoke"),
                ("justification", "the owner no longer needs it"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    assert_eq!(
        app.item(own_item.id).await.verdict.as_deref(),
        Some(attest::domain::closing::Verdict::Revoke.as_str())
    );
    let queue = admin.get(&app, "/admin/queue").await;
    assert!(queue.says("No item waits for an admin"), "{}", queue.text());
    // The evidence says who decided it and why it was not a reviewer.
    let zip = admin
        .get(
            &app,
            &format!("/audit/campaigns/{}/evidence.zip", launched.campaign_id),
        )
        .await;
    let report = String::from_utf8(unzip(&zip.body)["report.html"].clone()).expect("report");
    assert!(
        report.contains("nobody reviews their own access, so an admin decided it")
            && report.contains(&format!("an admin: account:{ADMIN}")),
        "{report}"
    );
    assert_eq!(
        events(&app, "decision.record")
            .await
            .last()
            .map(|e| e.actor.clone()),
        Some(format!("account:{ADMIN}"))
    );
}

/// Issue 14: the mail that says a safety rail held removals back links to the campaign's
/// console page, where a signed-in admin confirms them (not only a command to run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_held_removals_mail_links_to_the_campaign_page_where_an_admin_confirms() {
    let Some(app) = TestApp::spawn("held_removals_mail_link").await else {
        return;
    };
    accounts(&app).await;
    app.import_org().await;
    // Nobody answers and unanswered items are removed: all six would go, past the 50% rail.
    let definition =
        DEFINITION.replace(r#"on_no_response = "keep""#, r#"on_no_response = "remove""#);
    assert_ne!(definition, DEFINITION);
    app.define_as("reviewer-flow.toml", &definition).await;
    let launched = app.launch_defined().await;
    let id = launched.campaign_id;
    app.drain_mail().await;
    app.engine.close(id, "test").await.expect("close");
    let view = app.engine.campaign(id).await.expect("show");
    assert!(view.campaign.rail_reason.is_some(), "{view:?}");
    app.drain_mail().await;

    let held: Vec<_> = app
        .smtp
        .messages_to("olga@org.test")
        .into_iter()
        .filter(|m| m.subject.contains("wait for your confirmation"))
        .collect();
    assert_eq!(held.len(), 1, "one mail to the owner");
    let page_url = format!("{}/admin/campaigns/{id}", app.base_url);
    assert!(
        held[0].text.contains(&page_url),
        "the text part names the campaign page {page_url}:\n{}",
        held[0].text
    );
    assert!(
        held[0].html.contains(&format!(r#"<a href="{page_url}""#)),
        "the HTML part links to {page_url}:\n{}",
        held[0].html
    );
    assert!(held[0].links().contains(&page_url), "{:?}", held[0].links());

    // Opened by a signed-in admin, the link is the page that confirms the held removals.
    let admin = sign_in(&app, "admin", ADMIN).await;
    let page = admin.get(&app, &page_url).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert!(
        page.text().contains(&format!(
            r#"action="/admin/campaigns/{id}/confirm-removals""#
        )),
        "{}",
        page.text()
    );
}

/// Issue 14: the audit log page shows each event's details as `name value` lines in a cell
/// that wraps (long hashes break anywhere), not one line of raw JSON running off the screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_page_shows_details_as_wrapping_lines_not_raw_json() {
    let Some(app) = TestApp::spawn("audit_log_details").await else {
        return;
    };
    accounts(&app).await;
    app.import_org().await;
    let import = events(&app, "import.people").await.remove(0);
    let details: serde_json::Value = serde_json::from_str(&import.details).expect("JSON details");
    let sha256 = details["sha256"].as_str().expect("the file's SHA-256");

    let auditor = sign_in(&app, "auditor", AUDITOR).await;
    let page = auditor.get(&app, "/audit/log").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    let cell = format!("<dt>sha256</dt><dd>{sha256}</dd>");
    assert!(
        html.contains(&cell),
        "the details name each field: {cell}\n{html}"
    );
    assert!(
        !html.contains("{&quot;") && !html.contains("{&#34;") && !html.contains("{\""),
        "no raw JSON on the page:\n{html}"
    );
    let rows = html.matches("<tr><td class=\"n\">").count();
    assert!(rows >= 3, "{html}");
    assert_eq!(
        html.matches("<td class=\"event-details\">").count(),
        rows,
        "every event's details are in the wrapping cell:\n{html}"
    );

    // The stylesheet lets that cell break long values anywhere.
    let css = auditor.get(&app, "/static/attest.css").await.text();
    let wraps = css.split('}').any(|rule| {
        rule.split_once('{').is_some_and(|(selectors, body)| {
            selectors.split(',').any(|s| s.trim() == "td.event-details")
                && body.contains("overflow-wrap: anywhere")
        })
    });
    assert!(wraps, "td.event-details breaks long values:\n{css}");
}
