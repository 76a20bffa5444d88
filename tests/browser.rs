//! The reviewer's page in a real browser: headless Chromium driven through WebDriver
//! (chromedriver + fantoccini), opening the link from the mail a real SMTP server received,
//! deciding with clicks and typing, and leaving screenshots at desktop and phone width in
//! `target/screenshots/` for people to look at.
//!
//! All browser tests live in this one binary (each file in `tests/` links separately).
//! Without Chromium, chromedriver or aiosmtpd a test prints `SKIPPED …` locally and fails
//! under CI with the install command.

mod common;

use attest::domain::closing::{MadeBy, Verdict};
use attest::engine::definitions::DefinitionText;
use common::app::TestApp;
use common::smtp::{dying_with_parent, kill_group, require};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use sea_orm::EntityTrait;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// The browser: chromedriver in its own process group, Chromium started by it.
// ---------------------------------------------------------------------------------------------

/// `name` in the folders of PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// The Chromium executable itself (Debian's `/usr/bin/chromium` is a wrapper script).
fn chromium_binary() -> Option<PathBuf> {
    let real = Path::new("/usr/lib/chromium/chromium");
    if real.is_file() {
        return Some(real.to_path_buf());
    }
    on_path("chromium").or_else(|| on_path("chromium-browser"))
}

/// chromedriver on a port of its choosing, killed with its whole process group (and so
/// Chromium) when dropped.
struct ChromeDriver {
    child: Child,
    port: u16,
    output: Arc<Mutex<Vec<String>>>,
}

impl ChromeDriver {
    fn start(program: &Path) -> Self {
        let mut command = dying_with_parent(&program.to_string_lossy());
        command
            .args(["--port=0", "--allowed-ips=127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        let stdout = child.stdout.take().expect("chromedriver's stdout");
        let output = Arc::new(Mutex::new(Vec::new()));
        let (port_tx, port_rx) = mpsc::channel();
        let lines = output.clone();
        // Reads the port from "… started successfully on port N." (which also means ready),
        // then keeps draining the pipe so chromedriver never blocks on it.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("started successfully on port ").nth(1) {
                    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    if let Ok(port) = digits.parse::<u16>() {
                        let _ = port_tx.send(port);
                    }
                }
                if let Ok(mut lines) = lines.lock() {
                    lines.push(line);
                }
            }
        });
        match port_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(port) => Self {
                child,
                port,
                output,
            },
            Err(_) => {
                kill_group(&mut child);
                let said = output.lock().map(|l| l.join("\n")).unwrap_or_default();
                panic!("chromedriver did not say which port it listens on within 30 s:\n{said}");
            }
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn output(&self) -> String {
        self.output.lock().map(|l| l.join("\n")).unwrap_or_default()
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

/// A browser session: chromedriver, the WebDriver client, and Chromium's profile folder.
struct Browser {
    client: Client,
    driver: ChromeDriver,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium, or returns `None` after printing why `test`
    /// is skipped (locally, when they are missing; under CI that fails instead).
    async fn start_for(test: &str) -> Option<Self> {
        let chromium = chromium_binary();
        let chromedriver = on_path("chromedriver");
        if !require(test, "chromium", chromium.is_some())
            || !require(
                test,
                "chromedriver (chromium-driver)",
                chromedriver.is_some(),
            )
        {
            return None;
        }
        let (chromium, chromedriver) = (chromium?, chromedriver?);
        let driver = ChromeDriver::start(&chromedriver);
        let profile = tempfile::tempdir().expect("a Chromium profile folder");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,800",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {
                    "session.restore_on_startup": 4,
                    "session.startup_urls": ["about:blank"],
                },
            }),
        );
        let client = match ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url())
            .await
        {
            Ok(client) => client,
            Err(e) => panic!(
                "start a Chromium session through chromedriver: {e}\n{}",
                driver.output()
            ),
        };
        Some(Self {
            client,
            driver,
            _profile: profile,
        })
    }

    /// Sizes the viewport (not the window) to `width` × `height` CSS pixels.
    async fn viewport(&self, width: u32, height: u32) -> (u64, u64) {
        let (mut outer_w, mut outer_h) = (width, height);
        let mut inner = (0, 0);
        for _ in 0..3 {
            self.client
                .set_window_size(outer_w, outer_h)
                .await
                .expect("set the window size");
            inner = self.inner_size().await;
            if inner == (u64::from(width), u64::from(height)) {
                break;
            }
            // The window's frame takes the difference.
            outer_w = (i64::from(outer_w) + i64::from(width) - inner.0 as i64) as u32;
            outer_h = (i64::from(outer_h) + i64::from(height) - inner.1 as i64) as u32;
        }
        inner
    }

    async fn inner_size(&self) -> (u64, u64) {
        let size = self
            .client
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await
            .expect("read the viewport size");
        (
            size[0].as_u64().unwrap_or_default(),
            size[1].as_u64().unwrap_or_default(),
        )
    }

    async fn number(&self, script: &str) -> u64 {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
            .as_u64()
            .unwrap_or_default()
    }

    /// Ends the session and stops the browser.
    async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(10), self.client.close()).await;
        drop(self.driver);
    }
}

// ---------------------------------------------------------------------------------------------
// Screenshots.
// ---------------------------------------------------------------------------------------------

/// `$CARGO_TARGET_DIR/screenshots`, or `./target/screenshots`.
fn screenshot_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_relative() { root.join(t) } else { t })
        .unwrap_or_else(|| root.join("target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// The width and height in a PNG's header.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if png.len() < 24 || &png[..8] != SIGNATURE || &png[12..16] != b"IHDR" {
        return None;
    }
    let word = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    Some((word(16), word(20)))
}

/// Takes a screenshot of the viewport at `width` × `height`, saves it as `name`, and checks it
/// is a PNG of that size.
async fn screenshot(browser: &Browser, width: u32, height: u32, name: &str) -> PathBuf {
    let inner = browser.viewport(width, height).await;
    assert_eq!(
        inner,
        (u64::from(width), u64::from(height)),
        "the viewport could be sized for {name}"
    );
    let png = browser.client.screenshot().await.expect("screenshot");
    let path = screenshot_dir().join(name);
    std::fs::write(&path, &png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    let written = std::fs::read(&path).expect("read the screenshot back");
    assert!(!written.is_empty(), "{} is empty", path.display());
    let ratio = browser
        .number("return Math.round(window.devicePixelRatio);")
        .await as u32;
    assert_eq!(
        png_size(&written),
        Some((width * ratio.max(1), height * ratio.max(1))),
        "{} is a PNG of the viewport",
        path.display()
    );
    path
}

// ---------------------------------------------------------------------------------------------
// The test.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_decides_in_the_browser_from_the_mailed_link() {
    let test = "a_reviewer_decides_in_the_browser_from_the_mailed_link";
    let Some(browser) = Browser::start_for(test).await else {
        return;
    };
    let Some(app) = TestApp::spawn(test).await else {
        browser.close().await;
        return;
    };
    let outcome = decide_in_browser(&app, &browser).await;
    browser.close().await;
    outcome.unwrap_or_else(|e| panic!("{e}"));
}

/// The browser steps; an error ends them, and the browser is closed either way.
async fn decide_in_browser(app: &TestApp, browser: &Browser) -> Result<(), String> {
    let launched = app.launch().await;
    app.drain_mail().await;
    let link = app.link_for("maria@org.test");
    let maria = app.principal("m1").await.id;
    let mine = launched.items_of(maria).clone();
    let revoked = app
        .items(launched.campaign_id)
        .await
        .into_iter()
        .find(|i| i.holder_external_id == "a3" && i.role_name == "Privileged Role Administrator")
        .map(|i| i.id)
        .ok_or("a3's item")?;
    let why = "Moved to finance; no longer administers roles";
    let client = &browser.client;
    let e = |what: &str| {
        let what = what.to_string();
        move |err: fantoccini::error::CmdError| format!("{what}: {err}")
    };

    client.goto(&link).await.map_err(e("open the link"))?;
    let title = client.title().await.map_err(e("title"))?;
    if !title.contains("Access review") {
        return Err(format!("the page is the review page, titled {title:?}"));
    }
    let progress = format!("0 of {} decided", mine.len());
    let body = client.source().await.map_err(e("page source"))?;
    if !body.contains(&progress) {
        return Err(format!("the page shows {progress:?}:\n{body}"));
    }

    // Revoke one item with a justification, and save.
    client
        .find(Locator::Css(&format!("input[name='why-{revoked}']")))
        .await
        .map_err(e("the justification box"))?
        .send_keys(why)
        .await
        .map_err(e("type the justification"))?;
    client
        .find(Locator::Css(&format!(
            "input[name='item-{revoked}'][value='revoke']"
        )))
        .await
        .map_err(e("the revoke radio"))?
        .click()
        .await
        .map_err(e("click revoke"))?;
    client
        .find(Locator::XPath(
            "//button[normalize-space()='Save decisions']",
        ))
        .await
        .map_err(e("the save button"))?
        .click()
        .await
        .map_err(e("click save"))?;
    let notice = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("p.notice"))
        .await
        .map_err(e("the notice after saving"))?
        .text()
        .await
        .map_err(e("notice text"))?;
    if notice != "Saved 1 decision." {
        return Err(format!("after saving, the page says {notice:?}"));
    }
    let url = client.current_url().await.map_err(e("current url"))?;
    if url.query() != Some("saved=1") {
        return Err(format!("after saving, the browser is at {url}"));
    }
    let checked = client
        .find(Locator::Css(&format!(
            "input[name='item-{revoked}'][value='revoke']"
        )))
        .await
        .map_err(e("the revoke radio after saving"))?
        .is_selected()
        .await
        .map_err(e("is the radio selected"))?;
    if !checked {
        return Err("the saved revoke shows as chosen".into());
    }

    // Keep everything else at once.
    client
        .find(Locator::XPath(
            "//button[normalize-space()='Keep all undecided']",
        ))
        .await
        .map_err(e("the keep-all button"))?
        .click()
        .await
        .map_err(e("click keep all"))?;
    let expected = format!("Saved {} decisions.", mine.len() - 1);
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(&format!(
            "//p[contains(@class,'notice') and normalize-space()='{expected}']"
        )))
        .await
        .map_err(e(&format!("the notice {expected:?}")))?;
    let body = client.source().await.map_err(e("page source"))?;
    let done = format!("{0} of {0} decided", mine.len());
    if !body.contains(&done) {
        return Err(format!("the page shows {done:?}:\n{body}"));
    }

    // The database holds what the clicks said.
    for item in app.items(launched.campaign_id).await {
        if !mine.contains(&item.id) {
            if item.verdict.is_some() {
                return Err(format!("item #{} is not Maria's and undecided", item.id));
            }
            continue;
        }
        let decision = entity::decision::Entity::find_by_id(
            item.current_decision_id
                .ok_or(format!("item #{} has a decision", item.id))?,
        )
        .one(app.engine.store().conn())
        .await
        .map_err(|err| err.to_string())?
        .ok_or("the current decision exists")?;
        let want = if item.id == revoked {
            Verdict::Revoke
        } else {
            Verdict::Attest
        };
        if item.verdict.as_deref() != Some(want.as_str()) || decision.verdict != want.as_str() {
            return Err(format!("item #{}: {want} expected, got {item:?}", item.id));
        }
        if item.made_by.as_deref() != Some(MadeBy::Human.as_str())
            || decision.reviewer_id != Some(maria)
        {
            return Err(format!("item #{} decided by Maria: {decision:?}", item.id));
        }
        let justification = if item.id == revoked { Some(why) } else { None };
        if decision.justification.as_deref() != justification {
            return Err(format!(
                "item #{}: justification {justification:?} expected: {decision:?}",
                item.id
            ));
        }
        if decision.client_addr.as_deref() != Some("127.0.0.1") {
            return Err(format!("item #{}: address recorded: {decision:?}", item.id));
        }
    }

    // What a person sees, on a desktop and on a phone.
    let desktop = screenshot(browser, 1280, 800, "review-desktop.png").await;
    let phone = screenshot(browser, 390, 844, "review-phone.png").await;
    let overflow = browser
        .number("return document.documentElement.scrollWidth;")
        .await;
    if overflow > 390 {
        return Err(format!(
            "at phone width the page scrolls sideways ({overflow} px wide for 390)"
        ));
    }
    eprintln!("screenshots: {} and {}", desktop.display(), phone.display());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The console: an admin and an auditor on demo-like data, with screenshots.
// ---------------------------------------------------------------------------------------------

/// The demo's campaign definition (`attest demo`).
const DEMO_DEFINITION: &str = r#"
name = "demo-high-risk-quarterly"
description = "Quarterly review of eligibility for high-risk privileged roles (demo data)"
owner = "p0000000"
schedule = "quarterly"
timezone = "Europe/Berlin"
duration_days = 14
reviewers = "manager"
fallback_reviewer = "p0000001"
on_no_response = "recommendation"
reminders_days_before = [7, 2]
escalate_after_days = 10
require_justification = ["revoke"]
recommend_revoke_after_inactive_days = 90

[scope]
risk = ["high"]
"#;

const CONSOLE_ADMIN: &str = "admin@attest.demo";
const CONSOLE_AUDITOR: &str = "auditor@attest.demo";
const CONSOLE_PASSWORD: &str = "demo password for the browser";

/// Reasons reviewers give for revoking, in turn.
const REVOKE_REASONS: &[&str] = &[
    "Moved to another team in the autumn",
    "Project finished; the role is no longer needed",
    "Contractor; engagement ended",
];

/// Reviewers answer: every reviewer with `share` of their items decided (in percent), one in
/// seven of those revoked with a reason.
async fn reviewers_answer(app: &TestApp, campaign_id: i64, share: usize) {
    use attest::domain::closing::Channel;
    use attest::domain::closing::Verdict;
    use attest::engine::decide::DecisionRequest;
    let mut by_reviewer: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
    for item in app.items(campaign_id).await {
        if let Some(reviewer) = item.reviewer_id {
            by_reviewer.entry(reviewer).or_default().push(item.id);
        }
    }
    let mut n = 0usize;
    for (reviewer, items) in by_reviewer {
        let take = items.len() * share / 100;
        for item in items.into_iter().take(take) {
            n += 1;
            let revoke = n % 7 == 0;
            app.engine
                .decide(&DecisionRequest {
                    campaign_id,
                    item_ids: &[item],
                    verdict: if revoke {
                        Verdict::Revoke
                    } else {
                        Verdict::Attest
                    },
                    justification: revoke.then(|| REVOKE_REASONS[n % REVOKE_REASONS.len()]),
                    reviewer: Some(reviewer),
                    acting_for: None,
                    channel: Channel::Link,
                    client_addr: Some("198.51.100.20"),
                    actor: "reviewer",
                })
                .await
                .unwrap_or_else(|e| panic!("decide item #{item}: {e}"));
        }
    }
}

/// What `attest demo` seeds (write_org + imports + define + launch), one quarter earlier too:
/// last quarter's campaign answered, closed and completed; this quarter's under way. Returns
/// (completed campaign, active campaign).
async fn demo_like(app: &TestApp) -> (i64, i64) {
    use attest::domain::records::ImportKind;
    use attest::engine::NoProgress;
    let start = app.engine.now();
    app.clock.set(start - chrono::Duration::days(95));
    let spec = attest::synth::OrgSpec {
        people: 300,
        eligibilities: 1200,
        seed: 2026,
    };
    let files =
        attest::synth::write_org(&spec, app.db.dir(), app.engine.now()).expect("write the org");
    for (kind, path) in [
        (ImportKind::People, &files.people),
        (ImportKind::Roles, &files.roles),
        (ImportKind::Eligibility, &files.eligibility),
    ] {
        app.engine
            .import(
                kind,
                attest::engine::import::ImportInput::open(path).expect("the import file opens"),
                Default::default(),
                "demo",
                &NoProgress,
            )
            .await
            .unwrap_or_else(|e| panic!("import {}: {e}", path.display()));
    }
    let definition = app
        .db
        .file("demo-high-risk-quarterly.toml", DEMO_DEFINITION);
    app.engine
        .define(
            &DefinitionText::read(&definition).expect("read the definition"),
            "demo",
        )
        .await
        .expect("define the demo campaign");
    let earlier = app
        .engine
        .launch("demo-high-risk-quarterly", false, "demo", &NoProgress)
        .await
        .expect("launch last quarter's campaign");
    reviewers_answer(app, earlier.id, 90).await;
    app.clock.advance(chrono::Duration::days(14));
    app.engine.close(earlier.id, "demo").await.expect("close");
    for _ in 0..1000 {
        if app.engine.remediate_step().await.expect("remediate") == 0 {
            break;
        }
    }
    app.engine
        .confirm_removals(earlier.id, "demo")
        .await
        .expect("confirm held-back removals");
    for _ in 0..1000 {
        if app.engine.remediate_step().await.expect("remediate") == 0 {
            break;
        }
    }
    let completed = app.engine.complete_finished().await.expect("complete");
    assert_eq!(
        completed,
        vec![earlier.id],
        "last quarter's campaign completed"
    );

    app.clock.set(start);
    let current = app
        .engine
        .launch("demo-high-risk-quarterly", false, "demo", &NoProgress)
        .await
        .expect("launch this quarter's campaign");
    app.clock.advance(chrono::Duration::days(3));
    reviewers_answer(app, current.id, 60).await;
    for (email, role) in [
        (CONSOLE_ADMIN, attest::domain::access::Role::Admin),
        (CONSOLE_AUDITOR, attest::domain::access::Role::Auditor),
    ] {
        app.engine
            .add_account(email, role, CONSOLE_PASSWORD, "demo")
            .await
            .expect("add an account");
    }
    (earlier.id, current.id)
}

/// Signs in through the login form (a console page sends the browser there first).
async fn sign_in_with_browser(
    client: &Client,
    app: &TestApp,
    start: &str,
    email: &str,
) -> Result<(), String> {
    let e = |what: &'static str| move |err: fantoccini::error::CmdError| format!("{what}: {err}");
    client
        .goto(&app.url(start))
        .await
        .map_err(e("open a console page"))?;
    let url = client.current_url().await.map_err(e("current url"))?;
    if url.path() != "/login" {
        return Err(format!(
            "{start} without a session leads to /login, not {url}"
        ));
    }
    client
        .find(Locator::Css("input[name='email']"))
        .await
        .map_err(e("the email box"))?
        .send_keys(email)
        .await
        .map_err(e("type the email"))?;
    client
        .find(Locator::Css("input[name='password']"))
        .await
        .map_err(e("the password box"))?
        .send_keys(CONSOLE_PASSWORD)
        .await
        .map_err(e("type the password"))?;
    client
        .find(Locator::XPath("//button[normalize-space()='Sign in']"))
        .await
        .map_err(e("the sign-in button"))?
        .click()
        .await
        .map_err(e("click sign in"))?;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("nav.console"))
        .await
        .map_err(e("the console after signing in"))?;
    let url = client.current_url().await.map_err(e("current url"))?;
    if url.path() != start {
        return Err(format!(
            "after signing in the browser is at {url}, not {start}"
        ));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_and_auditors_use_the_console_in_the_browser() {
    let test = "admins_and_auditors_use_the_console_in_the_browser";
    let Some(browser) = Browser::start_for(test).await else {
        return;
    };
    let Some(app) = TestApp::spawn(test).await else {
        browser.close().await;
        return;
    };
    let outcome = console_in_browser(&app, &browser).await;
    browser.close().await;
    outcome.unwrap_or_else(|e| panic!("{e}"));
}

async fn console_in_browser(app: &TestApp, browser: &Browser) -> Result<(), String> {
    let (completed, active) = demo_like(app).await;
    let client = &browser.client;
    let e = |what: &str| {
        let what = what.to_string();
        move |err: fantoccini::error::CmdError| format!("{what}: {err}")
    };
    browser.viewport(1280, 800).await;

    // The admin signs in and sees the dashboard.
    sign_in_with_browser(client, app, "/admin", CONSOLE_ADMIN).await?;
    let body = client.source().await.map_err(e("page source"))?;
    for expected in [
        "demo-high-risk-quarterly",
        "completed",
        "active",
        "Overdue reviewers",
    ] {
        if !body.contains(expected) {
            return Err(format!("the dashboard shows {expected:?}:\n{body}"));
        }
    }
    let dashboard = screenshot(browser, 1280, 800, "admin-dashboard.png").await;

    // The active campaign's page: progress per reviewer, items, actions.
    client
        .find(Locator::Css(&format!(
            "a[href='/admin/campaigns/{active}']"
        )))
        .await
        .map_err(e("the campaign link"))?
        .click()
        .await
        .map_err(e("open the campaign"))?;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#completeness"))
        .await
        .map_err(e("the campaign page"))?;
    let campaign = screenshot(browser, 1280, 800, "admin-campaign.png").await;

    // Cancelling needs its box ticked: without it the browser does not even send the form.
    client
        .find(Locator::XPath(
            "//button[normalize-space()='Cancel campaign']",
        ))
        .await
        .map_err(e("the cancel button"))?
        .click()
        .await
        .map_err(e("click cancel"))?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let state = app
        .engine
        .campaign(active)
        .await
        .map_err(|x| x.to_string())?;
    if state.campaign.state.as_str() != "active" {
        return Err("an unconfirmed cancel changed the campaign".into());
    }

    // The item filter works without scripts: only revoked items, with their reasons.
    client
        .find(Locator::Css("select[name='show']"))
        .await
        .map_err(e("the show filter"))?
        .select_by_value("revoked")
        .await
        .map_err(e("choose revoked"))?;
    client
        .find(Locator::XPath("//button[normalize-space()='Filter']"))
        .await
        .map_err(e("the filter button"))?
        .click()
        .await
        .map_err(e("filter"))?;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_url(
            &url_with_query(
                &app.url(&format!("/admin/campaigns/{active}")),
                "reviewer=&holder=&show=revoked",
            )
            .map_err(|x| x.to_string())?,
        )
        .await
        .map_err(e("the filtered page"))?;
    let body = client.source().await.map_err(e("page source"))?;
    if !REVOKE_REASONS.iter().any(|r| body.contains(r))
        || body.contains("<span class=\"muted\">undecided</span>")
    {
        return Err(format!("only revoked items, with reasons:\n{body}"));
    }

    // Keyboard only: Tab to the close confirmation, tick it with Space, Tab to the button,
    // press Enter. The campaign closes.
    client
        .goto(&app.url(&format!("/admin/campaigns/{active}")))
        .await
        .map_err(e("reopen the campaign"))?;
    let mut reached = false;
    for _ in 0..80 {
        let focused = client
            .active_element()
            .await
            .map_err(e("the focused element"))?;
        focused
            .send_keys("\u{E004}")
            .await
            .map_err(e("press Tab"))?;
        let focused = client
            .active_element()
            .await
            .map_err(e("the focused element"))?;
        let form = focused
            .attr("name")
            .await
            .map_err(e("its name"))?
            .unwrap_or_default();
        let action = client
            .execute(
                "return document.activeElement.form ? document.activeElement.form.getAttribute('action') : '';",
                vec![],
            )
            .await
            .map_err(e("its form"))?;
        if form == "confirm" && action.as_str().is_some_and(|a| a.ends_with("/close")) {
            focused
                .send_keys("\u{E00D}")
                .await
                .map_err(e("press Space"))?;
            focused
                .send_keys("\u{E004}")
                .await
                .map_err(e("press Tab"))?;
            let button = client
                .active_element()
                .await
                .map_err(e("the close button"))?;
            button
                .send_keys("\u{E007}")
                .await
                .map_err(e("press Enter"))?;
            reached = true;
            break;
        }
    }
    if !reached {
        return Err("the close confirmation cannot be reached with Tab".into());
    }
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("p.notice"))
        .await
        .map_err(e("the notice after closing"))?;
    let state = app
        .engine
        .campaign(active)
        .await
        .map_err(|x| x.to_string())?;
    if state.campaign.state.as_str() == "active" {
        return Err("closing with the keyboard did not close the campaign".into());
    }

    // Sign out; the auditor signs in and opens last quarter's completed campaign.
    client
        .find(Locator::XPath("//button[normalize-space()='Sign out']"))
        .await
        .map_err(e("the sign-out button"))?
        .click()
        .await
        .map_err(e("sign out"))?;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("form.login"))
        .await
        .map_err(e("the login page after signing out"))?;
    sign_in_with_browser(client, app, "/audit", CONSOLE_AUDITOR).await?;
    client
        .find(Locator::Css(&format!(
            "a[href='/audit/campaigns/{completed}']"
        )))
        .await
        .map_err(e("the completed campaign's link"))?
        .click()
        .await
        .map_err(e("open the completed campaign"))?;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#completeness"))
        .await
        .map_err(e("the auditor's campaign page"))?;
    let body = client.source().await.map_err(e("page source"))?;
    if body.contains("action=\"/admin") || body.contains("Cancel campaign") {
        return Err("the auditor's page offers no admin action".into());
    }
    for expected in [
        "Population",
        "Undecided",
        "Removals given up",
        "evidence.zip",
    ] {
        if !body.contains(expected) {
            return Err(format!("the auditor's page shows {expected:?}"));
        }
    }
    let audit = screenshot(browser, 1280, 800, "audit-campaign.png").await;
    eprintln!(
        "screenshots: {}, {} and {}",
        dashboard.display(),
        campaign.display(),
        audit.display()
    );
    Ok(())
}

fn url_with_query(base: &str, query: &str) -> Result<url::Url, url::ParseError> {
    let mut url = url::Url::parse(base)?;
    url.set_query(Some(query));
    url.set_fragment(Some("items"));
    Ok(url)
}
