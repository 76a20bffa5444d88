//! The real application for one test: a fresh database (SQLite or PostgreSQL, as the run
//! selected), an engine on a manual clock, the web server on an ephemeral loopback port, the
//! mail worker sending to a real SMTP server ([`SmtpServer`]), and an HTTP client that talks
//! to the server as a reviewer's browser or a mail scanner would.
//!
//! Also the small organisation and campaign definition the reviewer tests launch.

use super::smtp::SmtpServer;
use super::{at, TestDb};
use attest::clock::ManualClock;
use attest::domain::records::ImportKind;
use attest::engine::definitions::DefinitionText;
use attest::engine::import::ImportOptions;
use attest::engine::{Engine, NoProgress};
use attest::mail::transport::Smtp;
use attest::mail::Mailer;
use attest::web::{self, AppState};
use chrono::{DateTime, Utc};
use entity::{campaign, principal, review_item};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// Where the manual clock starts: a Monday morning in the first quarter of 2027.
pub const START: &str = "2027-01-04T08:00:00Z";

/// The sender of attest's mails in tests.
pub const MAIL_FROM: &str = "attest <attest@attest.test>";

/// Two managers with reports, an owner and a fallback reviewer. Reviewers are the holders'
/// managers: Maria (m1) reviews four high-risk eligibilities, Mark (m2) two.
pub const PEOPLE: &str = "\
id,name,email,manager_id,kind,enabled
own,Olga Owner,olga@org.test,,user,true
fb,Frank Fallback,frank@org.test,own,user,true
m1,Maria Manager,maria@org.test,own,user,true
m2,Mark Manager,mark@org.test,own,user,true
a1,Anna One,anna@org.test,m1,user,true
a2,Arne Two,arne@org.test,m1,user,true
a3,Aiko Three,aiko@org.test,m1,user,true
b1,Bea One,bea@org.test,m2,user,true
b2,Bo Two,bo@org.test,m2,user,true
";

pub const ROLES: &str = "\
name,owner_id,risk,description
Global Administrator,own,high,Everything
Privileged Role Administrator,own,high,Assigns roles
Reader,own,low,Reads
";

/// Six high-risk eligibilities (reviewed) and one low-risk one (out of scope).
pub const ELIGIBILITY: &str = "\
principal_id,role,scope,start,end,last_activated_at
a1,Global Administrator,/,2025-01-10,,2026-12-01
a2,Global Administrator,/,2025-01-10,,2026-12-01
a3,Privileged Role Administrator,/,2025-01-10,,
a1,Privileged Role Administrator,/subscriptions/prod,2025-01-10,,2026-12-01
b1,Global Administrator,/,2025-01-10,,2026-12-01
b2,Privileged Role Administrator,/,2025-01-10,,2026-12-01
a2,Reader,/,2025-01-10,,
";

/// The definition the reviewer tests launch: a revoke needs a justification.
pub const DEFINITION_NAME: &str = "reviewer-flow";
pub const DEFINITION: &str = r#"
name = "reviewer-flow"
description = "Quarterly review of high-risk role eligibility"
owner = "own"
schedule = "quarterly"
timezone = "Europe/Berlin"
duration_days = 14
reviewers = "manager"
fallback_reviewer = "fb"
on_no_response = "keep"
reminders_days_before = [7, 2]
require_justification = ["revoke"]

[scope]
risk = ["high"]
"#;

/// One HTTP answer, read whole.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: StatusCode,
    /// The `Location` header of a redirect.
    pub location: Option<String>,
    pub content_type: String,
    pub body: String,
}

impl Page {
    /// The anti-forgery value of the review page's forms.
    pub fn csrf(&self) -> String {
        field_value(&self.body, "csrf")
            .unwrap_or_else(|| panic!("the page has a csrf field:\n{}", self.body))
    }

    /// Whether the radio `item-{id}` = `verdict` is checked.
    pub fn is_checked(&self, item: i64, verdict: &str) -> bool {
        self.body
            .contains(&format!(r#"name="item-{item}" value="{verdict}" checked"#))
    }

    /// Whether the page offers a decision on `item`.
    pub fn offers(&self, item: i64) -> bool {
        self.body.contains(&format!(r#"name="item-{item}""#))
    }

    /// Whether the body mentions `text` (case-insensitive).
    pub fn says(&self, text: &str) -> bool {
        self.body.to_lowercase().contains(&text.to_lowercase())
    }
}

/// The value of the cookie `name` that `answer` sets, if it sets it.
pub fn set_cookie(answer: &reqwest::Response, name: &str) -> Option<String> {
    answer
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            let (k, v) = c.split(';').next()?.split_once('=')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
}

/// The `value` of the first input named `name` in `html`.
pub fn field_value(html: &str, name: &str) -> Option<String> {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker)? + marker.len();
    let len = html[start..].find('"')?;
    Some(html[start..start + len].to_string())
}

/// A launched campaign, as the tests look at it.
#[derive(Debug, Clone)]
pub struct Launched {
    pub campaign_id: i64,
    pub due_at: DateTime<Utc>,
    /// Reviewer principal id → the ids of their items.
    pub items_by_reviewer: BTreeMap<i64, BTreeSet<i64>>,
}

impl Launched {
    pub fn reviewers(&self) -> BTreeSet<i64> {
        self.items_by_reviewer.keys().copied().collect()
    }

    pub fn items_of(&self, reviewer: i64) -> &BTreeSet<i64> {
        self.items_by_reviewer
            .get(&reviewer)
            .unwrap_or_else(|| panic!("principal #{reviewer} reviews nothing"))
    }
}

/// The application under test.
pub struct TestApp {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// `http://127.0.0.1:<port>`: what the links in mails start with.
    pub base_url: String,
    /// Does not follow redirects, so a test sees the 303 after a POST.
    pub http: reqwest::Client,
    /// Follows redirects (reqwest's default policy), as a mail scanner does.
    pub follower: reqwest::Client,
    pub mailer: Mailer,
    pub engine: Engine,
    pub clock: Arc<ManualClock>,
    pub smtp: SmtpServer,
    pub db: TestDb,
}

impl TestApp {
    /// The app with its clock at [`START`], or `None` when `test` is skipped for want of
    /// aiosmtpd (locally only; CI fails instead).
    pub async fn spawn(test: &str) -> Option<Self> {
        Self::spawn_at(test, at(START)).await
    }

    pub async fn spawn_at(test: &str, start: DateTime<Utc>) -> Option<Self> {
        Self::spawn_with_sources(test, start, Default::default()).await
    }

    /// The app with the sources an attest.toml would configure.
    pub async fn spawn_with_sources(
        test: &str,
        start: DateTime<Utc>,
        sources: std::collections::BTreeMap<String, attest::sources::config::SourceConfig>,
    ) -> Option<Self> {
        let smtp = SmtpServer::start_for(test)?;
        let db = TestDb::new().await;
        let clock = Arc::new(ManualClock::new(start));
        let engine = db.engine_at(clock.clone()).await.with_sources(sources);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let base_url = format!("http://127.0.0.1:{port}");
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(web::serve(
            listener,
            AppState {
                engine: engine.clone(),
                base_url: base_url.clone(),
            },
            async move {
                let _ = stop.await;
            },
        ));
        let transport = Smtp::from_url(&smtp.url()).expect("SMTP transport");
        let mailer =
            Mailer::new(engine.clone(), Arc::new(transport), MAIL_FROM, &base_url).expect("mailer");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client");
        let follower = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client");
        Some(Self {
            shutdown: Some(shutdown),
            server: Some(server),
            base_url,
            http,
            follower,
            mailer,
            engine,
            clock,
            smtp,
            db,
        })
    }

    /// `path` on this server (an absolute URL is kept as it is).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base_url)
        }
    }

    /// GET without following redirects.
    pub async fn get(&self, path: &str) -> Page {
        read(self.http.get(self.url(path)), path).await
    }

    /// POSTs a form (`application/x-www-form-urlencoded`) without following the redirect.
    pub async fn post<F: serde::Serialize + ?Sized>(&self, path: &str, form: &F) -> Page {
        read(self.http.post(self.url(path)).form(form), path).await
    }

    /// Imports [`PEOPLE`], [`ROLES`] and [`ELIGIBILITY`] through the engine.
    pub async fn import_org(&self) {
        for (kind, name, content) in [
            (ImportKind::People, "people.csv", PEOPLE),
            (ImportKind::Roles, "roles.csv", ROLES),
            (ImportKind::Eligibility, "eligibility.csv", ELIGIBILITY),
        ] {
            let path = self.db.file(name, content);
            self.engine
                .import(
                    kind,
                    attest::engine::import::ImportInput::open(&path)
                        .expect("the import file opens"),
                    ImportOptions::default(),
                    "test",
                    &NoProgress,
                )
                .await
                .unwrap_or_else(|e| panic!("import {name}: {e}"));
        }
    }

    /// Defines [`DEFINITION`].
    pub async fn define(&self) {
        self.define_as("reviewer-flow.toml", DEFINITION).await;
    }

    /// Defines `text`, named `name` in messages and the audit log.
    pub async fn define_as(&self, name: &str, text: &str) {
        self.engine
            .define(&DefinitionText::new(name, text), "test")
            .await
            .unwrap_or_else(|e| panic!("define {name}: {e}"));
    }

    /// Imports the organisation, defines the campaign and launches it (mail stays queued).
    pub async fn launch(&self) -> Launched {
        self.import_org().await;
        self.define().await;
        self.launch_defined().await
    }

    /// Launches the defined campaign for the current period.
    pub async fn launch_defined(&self) -> Launched {
        let row = self
            .engine
            .launch(DEFINITION_NAME, false, "test", &NoProgress)
            .await
            .unwrap_or_else(|e| panic!("launch {DEFINITION_NAME}: {e}"));
        let campaign = campaign::Entity::find_by_id(row.id)
            .one(self.engine.store().conn())
            .await
            .expect("read campaign")
            .expect("the launched campaign exists");
        assert_eq!(
            campaign.state, "active",
            "the campaign is active after its launch"
        );
        let mut items_by_reviewer: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
        for item in self.items(row.id).await {
            let reviewer = item
                .reviewer_id
                .unwrap_or_else(|| panic!("item #{} has a reviewer", item.id));
            items_by_reviewer
                .entry(reviewer)
                .or_default()
                .insert(item.id);
        }
        Launched {
            campaign_id: row.id,
            due_at: campaign.due_at.expect("an active campaign has a deadline"),
            items_by_reviewer,
        }
    }

    /// The items of a campaign, by id.
    pub async fn items(&self, campaign_id: i64) -> Vec<review_item::Model> {
        review_item::Entity::find()
            .filter(review_item::Column::CampaignId.eq(campaign_id))
            .order_by_asc(review_item::Column::Id)
            .all(self.engine.store().conn())
            .await
            .expect("read review items")
    }

    /// One item, read again.
    pub async fn item(&self, id: i64) -> review_item::Model {
        review_item::Entity::find_by_id(id)
            .one(self.engine.store().conn())
            .await
            .expect("read review item")
            .unwrap_or_else(|| panic!("item #{id} exists"))
    }

    /// A principal by external id.
    pub async fn principal(&self, external_id: &str) -> principal::Model {
        principal::Entity::find()
            .filter(principal::Column::ExternalId.eq(external_id))
            .one(self.engine.store().conn())
            .await
            .expect("read principal")
            .unwrap_or_else(|| panic!("principal {external_id} exists"))
    }

    /// A principal's email, by database id.
    pub async fn email_of(&self, id: i64) -> String {
        principal::Entity::find_by_id(id)
            .one(self.engine.store().conn())
            .await
            .expect("read principal")
            .and_then(|p| p.email)
            .unwrap_or_else(|| panic!("principal #{id} has an email"))
            .to_lowercase()
    }

    /// Sends every queued mail now, and returns how many were handled.
    pub async fn drain_mail(&self) -> usize {
        self.mailer.drain().await.expect("mail worker")
    }

    /// An admin API token, of the admin account `admin@org.test` (password "a long enough
    /// password") added for it.
    pub async fn admin_api_token(&self, name: &str) -> String {
        self.engine
            .add_account(
                "admin@org.test",
                attest::domain::access::Role::Admin,
                "a long enough password",
                "test",
            )
            .await
            .expect("an admin");
        let admin = self
            .engine
            .account_operator("admin@org.test")
            .await
            .expect("the admin");
        self.engine
            .create_api_token(&admin, name, attest::domain::access::Role::Admin)
            .await
            .expect("a token")
    }

    /// Signs `email` in to the console with `password`; returns the session cookie's value.
    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        let form = self
            .http
            .get(self.url("/login"))
            .send()
            .await
            .expect("GET /login");
        let cookie = set_cookie(&form, "attest_login").expect("the login cookie");
        let csrf = field_value(&form.text().await.expect("login page"), "csrf").expect("csrf");
        let answer = self
            .http
            .post(self.url("/login"))
            .header("cookie", format!("attest_login={cookie}"))
            .form(&[
                ("email", email),
                ("password", password),
                ("csrf", &csrf),
                ("next", ""),
            ])
            .send()
            .await
            .expect("POST /login");
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{email} signs in");
        set_cookie(&answer, "attest_session").expect("a session cookie")
    }

    /// A console page as the signed-in `session` sees it: its status and body.
    pub async fn console(&self, session: &str, path: &str) -> (StatusCode, String) {
        let answer = self
            .http
            .get(self.url(path))
            .header("cookie", format!("attest_session={session}"))
            .send()
            .await
            .expect("console page");
        (answer.status(), answer.text().await.expect("page body"))
    }

    /// The review link in the latest mail `email` received with one.
    pub fn latest_link(&self, email: &str) -> String {
        self.smtp
            .messages_to(email)
            .iter()
            .filter(|m| !m.review_links(&self.base_url).0.is_empty())
            .map(|m| m.review_link(&self.base_url))
            .next_back()
            .unwrap_or_else(|| panic!("{email} received a review link"))
    }

    /// Ticks the scheduler at the campaign's deadline and just after, and checks that it is
    /// completed then.
    pub async fn run_to_completion(&self, campaign_id: i64) {
        let c = campaign::Entity::find_by_id(campaign_id)
            .one(self.engine.store().conn())
            .await
            .expect("read campaign")
            .expect("the campaign exists");
        let due = c.due_at.expect("a deadline");
        for when in [
            due,
            due + chrono::Duration::minutes(1),
            due + chrono::Duration::minutes(2),
        ] {
            self.clock.set(when);
            attest::scheduler::tick(&self.engine).await.expect("tick");
        }
        let view = self.engine.campaign(campaign_id).await.expect("show");
        assert_eq!(
            view.campaign.state.as_str(),
            "completed",
            "{:?}",
            view.campaign
        );
    }

    /// The review link in the one mail `email` received (panics unless exactly one has a link).
    pub fn link_for(&self, email: &str) -> String {
        let with_links: Vec<String> = self
            .smtp
            .messages_to(email)
            .iter()
            .filter(|m| !m.review_links(&self.base_url).0.is_empty())
            .map(|m| m.review_link(&self.base_url))
            .collect();
        assert_eq!(
            with_links.len(),
            1,
            "{email} received one mail with a review link: {with_links:?}"
        );
        with_links[0].clone()
    }

    /// Stops the web server and waits for it to finish the requests in flight.
    pub async fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            match tokio::time::timeout(Duration::from_secs(10), server).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => panic!("the web server failed: {e}"),
                Ok(Err(e)) => panic!("the web server task failed: {e}"),
                Err(_) => panic!("the web server did not stop within 10 s"),
            }
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

async fn read(request: reqwest::RequestBuilder, what: &str) -> Page {
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("request {what}: {e}"));
    let status = response.status();
    let header = |name: reqwest::header::HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let location = header(reqwest::header::LOCATION);
    let content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();
    let body = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("read the answer to {what}: {e}"));
    Page {
        status,
        location,
        content_type,
        body,
    }
}
