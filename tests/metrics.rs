//! Health and metrics as an operator's monitoring sees them: `/healthz`, `/readyz` (not ready
//! until the workers run), and `/metrics` scraped through a campaign (launch, invitations by
//! real SMTP, a decision on the review page, the close and its removals), each figure checked
//! to move as the campaign does. One test in this file, so this process's counters are its own.
//!
//! The test gets its own database (SQLite, or PostgreSQL with ATTEST_TEST_DATABASE_URL) and its
//! own SMTP server. Without aiosmtpd it prints `SKIPPED …` locally and fails under CI.

mod common;

use attest::domain::access::Role;
use attest::scheduler::tick;
use chrono::Duration;
use common::app::TestApp;
use reqwest::StatusCode;

/// The value of the series `series` (name and labels as rendered), 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (name, number) = l.rsplit_once(' ')?;
            (name == series).then(|| number.parse().expect("a number"))
        })
        .unwrap_or(0.0)
}

async fn scrape(app: &TestApp, token: &str) -> String {
    let answer = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(answer
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain; version=0.0.4")));
    answer.text().await.expect("the metrics")
}

async fn auditor_token(app: &TestApp) -> String {
    app.engine
        .add_account(
            "ops@org.test",
            Role::Admin,
            "a long enough password 1",
            "test",
        )
        .await
        .expect("add an admin");
    let admin = app
        .engine
        .account_operator("ops@org.test")
        .await
        .expect("the admin");
    app.engine
        .create_api_token(&admin, "prometheus", Role::Auditor)
        .await
        .expect("a token for Prometheus")
}

#[tokio::test]
async fn the_metrics_move_as_a_campaign_does_and_readiness_needs_the_workers() {
    let Some(app) = TestApp::spawn("the_metrics_move_as_a_campaign_does").await else {
        return;
    };
    let get = |path: &'static str| {
        let app = &app;
        async move {
            let answer = app.http.get(app.url(path)).send().await.expect(path);
            (answer.status(), answer.text().await.unwrap_or_default())
        }
    };
    assert_eq!(get("/healthz").await, (StatusCode::OK, "ok".to_string()));
    // The web alone is not ready: nothing would send mail or close campaigns.
    let (status, body) = get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("workers"), "{body}");
    let heartbeat = app
        .engine
        .start_heartbeat("serve")
        .await
        .expect("register as serve does");
    assert_eq!(
        get("/readyz").await,
        (StatusCode::OK, "ready\n".to_string())
    );

    // Metrics need a token.
    assert_eq!(get("/metrics").await.0, StatusCode::UNAUTHORIZED);
    let token = auditor_token(&app).await;
    let before = scrape(&app, &token).await;
    assert_eq!(value(&before, r#"attest_campaigns{state="active"}"#), 0.0);
    assert!(
        before.contains(r#"attest_removals{state="removed"} 0"#),
        "{before}"
    );

    // Launched: one active campaign, six undecided items, two invitations queued.
    app.import_org().await;
    app.define_as(
        "metrics.toml",
        &common::app::DEFINITION
            .replace(
                "on_no_response = \"keep\"",
                "on_no_response = \"remove\"\nmax_auto_remove_percent = 100",
            )
            .replace("require_justification = [\"revoke\"]", ""),
    )
    .await;
    let launched = app.launch_defined().await;
    let launched_metrics = scrape(&app, &token).await;
    assert_eq!(
        value(&launched_metrics, r#"attest_campaigns{state="active"}"#),
        1.0
    );
    assert_eq!(
        value(&launched_metrics, r#"attest_items{outcome="undecided"}"#),
        6.0
    );
    assert_eq!(
        value(&launched_metrics, r#"attest_mail{state="pending"}"#),
        2.0
    );

    // Invitations go out by SMTP.
    app.drain_mail().await;
    let mailed = scrape(&app, &token).await;
    assert_eq!(value(&mailed, r#"attest_mail{state="sent"}"#), 2.0);
    assert_eq!(value(&mailed, r#"attest_mail{state="pending"}"#), 0.0);
    let sent = r#"attest_mail_total{template="invitation",result="sent"}"#;
    assert_eq!(value(&mailed, sent) - value(&before, sent), 2.0, "{mailed}");
    assert!(
        value(&mailed, "attest_mail_send_seconds_count") >= 2.0,
        "{mailed}"
    );

    // A decision on the review page.
    let link = app.link_for("maria@org.test");
    let page = app.get(&link).await;
    let item = *launched.items_by_reviewer[&app.principal("m1").await.id]
        .iter()
        .next()
        .expect("Maria has items");
    let saved = app
        .post(
            &link,
            &[
                ("csrf".to_string(), page.csrf()),
                (format!("item-{item}"), "attest".to_string()),
                ("action".to_string(), "save".to_string()),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let decided = scrape(&app, &token).await;
    let decisions = r#"attest_decisions_total{channel="link"}"#;
    assert_eq!(value(&decided, decisions) - value(&mailed, decisions), 1.0);
    assert_eq!(
        value(&decided, r#"attest_items{outcome="decided_attest"}"#),
        1.0
    );
    assert_eq!(value(&decided, r#"attest_items{outcome="undecided"}"#), 5.0);
    let review_posts = r#"attest_http_requests_total{class="review",status="303"}"#;
    assert!(value(&decided, review_posts) >= 1.0, "{decided}");

    // The deadline: closed. Removing the five unanswered would leave roles without a holder,
    // so the safety rail holds them for an admin, and the figures say so.
    app.clock.set(launched.due_at + Duration::minutes(1));
    tick(&app.engine).await.expect("tick");
    let held = scrape(&app, &token).await;
    assert_eq!(
        value(&held, r#"attest_removals{state="awaiting_confirmation"}"#),
        5.0
    );
    assert_eq!(
        value(&held, r#"attest_items{outcome="removed_by_policy"}"#),
        5.0
    );
    assert_eq!(value(&held, r#"attest_items{outcome="kept"}"#), 1.0);
    assert_eq!(
        value(&held, r#"attest_campaigns{state="remediating"}"#),
        1.0
    );
    app.engine
        .confirm_removals(launched.campaign_id, "test")
        .await
        .expect("confirm the removals");
    tick(&app.engine).await.expect("tick");
    let closed = scrape(&app, &token).await;
    let removed = r#"attest_removals_total{outcome="removed"}"#;
    assert_eq!(
        value(&closed, removed) - value(&held, removed),
        5.0,
        "{closed}"
    );
    assert_eq!(value(&closed, r#"attest_removals{state="removed"}"#), 5.0);
    assert_eq!(value(&closed, r#"attest_campaigns{state="active"}"#), 0.0);
    let state = app
        .engine
        .campaign(launched.campaign_id)
        .await
        .expect("campaign")
        .campaign
        .state;
    assert_eq!(
        value(&closed, &format!("attest_campaigns{{state=\"{state}\"}}")),
        1.0,
        "{closed}"
    );

    heartbeat.stop().await.expect("stop the heartbeat");
    assert_eq!(get("/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);
}
