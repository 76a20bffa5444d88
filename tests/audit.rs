//! Acceptance tests for `attest audit verify`: an intact log verifies; an edited, deleted or
//! re-hashed event is found and named.

mod common;

use attest::domain::audit_chain::{event_hash, ChainBreak};
use attest::engine::Engine;
use common::{attest_cli, TestDb};
use entity::audit_event;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

/// Three imports through the CLI: audit events #1, #2 and #3.
fn three_imports(db: &TestDb) {
    db.file(
        "people.csv",
        "id,name,email,manager_id\nu1,Zoë O'Brien,zoe@example.test,\nu2,Søren Ødegård,soren@example.test,u1\n",
    );
    db.file(
        "roles.csv",
        "name,owner_id,risk,description\nGlobal Administrator,u1,high,\"Full control, everything\"\n",
    );
    db.file(
        "eligibility.csv",
        "principal_id,role,scope,last_activated_at\nu2,Global Administrator,/,2026-10-01T10:00:00+02:00\n",
    );
    for (kind, file) in [
        ("people", "people.csv"),
        ("roles", "roles.csv"),
        ("eligibility", "eligibility.csv"),
    ] {
        let (code, stdout, stderr) = attest_cli(db, &["import", kind, file]);
        assert_eq!(code, 0, "import {kind}: {stdout}\n{stderr}");
    }
}

async fn events(engine: &Engine) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .order_by_asc(audit_event::Column::Seq)
        .all(engine.store().conn())
        .await
        .expect("read audit events")
}

async fn execute(engine: &Engine, sql: &str) -> u64 {
    engine
        .store()
        .conn()
        .execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .rows_affected()
}

/// `attest audit verify`: (exit code, stdout and stderr together).
fn verify(db: &TestDb) -> (i32, String) {
    let (code, stdout, stderr) = attest_cli(db, &["audit", "verify"]);
    (code, format!("{stdout}{stderr}"))
}

#[tokio::test]
async fn verify_passes_after_imports_and_names_an_edited_event() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    three_imports(&db);

    let logged = events(&engine).await;
    assert_eq!(
        logged
            .iter()
            .map(|e| (e.seq, e.action.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (1, "import.people"),
            (2, "import.roles"),
            (3, "import.eligibility")
        ]
    );

    let (code, output) = verify(&db);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("audit log intact: 3 events"), "{output}");
    assert_eq!(engine.verify_audit_log().await.expect("verify"), Ok(3));

    let changed = execute(
        &engine,
        "UPDATE audit_event SET actor = 'mallory' WHERE seq = 2",
    )
    .await;
    assert_eq!(changed, 1);

    let (code, output) = verify(&db);
    assert_ne!(code, 0, "a tampered log must not verify: {output}");
    assert!(output.contains("event #2"), "must name event #2: {output}");
    assert!(output.contains("altered"), "{output}");
    assert!(!output.contains("intact"), "{output}");
    assert_eq!(
        engine.verify_audit_log().await.expect("verify"),
        Err(ChainBreak::Altered { seq: 2 })
    );
}

#[tokio::test]
async fn verify_reports_a_deleted_event_as_missing() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    three_imports(&db);
    let (code, output) = verify(&db);
    assert_eq!(code, 0, "{output}");

    let deleted = execute(&engine, "DELETE FROM audit_event WHERE seq = 2").await;
    assert_eq!(deleted, 1);

    let (code, output) = verify(&db);
    assert_ne!(code, 0, "a log with a hole must not verify: {output}");
    assert!(
        output.contains("event #2 is missing"),
        "must say event #2 is missing: {output}"
    );
    assert_eq!(
        engine.verify_audit_log().await.expect("verify"),
        Err(ChainBreak::Gap {
            expected: 2,
            found: 3
        })
    );
}

/// Someone who edits an event and recomputes its hash still breaks the link to the next event.
#[tokio::test]
async fn verify_catches_an_edit_whose_hash_was_recomputed() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    three_imports(&db);

    let second = audit_event::Entity::find()
        .filter(audit_event::Column::Seq.eq(2))
        .one(engine.store().conn())
        .await
        .expect("read")
        .expect("event #2");
    let forged_details = r#"{"kind":"roles","rows":0}"#;
    let forged_hash = event_hash(
        second.seq,
        second.at,
        &second.actor,
        &second.action,
        second.target.as_deref(),
        forged_details,
        &second.prev_hash,
    );
    let changed = execute(
        &engine,
        &format!(
            "UPDATE audit_event SET details = '{forged_details}', hash = '{forged_hash}' WHERE seq = 2"
        ),
    )
    .await;
    assert_eq!(changed, 1);

    let (code, output) = verify(&db);
    assert_ne!(code, 0, "{output}");
    assert!(output.contains("event #3"), "{output}");
    assert_eq!(
        engine.verify_audit_log().await.expect("verify"),
        Err(ChainBreak::Unlinked { seq: 3 })
    );
}

/// A rejected import writes no audit event, so the log stays intact and gap-free.
#[tokio::test]
async fn a_rejected_import_leaves_the_log_intact() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    three_imports(&db);
    db.file(
        "bad.csv",
        "principal_id,role,scope\nu1,Global Administrator,/x\nu9,Global Administrator,/\n",
    );
    let (code, _, stderr) = attest_cli(&db, &["import", "eligibility", "bad.csv"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(events(&engine).await.len(), 3);

    let (code, output) = verify(&db);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("3 events"), "{output}");
}

/// Issue 14: the audit log names people and files a reader can follow — the operating
/// system's user when $USER is unset (cron, containers), not "cli:unknown"; the demo's imports
/// by what they are, not by a temporary folder deleted afterwards.
#[tokio::test]
async fn the_cli_and_the_demo_name_who_and_what_in_the_audit_log() {
    use std::io::BufRead;
    let db = TestDb::new().await;
    let expected = String::from_utf8(
        std::process::Command::new("id")
            .arg("-un")
            .output()
            .expect("id -un")
            .stdout,
    )
    .expect("utf-8")
    .trim()
    .to_string();

    // `attest demo` seeds the organisation, then serves: stop it once it says it runs.
    let port = common::smtp::free_port();
    let mut demo = std::process::Command::new(env!("CARGO_BIN_EXE_attest"))
        .arg("demo")
        .current_dir(db.dir())
        .env("ATTEST_DATABASE_URL", &db.url)
        .env("ATTEST_BIND", format!("127.0.0.1:{port}"))
        .env("ATTEST_LOG", "warn")
        .env_remove("USER")
        .env_remove("LOGNAME")
        .env_remove("USERNAME")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run attest demo");
    let stdout = demo.stdout.take().expect("stdout");
    let mut running = false;
    for line in std::io::BufReader::new(stdout).lines() {
        if line.expect("line").contains("attest is running") {
            running = true;
            break;
        }
    }
    let _ = demo.kill();
    let _ = demo.wait();
    assert!(running, "the demo did not start");

    let events = audit_event::Entity::find()
        .filter(audit_event::Column::Action.starts_with("import."))
        .all(db.store().await.conn())
        .await
        .expect("events");
    assert_eq!(events.len(), 3, "{events:?}");
    for event in &events {
        assert_eq!(event.actor, format!("cli:{expected}"), "{event:?}");
        let target = event.target.clone().unwrap_or_default();
        assert!(
            target.starts_with("demo organisation (") && !target.contains("/tmp"),
            "{event:?}"
        );
    }
}

/// Issue 14: `attest audit log` is a table whose columns start at the same place on every line,
/// whatever the length of an actor (a long account address here).
#[tokio::test]
async fn audit_log_columns_stay_aligned_with_a_long_actor() {
    let db = TestDb::new().await;
    db.file(
        "people.csv",
        "id,name,email,manager_id\nu1,Ana Ruiz,ana@example.test,\n",
    );
    db.file(
        "roles.csv",
        "name,owner_id,risk,description\nReader,u1,low,\n",
    );
    let long = "a-very-long-address-of-a-colleague@example.org";
    for (user, kind, file) in [(long, "people", "people.csv"), ("bo", "roles", "roles.csv")] {
        let (code, stdout, stderr) =
            common::attest_cli_env(&db, &["import", kind, file], &[("USER", user)]);
        assert_eq!(code, 0, "import {kind}: {stdout}\n{stderr}");
    }
    let (code, stdout, stderr) = attest_cli(&db, &["audit", "log"]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "a header and two events:\n{stdout}");
    let header = lines[0];
    let column = |name: &str| {
        header
            .find(name)
            .unwrap_or_else(|| panic!("the header names {name}:\n{stdout}"))
    };
    let (actor, action, target) = (column("ACTOR"), column("ACTION"), column("TARGET"));
    let mut seen = Vec::new();
    for line in &lines[1..] {
        for start in [actor, action, target] {
            assert!(
                line.is_char_boundary(start) && line[..start].ends_with("  "),
                "a column starts at {start} on every line:\n{stdout}"
            );
        }
        seen.push((
            line[actor..action].trim_end().to_string(),
            line[action..target].trim_end().to_string(),
            line[target..].to_string(),
        ));
    }
    seen.sort();
    assert_eq!(
        seen,
        vec![
            (
                format!("cli:{long}"),
                "import.people".into(),
                "people.csv".into()
            ),
            ("cli:bo".into(), "import.roles".into(), "roles.csv".into()),
        ],
        "\n{stdout}"
    );
}

/// Runs `attest demo` until it says it runs, then stops it; returns what it printed by then.
fn demo_until_running(db: &TestDb) -> String {
    use std::io::BufRead;
    let port = common::smtp::free_port();
    let mut demo = std::process::Command::new(env!("CARGO_BIN_EXE_attest"))
        .arg("demo")
        .current_dir(db.dir())
        .env("ATTEST_DATABASE_URL", &db.url)
        .env("ATTEST_BIND", format!("127.0.0.1:{port}"))
        .env("ATTEST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run attest demo");
    let stdout = demo.stdout.take().expect("stdout");
    let mut printed = String::new();
    let mut running = false;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("line");
        printed.push_str(&line);
        printed.push('\n');
        if line.contains("attest is running") {
            running = true;
            break;
        }
    }
    let _ = demo.kill();
    let _ = demo.wait();
    assert!(running, "the demo did not start:\n{printed}");
    printed
}

/// The ids of the eligibilities a campaign removed.
async fn removed_by_campaigns(db: &TestDb) -> Vec<i64> {
    use entity::eligibility;
    eligibility::Entity::find()
        .filter(eligibility::Column::RemovedByCampaignId.is_not_null())
        .filter(
            eligibility::Column::Status.eq(attest::domain::eligibility::EligibilityStatus::Removed),
        )
        .order_by_asc(eligibility::Column::Id)
        .all(db.store().await.conn())
        .await
        .expect("eligibility")
        .into_iter()
        .map(|e| e.id)
        .collect()
}

/// Issue 14: running `attest demo` again after its campaign closed and removed access does
/// not import the organisation again (which would make that access active again), launches a
/// new demo campaign, and says both.
#[tokio::test]
async fn the_demo_run_again_after_its_campaign_removed_access_leaves_it_removed() {
    let db = TestDb::new().await;
    let first = demo_until_running(&db);
    assert!(first.contains("Seeding the demo organisation"), "{first}");
    assert!(first.contains("Campaign #1 "), "{first}");

    let (code, stdout, stderr) = attest_cli(&db, &["campaign", "close", "1"]);
    assert_eq!(code, 0, "close: {stdout}\n{stderr}");
    // Whatever a safety rail held back goes too: the demo's policy removes what nobody kept.
    let (code, stdout, stderr) = attest_cli(&db, &["campaign", "confirm-removals", "1"]);
    assert!(
        code == 0 || code == 2,
        "confirm-removals: {stdout}\n{stderr}"
    );
    let removed = removed_by_campaigns(&db).await;
    assert!(!removed.is_empty(), "the demo campaign removed access");

    let second = demo_until_running(&db);
    assert!(
        second.contains("already in") && second.contains("not imported again"),
        "the second run says it did not import again:\n{second}"
    );
    assert!(
        !second.contains("Seeding the demo organisation"),
        "{second}"
    );
    // The newest campaign (PostgreSQL's ids may skip one: the refused launch used it up).
    let new = entity::campaign::Entity::find()
        .order_by_desc(entity::campaign::Column::Id)
        .one(db.store().await.conn())
        .await
        .expect("campaign")
        .expect("a campaign");
    assert_ne!(new.id, 1, "a new campaign was launched");
    assert_eq!(new.state, "active", "{new:?}");
    assert!(
        second.contains(&format!("launched a new, off-cycle one, #{}.", new.id)),
        "the second run says it started a new campaign:\n{second}"
    );
    assert_eq!(
        removed_by_campaigns(&db).await,
        removed,
        "what the campaign removed stays removed"
    );
    let reappeared = entity::reappearance::Entity::find()
        .all(db.store().await.conn())
        .await
        .expect("reappearances");
    assert!(reappeared.is_empty(), "{reappeared:?}");
}
