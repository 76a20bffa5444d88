//! OpenID Connect sign-in against a real OpenID provider (node-oidc-provider, OpenID
//! Certified, run by tests/oidc_support/provider.mjs): the authorization-code flow with PKCE
//! driven through the provider's login page with a cookie-keeping HTTP client, then attest's
//! callback. Cases: an admin and an auditor signed in (their consoles, and only theirs), a
//! user without a mapped role (403, no session, audited), an ID token for another audience,
//! an expired one and one signed with a key not in the provider's JWKS (refused, audited), a
//! replayed callback, a replayed code under a new state and a callback from another browser
//! (refused), and `local_login = false` (the password form gone and its POST refused).
//!
//! Node and npm are needed: `oidc-provider` is installed with npm into the target folder on
//! first use (then the tests work offline). Without Node a test prints `SKIPPED …` locally and
//! fails under CI. Every test gets its own database (SQLite, or PostgreSQL with
//! ATTEST_TEST_DATABASE_URL) and its own provider.

mod common;

use attest::clock::ManualClock;
use attest::domain::access::Role;
use attest::oidc::{OidcProvider, OidcSettings};
use attest::web::{self, AppState};
use chrono::{Duration, Utc};
use common::TestDb;
use entity::{account, audit_event, session};
use reqwest::{header, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

/// The pinned provider: 8.x runs on the Node of Debian 12 and later.
const OIDC_PROVIDER: &str = "oidc-provider@8.8.1";
const CLIENT_ID: &str = "attest";
const CLIENT_SECRET: &str = "attest-test-client-secret-0123456789";
const PASSWORD: &str = "correct horse battery staple";

// ---------------------------------------------------------------------------------------------
// The provider: installed once per machine into the target folder, one process per test.
// ---------------------------------------------------------------------------------------------

/// `<target>/oidc-node`: beside the build, so CI's kept target folder keeps it too.
fn node_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // <target>/debug/deps/oidc-<hash>
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the target folder above the test executable");
    target.join("oidc-node")
}

fn installed(dir: &std::path::Path) -> bool {
    let version = OIDC_PROVIDER.rsplit('@').next().unwrap_or_default();
    std::fs::read_to_string(dir.join("node_modules/oidc-provider/package.json"))
        .is_ok_and(|p| p.contains(&format!("\"version\": \"{version}\"")))
}

/// Installs the provider with npm if it is not there yet; `Err` says what is missing.
fn ensure_provider() -> Result<PathBuf, String> {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = node_dir();
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_ok {
        return Err("needs Node.js (apt-get install nodejs npm)".into());
    }
    if !installed(&dir) {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let out = Command::new("npm")
            .args([
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                OIDC_PROVIDER,
            ])
            .current_dir(&dir)
            .output()
            .map_err(|e| format!("needs npm (apt-get install npm): {e}"))?;
        if !out.status.success() || !installed(&dir) {
            return Err(format!(
                "npm install {OIDC_PROVIDER} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    // The script runs from this folder so its imports find the installed packages.
    std::fs::write(
        dir.join("provider.mjs"),
        include_str!("oidc_support/provider.mjs"),
    )
    .map_err(|e| format!("writing provider.mjs: {e}"))?;
    Ok(dir)
}

/// What the provider does to the ID tokens it issues (see provider.mjs).
#[derive(Clone, Copy)]
enum Mode {
    Normal,
    Expired,
    WrongAudience,
    ForeignKey,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Expired => "expired",
            Mode::WrongAudience => "wrong_aud",
            Mode::ForeignKey => "foreign_key",
        }
    }
}

/// A running provider, stopped when dropped.
struct Provider {
    child: Child,
    issuer: String,
}

impl Provider {
    fn start(dir: &std::path::Path, mode: Mode, redirect_uri: &str) -> Self {
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(dir)
            .env("OIDC_MODE", mode.as_str())
            .env("OIDC_CLIENT_ID", CLIENT_ID)
            .env("OIDC_CLIENT_SECRET", CLIENT_SECRET)
            .env("OIDC_REDIRECT_URI", redirect_uri)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node provider.mjs");
        let stdout = child.stdout.take().expect("provider stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the provider's first line");
        let issuer = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("the provider did not start: {line:?}"))
            .to_string();
        Self { child, issuer }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// attest with [oidc], and a browser-like client.
// ---------------------------------------------------------------------------------------------

struct Setup {
    base_url: String,
    engine: attest::engine::Engine,
    clock: Arc<ManualClock>,
    db: TestDb,
    provider: Provider,
    /// Keeps cookies, follows no redirect (the tests follow them to see each step).
    browser: reqwest::Client,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// attest on a fresh database with `[oidc]` pointing at a new provider in `mode`; `None` when
/// skipped for want of Node (locally only).
async fn setup(test: &str, mode: Mode, local_login: bool) -> Option<Setup> {
    let dir = match ensure_provider() {
        Ok(dir) => dir,
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("{test}: {why}"),
        Err(why) => {
            common::skipped(test, &why);
            return None;
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let base_url = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().expect("address").port()
    );
    let redirect_url = format!("{base_url}/auth/oidc/callback");
    let provider = Provider::start(&dir, mode, &redirect_url);
    let settings = OidcSettings {
        issuer: provider.issuer.clone(),
        client_id: CLIENT_ID.into(),
        client_secret_env: "ATTEST_TEST_OIDC_SECRET".into(),
        redirect_url,
        display_name: "Test IdP".into(),
        role_claim: "groups".into(),
        admin_values: vec!["attest-admins".into()],
        auditor_values: vec!["attest-auditors".into()],
        local_login,
    };
    let db = TestDb::new().await;
    // The engine's clock starts at the real time: the provider's tokens carry real times.
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let oidc = OidcProvider::new(settings, CLIENT_SECRET.into()).expect("provider settings");
    let engine = db.engine_at(clock.clone()).await.with_oidc(oidc);
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(web::serve(
        listener,
        AppState {
            engine: engine.clone(),
            base_url: base_url.clone(),
        },
        async move {
            let _ = stop.await;
        },
    ));
    Some(Setup {
        base_url,
        engine,
        clock,
        db,
        provider,
        browser: browser(),
        _shutdown: shutdown,
    })
}

/// One answer, read whole.
struct Answer {
    status: StatusCode,
    location: Option<String>,
    set_cookies: Vec<String>,
    body: String,
}

async fn get(client: &reqwest::Client, url: &str) -> Answer {
    answer(
        client
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}")),
    )
    .await
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|l| {
            response
                .url()
                .join(l)
                .expect("a valid Location")
                .to_string()
        });
    let set_cookies = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let body = response.text().await.unwrap_or_default();
    Answer {
        status,
        location,
        set_cookies,
        body,
    }
}

impl Answer {
    fn sets_session(&self) -> bool {
        self.set_cookies
            .iter()
            .any(|c| c.starts_with("attest_session=") && !c.starts_with("attest_session=;"))
    }
}

impl Setup {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Starts at attest's sign-in page and its button, signs in at the provider as `user`,
    /// and returns the callback URL the provider sends the browser back to (not yet opened).
    async fn sign_in_at_provider(&self, user: &str) -> String {
        let login = get(&self.browser, &self.url("/login")).await;
        assert_eq!(login.status, StatusCode::OK);
        assert!(
            login.body.contains("Sign in with Test IdP"),
            "the sign-in page offers the provider: {}",
            login.body
        );
        let mut url = self.url("/auth/oidc/start");
        let mut logged_in = false;
        for _ in 0..20 {
            let step = get(&self.browser, &url).await;
            if let Some(next) = step.location {
                if next.starts_with(&self.url("/auth/oidc/callback")) {
                    assert!(
                        logged_in,
                        "the provider sent the browser back before the login"
                    );
                    return next;
                }
                url = next;
                continue;
            }
            assert_eq!(step.status, StatusCode::OK, "at {url}: {}", step.body);
            // The provider's login page: post the user to its form.
            let action = step
                .body
                .split("action=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_else(|| panic!("no login form at {url}: {}", step.body));
            let target = reqwest::Url::parse(&url)
                .expect("url")
                .join(action)
                .expect("form action");
            let posted = answer(
                self.browser
                    .post(target.clone())
                    .form(&[("login", user)])
                    .send()
                    .await
                    .expect("post the provider's login form"),
            )
            .await;
            logged_in = true;
            url = posted.location.unwrap_or_else(|| {
                panic!(
                    "the login at {target} did not redirect: {} {}",
                    posted.status, posted.body
                )
            });
        }
        panic!("the sign-in never came back to attest");
    }

    async fn callback(&self, url: &str) -> Answer {
        get(&self.browser, url).await
    }

    async fn sessions(&self) -> u64 {
        session::Entity::find()
            .count(self.db.store().await.conn())
            .await
            .expect("count sessions")
    }

    async fn audit(&self, action: &str) -> Vec<audit_event::Model> {
        audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq(action))
            .order_by_asc(audit_event::Column::Seq)
            .all(self.db.store().await.conn())
            .await
            .expect("read the audit log")
    }

    /// The reason of the last refused sign-in.
    async fn last_refusal(&self) -> String {
        let events = self.audit("auth.login_failed").await;
        let last = events.last().expect("a refused sign-in is audited");
        let details: serde_json::Value = serde_json::from_str(&last.details).expect("details");
        assert_eq!(details["method"], "oidc");
        details["reason"].as_str().unwrap_or_default().to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// The cases.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_signs_in_reaches_the_console_and_the_callback_works_once() {
    let Some(s) = setup("oidc admin", Mode::Normal, true).await else {
        return;
    };
    let callback = s.sign_in_at_provider("alice").await;
    let signed = s.callback(&callback).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
    assert!(
        signed.sets_session(),
        "a session cookie: {:?}",
        signed.set_cookies
    );
    assert!(
        signed.body.contains("url=/admin"),
        "on to the admin console: {}",
        signed.body
    );
    let console = get(&s.browser, &s.url("/admin")).await;
    assert_eq!(
        console.status,
        StatusCode::OK,
        "the console opens: {}",
        console.body
    );
    assert_eq!(s.sessions().await, 1);

    let conn = s.db.store().await;
    let alice = account::Entity::find()
        .filter(account::Column::OidcSubject.eq("alice"))
        .one(conn.conn())
        .await
        .expect("read accounts")
        .expect("the sign-in created an account linked to the subject");
    assert_eq!(alice.email, "alice@example.test");
    assert_eq!(alice.role, Role::Admin.as_str());
    let logins = s.audit("auth.login").await;
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].actor, "account:alice@example.test");
    assert!(
        logins[0].details.contains("\"method\":\"oidc\""),
        "{}",
        logins[0].details
    );

    // The session is the same kind a password opens: signing out revokes it.
    let csrf_page = get(&s.browser, &s.url("/admin")).await;
    let csrf = common::app::field_value(&csrf_page.body, "csrf").expect("the console's csrf value");
    let out = answer(
        s.browser
            .post(s.url("/logout"))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .expect("logout"),
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(
        get(&s.browser, &s.url("/admin")).await.status,
        StatusCode::SEE_OTHER,
        "signed out"
    );

    // The same callback again (a replay): its state was used.
    let replay = s.callback(&callback).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{}", replay.body);
    assert!(!replay.sets_session());
    // From another browser (login forgery): it has no state cookie.
    let stranger = get(&browser(), &callback).await;
    assert_eq!(stranger.status, StatusCode::BAD_REQUEST);
    assert!(!stranger.sets_session());

    // A state nobody was given, and an oversized answer: refused, and nothing audited (they
    // name nobody, and anyone can send them).
    let failures = s.audit("auth.login_failed").await.len();
    let forged = get(
        &s.browser,
        &s.url("/auth/oidc/callback?code=x&state=made-up"),
    )
    .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    let huge = format!("/auth/oidc/callback?code=x&state={}", "a".repeat(9 * 1024));
    let huge = get(&s.browser, &s.url(&huge)).await;
    assert_eq!(huge.status, StatusCode::BAD_REQUEST);
    assert!(huge.body.contains("8 KiB"), "{}", huge.body);
    assert_eq!(s.audit("auth.login_failed").await.len(), failures);

    // The used code under a fresh state of this browser: the provider refuses it.
    let start = get(&s.browser, &s.url("/auth/oidc/start")).await;
    let authorize = reqwest::Url::parse(&start.location.expect("to the provider")).expect("url");
    let fresh_state = authorize
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("a state");
    let old = reqwest::Url::parse(&callback).expect("callback url");
    let code = old
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let mut replayed = reqwest::Url::parse(&s.url("/auth/oidc/callback")).expect("url");
    replayed
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &fresh_state);
    let refused = s.callback(replayed.as_str()).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    assert!(!refused.sets_session());
    assert!(
        s.last_refusal().await.contains("refused the code"),
        "{}",
        s.last_refusal().await
    );
    assert_eq!(s.sessions().await, 1, "no session but the first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_signs_in_to_the_auditor_pages_only() {
    let Some(s) = setup("oidc auditor", Mode::Normal, true).await else {
        return;
    };
    let callback = s.sign_in_at_provider("aldo").await;
    let signed = s.callback(&callback).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
    assert!(signed.body.contains("url=/audit"), "{}", signed.body);
    assert_eq!(
        get(&s.browser, &s.url("/audit")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(&s.browser, &s.url("/admin")).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_a_mapped_role_is_refused_with_403_and_no_session() {
    let Some(s) = setup("oidc no role", Mode::Normal, true).await else {
        return;
    };
    let callback = s.sign_in_at_provider("nora").await;
    let refused = s.callback(&callback).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains("no attest role"), "{}", refused.body);
    assert!(!refused.sets_session());
    assert_eq!(s.sessions().await, 0);
    assert_eq!(s.last_refusal().await, "no mapped role");
    let events = s.audit("auth.login_failed").await;
    assert_eq!(
        events.last().map(|e| e.actor.as_str()),
        Some("account:nora@example.test")
    );
    assert_eq!(
        get(&s.browser, &s.url("/audit")).await.status,
        StatusCode::SEE_OTHER,
        "to the sign-in page"
    );
}

/// Signs in as alice at a provider in `mode` and expects attest to refuse the ID token for
/// `reason` (a fragment of the audited reason).
async fn refused_token(test: &str, mode: Mode, reason: &str, advance: Duration) {
    let Some(s) = setup(test, mode, true).await else {
        return;
    };
    let callback = s.sign_in_at_provider("alice").await;
    s.clock.advance(advance);
    let refused = s.callback(&callback).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    assert!(!refused.sets_session());
    assert_eq!(s.sessions().await, 0);
    let audited = s.last_refusal().await;
    assert!(
        audited.contains(reason),
        "audited {audited:?}, expected {reason:?}"
    );
    assert_eq!(
        get(&s.browser, &s.url("/admin")).await.status,
        StatusCode::SEE_OTHER
    );
    let _ = &s.provider;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_for_another_audience_is_refused() {
    refused_token(
        "oidc wrong audience",
        Mode::WrongAudience,
        "another audience",
        Duration::zero(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_id_token_is_refused() {
    // The provider's ID tokens live 1 s; attest reads this one a minute later (its own clock,
    // well inside the sign-in's 10 minutes).
    refused_token(
        "oidc expired",
        Mode::Expired,
        "expired",
        Duration::seconds(60),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_signed_with_a_key_not_in_the_jwks_is_refused() {
    refused_token(
        "oidc foreign key",
        Mode::ForeignKey,
        "signature",
        Duration::zero(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_local_login_off_the_password_form_is_gone_and_its_post_refused() {
    let Some(s) = setup("oidc local login off", Mode::Normal, false).await else {
        return;
    };
    s.engine
        .add_account("breakglass@attest.test", Role::Admin, PASSWORD, "cli:test")
        .await
        .expect("a local account (attest user add works whatever [oidc] says)");
    let page = get(&s.browser, &s.url("/login")).await;
    assert!(page.body.contains("Sign in with Test IdP"));
    assert!(
        !page.body.contains("name=\"password\""),
        "no password form: {}",
        page.body
    );
    let csrf = page
        .set_cookies
        .iter()
        .find_map(|c| c.strip_prefix("attest_login="))
        .and_then(|c| c.split(';').next())
        .expect("the login anti-forgery cookie")
        .to_string();
    let posted = answer(
        s.browser
            .post(s.url("/login"))
            .form(&[
                ("email", "breakglass@attest.test"),
                ("password", PASSWORD),
                ("csrf", csrf.as_str()),
            ])
            .send()
            .await
            .expect("post the password form"),
    )
    .await;
    assert_eq!(posted.status, StatusCode::FORBIDDEN, "{}", posted.body);
    assert!(posted.body.contains("switched off"), "{}", posted.body);
    assert!(!posted.sets_session());
    assert_eq!(s.sessions().await, 0);
    // Single sign-on still works.
    let callback = s.sign_in_at_provider("alice").await;
    assert_eq!(s.callback(&callback).await.status, StatusCode::OK);
    assert_eq!(
        get(&s.browser, &s.url("/admin")).await.status,
        StatusCode::OK
    );
    let _ = s.engine.now();
}
