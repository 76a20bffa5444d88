//! The REST API on the real server (SQLite, or PostgreSQL with ATTEST_TEST_DATABASE_URL):
//! - a campaign's whole life through the API alone, every answer checked against the OpenAPI
//!   document the server serves;
//! - who may call what: every documented route with no credentials, a reviewer's link token, an
//!   auditor (token and session), an admin (token and session) — auditors change nothing;
//! - JSON errors: unknown names, malformed bodies and parameters, a server failure that tells
//!   nothing of its cause;
//! - imports of a file sent as the body, and a rejected one that changes nothing.

mod api_support;
mod common;

use api_support::{ApiApp, Auth, Body, Checked, Reply, ADMIN_TOKEN_NAME};
use common::app::{DEFINITION, DEFINITION_NAME, ELIGIBILITY, PEOPLE, ROLES};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

fn csv(text: &str) -> Body {
    Body::Text("text/csv", text.to_string())
}

fn toml(text: &str) -> Body {
    Body::Text("application/toml", text.to_string())
}

/// Imports the test organisation through the API.
async fn import_org(api: &Checked<'_>, auth: &Auth) {
    for (kind, file, rows) in [
        ("people", PEOPLE, 9),
        ("roles", ROLES, 3),
        ("eligibility", ELIGIBILITY, 7),
    ] {
        let reply = api
            .post(&format!("/api/v1/imports/{kind}"), auth, csv(file))
            .await;
        reply.expect(200);
        let report = reply.json();
        assert_eq!(report["kind"], kind);
        assert_eq!(report["rows"], rows, "{report}");
        assert_eq!(report["inserted"], rows, "{report}");
        assert_eq!(report["file"], format!("upload:{kind}.csv"));
    }
}

fn ids(items: &Value) -> Vec<i64> {
    items
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_i64().expect("item id"))
        .collect()
}

/// Launch, watch, decide, close and complete a campaign with nothing but the REST API (the
/// workers that remove access run as `serve` runs them), every answer checked against the
/// served OpenAPI document.
#[tokio::test]
async fn a_campaign_runs_its_whole_life_through_the_api_and_every_answer_matches_the_document() {
    let app = ApiApp::spawn().await;
    let contract = app.contract().await;
    assert!(
        contract.compile_all() > 20,
        "every response schema compiles"
    );
    let api = Checked {
        app: &app,
        contract: &contract,
    };
    let admin = &app.admin_token;
    let auditor = &app.auditor_token;

    let me = api.get("/api/v1/me", admin).await;
    me.expect(200);
    assert_eq!(
        me.json(),
        json!({ "actor": format!("token:{ADMIN_TOKEN_NAME}"), "role": "admin", "csrf": null })
    );

    import_org(&api, admin).await;
    let eligibility = api
        .get(
            "/api/v1/eligibility?role=Global%20Administrator&per_page=2",
            auditor,
        )
        .await;
    eligibility.expect(200);
    let page = eligibility.json();
    assert_eq!(
        (page["total"].as_u64(), page["per_page"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    let searched = api.get("/api/v1/eligibility?search=aiko", auditor).await;
    assert_eq!(searched.expect(200).json()["items"][0]["principal"], "a3");

    // Define (a new version, then the same file again: nothing new), list, preview.
    let defined = api
        .post("/api/v1/definitions", admin, toml(DEFINITION))
        .await;
    defined.expect(201);
    assert_eq!(defined.json()["name"], DEFINITION_NAME);
    assert_eq!(defined.json()["changed"], true);
    let again = api
        .post("/api/v1/definitions", admin, toml(DEFINITION))
        .await;
    again.expect(200);
    assert_eq!(again.json()["changed"], false);
    let definitions = api.get("/api/v1/definitions", auditor).await;
    definitions.expect(200);
    let definition = &definitions.json()["items"][0];
    assert_eq!(definition["name"], DEFINITION_NAME);
    assert!(definition["next_launch"].is_string(), "{definition}");
    let preview = api
        .get(
            &format!("/api/v1/definitions/{DEFINITION_NAME}/preview"),
            auditor,
        )
        .await;
    preview.expect(200);
    assert_eq!(preview.json()["population"], 6);

    // Launch; a second launch in the same period is a conflict.
    let launched = api
        .post(
            "/api/v1/campaigns",
            admin,
            Body::Json(json!({ "definition": DEFINITION_NAME })),
        )
        .await;
    launched.expect(201);
    let campaign = launched.json();
    let id = campaign["id"].as_i64().expect("campaign id");
    assert_eq!(campaign["state"], "active");
    assert_eq!(campaign["counts"]["items"], 6);
    let twice = api
        .post(
            "/api/v1/campaigns",
            admin,
            Body::Json(json!({ "definition": DEFINITION_NAME })),
        )
        .await;
    twice.expect(409);
    assert_eq!(twice.error_code(), "conflict");

    let active = api.get("/api/v1/campaigns?state=active", auditor).await;
    active.expect(200);
    assert_eq!(active.json()["total"], 1);
    assert_eq!(active.json()["items"][0]["id"], id);
    let none = api
        .get("/api/v1/campaigns?state=completed,cancelled", auditor)
        .await;
    assert_eq!(none.expect(200).json()["total"], 0);

    // Maria's four items, two pages of three.
    let first = api
        .get(
            &format!("/api/v1/campaigns/{id}/items?reviewer=m1&per_page=3"),
            auditor,
        )
        .await;
    first.expect(200);
    assert_eq!(first.json()["total"], 4);
    let second = api
        .get(
            &format!("/api/v1/campaigns/{id}/items?reviewer=m1&per_page=3&page=2"),
            auditor,
        )
        .await;
    second.expect(200);
    let mut maria: Vec<i64> = ids(&first.json()["items"]);
    maria.extend(ids(&second.json()["items"]));
    assert_eq!(maria.len(), 4);
    let aiko = api
        .get(&format!("/api/v1/campaigns/{id}/items?holder=a3"), auditor)
        .await;
    let aiko = ids(&aiko.expect(200).json()["items"])[0];

    // Decide Maria's items on her behalf: a revoke without a justification is refused whole.
    let choices = |why: Option<&str>| -> Value {
        let items: Vec<Value> = maria
            .iter()
            .map(|&item| {
                if item == aiko {
                    json!({ "item_id": item, "verdict": "revoke", "justification": why })
                } else {
                    json!({ "item_id": item, "verdict": "attest" })
                }
            })
            .collect();
        json!({ "reviewer": "m1", "items": items })
    };
    let decisions = format!("/api/v1/campaigns/{id}/decisions");
    let refused = api.post(&decisions, admin, Body::Json(choices(None))).await;
    refused.expect(422);
    assert_eq!(refused.error_code(), "invalid");
    let decided = api
        .post(
            &decisions,
            admin,
            Body::Json(choices(Some("left the team"))),
        )
        .await;
    decided.expect(200);
    assert_eq!(decided.json(), json!({ "decided": 4, "unchanged": 0 }));
    let retried = api
        .post(
            &decisions,
            admin,
            Body::Json(choices(Some("left the team"))),
        )
        .await;
    assert_eq!(
        retried.expect(200).json(),
        json!({ "decided": 0, "unchanged": 4 })
    );
    let marks = api
        .get(
            &format!("/api/v1/campaigns/{id}/items?reviewer=m2"),
            auditor,
        )
        .await;
    let marks = ids(&marks.expect(200).json()["items"]);
    let not_hers = api
        .post(
            &decisions,
            admin,
            Body::Json(json!({ "reviewer": "m1", "items": [{ "item_id": marks[0], "verdict": "attest" }] })),
        )
        .await;
    not_hers.expect(422);
    assert_eq!(not_hers.error()["field"], "items");

    let resent = api
        .post(
            &format!("/api/v1/campaigns/{id}/resend-invitation"),
            admin,
            Body::Json(json!({ "reviewer": "m2" })),
        )
        .await;
    resent.expect(202);
    assert_eq!(resent.json()["queued"], true);

    // Progress, as an auditor watches it.
    let progress = api.get(&format!("/api/v1/campaigns/{id}"), auditor).await;
    let counts = progress.expect(200).json()["counts"].clone();
    assert_eq!(
        (
            counts["decided"].as_i64(),
            counts["undecided"].as_i64(),
            counts["revoked"].as_i64()
        ),
        (Some(4), Some(2), Some(1)),
        "{counts}"
    );
    let undecided = api
        .get(
            &format!("/api/v1/campaigns/{id}/items?show=undecided"),
            auditor,
        )
        .await;
    assert_eq!(undecided.expect(200).json()["total"], 2);
    let open_evidence = api
        .get(&format!("/api/v1/campaigns/{id}/evidence"), auditor)
        .await;
    open_evidence.expect(200);
    assert_eq!(open_evidence.content_type, "application/zip");
    assert!(open_evidence.body.starts_with(b"PK"), "a zip");

    // Close; closing twice is a conflict; the workers remove Aiko's eligibility and complete it.
    let closed = api
        .post(&format!("/api/v1/campaigns/{id}/close"), admin, Body::Empty)
        .await;
    closed.expect(200);
    assert_eq!(closed.json()["state"], "remediating");
    assert_eq!(closed.json()["counts"]["kept_by_policy"], 2);
    let reclosed = api
        .post(&format!("/api/v1/campaigns/{id}/close"), admin, Body::Empty)
        .await;
    reclosed.expect(409);
    assert_eq!(reclosed.error_code(), "conflict");
    for _ in 0..10 {
        if app.engine.remediate_step().await.expect("remediate") == 0 {
            break;
        }
    }
    assert_eq!(
        app.engine.complete_finished().await.expect("complete"),
        vec![id]
    );
    let completed = api.get(&format!("/api/v1/campaigns/{id}"), auditor).await;
    let completed = completed.expect(200).json();
    assert_eq!(completed["state"], "completed");
    assert_eq!(completed["counts"]["removed"], 1);
    let removed = api
        .get("/api/v1/eligibility?principal=a3&all=true", auditor)
        .await;
    let removed = removed.expect(200).json();
    assert_eq!(removed["items"][0]["status"], "removed", "{removed}");
    let active_a3 = api.get("/api/v1/eligibility?principal=a3", auditor).await;
    assert_eq!(active_a3.expect(200).json()["total"], 0);
    let evidence = api
        .get(&format!("/api/v1/campaigns/{id}/evidence"), auditor)
        .await;
    evidence.expect(200);
    assert!(
        evidence.body.starts_with(b"PK"),
        "the stored bundle is a zip"
    );

    // The audit log, paged backwards: every admin change is there under the token's name.
    let mut events: Vec<Value> = Vec::new();
    let mut path = "/api/v1/audit/events?per_page=7".to_string();
    let mut total = None;
    loop {
        let page = api.get(&path, auditor).await;
        let page = page.expect(200).json();
        total.get_or_insert(page["total"].as_u64().expect("total"));
        events.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["next_before"].as_i64() {
            Some(before) => path = format!("/api/v1/audit/events?per_page=7&before={before}"),
            None => break,
        }
    }
    let seqs: Vec<i64> = events
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    let newest = seqs[0];
    assert_eq!(
        seqs,
        (1..=newest).rev().collect::<Vec<_>>(),
        "newest first, none missing"
    );
    assert_eq!(total, Some(newest as u64));
    let page_two = api
        .get("/api/v1/audit/events?per_page=7&page=2", auditor)
        .await;
    assert_eq!(page_two.expect(200).json()["items"][0]["seq"], newest - 7);
    let by_admin: BTreeSet<&str> = events
        .iter()
        .filter(|e| e["actor"] == format!("token:{ADMIN_TOKEN_NAME}"))
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "import.people",
        "import.roles",
        "import.eligibility",
        "definition.define",
        "campaign.launch",
        "decision.record",
        "campaign.resend_invitation",
        "campaign.close",
    ] {
        assert!(
            by_admin.contains(action),
            "{action} by the admin token: {by_admin:?}"
        );
    }
    let verified = api.get("/api/v1/audit/verify", auditor).await;
    assert_eq!(
        verified.expect(200).json(),
        json!({ "intact": true, "events": newest, "problem": null })
    );

    // Reports.
    let coverage = api.get("/api/v1/reports/coverage", auditor).await;
    let coverage = coverage.expect(200).json();
    let global = coverage
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["role"] == "Global Administrator")
        .expect("Global Administrator is covered");
    assert_eq!(global["last_campaign_id"], id);
    assert_eq!(global["within_cadence"], true);
    // As of a day before any campaign completed: nothing reviewed yet; a bad day names as_of.
    let before = api
        .get("/api/v1/reports/coverage?as_of=2026-12-31", auditor)
        .await;
    let before = before.expect(200).json();
    let global_then = before
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["role"] == "Global Administrator")
        .expect("Global Administrator then");
    assert!(global_then["last_campaign_id"].is_null(), "{global_then:#}");
    let bad_day = api
        .get("/api/v1/reports/coverage?as_of=yesterday", auditor)
        .await;
    bad_day.expect(422);
    assert_eq!(bad_day.error()["field"], "as_of");
    let monthly = api
        .get("/api/v1/reports/monthly?month=2027-01", auditor)
        .await;
    let monthly = monthly.expect(200).json();
    assert_eq!(monthly["campaigns_completed"], 1);
    let this_month = api.get("/api/v1/reports/monthly", auditor).await;
    assert_eq!(this_month.expect(200).json()["month"], "2027-01");
    let bad_month = api
        .get("/api/v1/reports/monthly?month=January", auditor)
        .await;
    bad_month.expect(422);
    assert_eq!(bad_month.error()["field"], "month");
}

/// One documented operation, how to call it, and what an admin gets.
struct Route {
    method: Method,
    path: String,
    body: fn(&Fixture) -> Body,
    /// What an admin (token) gets when the routes run in this order.
    admin: u16,
}

/// What the authorization matrix needs to fill in paths and bodies.
struct Fixture {
    campaign: i64,
    item: i64,
    /// The auditor's account, which the admin disables, enables, re-roles and re-passwords.
    auditor_account: i64,
    /// A token made for the admin to revoke.
    spare_token: i64,
}

fn empty(_: &Fixture) -> Body {
    Body::Empty
}

/// Every route of the API, reads first, then changes in an order where each succeeds (or fails
/// for a reason that is not authorization). The matrix test checks that this list and the
/// OpenAPI document name the same operations.
fn routes(f: &Fixture) -> Vec<Route> {
    let c = f.campaign;
    let get = |path: String| Route {
        method: Method::GET,
        path,
        body: empty,
        admin: 200,
    };
    let post = |path: String, body: fn(&Fixture) -> Body, admin: u16| Route {
        method: Method::POST,
        path,
        body,
        admin,
    };
    vec![
        get("/api/v1/me".into()),
        get("/api/v1/openapi.json".into()),
        get("/api/v1/campaigns".into()),
        get(format!("/api/v1/campaigns/{c}")),
        get(format!("/api/v1/campaigns/{c}/items")),
        get(format!("/api/v1/campaigns/{c}/reviewers")),
        get(format!("/api/v1/campaigns/{c}/evidence")),
        get(format!("/api/v1/campaigns/{c}/challenges")),
        get("/api/v1/definitions".into()),
        get(format!("/api/v1/definitions/{DEFINITION_NAME}/preview")),
        get("/api/v1/eligibility".into()),
        get("/api/v1/audit/events".into()),
        get("/api/v1/audit/verify".into()),
        get("/api/v1/reports/coverage".into()),
        get("/api/v1/reports/monthly".into()),
        get("/api/v1/reports/lifecycle".into()),
        get("/api/v1/reports/activations".into()),
        get("/api/v1/findings/reappeared".into()),
        get("/api/v1/sources".into()),
        get("/api/v1/accounts".into()),
        get("/api/v1/tokens".into()),
        post("/api/v1/imports/roles".into(), |_| csv(ROLES), 200),
        // This instance configures no source: the admin gets past authorization to a 404.
        post("/api/v1/sources/corp/test".into(), empty, 404),
        post("/api/v1/sources/corp/sync".into(), empty, 404),
        post("/api/v1/definitions".into(), |_| toml(DEFINITION), 200),
        post(
            "/api/v1/campaigns".into(),
            |_| Body::Json(json!({ "definition": DEFINITION_NAME, "adhoc": true })),
            201,
        ),
        post(
            format!("/api/v1/campaigns/{c}/decisions"),
            |f| Body::Json(json!({ "items": [{ "item_id": f.item, "verdict": "attest" }] })),
            200,
        ),
        post(
            format!("/api/v1/campaigns/{c}/resend-invitation"),
            |_| Body::Json(json!({ "reviewer": "m1" })),
            202,
        ),
        post(
            format!("/api/v1/campaigns/{c}/reviewers/m1/revoke-links"),
            empty,
            200,
        ),
        post(format!("/api/v1/campaigns/{c}/mail/requeue"), empty, 200),
        // The campaign has no challenge period: the admin gets past authorization to a 404.
        post(
            format!("/api/v1/campaigns/{c}/challenges/1/keep"),
            empty,
            404,
        ),
        post(
            format!("/api/v1/campaigns/{c}/challenges/1/uphold"),
            empty,
            404,
        ),
        post(
            format!("/api/v1/accounts/{}/role", f.auditor_account),
            |_| Body::Json(json!({ "role": "auditor" })),
            200,
        ),
        post(
            format!("/api/v1/accounts/{}/password", f.auditor_account),
            |_| Body::Json(json!({ "password": "a new and long password" })),
            200,
        ),
        post(
            format!("/api/v1/accounts/{}/disable", f.auditor_account),
            empty,
            200,
        ),
        post(
            format!("/api/v1/accounts/{}/enable", f.auditor_account),
            empty,
            200,
        ),
        post(
            format!("/api/v1/tokens/{}/revoke", f.spare_token),
            empty,
            200,
        ),
        get(format!("/api/v1/campaigns/{c}/stages")),
        // A single-stage campaign has no next stage: refused, for a reason that is not who asks.
        post(format!("/api/v1/campaigns/{c}/next-stage"), empty, 422),
        post(
            format!("/api/v1/campaigns/{c}/rerun"),
            |_| Body::Json(json!({ "days": 20 })),
            200,
        ),
        post(format!("/api/v1/campaigns/{c}/close"), empty, 200),
        // Nothing was held back for confirmation: refused, for a reason that is not who asks.
        post(
            format!("/api/v1/campaigns/{c}/confirm-removals"),
            empty,
            422,
        ),
        post(format!("/api/v1/campaigns/{c}/cancel"), empty, 200),
        get("/api/v1/principals/a1/suspensions".into()),
        post(
            "/api/v1/principals/a1/suspend".into(),
            |_| Body::Json(json!({ "reason": "SIEM alert 1" })),
            201,
        ),
        post("/api/v1/principals/a1/restore".into(), empty, 202),
        // The token that requested the restore may not approve it too.
        post("/api/v1/suspensions/1/approve".into(), empty, 403),
        // Tokens come from a console session only: an admin token may not make more.
        post(
            "/api/v1/tokens".into(),
            |_| Body::Json(json!({ "name": "from-a-token", "role": "auditor" })),
            403,
        ),
    ]
}

/// What the state of the application looks like to a reader: everything but refusals.
async fn snapshot(app: &ApiApp) -> BTreeMap<String, String> {
    let mut state = BTreeMap::new();
    for path in [
        "/api/v1/campaigns?per_page=500",
        "/api/v1/definitions?per_page=500",
        "/api/v1/eligibility?all=true&per_page=500",
    ] {
        let reply = app
            .call(Method::GET, path, &app.admin_token, Body::Empty)
            .await;
        state.insert(path.to_string(), reply.expect(200).text());
    }
    let changes: Vec<String> = app
        .audit_events()
        .await
        .into_iter()
        .filter(|e| {
            !e.action.starts_with("auth.")
                && !e.action.contains("refused")
                && !e.action.contains("denied")
        })
        .map(|e| format!("{} {} {}", e.seq, e.actor, e.action))
        .collect();
    state.insert("audit".into(), changes.join("\n"));
    state
}

/// Every route with no credentials, a reviewer's link token, an auditor (token and session) and
/// an admin (token and session): only admins change anything, and a reviewer's link is no API
/// credential.
#[tokio::test]
async fn every_route_answers_anonymous_reviewer_auditor_and_admin_as_their_role_allows() {
    let app = ApiApp::spawn().await;
    let contract = app.contract().await;
    let api = Checked {
        app: &app,
        contract: &contract,
    };
    import_org(&api, &app.admin_token).await;
    api.post("/api/v1/definitions", &app.admin_token, toml(DEFINITION))
        .await
        .expect(201);
    let launched = api
        .post(
            "/api/v1/campaigns",
            &app.admin_token,
            Body::Json(json!({ "definition": DEFINITION_NAME })),
        )
        .await;
    let campaign = launched.expect(201).json()["id"].as_i64().expect("id");
    let items = api
        .get(
            &format!("/api/v1/campaigns/{campaign}/items"),
            &app.auditor_token,
        )
        .await;
    let item = items.expect(200).json()["items"][0].clone();
    let admin = app
        .engine
        .account_operator(api_support::ADMIN_EMAIL)
        .await
        .expect("the admin account");
    app.engine
        .create_api_token(&admin, "spare", attest::domain::access::Role::Auditor)
        .await
        .expect("a spare token");
    let spare_token = app
        .engine
        .api_tokens()
        .await
        .expect("tokens")
        .into_iter()
        .find(|t| t.name == "spare")
        .expect("the spare token is listed")
        .id;
    let auditor_account = app
        .engine
        .accounts()
        .await
        .expect("accounts")
        .into_iter()
        .find(|a| a.email == api_support::AUDITOR_EMAIL)
        .expect("the auditor account is listed")
        .id;
    let fixture = Fixture {
        campaign,
        item: item["id"].as_i64().expect("item id"),
        auditor_account,
        spare_token,
    };

    // A live reviewer link: it opens the review page, and nothing of the API.
    let reviewer = app.engine.store().conn().clone();
    let m1 = attest::store::directory::principal_refs(&reviewer, &["m1"])
        .await
        .expect("principal")["m1"]
        .id;
    let link = app
        .engine
        .issue_token(campaign, m1, None)
        .await
        .expect("reviewer token");
    let page = app
        .call(Method::GET, &format!("/r/{link}"), &Auth::None, Body::Empty)
        .await;
    page.expect(200);
    let reviewer = Auth::Bearer(link);

    // The list covers exactly the documented operations.
    let routes = routes(&fixture);
    let listed: BTreeSet<(String, String)> = routes
        .iter()
        .map(|r| (r.method.to_string(), contract.template_of(&r.path)))
        .collect();
    let documented: BTreeSet<(String, String)> = contract
        .operations()
        .into_iter()
        .map(|(m, t, _)| (m.to_string(), t))
        .collect();
    assert_eq!(
        listed, documented,
        "the matrix covers every documented route"
    );
    assert_eq!(listed.len(), routes.len(), "each route once");

    // A SIEM or SOAR playbook's token: only the suspension routes.
    let responder = Auth::Bearer(
        app.engine
            .create_api_token(&admin, "soar", attest::domain::access::Role::Responder)
            .await
            .expect("a responder token"),
    );

    // The evidence signing key is made on first use, by whoever downloads evidence first: make
    // it now, so that the comparison below sees only what the callers do.
    app.engine.signing_key().await.expect("signing key");
    let before = snapshot(&app).await;
    let strangers = [
        ("no credentials", Auth::None),
        ("a reviewer's link token", reviewer),
        ("a made-up token", Auth::Bearer("not-a-token".into())),
    ];
    for route in &routes {
        for (who, auth) in &strangers {
            let reply = api
                .call(
                    route.method.clone(),
                    &route.path,
                    auth,
                    (route.body)(&fixture),
                )
                .await;
            assert_eq!(
                reply.status.as_u16(),
                401,
                "{} {} with {who}: {}",
                route.method,
                route.path,
                reply.text()
            );
            assert_eq!(reply.error_code(), "unauthenticated");
        }
        for (who, auth) in [
            ("an auditor token", &app.auditor_token),
            ("an auditor session", &app.auditor_session),
        ] {
            let reply = api
                .call(
                    route.method.clone(),
                    &route.path,
                    auth,
                    (route.body)(&fixture),
                )
                .await;
            let expected = if route.method == Method::GET {
                200
            } else {
                403
            };
            assert_eq!(
                reply.status.as_u16(),
                expected,
                "{} {} as {who}: {}",
                route.method,
                route.path,
                reply.text()
            );
            if expected == 403 {
                assert_eq!(reply.error_code(), "forbidden");
            }
        }
    }
    assert_eq!(snapshot(&app).await, before, "auditors changed nothing");

    // A responder reads suspensions and is refused everything else (its suspend and restore,
    // which change things, are exercised in tests/suspend.rs).
    for route in &routes {
        if route.path.ends_with("/suspend") || route.path.ends_with("/restore") {
            continue;
        }
        let expected = if route.path.ends_with("/suspensions") {
            200
        } else {
            403
        };
        let reply = api
            .call(
                route.method.clone(),
                &route.path,
                &responder,
                (route.body)(&fixture),
            )
            .await;
        assert_eq!(
            reply.status.as_u16(),
            expected,
            "{} {} as a responder token: {}",
            route.method,
            route.path,
            reply.text()
        );
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "a responder changed nothing else"
    );

    // An admin session's change without its anti-forgery header is refused, and changes
    // nothing; with it, the session may do what a token may.
    let Auth::Session { cookie, .. } = &app.admin_session else {
        panic!("the admin has a session");
    };
    let forged = Auth::Session {
        cookie: cookie.clone(),
        csrf: None,
    };
    for route in routes.iter().filter(|r| r.method == Method::POST) {
        let reply = api
            .call(
                route.method.clone(),
                &route.path,
                &forged,
                (route.body)(&fixture),
            )
            .await;
        reply.expect(403);
        assert_eq!(reply.error_code(), "forbidden");
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "a forged request changed nothing"
    );
    let wrong = Auth::Session {
        cookie: cookie.clone(),
        csrf: Some("0".repeat(64)),
    };
    api.post(
        &format!("/api/v1/campaigns/{campaign}/close"),
        &wrong,
        Body::Empty,
    )
    .await
    .expect(403);

    for route in &routes {
        let reply = api
            .call(
                route.method.clone(),
                &route.path,
                &app.admin_token,
                (route.body)(&fixture),
            )
            .await;
        assert_eq!(
            reply.status.as_u16(),
            route.admin,
            "{} {} as an admin token: {}",
            route.method,
            route.path,
            reply.text()
        );
    }
    let after = snapshot(&app).await;
    assert!(after["audit"].contains(&format!("token:{ADMIN_TOKEN_NAME} campaign.cancel")));

    // The admin's session creates a token (shown once) that then works; the auditor's may not.
    let created = api
        .post(
            "/api/v1/tokens",
            &app.admin_session,
            Body::Json(json!({ "name": "nightly-export", "role": "auditor" })),
        )
        .await;
    created.expect(201);
    let token = created.json()["token"].as_str().expect("token").to_string();
    let me = api.get("/api/v1/me", &Auth::Bearer(token)).await;
    assert_eq!(
        me.expect(200).json(),
        json!({ "actor": "token:nightly-export", "role": "auditor", "csrf": null })
    );
    let session_reads = api.get("/api/v1/campaigns", &app.admin_session).await;
    session_reads.expect(200);
    let last = app.audit_events().await;
    assert!(
        last.iter().any(|e| e.action == "api_token.create"
            && e.actor == "account:admin@org.test"
            && e.target.as_deref() == Some("token:nightly-export")),
        "the token's creation is audited under the admin's account"
    );
}

/// Errors are JSON with a code, a message and the field at fault, for unknown names,
/// malformed bodies and parameters, and unknown routes; a server failure says nothing of its
/// cause.
#[tokio::test]
async fn errors_are_json_naming_the_field_and_a_failure_tells_nothing_of_its_cause() {
    let app = ApiApp::spawn().await;
    let contract = app.contract().await;
    let api = Checked {
        app: &app,
        contract: &contract,
    };
    let admin = &app.admin_token;

    let unknown = api
        .post(
            "/api/v1/campaigns",
            admin,
            Body::Json(json!({ "definition": "no-such-review" })),
        )
        .await;
    unknown.expect(404);
    let error = unknown.error();
    assert_eq!(error["code"], "not_found");
    assert_eq!(error["field"], "definition");
    assert!(error["message"]
        .as_str()
        .is_some_and(|m| m.contains("no-such-review")));

    let not_json = api
        .post(
            "/api/v1/campaigns",
            admin,
            Body::Text("application/json", "{\"definition\": ".into()),
        )
        .await;
    not_json.expect(400);
    assert_eq!(not_json.error_code(), "bad_request");

    let wrong_type = api
        .post(
            "/api/v1/campaigns",
            admin,
            Body::Text("text/plain", "definition=x".into()),
        )
        .await;
    wrong_type.expect(415);
    assert_eq!(wrong_type.error_code(), "unsupported_media_type");

    let wrong_shape = api
        .post(
            "/api/v1/campaigns",
            admin,
            Body::Json(json!({ "definition": "x", "adhoc": "yes" })),
        )
        .await;
    wrong_shape.expect(422);
    assert_eq!(wrong_shape.error()["field"], "adhoc");
    let typo = api
        .post(
            "/api/v1/campaigns",
            admin,
            Body::Json(json!({ "definiton": "x" })),
        )
        .await;
    typo.expect(422);
    assert_eq!(typo.error_code(), "invalid");

    let bad_verdict = api
        .post(
            "/api/v1/campaigns/1/decisions",
            admin,
            Body::Json(json!({ "items": [{ "item_id": 1, "verdict": "maybe" }] })),
        )
        .await;
    bad_verdict.expect(422);
    assert_eq!(bad_verdict.error()["field"], "items[0].verdict");

    let no_campaign = api.get("/api/v1/campaigns/4711", admin).await;
    no_campaign.expect(404);
    assert_eq!(no_campaign.error_code(), "not_found");
    let not_an_id = api.get("/api/v1/campaigns/abc", admin).await;
    not_an_id.expect(404);
    assert_eq!(not_an_id.error_code(), "not_found");

    let bad_page = api.get("/api/v1/campaigns?page=abc", admin).await;
    bad_page.expect(400);
    assert_eq!(bad_page.error()["field"], "page");
    let bad_state = api.get("/api/v1/campaigns?state=paused", admin).await;
    bad_state.expect(400);
    assert_eq!(bad_state.error()["field"], "state");

    let bad_definition = api
        .post(
            "/api/v1/definitions",
            admin,
            toml("name = \"x\"\nschedule = \"fortnightly\"\n"),
        )
        .await;
    bad_definition.expect(422);
    assert!(bad_definition.error()["message"]
        .as_str()
        .is_some_and(|m| m.contains("upload:definition.toml")));

    // Routes and methods the document does not list answer in JSON too.
    let nowhere = app
        .call(Method::GET, "/api/v1/nowhere", admin, Body::Empty)
        .await;
    nowhere.expect(404);
    assert_eq!(nowhere.error_code(), "not_found");
    let delete = app
        .call(Method::DELETE, "/api/v1/campaigns/1", admin, Body::Empty)
        .await;
    delete.expect(405);
    assert_eq!(delete.error_code(), "method_not_allowed");

    // A database failure: a 500 that names neither the table nor the database.
    use sea_orm::ConnectionTrait;
    app.engine
        .store()
        .conn()
        .execute_unprepared("ALTER TABLE audit_event RENAME TO audit_event_elsewhere")
        .await
        .expect("rename the audit table");
    let failed = api.get("/api/v1/audit/verify", &app.auditor_token).await;
    failed.expect(500);
    let error = failed.error();
    assert_eq!(error["code"], "internal");
    let message = error["message"].as_str().unwrap_or_default().to_lowercase();
    for secret in ["audit_event", "database", "sql", "table", "relation"] {
        assert!(
            !message.contains(secret),
            "the message leaks {secret:?}: {message}"
        );
    }
}

/// A file sent as the body is imported whole; a file with bad rows is rejected with each
/// problem's line and field, and changes nothing.
#[tokio::test]
async fn imports_take_the_file_as_the_body_and_a_rejected_file_changes_nothing() {
    let app = ApiApp::spawn().await;
    let contract = app.contract().await;
    let api = Checked {
        app: &app,
        contract: &contract,
    };
    let admin = &app.admin_token;
    import_org(&api, admin).await;

    let again = api
        .post("/api/v1/imports/eligibility", admin, csv(ELIGIBILITY))
        .await;
    again.expect(200);
    assert_eq!(
        (
            again.json()["inserted"].as_u64(),
            again.json()["unchanged"].as_u64()
        ),
        (Some(0), Some(7)),
        "re-importing the same file changes nothing"
    );

    // JSON, by query parameter or by content type.
    let person =
        json!([{ "id": "n1", "name": "Nia New", "email": "nia@org.test", "manager_id": "m1" }]);
    let by_param = api
        .post(
            "/api/v1/imports/people?format=json",
            admin,
            Body::Text("text/plain", person.to_string()),
        )
        .await;
    by_param.expect(200);
    assert_eq!(by_param.json()["inserted"], 1);
    assert_eq!(by_param.json()["file"], "upload:people.json");
    let by_type = api
        .post("/api/v1/imports/people", admin, Body::Json(person))
        .await;
    assert_eq!(by_type.expect(200).json()["unchanged"], 1);

    let before = app
        .call(
            Method::GET,
            "/api/v1/eligibility?all=true&per_page=500",
            admin,
            Body::Empty,
        )
        .await
        .expect(200)
        .text();
    let events_before = app.audit_events().await.len();
    let bad = "principal_id,role,scope,start,end,last_activated_at\n\
               a1,Reader,/,2025-01-10,,\n\
               zz,Reader,/,2025-01-10,,\n\
               b1,Reader,/,someday,,\n";
    let rejected = api
        .post("/api/v1/imports/eligibility", admin, csv(bad))
        .await;
    rejected.expect(422);
    let error = rejected.error();
    assert_eq!(error["code"], "rejected");
    let problems = error["problems"].as_array().expect("problems");
    let mut lines: Vec<(u64, &str)> = problems
        .iter()
        .map(|p| {
            (
                p["line"].as_u64().unwrap_or(0),
                p["field"].as_str().unwrap_or(""),
            )
        })
        .collect();
    lines.sort_unstable();
    assert_eq!(lines, vec![(3, "principal_id"), (4, "start")], "{error}");
    assert_eq!(
        error["field"], problems[0]["field"],
        "the first problem's field"
    );
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains("upload:eligibility.csv:3"), "{message}");
    assert!(message.contains("nothing was imported"), "{message}");
    assert!(!message.contains("/tmp"), "no server paths: {message}");
    let after = app
        .call(
            Method::GET,
            "/api/v1/eligibility?all=true&per_page=500",
            admin,
            Body::Empty,
        )
        .await
        .expect(200)
        .text();
    assert_eq!(after, before, "nothing was imported");
    assert_eq!(
        app.audit_events().await.len(),
        events_before,
        "and nothing audited"
    );

    let prune_roles = api
        .post("/api/v1/imports/roles?prune=true", admin, csv(ROLES))
        .await;
    prune_roles.expect(422);
    assert_eq!(prune_roles.error_code(), "invalid");
    let no_kind = api.post("/api/v1/imports/groups", admin, csv(ROLES)).await;
    no_kind.expect(404);
    let bad_format = api
        .post("/api/v1/imports/roles?format=xlsx", admin, csv(ROLES))
        .await;
    bad_format.expect(400);
    assert_eq!(bad_format.error()["field"], "format");
    // The caller's file name is what the import's report and audit event record.
    let named = api
        .post(
            "/api/v1/imports/roles?name=roles-2026-11.csv",
            admin,
            csv(ROLES),
        )
        .await;
    named.expect(200);
    assert_eq!(named.json()["file"], "upload:roles-2026-11.csv");
    let bad_name = api
        .post("/api/v1/imports/roles?name=a%0Ab", admin, csv(ROLES))
        .await;
    bad_name.expect(400);
    assert_eq!(bad_name.error()["field"], "name");

    // With --prune, what the file no longer lists is removed.
    let fewer: String = ELIGIBILITY
        .lines()
        .filter(|l| !l.starts_with("b2,"))
        .map(|l| format!("{l}\n"))
        .collect();
    let pruned = api
        .post("/api/v1/imports/eligibility?prune=true", admin, csv(&fewer))
        .await;
    pruned.expect(200);
    assert_eq!(pruned.json()["pruned"], 1);
    let b2 = api.get("/api/v1/eligibility?principal=b2", admin).await;
    assert_eq!(b2.expect(200).json()["total"], 0);
}

/// The document the server serves is the one generated from the code, and it describes every
/// operation's credentials and failures.
#[tokio::test]
async fn the_served_document_is_generated_from_the_code_and_lists_every_failure() {
    let app = ApiApp::spawn().await;
    let contract = app.contract().await;
    let generated: Value =
        serde_json::from_str(&attest::web::api::openapi().to_json().expect("JSON"))
            .expect("the generated document is JSON");
    assert_eq!(contract.doc, generated);
    assert!(contract.doc["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1")));
    let schemes = &contract.doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["in"], "cookie");
    for (method, template, operation) in contract.operations() {
        assert!(template.starts_with("/api/v1/"), "{template}");
        assert!(operation["operationId"].is_string(), "{method} {template}");
        for status in ["401", "403", "500"] {
            assert!(
                operation["responses"].get(status).is_some(),
                "{method} {template} documents {status}"
            );
        }
        let ok = operation["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .any(|s| s.starts_with('2'));
        assert!(ok, "{method} {template} documents its success");
    }
    let anonymous: Reply = app
        .call(
            Method::GET,
            "/api/v1/openapi.json",
            &Auth::None,
            Body::Empty,
        )
        .await;
    anonymous.expect(401);

    // The checks the other tests rely on do catch a body that breaks the document, an
    // undocumented status and an undocumented content type.
    let fake = |status: u16, content_type: &str, body: &str| Reply {
        method: Method::GET,
        path: "/api/v1/campaigns/1".into(),
        status: reqwest::StatusCode::from_u16(status).expect("status"),
        content_type: content_type.into(),
        body: body.as_bytes().to_vec(),
    };
    let fails = |reply: Reply| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| contract.check(&reply))).is_err()
    };
    assert!(fails(fake(200, "application/json", r#"{"id": "one"}"#)));
    assert!(fails(fake(
        404,
        "application/json",
        r#"{"error": {"code": "not_found"}}"#
    )));
    assert!(fails(fake(418, "application/json", "{}")));
    assert!(fails(fake(200, "text/html", "<p>campaign</p>")));
    assert!(!fails(fake(
        404,
        "application/json",
        r#"{"error": {"code": "not_found", "message": "no campaign #1", "field": null}}"#
    )));
}

/// The operation's parameter `name` (panics when it is not documented).
fn parameter<'a>(operation: &'a Value, name: &str) -> &'a Value {
    operation["parameters"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("parameter {name} in {operation}"))
}

/// The document states the bounds, enums, patterns and media types the handlers enforce, and
/// names the same routes the router serves.
#[tokio::test]
async fn the_document_states_what_the_code_enforces_and_names_every_route_the_router_serves() {
    use attest::domain::lifecycle::CampaignState;
    let app = ApiApp::spawn().await;
    let contract = app.contract().await;
    let doc = &contract.doc;
    let operations = contract.operations();

    // `state` takes the campaign states, as the one enum spells them, comma-separated.
    let state = parameter(&doc["paths"]["/api/v1/campaigns"]["get"], "state");
    let states: Vec<&str> = state["schema"]["items"]["enum"]
        .as_array()
        .or_else(|| {
            let name = state["schema"]["items"]["$ref"]
                .as_str()?
                .rsplit('/')
                .next()?;
            doc["components"]["schemas"][name]["enum"].as_array()
        })
        .expect("the states are an enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let spelled: Vec<&str> = CampaignState::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(states, spelled);
    assert_eq!(state["style"], "form");
    assert_eq!(state["explode"], false);

    // Every paged list bounds page and per_page as the code does.
    let mut paged = 0;
    for (method, template, operation) in &operations {
        let Some(params) = operation["parameters"].as_array() else {
            continue;
        };
        if !params.iter().any(|p| p["name"] == "per_page") {
            continue;
        }
        paged += 1;
        let per_page = &parameter(operation, "per_page")["schema"];
        assert_eq!(per_page["minimum"], 1, "{method} {template}");
        assert_eq!(
            per_page["maximum"],
            attest::web::api::MAX_PER_PAGE,
            "{method} {template}"
        );
        assert_eq!(
            parameter(operation, "page")["schema"]["minimum"],
            1,
            "{method} {template}"
        );
    }
    assert_eq!(paged, 9, "the paged lists");

    // Every operation that reads query parameters documents the 400 of a bad one; every one
    // that takes a body documents the 413 of a large one, and a JSON one the 415 of another
    // media type.
    for (method, template, operation) in &operations {
        let responses = &operation["responses"];
        let has_query = operation["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
        if has_query {
            assert!(responses.get("400").is_some(), "{method} {template}: 400");
        }
        if let Some(content) = operation["requestBody"]["content"].as_object() {
            assert!(responses.get("413").is_some(), "{method} {template}: 413");
            if content.contains_key("application/json") && content.len() == 1 {
                assert!(responses.get("415").is_some(), "{method} {template}: 415");
            }
        }
    }

    // The month's pattern takes what the code takes and refuses what it refuses.
    let month = parameter(&doc["paths"]["/api/v1/reports/monthly"]["get"], "month");
    let pattern = jsonschema::validator_for(&month["schema"]).expect("the month schema");
    let api = Checked {
        app: &app,
        contract: &contract,
    };
    for (value, taken) in [
        ("2026-10", true),
        ("1999-01", true),
        ("2026-1", false),
        ("2026-13", false),
        ("2026-00", false),
        ("+2026-01", false),
        ("2026-10-01", false),
        ("26-10", false),
    ] {
        assert_eq!(pattern.is_valid(&json!(value)), taken, "pattern on {value}");
        let reply = api
            .get(
                &format!(
                    "/api/v1/reports/monthly?month={}",
                    value.replace('+', "%2B")
                ),
                &app.auditor_token,
            )
            .await;
        if taken {
            reply.expect(200);
        } else {
            reply.expect(422);
            assert_eq!(reply.error()["field"], "month", "{value}");
        }
    }

    // The week's pattern takes what the code takes; what it takes and the code refuses is a
    // week its year lacks, or one that has not started (the clock is at 2027-01-04 08:00).
    let week = parameter(&doc["paths"]["/api/v1/reports/activations"]["get"], "week");
    let pattern = jsonschema::validator_for(&week["schema"]).expect("the week schema");
    for (value, taken, status) in [
        ("2026-W47", true, 200),
        ("2026-W53", true, 200),
        ("2027-W01", true, 200),
        ("2027-W53", true, 422),
        ("2027-W02", true, 422),
        ("2026-47", false, 422),
        ("2026-W7", false, 422),
        ("2026-W54", false, 422),
        ("2026-W00", false, 422),
        ("2026-w47", false, 422),
    ] {
        assert_eq!(pattern.is_valid(&json!(value)), taken, "pattern on {value}");
        let reply = api
            .get(
                &format!("/api/v1/reports/activations?week={value}"),
                &app.auditor_token,
            )
            .await;
        reply.expect(status);
        if status == 422 {
            assert_eq!(reply.error()["field"], "week", "{value}");
        }
    }

    // A decision takes at least one item (none is refused); the text limits are the engine's
    // (utoipa takes only literals, so they are written twice and held together here).
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["DecideRequest"]["properties"]["items"]["minItems"],
        1
    );
    assert_eq!(
        schemas["ItemDecision"]["properties"]["justification"]["maxLength"],
        attest::domain::limits::JUSTIFICATION_MAX_CHARS
    );
    assert_eq!(
        schemas["TokenRequest"]["properties"]["name"]["maxLength"],
        attest::domain::limits::NAME_MAX_CHARS
    );

    // Imports take CSV and JSON bodies, as the handler reads them.
    let import = &doc["paths"]["/api/v1/imports/{kind}"]["post"]["requestBody"]["content"];
    let types: BTreeSet<&str> = import
        .as_object()
        .expect("import content")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        types,
        BTreeSet::from(["text/csv", "application/json", "application/x-ndjson"])
    );
    assert_eq!(import["application/json"]["schema"]["type"], "array");

    // The router serves every documented operation (no credentials: a 401, not the 404 of an
    // unknown route), and no method the document does not name on those paths (a 405).
    let fill = |template: &str| {
        template
            .replace("{id}", "1")
            .replace("{kind}", "people")
            .replace("{name}", "corp")
            .replace("{reviewer}", "m1")
    };
    let mut paths: BTreeMap<String, BTreeSet<Method>> = BTreeMap::new();
    for (method, template, _) in &operations {
        let reply = app
            .call(method.clone(), &fill(template), &Auth::None, Body::Empty)
            .await;
        reply.expect(401);
        paths
            .entry(template.clone())
            .or_default()
            .insert(method.clone());
    }
    for (template, methods) in &paths {
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
        ] {
            if methods.contains(&method) {
                continue;
            }
            let reply = app
                .call(
                    method.clone(),
                    &fill(template),
                    &app.admin_token,
                    Body::Empty,
                )
                .await;
            reply.expect(405);
            assert_eq!(reply.error_code(), "method_not_allowed");
        }
    }
}

/// Paging and limits out of range are refused naming the parameter, not quietly replaced; a
/// page past the end is empty (on PostgreSQL a far one used to fail the query); a token's name
/// is one bounded line.
#[tokio::test]
async fn out_of_range_parameters_are_refused_naming_them() {
    let app = ApiApp::spawn().await;
    let contract = app.contract().await;
    let api = Checked {
        app: &app,
        contract: &contract,
    };
    let admin = &app.admin_token;
    import_org(&api, admin).await;

    for (path, field) in [
        ("/api/v1/eligibility?per_page=0", "per_page"),
        ("/api/v1/eligibility?per_page=501", "per_page"),
        ("/api/v1/campaigns?page=0", "page"),
        ("/api/v1/audit/events?page=0", "page"),
        ("/api/v1/tokens?per_page=1000", "per_page"),
        ("/api/v1/findings/reappeared?limit=1001", "limit"),
        ("/api/v1/campaigns?state=active,done", "state"),
    ] {
        let reply = api.get(path, admin).await;
        reply.expect(400);
        let error = reply.error();
        assert_eq!(error["code"], "bad_request", "{path}");
        assert_eq!(error["field"], field, "{path}");
    }
    let all = api
        .get("/api/v1/eligibility?all=true&per_page=500", admin)
        .await;
    assert_eq!(all.expect(200).json()["total"], 7);
    let last = api.get("/api/v1/eligibility?per_page=500", admin).await;
    assert_eq!(
        last.expect(200).json()["items"].as_array().map(Vec::len),
        Some(7)
    );

    for path in [
        format!("/api/v1/eligibility?page={}&per_page=500", u64::MAX),
        format!("/api/v1/eligibility?page={}&per_page=2", i64::MAX),
        format!("/api/v1/audit/events?page={}", u64::MAX),
        format!("/api/v1/accounts?page={}", u64::MAX),
    ] {
        let far = api.get(&path, admin).await;
        let page = far.expect(200).json();
        assert_eq!(page["items"], json!([]), "{path}: {page}");
        assert!(page["total"].as_u64().is_some_and(|t| t > 0), "{path}");
    }

    for name in ["x".repeat(257), "two\nlines".to_string()] {
        let reply = api
            .post(
                "/api/v1/tokens",
                &app.admin_session,
                Body::Json(json!({ "name": name, "role": "auditor" })),
            )
            .await;
        reply.expect(422);
        assert_eq!(reply.error()["field"], "name");
    }
    let fine = api
        .post(
            "/api/v1/tokens",
            &app.admin_session,
            Body::Json(json!({ "name": "x".repeat(256), "role": "auditor" })),
        )
        .await;
    fine.expect(201);
}
