//! Suspend on a signal (issue 19), through the real HTTP API on SQLite (or PostgreSQL with
//! ATTEST_TEST_DATABASE_URL), with a real OpenLDAP slapd as a configured source and the
//! built-in source: a responder token suspends a person and their eligibility is gone at each
//! source (read back with ldapsearch and the API), recorded and audited; the responder may do
//! nothing else; an admin other than the requester approves the restore and exactly the
//! suspended items are back, which the next sync takes as expected. A source that is down at
//! suspend time leaves the suspension `partial` until the worker finishes it. Bad input is
//! refused naming the field and changes nothing.

mod api_support;
mod common;

use api_support::{ApiApp, Auth, Body, Checked};
use attest::domain::access::Role;
use attest::domain::records::ImportKind;
use attest::engine::import::{ImportInput, ImportOptions};
use attest::engine::NoProgress;
use attest::sources::config::{LdapConfig, LdapGroup, OnReappearance, SourceConfig};
use common::slapd::{group_dn, person_dn, uid, Slapd, PEOPLE_BASE, SERVICE_DN, SERVICE_PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const PEOPLE: usize = 30;
/// The suspended person: a member of domain-admins (every ninth from u0003).
const SUSPECT: &str = "u0003";
/// Another member, who must keep everything.
const BYSTANDER: &str = "u0012";

const DEFINITION: &str = r#"
name = "corp-admins"
owner = "u0001"
schedule = "quarterly"
duration_days = 14
reviewers = "manager"
fallback_reviewer = "u0001"
on_no_response = "keep"
source = "corp"

[scope]
roles = ["Domain Admins"]
"#;

fn corp(url: &str, password_env: &str) -> SourceConfig {
    SourceConfig::Ldap(LdapConfig {
        url: url.to_string(),
        starttls: false,
        tls_insecure: false,
        bind_dn: SERVICE_DN.into(),
        password_env: password_env.into(),
        people_base: PEOPLE_BASE.into(),
        people_filter: "(objectClass=inetOrgPerson)".into(),
        member_attribute: "member".into(),
        on_reappearance: OnReappearance::Flag,
        sync_schedule: None,
        groups: vec![LdapGroup {
            dn: group_dn("domain-admins"),
            role: "Domain Admins".into(),
            scope: "/".into(),
            risk: "high".into(),
            owner: Some(uid(1)),
            description: Some("Full control of the directory".into()),
        }],
    })
}

/// The people of domain-admins, lower-cased DNs.
fn members(slapd: &Slapd) -> Vec<String> {
    slapd
        .members("domain-admins")
        .into_iter()
        .map(|v| v.to_ascii_lowercase())
        .filter(|v| v.ends_with(&PEOPLE_BASE.to_ascii_lowercase()))
        .collect()
}

fn is_member(slapd: &Slapd, who: &str) -> bool {
    members(slapd).contains(&person_dn(who).to_ascii_lowercase())
}

/// The app with slapd synced as source `corp`, a built-in eligibility of the suspect and the
/// bystander (imported), and a responder token.
async fn setup(slapd: &Slapd, password_env: &str) -> (ApiApp, Auth) {
    std::env::set_var(password_env, SERVICE_PASSWORD);
    let app = ApiApp::spawn_with_sources(BTreeMap::from([(
        "corp".to_string(),
        corp(&slapd.url, password_env),
    )]))
    .await;
    let synced = app.engine.sync_source("corp", "test").await.expect("sync");
    assert!(synced.eligibility > 2, "{synced:?}");
    for (kind, name, content) in [
        (
            ImportKind::Roles,
            "roles.csv",
            "name,owner_id,risk,description\nPayroll Admin,u0001,high,Pays\n",
        ),
        (
            ImportKind::Eligibility,
            "eligibility.csv",
            "principal_id,role,scope,start,end,last_activated_at\n\
             u0003,Payroll Admin,/payroll,2025-01-10,,\n\
             u0012,Payroll Admin,/payroll,2025-01-10,,\n",
        ),
    ] {
        let path = app.db.file(name, content);
        app.engine
            .import(
                kind,
                ImportInput::open(&path).expect("open"),
                ImportOptions::default(),
                "test",
                &NoProgress,
            )
            .await
            .unwrap_or_else(|e| panic!("import {name}: {e}"));
    }
    let admin = app
        .engine
        .account_operator(api_support::ADMIN_EMAIL)
        .await
        .expect("admin");
    let token = app
        .engine
        .create_api_token(&admin, "soar", Role::Responder)
        .await
        .expect("responder token");
    (app, Auth::Bearer(token))
}

/// `(role, scope)` of a person's active eligibility, as the API lists it.
async fn active(api: &Checked<'_>, who: &str) -> Vec<(String, String)> {
    let reply = api
        .get(
            &format!("/api/v1/eligibility?principal={who}&per_page=100"),
            &api.app.admin_token,
        )
        .await;
    let mut held: Vec<(String, String)> = reply.expect(200).json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            (
                e["role"].as_str().unwrap_or_default().to_string(),
                e["scope"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    held.sort();
    held
}

fn states(suspension: &Value, key: &str) -> Vec<String> {
    suspension["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i[key].as_str().unwrap_or("null").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_suspends_and_an_admin_restores_exactly_what_was_removed() {
    let test = "a_responder_suspends_and_an_admin_restores_exactly_what_was_removed";
    if !common::slapd::available(test) {
        return;
    }
    let slapd = Slapd::start(PEOPLE);
    let (app, responder) = setup(&slapd, "ATTEST_TEST_SUSPEND_PASSWORD").await;
    let contract = app.contract().await;
    let api = Checked {
        app: &app,
        contract: &contract,
    };
    let members_before = members(&slapd);
    assert!(is_member(&slapd, SUSPECT) && is_member(&slapd, BYSTANDER));
    let held_before = active(&api, SUSPECT).await;
    assert_eq!(
        held_before,
        vec![
            ("Domain Admins".to_string(), "/".to_string()),
            ("Payroll Admin".to_string(), "/payroll".to_string())
        ]
    );
    let bystander_before = active(&api, BYSTANDER).await;

    // The playbook suspends: both eligibilities are gone at their sources at once.
    let reason = "SIEM alert 4711: impossible travel";
    let reply = api
        .post(
            &format!("/api/v1/principals/{SUSPECT}/suspend"),
            &responder,
            Body::Json(json!({ "reason": reason })),
        )
        .await;
    let suspension = reply.expect(201).json();
    assert_eq!(suspension["state"], "suspended", "{suspension}");
    assert_eq!(suspension["requested_by"], "token:soar");
    assert_eq!(states(&suspension, "removal_state"), ["removed", "removed"]);
    let id = suspension["id"].as_i64().expect("id");
    assert!(!is_member(&slapd, SUSPECT), "still in domain-admins");
    assert!(is_member(&slapd, BYSTANDER));
    assert_eq!(members(&slapd).len(), members_before.len() - 1);
    assert!(active(&api, SUSPECT).await.is_empty());
    assert_eq!(active(&api, BYSTANDER).await, bystander_before);
    let receipts = states(&suspension, "removal_receipt").join("\n");
    assert!(receipts.contains("ldap:corp:delete member"), "{receipts}");

    // Again while open: the same suspension, nothing new.
    let again = api
        .post(
            &format!("/api/v1/principals/{SUSPECT}/suspend"),
            &responder,
            Body::Json(json!({ "reason": "the same alert, retried" })),
        )
        .await;
    assert_eq!(again.expect(200).json()["id"], id);
    let listed = api
        .get(
            &format!("/api/v1/principals/{SUSPECT}/suspensions"),
            &responder,
        )
        .await;
    assert_eq!(listed.expect(200).json().as_array().map(Vec::len), Some(1));

    // The responder can do nothing else.
    for (method, path, body) in [
        (Method::GET, "/api/v1/campaigns".to_string(), Body::Empty),
        (Method::GET, "/api/v1/eligibility".to_string(), Body::Empty),
        (Method::GET, "/api/v1/audit/events".to_string(), Body::Empty),
        (
            Method::POST,
            "/api/v1/imports/roles".to_string(),
            Body::Text("text/csv", "name,owner_id,risk,description\n".into()),
        ),
        (
            Method::POST,
            "/api/v1/campaigns".to_string(),
            Body::Json(json!({ "definition": "x" })),
        ),
        (
            Method::POST,
            format!("/api/v1/suspensions/{id}/approve"),
            Body::Empty,
        ),
    ] {
        let reply = api.call(method.clone(), &path, &responder, body).await;
        assert_eq!(
            reply.status.as_u16(),
            403,
            "{method} {path}: {}",
            reply.text()
        );
    }
    // An auditor reads suspensions but may not suspend.
    api.get(
        &format!("/api/v1/principals/{SUSPECT}/suspensions"),
        &app.auditor_token,
    )
    .await
    .expect(200);
    api.post(
        &format!("/api/v1/principals/{BYSTANDER}/suspend"),
        &app.auditor_token,
        Body::Json(json!({ "reason": reason })),
    )
    .await
    .expect(403);

    // Audited with the actor and the reason.
    let events = app.audit_events().await;
    let suspended = events
        .iter()
        .find(|e| e.action == "principal.suspended")
        .expect("the suspension is audited");
    assert_eq!(suspended.actor, "token:soar");
    assert_eq!(suspended.target.as_deref(), Some("principal:u0003"));
    assert!(suspended.details.contains(reason), "{}", suspended.details);
    assert!(events
        .iter()
        .any(|e| e.action == "principal.suspension_complete"));

    // The responder asks for the restore; the same credential may not approve it.
    let requested = api
        .post(
            &format!("/api/v1/principals/{SUSPECT}/restore"),
            &responder,
            Body::Empty,
        )
        .await;
    assert_eq!(requested.expect(202).json()["state"], "restore_requested");
    assert!(
        !is_member(&slapd, SUSPECT),
        "nothing is back before approval"
    );

    // An admin approves: exactly the suspended items are back, at each source.
    let approved = api
        .post(
            &format!("/api/v1/suspensions/{id}/approve"),
            &app.admin_token,
            Body::Empty,
        )
        .await;
    let approved = approved.expect(200).json();
    assert_eq!(approved["state"], "restored", "{approved}");
    assert_eq!(approved["approved_by"], "token:ci-admin");
    assert_eq!(states(&approved, "restore_state"), ["restored", "restored"]);
    assert_eq!(members(&slapd), members_before);
    assert_eq!(active(&api, SUSPECT).await, held_before);
    assert_eq!(active(&api, BYSTANDER).await, bystander_before);
    let events = app.audit_events().await;
    for action in ["principal.restore_requested", "principal.restored"] {
        assert!(
            events.iter().any(|e| e.action == action),
            "{action} is audited"
        );
    }

    // The next sync finds the restored membership as expected, not as a reappearance.
    let synced = app.engine.sync_source("corp", "test").await.expect("sync");
    assert_eq!(synced.reappeared, 0, "{synced:?}");
    assert_eq!(synced.new, 0, "{synced:?}");
    assert_eq!(active(&api, SUSPECT).await, held_before);

    // The evidence of a campaign the person appears in carries the suspension, and verifies.
    app.engine
        .define(
            &attest::engine::definitions::DefinitionText::new("corp-admins.toml", DEFINITION),
            "test",
        )
        .await
        .expect("define");
    let campaign = app
        .engine
        .launch("corp-admins", false, "test", &NoProgress)
        .await
        .expect("launch");
    let folder = app.db.dir().join("bundle");
    app.engine
        .export_evidence(campaign.id, &folder, Default::default())
        .await
        .expect("export");
    let csv = std::fs::read_to_string(folder.join("suspensions.csv")).expect("suspensions.csv");
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    for row in &rows {
        assert!(
            row.starts_with(&format!("{id},{SUSPECT},restored,{reason},token:soar,")),
            "{row}"
        );
        assert!(row.contains("token:ci-admin"), "{row}");
    }
    assert!(csv.contains("ldap:corp:add member"), "{csv}");
    let manifest = std::fs::read_to_string(folder.join("manifest.json")).expect("manifest");
    assert!(manifest.contains("suspensions.csv"));
    let report = std::fs::read_to_string(folder.join("report.html")).expect("report");
    assert!(report.contains(reason), "the report names the suspension");
    let (code, out, err) =
        common::attest_cli(&app.db, &["evidence", "verify", &folder.to_string_lossy()]);
    assert_eq!(code, 0, "verify:\n{out}\n{err}");

    // A bundle made before suspensions existed (no suspensions.csv in its manifest) still
    // verifies: made here by leaving the file out and signing the rest with the same key.
    let old = app.db.dir().join("old-bundle");
    std::fs::create_dir_all(&old).expect("old bundle folder");
    let manifest: attest::evidence::manifest::Manifest =
        serde_json::from_str(&manifest).expect("manifest");
    let files: Vec<_> = manifest
        .body
        .files
        .into_iter()
        .filter(|f| f.name != "suspensions.csv")
        .collect();
    for f in &files {
        std::fs::copy(folder.join(&f.name), old.join(&f.name)).expect("copy");
    }
    let key = app.engine.signing_key().await.expect("key");
    let resigned =
        attest::evidence::signing::sign(&key, campaign.id, manifest.body.generated_at, files);
    std::fs::write(
        old.join("manifest.json"),
        serde_json::to_vec_pretty(&resigned).expect("json"),
    )
    .expect("write manifest");
    let (code, out, err) =
        common::attest_cli(&app.db, &["evidence", "verify", &old.to_string_lossy()]);
    assert_eq!(code, 0, "verify an old bundle:\n{out}\n{err}");

    // The person's console page shows the suspension and its items.
    let Auth::Session { cookie, .. } = &app.admin_session else {
        panic!("an admin session");
    };
    let page = app
        .http
        .get(app.url(&format!("/admin/people/{SUSPECT}")))
        .header(
            "cookie",
            format!("{}={cookie}", attest::web::auth::SESSION_COOKIE),
        )
        .send()
        .await
        .expect("person page");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains(&format!("Suspension #{id}")), "{html}");
    assert!(html.contains("restored") && html.contains(reason), "{html}");
    assert!(html.contains("ldap:corp:add member"), "{html}");

    // Approving again is refused: nothing is requested any more.
    api.post(
        &format!("/api/v1/suspensions/{id}/approve"),
        &app.admin_token,
        Body::Empty,
    )
    .await
    .expect(409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_down_at_suspend_time_leaves_it_partial_until_the_worker_finishes() {
    let test = "a_source_down_at_suspend_time_leaves_it_partial_until_the_worker_finishes";
    if !common::slapd::available(test) {
        return;
    }
    let slapd = Slapd::start(PEOPLE);
    let password_env = "ATTEST_TEST_SUSPEND_PASSWORD_DOWN";
    let (app, responder) = setup(&slapd, password_env).await;
    let contract = app.contract().await;
    let api = Checked {
        app: &app,
        contract: &contract,
    };
    // The directory is unreachable: a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("ldap://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let SourceConfig::Ldap(down) = corp(&dead, password_env) else {
        unreachable!()
    };
    app.engine.sources().put(
        "corp",
        std::sync::Arc::new(
            attest::sources::ldap::LdapConnector::new("corp", &down).expect("connector"),
        ),
    );
    let reply = api
        .post(
            &format!("/api/v1/principals/{SUSPECT}/suspend"),
            &responder,
            Body::Json(json!({ "reason": "EDR: credential dumping" })),
        )
        .await;
    let suspension = reply.expect(201).json();
    assert_eq!(suspension["state"], "partial", "{suspension}");
    let mut removal = states(&suspension, "removal_state");
    removal.sort();
    assert_eq!(removal, ["failed", "removed"], "{suspension}");
    assert!(is_member(&slapd, SUSPECT), "the directory was not reached");
    // A restore cannot be approved before it is requested.
    let id = suspension["id"].as_i64().expect("id");
    api.post(
        &format!("/api/v1/suspensions/{id}/approve"),
        &app.admin_token,
        Body::Empty,
    )
    .await
    .expect(409);

    // The directory is back: the scheduler's worker finishes the suspension.
    let SourceConfig::Ldap(up) = corp(&slapd.url, password_env) else {
        unreachable!()
    };
    app.engine.sources().put(
        "corp",
        std::sync::Arc::new(attest::sources::ldap::LdapConnector::new("corp", &up).expect("up")),
    );
    let tick = attest::scheduler::tick(&app.engine).await.expect("tick");
    assert_eq!(tick.suspension_removals, 1, "{tick:?}");
    assert!(!is_member(&slapd, SUSPECT));
    let listed = api
        .get(
            &format!("/api/v1/principals/{SUSPECT}/suspensions"),
            &responder,
        )
        .await;
    let now = listed.expect(200).json()[0].clone();
    assert_eq!(now["state"], "suspended", "{now}");
    assert_eq!(states(&now, "removal_state"), ["removed", "removed"]);
    let tick = attest::scheduler::tick(&app.engine).await.expect("tick");
    assert_eq!(tick.suspension_removals, 0, "nothing is owed any more");

    // Someone puts the membership back by hand while the person is suspended: the next sync
    // does not take it silently, it is a reappearance finding naming the suspension.
    slapd.ldapadd(&format!(
        "dn: {}\nchangetype: modify\nadd: member\nmember: {}\n",
        group_dn("domain-admins"),
        person_dn(SUSPECT)
    ));
    let synced = app.engine.sync_source("corp", "test").await.expect("sync");
    assert_eq!(synced.reappeared, 1, "{synced:?}");
    let findings = api
        .get("/api/v1/findings/reappeared", &app.auditor_token)
        .await;
    let findings = findings.expect(200).json();
    assert_eq!(
        findings["items"][0]["action"],
        format!("flagged: suspension #{id}"),
        "{findings}"
    );
    assert_eq!(findings["items"][0]["holder"], SUSPECT, "{findings}");

    // An admin at a shell sees the same suspension.
    let (code, out, err) = common::attest_cli(
        &app.db,
        &["suspension", "list", "--principal", SUSPECT, "--json"],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let listed: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(listed[0]["id"], id, "{listed}");
    assert_eq!(listed[0]["state"], "suspended", "{listed}");
    let (code, out, _) = common::attest_cli(&app.db, &["suspension", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains(&format!("#{id} {SUSPECT} suspended")), "{out}");
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_and_changes_nothing() {
    let app = ApiApp::spawn().await;
    let contract = app.contract().await;
    let api = Checked {
        app: &app,
        contract: &contract,
    };
    let path = app.db.file("people.csv", common::app::PEOPLE);
    app.engine
        .import(
            ImportKind::People,
            ImportInput::open(&path).expect("open"),
            ImportOptions::default(),
            "test",
            &NoProgress,
        )
        .await
        .expect("import people");
    let before = app.audit_events().await.len();
    let unknown = api
        .post(
            "/api/v1/principals/nobody/suspend",
            &app.admin_token,
            Body::Json(json!({ "reason": "alert" })),
        )
        .await;
    unknown.expect(404);
    assert!(unknown.text().contains("nobody"), "{}", unknown.text());
    for body in [
        json!({ "reason": "" }),
        json!({ "reason": "   " }),
        json!({ "reason": "x".repeat(1001) }),
        json!({ "reason": "a\u{7}b" }),
    ] {
        let reply = api
            .post(
                "/api/v1/principals/a1/suspend",
                &app.admin_token,
                Body::Json(body),
            )
            .await;
        reply.expect(422);
        assert_eq!(reply.error()["field"], "reason", "{}", reply.text());
    }
    let missing = api
        .post(
            "/api/v1/principals/a1/suspend",
            &app.admin_token,
            Body::Json(json!({})),
        )
        .await;
    missing.expect(422);
    api.post(
        "/api/v1/principals/a1/restore",
        &app.admin_token,
        Body::Empty,
    )
    .await
    .expect(404);
    api.post(
        "/api/v1/suspensions/999/approve",
        &app.admin_token,
        Body::Empty,
    )
    .await
    .expect(404);
    api.get("/api/v1/principals/a1/suspensions", &app.admin_token)
        .await
        .expect(200);
    // A responder token stops with its creator's admin role; an account is never a responder.
    let second = "second-admin@org.test";
    app.engine
        .add_account(second, Role::Admin, api_support::PASSWORD, "test")
        .await
        .expect("second admin");
    let creator = app.engine.account_operator(second).await.expect("operator");
    let token = Auth::Bearer(
        app.engine
            .create_api_token(&creator, "soar", Role::Responder)
            .await
            .expect("responder token"),
    );
    api.get("/api/v1/principals/a1/suspensions", &token)
        .await
        .expect(200);
    let demoted = app
        .engine
        .set_account_role(second, Role::Auditor, "test")
        .await
        .expect("demote");
    assert_eq!(demoted.tokens_revoked, ["soar"]);
    api.get("/api/v1/principals/a1/suspensions", &token)
        .await
        .expect(401);
    let refused = app
        .engine
        .add_account(
            "bot@org.test",
            Role::Responder,
            api_support::PASSWORD,
            "test",
        )
        .await;
    assert!(refused.is_err(), "a console account cannot be a responder");
    let after = app.audit_events().await;
    assert!(
        after[before..]
            .iter()
            .all(|e| !e.action.starts_with("principal.")),
        "nothing was suspended"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entra_pim_eligibility_is_removed_and_restored_through_graph_as_it_was() {
    use common::graph_server::{GraphServer, READ_WRITE};
    const CLIENT_ID: &str = "5a1c0f3e-2b4d-4c6e-8f90-1a2b3c4d5e6f";
    const SECRET: &str = "suspend~Graph.Secret_0123456789";
    let server = GraphServer::start(CLIENT_ID, SECRET).await;
    // Restoring reads role definitions: RoleManagement.Read.Directory besides removal's own.
    server.set_roles(&[
        READ_WRITE,
        "User.Read.All",
        "RoleAssignmentSchedule.Read.Directory",
        "RoleManagement.Read.Directory",
    ]);
    let org = server.seed_org(2, 15);
    let secret_env = "ATTEST_TEST_ENTRA_SECRET_SUSPEND";
    std::env::set_var(secret_env, SECRET);
    let app = ApiApp::spawn_with_sources(BTreeMap::from([(
        "entra".to_string(),
        SourceConfig::Entra(server.entra_config(secret_env)),
    )]))
    .await;
    app.engine.sync_source("entra", "test").await.expect("sync");
    let admin = app
        .engine
        .account_operator(api_support::ADMIN_EMAIL)
        .await
        .expect("admin");
    let responder = Auth::Bearer(
        app.engine
            .create_api_token(&admin, "soar", Role::Responder)
            .await
            .expect("token"),
    );
    let contract = app.contract().await;
    let api = Checked {
        app: &app,
        contract: &contract,
    };
    // Admin 0 holds two roles.
    let who = org.eligibility[0].0.clone();
    let schedules_of = |id: &str| {
        let mut held: Vec<(String, String, Option<String>)> = server
            .lock()
            .schedules
            .iter()
            .filter(|s| {
                s.principal_id == id && s.status == "Provisioned" && s.member_type == "Direct"
            })
            .map(|s| {
                (
                    s.role_definition_id.clone(),
                    s.directory_scope_id.clone(),
                    s.end.clone(),
                )
            })
            .collect();
        held.sort();
        held
    };
    let before = schedules_of(&who);
    assert!(before.len() >= 2, "{before:?}");
    let n = before.len();
    let others_before = server.lock().schedules.len() - before.len();

    let reply = api
        .post(
            &format!("/api/v1/principals/{who}/suspend"),
            &responder,
            Body::Json(json!({ "reason": "Defender: token theft" })),
        )
        .await;
    let suspension = reply.expect(201).json();
    assert_eq!(suspension["state"], "suspended", "{suspension}");
    assert_eq!(states(&suspension, "removal_state"), vec!["removed"; n]);
    assert!(schedules_of(&who).is_empty(), "Graph still lists them");
    assert_eq!(server.lock().schedules.len(), others_before);
    let id = suspension["id"].as_i64().expect("id");

    api.post(
        &format!("/api/v1/principals/{who}/restore"),
        &responder,
        Body::Empty,
    )
    .await
    .expect(202);
    // The admin approves on the person's console page (a form with the session's
    // anti-forgery value).
    let Auth::Session { cookie, csrf } = &app.admin_session else {
        panic!("an admin session");
    };
    let cookie = format!("{}={cookie}", attest::web::auth::SESSION_COOKIE);
    let page = app
        .http
        .get(app.url(&format!("/admin/people/{who}")))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("person page");
    let html = page.text().await.expect("html");
    let action = format!("/admin/suspensions/{id}/approve");
    assert!(html.contains(&action), "no approve button:\n{html}");
    let forged = app
        .http
        .post(app.url(&action))
        .header("cookie", &cookie)
        .form(&[("csrf", "0")])
        .send()
        .await
        .expect("post");
    assert_eq!(
        forged.status().as_u16(),
        403,
        "a forged approval is refused"
    );
    assert!(
        schedules_of(&who).is_empty(),
        "nothing came back on a forged form"
    );
    let posted = app
        .http
        .post(app.url(&action))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.clone().expect("csrf").as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(posted.status().as_u16(), 303);
    let location = posted
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(location, format!("/admin/people/{who}?done=restored"));
    let listed = api
        .get(&format!("/api/v1/principals/{who}/suspensions"), &responder)
        .await;
    let approved = listed.expect(200).json()[0].clone();
    assert_eq!(approved["state"], "restored", "{approved}");
    assert_eq!(approved["approved_by"], "account:admin@org.test");
    assert_eq!(
        schedules_of(&who),
        before,
        "exactly what was removed is back"
    );
    assert_eq!(server.lock().schedules.len(), others_before + n);
    let assigns: Vec<Value> = server
        .removal_requests()
        .into_iter()
        .filter(|r| r["action"] == "adminAssign")
        .collect();
    assert_eq!(assigns.len(), n, "{assigns:?}");
    for a in &assigns {
        assert_eq!(a["principalId"], who.as_str());
        assert_eq!(a["scheduleInfo"]["expiration"]["type"], "noExpiration");
        assert!(a["justification"]
            .as_str()
            .is_some_and(|j| j.contains("restore")));
    }
    let receipts = states(&approved, "restore_receipt").join("\n");
    assert!(
        receipts.contains("entra:entra:adminAssign request"),
        "{receipts}"
    );
    let synced = app.engine.sync_source("entra", "test").await.expect("sync");
    assert_eq!((synced.reappeared, synced.new), (0, 0), "{synced:?}");
}
