//! One campaign walked through every state (open, partly decided, escalated, closed with
//! removals held back, confirmed, completed) and a second one cancelled with removals still
//! waiting: at every step, every surface a person reads shows the same figures, and they are
//! the true ones (recounted from the items and removals themselves). The surfaces: the admin
//! and auditor dashboards, the admin and auditor campaign pages, `attest campaign show` (text
//! and JSON), the API, the evidence bundle's campaign.json and report.html, and the outcome
//! mail. Runs on SQLite, and on PostgreSQL when `ATTEST_TEST_DATABASE_URL` is set.

mod campaign_support;
mod common;

use attest::domain::access::Role;
use attest::domain::closing::Verdict;
use attest::domain::summary::CampaignSummary;
use attest::engine::NoProgress;
use attest::scheduler::tick;
use chrono::Duration;
use common::app::{field_value, set_cookie, TestApp};
use common::attest_cli;
use common::unzip;
use entity::{remediation, review_item};
use reqwest::header;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;
use std::collections::BTreeMap;

const ADMIN: &str = "ada@attest.test";
const AUDITOR: &str = "aldo@attest.test";
const PASSWORD: &str = "correct horse battery staple";

/// Unanswered items are removed, more than half of them is held for an admin, and the
/// undecided escalate after a week.
const WALK: &str = r#"
name = "summary-walk"
owner = "own"
schedule = "quarterly"
duration_days = 14
reviewers = "manager"
fallback_reviewer = "fb"
on_no_response = "remove"
escalate_after_days = 7
max_auto_remove_percent = 50
require_justification = ["revoke"]

[scope]
risk = ["high"]
"#;

/// A signed-in console session and the anti-forgery value of its forms.
struct Session {
    cookie: String,
    csrf: String,
}

struct Walk {
    app: TestApp,
    admin: Session,
    auditor: Session,
    token: String,
}

async fn sign_in(app: &TestApp, email: &str) -> Session {
    let form = app
        .http
        .get(app.url("/login"))
        .send()
        .await
        .expect("GET /login");
    let login_cookie = set_cookie(&form, "attest_login").expect("the login page sets its cookie");
    let csrf = field_value(&form.text().await.expect("login page"), "csrf").expect("csrf");
    let answer = app
        .http
        .post(app.url("/login"))
        .header(header::COOKIE, format!("attest_login={login_cookie}"))
        .form(&[
            ("email", email),
            ("password", PASSWORD),
            ("csrf", &csrf),
            ("next", ""),
        ])
        .send()
        .await
        .expect("POST /login");
    let cookie = set_cookie(&answer, "attest_session").expect("a session after signing in");
    let page = app
        .http
        .get(app.url("/audit"))
        .header(header::COOKIE, format!("attest_session={cookie}"))
        .send()
        .await
        .expect("GET /audit");
    let csrf = field_value(&page.text().await.expect("/audit"), "csrf").expect("console csrf");
    Session { cookie, csrf }
}

impl Walk {
    async fn start(test: &str) -> Option<Self> {
        let app = TestApp::spawn(test).await?;
        app.import_org().await;
        app.define_as("summary-walk.toml", WALK).await;
        for (email, role) in [(ADMIN, Role::Admin), (AUDITOR, Role::Auditor)] {
            app.engine
                .add_account(email, role, PASSWORD, "test")
                .await
                .expect("add account");
        }
        let operator = app.engine.account_operator(ADMIN).await.expect("admin");
        let token = app
            .engine
            .create_api_token(&operator, "summary-walk", Role::Auditor)
            .await
            .expect("token");
        let admin = sign_in(&app, ADMIN).await;
        let auditor = sign_in(&app, AUDITOR).await;
        Some(Self {
            app,
            admin,
            auditor,
            token,
        })
    }

    /// GETs a console page or file as `who`, which must answer 200.
    async fn get(&self, who: &Session, path: &str) -> reqwest::Response {
        let answer = self
            .app
            .http
            .get(self.app.url(path))
            .header(header::COOKIE, format!("attest_session={}", who.cookie))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(answer.status(), 200, "GET {path}");
        answer
    }

    async fn page(&self, who: &Session, path: &str) -> String {
        self.get(who, path).await.text().await.expect("page text")
    }

    async fn bytes(&self, who: &Session, path: &str) -> Vec<u8> {
        self.get(who, path)
            .await
            .bytes()
            .await
            .expect("body")
            .to_vec()
    }

    /// Ticks a console action's confirmation box and submits it, as an admin does.
    async fn act(&self, id: i64, action: &str) {
        let answer = self
            .app
            .http
            .post(self.app.url(&format!("/admin/campaigns/{id}/{action}")))
            .header(
                header::COOKIE,
                format!("attest_session={}", self.admin.cookie),
            )
            .form(&[("csrf", self.admin.csrf.as_str()), ("confirm", "yes")])
            .send()
            .await
            .expect("console action");
        assert_eq!(answer.status(), 303, "{action}: {:?}", answer.text().await);
    }

    async fn api(&self, path: &str) -> Value {
        let answer = self
            .app
            .http
            .get(self.app.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("API call");
        assert_eq!(answer.status(), 200, "GET {path}");
        answer.json().await.expect("API JSON")
    }
}

/// The figures recounted from the campaign's own rows, independent of the summary's code.
async fn truth(app: &TestApp, id: i64) -> BTreeMap<&'static str, i64> {
    let conn = app.engine.store().conn();
    let items = review_item::Entity::find()
        .filter(review_item::Column::CampaignId.eq(id))
        .all(conn)
        .await
        .expect("items");
    let removals = remediation::Entity::find()
        .filter(remediation::Column::CampaignId.eq(id))
        .all(conn)
        .await
        .expect("removals");
    let count =
        |f: &dyn Fn(&review_item::Model) -> bool| items.iter().filter(|i| f(i)).count() as i64;
    let by = |i: &review_item::Model, who: &str| i.made_by.as_deref() == Some(who);
    let outcome = |i: &review_item::Model, o: &str| i.outcome.as_deref() == Some(o);
    let verdict = |i: &review_item::Model, v: &str| i.verdict.as_deref() == Some(v);
    let state = |s: &str| removals.iter().filter(|r| r.state == s).count() as i64;
    BTreeMap::from([
        ("population", items.len() as i64),
        ("decided_by_people", count(&|i| by(i, "human"))),
        (
            "kept_by_people",
            count(&|i| by(i, "human") && verdict(i, "attest")),
        ),
        (
            "revoked_by_people",
            count(&|i| by(i, "human") && verdict(i, "revoke")),
        ),
        ("kept_by_policy", count(&|i| outcome(i, "kept_by_policy"))),
        (
            "revoked_by_policy",
            count(&|i| outcome(i, "removed_by_policy")),
        ),
        ("excluded", count(&|i| outcome(i, "kept_excluded"))),
        ("undecided", count(&|i| i.verdict.is_none())),
        ("escalated", count(&|i| i.escalated_at.is_some())),
        ("removals", removals.len() as i64),
        ("removals_done", state("removed")),
        ("removals_given_up", state("failed")),
    ])
}

/// Every `data-figure` in `html` with the number it shows (tags inside stripped).
fn html_figures(html: &str) -> Vec<(String, i64)> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("data-figure=\"") {
        rest = &rest[at + 13..];
        let end = rest.find('"').expect("closing quote");
        let key = rest[..end].to_string();
        let body = &rest[rest.find('>').expect("tag end") + 1..];
        let mut text = String::new();
        let mut in_tag = false;
        for ch in body.chars() {
            match ch {
                '<' if !text.is_empty() => break,
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag && c.is_ascii_digit() => text.push(c),
                c if !in_tag && !text.is_empty() && !c.is_ascii_digit() => break,
                _ => {}
            }
        }
        found.push((key, text.parse().expect("a number after data-figure")));
    }
    found
}

fn unescape(html: &str) -> String {
    html.replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn assert_html(surface: &str, html: &str, s: &CampaignSummary, want_all: bool) {
    let expected: BTreeMap<&str, i64> = s.figures().iter().map(|f| (f.key, f.value)).collect();
    let shown = html_figures(html);
    assert!(!shown.is_empty(), "{surface} shows no figures:\n{html}");
    for (key, value) in &shown {
        let want = expected
            .get(key.as_str())
            .unwrap_or_else(|| panic!("{surface} shows an unknown figure {key}"));
        assert_eq!(value, want, "{surface}: {key}");
    }
    if want_all {
        for f in s.figures() {
            assert!(
                shown.iter().any(|(k, _)| k == f.key),
                "{surface} does not show {}",
                f.key
            );
        }
        assert!(
            unescape(html).contains(&s.status),
            "{surface} does not say {:?}",
            s.status
        );
    }
    assert!(
        unescape(html).contains(&s.decided_share),
        "{surface} shows the decided share {}",
        s.decided_share
    );
}

/// `label: value` lines (the CLI's `show` and the outcome mail's text).
fn assert_lines(surface: &str, text: &str, s: &CampaignSummary) {
    for f in s.figures() {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(&format!("{}:", f.label)))
            .unwrap_or_else(|| panic!("{surface} has no line {:?}:\n{text}", f.label));
        let value: i64 = line[f.label.len() + 1..]
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{surface}: no number in {line:?}"));
        assert_eq!(value, f.value, "{surface}: {}", f.label);
    }
    assert!(
        text.contains(&s.status),
        "{surface} says {:?}:\n{text}",
        s.status
    );
}

/// Reads every surface and asserts each shows the campaign's summary, which is the truth.
async fn every_surface(w: &Walk, id: i64, stage: &str) -> CampaignSummary {
    let s = w.app.engine.campaign(id).await.expect("campaign").summary;
    // The summary against a recount of the rows.
    for (key, value) in truth(&w.app, id).await {
        let json = serde_json::to_value(&s).expect("summary JSON");
        assert_eq!(
            json[key], value,
            "{stage}: {key} against the campaign's rows"
        );
    }
    assert_eq!(
        s.population,
        s.decided_by_people + s.settled_by_policy + s.excluded + s.undecided,
        "{stage}: every item is decided once"
    );
    assert_eq!(
        s.removals,
        s.removals_pending
            + s.removals_retrying
            + s.removals_held
            + s.removals_done
            + s.removals_already_gone
            + s.removals_given_up
            + s.removals_cancelled,
        "{stage}: every removal is in one state"
    );
    let json = serde_json::to_value(&s).expect("summary JSON");

    // The API, and `campaign show --json`.
    let api = w.api(&format!("/api/v1/campaigns/{id}")).await;
    assert_eq!(api["summary"], json, "{stage}: API");
    let (code, out, err) = attest_cli(&w.app.db, &["campaign", "show", &id.to_string(), "--json"]);
    assert_eq!(code, 0, "{stage}: show --json: {err}");
    let shown: Value = serde_json::from_str(&out).expect("show --json prints JSON");
    assert_eq!(shown["summary"], json, "{stage}: campaign show --json");
    // `campaign show`.
    let (code, out, err) = attest_cli(&w.app.db, &["campaign", "show", &id.to_string()]);
    assert_eq!(code, 0, "{stage}: show: {err}");
    assert_lines(&format!("{stage}: campaign show"), &out, &s);
    let held = s.removals_held > 0;
    assert_eq!(
        out.contains("confirm with:"),
        held,
        "{stage}: show offers confirm-removals only while removals are held:\n{out}"
    );

    // The dashboards: the campaign's row.
    for (who, path) in [(&w.admin, "/admin"), (&w.auditor, "/audit")] {
        let page = w.page(who, path).await;
        let start = page
            .find(&format!("<tr data-campaign=\"{id}\">"))
            .unwrap_or_else(|| panic!("{stage}: {path} lists campaign #{id}"));
        let row = &page[start..start + page[start..].find("</tr>").expect("row end")];
        assert_html(&format!("{stage}: {path} dashboard"), row, &s, false);
    }
    // The campaign pages.
    for (who, base) in [(&w.admin, "/admin"), (&w.auditor, "/audit")] {
        let page = w.page(who, &format!("{base}/campaigns/{id}")).await;
        assert_html(&format!("{stage}: {base} campaign page"), &page, &s, true);
        assert_eq!(
            page.contains("still open"),
            s.state.accepts_decisions(),
            "{stage}: {base} campaign page says 'still open' only while open"
        );
    }
    // The evidence bundle.
    let zip = w
        .bytes(&w.auditor, &format!("/audit/campaigns/{id}/evidence.zip"))
        .await;
    let files = unzip(&zip);
    let campaign_json: Value =
        serde_json::from_slice(&files["campaign.json"]).expect("campaign.json");
    assert_eq!(campaign_json["summary"], json, "{stage}: campaign.json");
    let report = String::from_utf8(files["report.html"].clone()).expect("report.html");
    assert_html(&format!("{stage}: report.html"), &report, &s, true);
    // Who failed to answer, and who took their items over, is in the report itself.
    if s.escalated > 0 {
        assert!(
            report.contains(&format!("{} items did not stay", s.escalated))
                && report.contains("Mark Manager")
                && report.contains("no answer within 7 days"),
            "{stage}: report.html names the escalations:\n{report}"
        );
        assert_eq!(campaign_json["handovers"]["count"], s.escalated);
    }
    s
}

async fn ids(app: &TestApp, id: i64) -> BTreeMap<(String, String), (i64, i64)> {
    let p = campaign_support::principal_ids(&app.engine).await;
    let mut out = BTreeMap::new();
    for i in app.items(id).await {
        let holder = p
            .iter()
            .find(|(_, pid)| **pid == i.principal_id)
            .map(|(k, _)| k.clone())
            .expect("holder");
        out.insert(
            (holder, i.role_name.clone()),
            (i.id, i.reviewer_id.expect("reviewer")),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_surface_shows_the_same_true_figures_in_every_state() {
    let Some(mut w) = Walk::start("every_surface_shows_the_same_true_figures_in_every_state").await
    else {
        return;
    };
    let app = &w.app;
    let launched = app
        .engine
        .launch("summary-walk", false, "test", &NoProgress)
        .await
        .expect("launch");
    let id = launched.id;
    let items = ids(app, id).await;
    let item = |holder: &str, role: &str| items[&(holder.to_string(), role.to_string())];
    const GA: &str = "Global Administrator";
    const PRA: &str = "Privileged Role Administrator";

    // Open.
    let s = every_surface(&w, id, "open").await;
    assert_eq!((s.population, s.undecided, s.decided_by_people), (6, 6, 0));
    assert_eq!(s.decided_share, "0%");
    assert!(s.status.starts_with("Open until"), "{}", s.status);

    // Partly decided: Maria keeps Anna's Global Administrator and revokes Aiko's role.
    let (a1, m1) = item("a1", GA);
    let (a3, _) = item("a3", PRA);
    campaign_support::decide(&app.engine, id, m1, &[a1], Verdict::Attest, None)
        .await
        .expect("keep");
    campaign_support::decide(
        &app.engine,
        id,
        m1,
        &[a3],
        Verdict::Revoke,
        Some("left the team"),
    )
    .await
    .expect("revoke");
    let s = every_surface(&w, id, "partly decided").await;
    assert_eq!(
        (s.decided_by_people, s.kept_by_people, s.revoked_by_people),
        (2, 1, 1)
    );
    assert_eq!(s.decided_share, "33.3%");
    // People by name beside their ids: the reviewer of each item, and who decided it.
    let page = w.page(&w.admin, &format!("/admin/campaigns/{id}")).await;
    assert!(
        page.contains("<td>Maria Manager <span class=\"muted\">m1</span></td>")
            && page.contains("by Maria Manager (m1)"),
        "the campaign page names reviewers and deciders:\n{page}"
    );
    // The audit log views name the reviewer who acted as reviewer:ID.
    let log = w.page(&w.auditor, "/audit/log").await;
    assert!(
        log.contains(&format!(
            "reviewer:{m1} <span class=\"muted\">Maria Manager (m1)</span>"
        )),
        "the console's audit log names the reviewer:\n{log}"
    );
    let (code, out, err) = attest_cli(&app.db, &["audit", "log"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("reviewer:{m1} (Maria Manager (m1))")),
        "attest audit log names the reviewer:\n{out}"
    );

    // Escalated: a week on, the four unanswered items go up the manager chain.
    app.clock.advance(Duration::days(7) + Duration::hours(1));
    tick(&app.engine).await.expect("tick");
    // A week on the test's clock ends the console sessions too.
    w.admin = sign_in(app, ADMIN).await;
    w.auditor = sign_in(app, AUDITOR).await;
    let s = every_surface(&w, id, "escalated").await;
    assert_eq!(s.escalated, 4);

    // Closed early by the admin: four unanswered items are revoked by policy, which is more
    // than half of the population, so the rail holds them; the person's revocation goes ahead.
    w.act(id, "close").await;
    while app.engine.remediate_step().await.expect("remediate") > 0 {}
    let s = every_surface(&w, id, "closed with held removals").await;
    assert_eq!(s.revoked_by_policy, 4);
    assert_eq!(s.removals_held, 4);
    assert_eq!(s.removals_done, 1);
    assert_eq!(s.undecided, 0);
    assert!(
        s.status
            .starts_with(&format!("Closed early by account:{ADMIN} at ")),
        "{}",
        s.status
    );

    // Confirmed: the held removals are released and carried out.
    w.act(id, "confirm-removals").await;
    let s = every_surface(&w, id, "confirmed").await;
    assert_eq!((s.removals_held, s.removals_pending), (0, 4));
    while app.engine.remediate_step().await.expect("remediate") > 0 {}

    // Completed, and the owner's outcome mail says the same.
    app.engine.complete_finished().await.expect("complete");
    let s = every_surface(&w, id, "completed").await;
    assert_eq!(s.state.as_str(), "completed");
    assert_eq!((s.removals_done, s.removals_outstanding()), (5, 0));
    app.drain_mail().await;
    let outcome = app
        .smtp
        .messages_to("olga@org.test")
        .into_iter()
        .find(|m| m.text.contains("is complete"))
        .expect("the owner's outcome mail");
    assert_lines("outcome mail", &outcome.text, &s);

    // Cancelled with removals waiting: an extra campaign over what is left, closed (its one
    // unanswered item is held: the rail) and then cancelled from the command line.
    let extra = app
        .engine
        .launch("summary-walk", true, "test", &NoProgress)
        .await
        .expect("ad hoc launch");
    w.act(extra.id, "close").await;
    let (code, _, err) = attest_cli(&app.db, &["campaign", "cancel", &extra.id.to_string()]);
    assert_eq!(code, 0, "cancel: {err}");
    let s = every_surface(&w, extra.id, "cancelled").await;
    assert_eq!((s.removals_cancelled, s.removals_outstanding()), (1, 0));
    assert!(s.status.starts_with("Cancelled by cli:"), "{}", s.status);
}

/// A database from before campaigns recorded who ended them learns it from the audit log when
/// it is migrated: the campaign pages then say "closed early by …" for old campaigns too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_ended_old_campaigns_comes_from_the_audit_log() {
    use migration::{Migrator, MigratorTrait};
    let db = common::TestDb::new().await;
    let clock = campaign_support::clock_at(common::at(common::app::START));
    let engine = db.engine_at(clock.clone()).await;
    campaign_support::import_org(
        &db,
        &engine,
        &campaign_support::OrgFiles {
            people: common::app::PEOPLE,
            roles: common::app::ROLES,
            eligibility: common::app::ELIGIBILITY,
        },
    )
    .await;
    campaign_support::define(&db, &engine, "walk.toml", WALK).await;
    let closed = engine
        .launch("summary-walk", false, "test", &NoProgress)
        .await
        .expect("launch");
    let cancelled = engine
        .launch("summary-walk", true, "test", &NoProgress)
        .await
        .expect("launch ad hoc");
    engine
        .close(closed.id, "account:ada@attest.test")
        .await
        .expect("close");
    engine
        .cancel(cancelled.id, "token:ops")
        .await
        .expect("cancel");

    // Back to the schema before the columns existed, and forward again.
    let conn = engine.store().conn();
    Migrator::down(conn, Some(1))
        .await
        .expect("migrate down one");
    Migrator::up(conn, None).await.expect("migrate up");

    let c = engine.campaign(closed.id).await.expect("closed campaign");
    assert_eq!(
        c.campaign.closed_by.as_deref(),
        Some("account:ada@attest.test")
    );
    assert!(
        c.summary
            .status
            .starts_with("Closed early by account:ada@attest.test at "),
        "{}",
        c.summary.status
    );
    let c = engine
        .campaign(cancelled.id)
        .await
        .expect("cancelled campaign");
    assert_eq!(c.campaign.cancelled_by.as_deref(), Some("token:ops"));
    assert_eq!(c.campaign.closed_by, None);
}
