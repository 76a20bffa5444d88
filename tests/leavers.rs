//! Leavers (issue 17): a person an import, a prune or a sync disables loses their eligibility
//! through its source once the `[lifecycle]` grace period has passed, as a suspension naming the
//! leaver event; a person enabled again within the grace period keeps everything. Run end to
//! end: the people file imported with `attest import people` (and `--prune`), the scheduler
//! ticked on the manual clock, `attest report lifecycle` and `GET /api/v1/reports/lifecycle`
//! read, the campaign over the leaver's eligibility run to completion and its evidence exported
//! and verified; and an Entra user disabled in the Graph test server losing their PIM
//! eligibility there after the next sync.
//!
//! Each test gets its own database (SQLite, or PostgreSQL with ATTEST_TEST_DATABASE_URL).

mod common;

use attest::domain::leavers::LifecycleSettings;
use chrono::Duration;
use common::app::{TestApp, PEOPLE};
use common::attest_cli;
use entity::{eligibility, leaver_event, suspension};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

fn disable(people: &str, who: &[&str]) -> String {
    people
        .lines()
        .map(|line| {
            let id = line.split(',').next().unwrap_or_default();
            if who.contains(&id) {
                format!("{}\n", line.replace(",true", ",false"))
            } else {
                format!("{line}\n")
            }
        })
        .collect()
}

async fn active_of(app: &TestApp, external_id: &str) -> Vec<eligibility::Model> {
    let person = app.principal(external_id).await;
    eligibility::Entity::find()
        .filter(eligibility::Column::PrincipalId.eq(person.id))
        .filter(eligibility::Column::Status.eq("active"))
        .all(app.engine.store().conn())
        .await
        .expect("read eligibility")
}

/// Imports `people` through the REST API (the server runs on the test's manual clock, so the
/// leaver events are dated by it); returns the import's report.
async fn import(app: &TestApp, token: &str, people: &str, query: &str) -> serde_json::Value {
    let reply = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/imports/people?name=hr.csv{query}")))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(people.to_string())
        .send()
        .await
        .expect("POST");
    assert_eq!(reply.status(), 200);
    reply.json().await.expect("the import's report")
}

#[tokio::test]
async fn a_disabled_person_loses_their_eligibility_after_the_grace_period() {
    let Some(app) =
        TestApp::spawn("a_disabled_person_loses_their_eligibility_after_the_grace_period").await
    else {
        return;
    };
    let conn = app.engine.store().conn();
    let launched = app.launch().await;
    // Three days' grace, as attest.toml says (`attest config` shows it).
    std::fs::write(
        app.db.dir().join("attest.toml"),
        "[lifecycle]\nleaver_grace_days = 3\n",
    )
    .expect("attest.toml");
    let (code, out, err) = attest_cli(&app.db, &["config"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("leaver_grace_days = 3"), "{out}");
    let engine = app.engine.clone().with_lifecycle(LifecycleSettings {
        leaver_grace_days: 3,
    });
    let anna_held = active_of(&app, "a1").await;
    assert_eq!(anna_held.len(), 2, "Anna holds GA and PRA at prod");

    // Anna (a1) and Arne (a2) are disabled by the HR file.
    let disabled_at = attest::clock::Clock::now(app.clock.as_ref());
    let token = app.admin_api_token("lifecycle").await;
    let report = import(&app, &token, &disable(PEOPLE, &["a1", "a2"]), "").await;
    assert_eq!(report["leavers"], 2, "the import reports them: {report}");
    let events = leaver_event::Entity::find()
        .all(conn)
        .await
        .expect("events");
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events.iter().all(|e| e.via == "import of upload:hr.csv"),
        "{events:?}"
    );
    // The same file again disables no one new.
    import(&app, &token, &disable(PEOPLE, &["a1", "a2"]), "").await;
    assert_eq!(
        leaver_event::Entity::find()
            .all(conn)
            .await
            .expect("events")
            .len(),
        2
    );

    // Within the grace period nothing is removed.
    app.clock.advance(Duration::days(2));
    let report = attest::scheduler::tick(&engine).await.expect("tick");
    assert_eq!(report.leavers_handled, 0);
    assert_eq!(active_of(&app, "a1").await.len(), 2);
    // Arne comes back (the file had him wrong).
    import(&app, &token, &disable(PEOPLE, &["a1"]), "").await;

    // After the grace period: Anna's eligibility is removed, Arne keeps his.
    app.clock
        .set(disabled_at + Duration::days(3) + Duration::minutes(1));
    let report = attest::scheduler::tick(&engine).await.expect("tick");
    assert_eq!(report.leavers_handled, 2);
    assert!(active_of(&app, "a1").await.is_empty(), "Anna's are removed");
    assert_eq!(active_of(&app, "a2").await.len(), 2, "Arne keeps his");
    // Their manager is told, once, what was removed; nothing is said of Arne.
    app.drain_mail().await;
    attest::scheduler::tick(&engine).await.expect("tick");
    app.drain_mail().await;
    let told: Vec<_> = app
        .smtp
        .messages_to("maria@org.test")
        .into_iter()
        .filter(|m| m.subject.starts_with("Access removed:"))
        .collect();
    assert_eq!(
        told.len(),
        1,
        "{:?}",
        told.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    assert_eq!(
        told[0].subject,
        "Access removed: Anna One (a1) left (2 eligibilities)"
    );
    assert!(
        told[0]
            .text
            .contains("Global Administrator at /: removed (builtin)")
            && told[0].text.contains("disabled by import of upload:hr.csv"),
        "{}",
        told[0].text
    );
    let events = leaver_event::Entity::find()
        .all(conn)
        .await
        .expect("events");
    let anna = app.principal("a1").await;
    let anna_event = events
        .iter()
        .find(|e| e.principal_id == anna.id)
        .expect("Anna's event");
    assert_eq!(anna_event.outcome.as_deref(), Some("suspended"));
    let arne_event = events
        .iter()
        .find(|e| e.principal_id != anna.id)
        .expect("Arne's event");
    assert_eq!(arne_event.outcome.as_deref(), Some("reenabled"));
    assert_eq!(arne_event.suspension_id, None);
    let held = suspension::Entity::find_by_id(anna_event.suspension_id.expect("a suspension"))
        .one(conn)
        .await
        .expect("read")
        .expect("the suspension");
    assert_eq!(held.state, "suspended");
    assert!(
        held.reason.starts_with(&format!(
            "leaver event #{}: disabled by import of",
            anna_event.id
        )),
        "{}",
        held.reason
    );
    assert_eq!(held.requested_by, "lifecycle");
    // Audited, each with its outcome.
    let audited: Vec<serde_json::Value> = entity::audit_event::Entity::find()
        .filter(entity::audit_event::Column::Action.eq("principal.leaver"))
        .all(conn)
        .await
        .expect("audit")
        .into_iter()
        .map(|e| serde_json::from_str(&e.details).expect("details"))
        .collect();
    assert_eq!(audited.len(), 2, "{audited:?}");
    assert!(audited
        .iter()
        .any(|d| d["outcome"] == "suspended" && d["grace_days"] == 3));
    // Another tick does nothing twice.
    let report = attest::scheduler::tick(&engine).await.expect("tick");
    assert_eq!(report.leavers_handled, 0);

    // The month's lifecycle record, from the CLI and the API, says the same.
    let month = disabled_at.format("%Y-%m").to_string();
    let (code, out, err) = attest_cli(
        &app.db,
        &["report", "lifecycle", "--month", &month, "--json"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let cli: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(cli["counts"]["leavers"], 2);
    assert_eq!(cli["counts"]["leavers_suspended"], 1);
    assert_eq!(cli["counts"]["leavers_reenabled"], 1);
    assert_eq!(cli["counts"]["eligibility_removed"], 2);
    assert_eq!(cli["leaver_grace_days"], 3, "read from attest.toml");
    let api: serde_json::Value = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/reports/lifecycle?month={month}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(api["counts"], cli["counts"]);
    assert_eq!(api["leavers"][0]["person"], "a1");
    assert_eq!(api["leavers"][0]["removed"], 2);
    let (code, out, err) = attest_cli(&app.db, &["report", "lifecycle", "--month", &month]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 leavers"), "{out}");
    // The console's page, for admins and auditors, from the same function.
    let session = app
        .sign_in("admin@org.test", "a long enough password")
        .await;
    let (status, page) = app
        .console(&session, &format!("/audit/lifecycle?month={month}"))
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{page}");
    assert!(
        page.contains(&format!("Lifecycle record {month}")),
        "{page}"
    );
    assert!(
        page.contains("2 leavers: 1 suspended (2 eligibilities removed"),
        "{page}"
    );
    assert!(page.contains("Anna One"), "{page}");
    assert!(
        page.contains(r#"href="/audit/lifecycle""#),
        "the navigation links it"
    );
    let (code, _, err) = attest_cli(&app.db, &["report", "lifecycle", "--month", "2026-13"]);
    assert_eq!(code, 2, "a bad month is refused: {err}");
    assert!(err.contains("2026-13"), "{err}");

    // The campaign over Anna's eligibility completes; its evidence shows the removal with the
    // leaver event as its reason, and verifies.
    app.run_to_completion(launched.campaign_id).await;
    let folder = app.db.dir().join("bundle");
    let (code, out, err) = attest_cli(
        &app.db,
        &[
            "evidence",
            "export",
            &launched.campaign_id.to_string(),
            "--out",
            folder.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "export: {out}{err}");
    let csv = std::fs::read_to_string(folder.join("suspensions.csv")).expect("suspensions.csv");
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(
        rows.iter()
            .all(|r| r.contains(",a1,suspended,leaver event #") && r.contains(",lifecycle,")),
        "{csv}"
    );
    // Anna's two items were left unanswered and kept by the policy; after remediation they are
    // suspended, which the bundle explains rather than calling them inconsistent.
    let after = std::fs::read_to_string(folder.join("after_remediation.csv")).expect("after");
    let anna_rows: Vec<&str> = after.lines().filter(|l| l.contains(",a1,")).collect();
    assert_eq!(anna_rows.len(), 2, "{after}");
    assert!(
        anna_rows
            .iter()
            .all(|r| r.ends_with(",suspended,suspended")),
        "{after}"
    );
    let (code, out, err) = attest_cli(&app.db, &["evidence", "verify", folder.to_str().unwrap()]);
    assert_eq!(code, 0, "verify: {out}{err}");
}

#[tokio::test]
async fn a_prune_disables_leavers_and_one_holding_nothing_is_only_recorded() {
    let Some(app) =
        TestApp::spawn("a_prune_disables_leavers_and_one_holding_nothing_is_only_recorded").await
    else {
        return;
    };
    let conn = app.engine.store().conn();
    app.import_org().await;
    // Bo (b2, one PRA) and Frank (fb, nothing held) are no longer in the file; default grace:
    // at once.
    let people: String = PEOPLE
        .lines()
        .filter(|l| !l.starts_with("b2,") && !l.starts_with("fb,"))
        .map(|l| format!("{l}\n"))
        .collect();
    let token = app.admin_api_token("lifecycle").await;
    let report = import(&app, &token, &people, "&prune=true").await;
    assert_eq!(report["leavers"], 2, "{report}");
    let report = attest::scheduler::tick(&app.engine).await.expect("tick");
    assert_eq!(report.leavers_handled, 2);
    assert!(active_of(&app, "b2").await.is_empty());
    let events = leaver_event::Entity::find()
        .all(conn)
        .await
        .expect("events");
    let bo = app.principal("b2").await;
    for e in &events {
        assert_eq!(e.via, "prune of upload:hr.csv", "{e:?}");
        let expected = if e.principal_id == bo.id {
            "suspended"
        } else {
            "nothing_held"
        };
        assert_eq!(e.outcome.as_deref(), Some(expected), "{e:?}");
    }
    // Nothing held, no suspension opened.
    assert_eq!(
        suspension::Entity::find()
            .all(conn)
            .await
            .expect("read")
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entra_user_disabled_in_the_tenant_loses_their_pim_eligibility_there() {
    use attest::sources::config::SourceConfig;
    use common::graph_server::GraphServer;
    const CLIENT_ID: &str = "7c2e4a10-3b5d-4e6f-8a9b-0c1d2e3f4a5b";
    const SECRET: &str = "leaver~Graph.Secret_0123456789";
    let server = GraphServer::start(CLIENT_ID, SECRET).await;
    let org = server.seed_org(2, 12);
    let secret_env = "ATTEST_TEST_ENTRA_SECRET_LEAVER";
    std::env::set_var(secret_env, SECRET);
    let Some(app) = TestApp::spawn_with_sources(
        "an_entra_user_disabled_in_the_tenant_loses_their_pim_eligibility_there",
        common::at("2026-11-02T09:00:00Z"),
        std::collections::BTreeMap::from([(
            "entra".to_string(),
            SourceConfig::Entra(server.entra_config(secret_env)),
        )]),
    )
    .await
    else {
        return;
    };
    let token = app.admin_api_token("lifecycle").await;
    let sync = || async {
        let reply = reqwest::Client::new()
            .post(app.url("/api/v1/sources/entra/sync"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("POST");
        assert_eq!(reply.status(), 200);
        reply.json::<serde_json::Value>().await.expect("JSON")
    };
    let first = sync().await;
    assert_eq!(first["leavers"], 0, "{first}");
    let who = org.eligibility[0].0.clone();
    let provisioned = |id: &str| {
        server
            .lock()
            .schedules
            .iter()
            .filter(|s| {
                s.principal_id == id && s.status == "Provisioned" && s.member_type == "Direct"
            })
            .count()
    };
    let held = provisioned(&who);
    assert!(held >= 1, "{who} holds PIM eligibility");
    let others = server.lock().schedules.len() - held;

    // The tenant disables the account; the next sync records the leaver, the next tick removes
    // each eligibility through Graph and reads it back.
    server
        .lock()
        .users
        .get_mut(&who)
        .expect("the user")
        .account_enabled = false;
    let second = sync().await;
    assert_eq!(second["leavers"], 1, "{second}");
    let report = attest::scheduler::tick(&app.engine).await.expect("tick");
    assert_eq!(report.leavers_handled, 1);
    assert_eq!(provisioned(&who), 0, "Graph still lists their eligibility");
    assert_eq!(
        server.lock().schedules.len(),
        others,
        "no one else's touched"
    );
    let removals = server.removal_requests();
    assert_eq!(removals.len(), held, "{removals:?}");
    assert!(removals.iter().all(|r| r["action"] == "adminRemove"));
    let events = leaver_event::Entity::find()
        .all(app.engine.store().conn())
        .await
        .expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].via, "sync of entra");
    assert_eq!(events[0].outcome.as_deref(), Some("suspended"));

    // The next sync does not call the removal a reappearance, nor a second leaver.
    let third = sync().await;
    assert_eq!(third["leavers"], 0, "{third}");
    assert_eq!(third["reappeared"], 0, "{third}");
    let lifecycle: serde_json::Value = reqwest::Client::new()
        .get(app.url("/api/v1/reports/lifecycle?month=2026-11"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(lifecycle["counts"]["leavers_suspended"], 1, "{lifecycle}");
    assert_eq!(
        lifecycle["counts"]["eligibility_removed"], held as u64,
        "{lifecycle}"
    );
}
