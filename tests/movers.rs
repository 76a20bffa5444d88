//! Movers (issue 17): when an import changes a person's manager, the scheduler launches a small
//! campaign of every `trigger = "mover"` definition over that person's eligibility, reviewed by
//! the new manager and due in the definition's days. Run end to end: the people file imported
//! with `attest import people`, the scheduler ticked on the manual clock, the new manager's
//! decision made from the mailed link, the campaign run to completion (the removal done in the
//! built-in source) and its evidence exported and verified through the CLI.
//!
//! Each test gets its own database (SQLite, or PostgreSQL with ATTEST_TEST_DATABASE_URL) and
//! its own SMTP server.

mod common;

use attest::domain::definition::CampaignSpec;
use chrono::Duration;
use common::app::{TestApp, DEFINITION, PEOPLE};
use common::attest_cli;
use entity::{campaign, eligibility, mover_event};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

const GA: &str = "Global Administrator";

/// Reviews a mover's high-risk eligibility, by their new manager, within five days; what the
/// new manager does not answer is removed.
const MOVER_DEFINITION: &str = r#"
name = "mover-review"
owner = "own"
trigger = "mover"
timezone = "Europe/Berlin"
duration_days = 5
reviewers = "manager"
fallback_reviewer = "fb"
on_no_response = "remove"
require_justification = ["revoke"]

[scope]
risk = ["high"]
"#;

/// The shared people file with Anna (a1) moved from Maria (m1) to Mark (m2), and a new hire
/// (n1) under Mark.
fn people_after_the_move() -> String {
    let mut people = PEOPLE.replace(
        "a1,Anna One,anna@org.test,m1,user,true",
        "a1,Anna One,anna@org.test,m2,user,true",
    );
    people.push_str("n1,Nils New,nils@org.test,m2,user,true\n");
    people
}

async fn mover_campaigns(app: &TestApp) -> Vec<campaign::Model> {
    campaign::Entity::find()
        .filter(campaign::Column::DefinitionName.eq("mover-review"))
        .all(app.engine.store().conn())
        .await
        .expect("read campaigns")
}

#[tokio::test]
async fn a_person_whose_manager_changes_is_reviewed_by_the_new_manager() {
    let Some(app) =
        TestApp::spawn("a_person_whose_manager_changes_is_reviewed_by_the_new_manager").await
    else {
        return;
    };
    let conn = app.engine.store().conn();
    app.import_org().await;
    app.define().await;
    app.define_as("mover-review.toml", MOVER_DEFINITION).await;

    // Launching it by hand is refused, saying why.
    let (code, out, err) = attest_cli(&app.db, &["campaign", "launch", "mover-review"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("trigger = \"mover\""), "{err}");

    // Nothing moved yet: a tick launches nothing for it.
    attest::scheduler::tick(&app.engine).await.expect("tick");
    assert!(mover_campaigns(&app).await.is_empty());

    // Anna moves from Maria to Mark; Nils joins (a first manager is not a move).
    let file = app.db.file("people.csv", &people_after_the_move());
    let (code, out, err) = attest_cli(&app.db, &["import", "people", file.to_str().unwrap()]);
    assert_eq!(code, 0, "import: {out}{err}");
    assert!(out.contains("movers"), "the import reports the move: {out}");
    let anna = app.principal("a1").await;
    let maria = app.principal("m1").await;
    let mark = app.principal("m2").await;
    let events = mover_event::Entity::find()
        .all(conn)
        .await
        .expect("read mover events");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (
            events[0].principal_id,
            events[0].old_manager_id,
            events[0].new_manager_id
        ),
        (anna.id, maria.id, mark.id)
    );
    assert!(
        events[0].via.starts_with("import of"),
        "{:?}",
        events[0].via
    );
    // The same file again changes nothing and records no second move.
    let (code, out, err) = attest_cli(&app.db, &["import", "people", file.to_str().unwrap()]);
    assert_eq!(code, 0, "import again: {out}{err}");
    assert_eq!(
        mover_event::Entity::find()
            .all(conn)
            .await
            .expect("events")
            .len(),
        1
    );

    // The next tick launches the mover campaign: Anna's two high-risk eligibilities, for Mark.
    let launched_at = attest::clock::Clock::now(app.clock.as_ref());
    attest::scheduler::tick(&app.engine).await.expect("tick");
    let campaigns = mover_campaigns(&app).await;
    assert_eq!(campaigns.len(), 1, "{campaigns:?}");
    let mover = &campaigns[0];
    assert_eq!(mover.state, "active");
    assert_eq!(mover.due_at, Some(launched_at + Duration::days(5)));
    let items = app.items(mover.id).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(
        items.iter().all(|i| i.holder_external_id == "a1"),
        "{items:?}"
    );
    assert!(
        items.iter().all(|i| i.reviewer_id == Some(mark.id)),
        "the new manager reviews: {items:?}"
    );
    assert!(
        mover_event::Entity::find()
            .all(conn)
            .await
            .expect("events")
            .iter()
            .all(|e| e.handled_at.is_some()),
        "the event is handled"
    );
    let launch = entity::audit_event::Entity::find()
        .filter(entity::audit_event::Column::Action.eq("campaign.launch"))
        .filter(entity::audit_event::Column::Target.eq(format!("campaign:{}", mover.id)))
        .one(conn)
        .await
        .expect("audit")
        .expect("the launch is audited");
    let details: serde_json::Value = serde_json::from_str(&launch.details).expect("details");
    assert_eq!(details["trigger"], "mover");
    assert_eq!(details["person"], "a1");
    assert_eq!(details["old_manager"], "m1");
    assert_eq!(details["new_manager"], "m2");
    // Another tick launches nothing twice.
    attest::scheduler::tick(&app.engine).await.expect("tick");
    assert_eq!(mover_campaigns(&app).await.len(), 1);

    // Mark keeps Anna's Global Administrator from his mail's link; her PRA at prod he leaves
    // unanswered, and the policy removes it.
    app.drain_mail().await;
    let link = app.link_for("mark@org.test");
    let page = app.get(&link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let ga = items.iter().find(|i| i.role_name == GA).expect("Anna's GA");
    let prod = items
        .iter()
        .find(|i| i.role_name != GA)
        .expect("Anna's PRA");
    let form = [
        ("csrf".to_string(), page.csrf()),
        (format!("item-{}", ga.id), "attest".to_string()),
        (
            format!("why-{}", ga.id),
            "Still runs the tenant".to_string(),
        ),
        ("action".to_string(), "save".to_string()),
    ];
    let saved = app.post(&link, &form).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    app.run_to_completion(mover.id).await;
    let view = app.engine.campaign(mover.id).await.expect("show");
    assert_eq!(view.summary.kept_by_people, 1);
    assert_eq!(view.summary.revoked_by_policy, 1);
    assert_eq!(view.summary.removals_done, 1);
    let removed = eligibility::Entity::find_by_id(prod.eligibility_id)
        .one(conn)
        .await
        .expect("read eligibility")
        .expect("it exists");
    assert_ne!(removed.status, "active", "Anna's PRA at prod was removed");

    // The evidence names the mover campaign's one holder and verifies.
    let out_dir = app.db.dir().join("mover-bundle");
    let (code, out, err) = attest_cli(
        &app.db,
        &[
            "evidence",
            "export",
            &mover.id.to_string(),
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "export: {out}{err}");
    let (code, out, err) = attest_cli(&app.db, &["evidence", "verify", out_dir.to_str().unwrap()]);
    assert_eq!(code, 0, "verify: {out}{err}");
    let facts: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out_dir.join("campaign.json")).expect("campaign.json"),
    )
    .expect("JSON");
    assert_eq!(facts["definition"]["trigger"], "mover");
    assert_eq!(
        facts["population"]["at_launch"]["filter"]["holders"][0],
        "a1"
    );
}

#[tokio::test]
async fn a_mover_without_eligibility_in_scope_launches_nothing() {
    let Some(app) = TestApp::spawn("a_mover_without_eligibility_in_scope_launches_nothing").await
    else {
        return;
    };
    app.import_org().await;
    app.define_as("mover-review.toml", MOVER_DEFINITION).await;
    // Aiko (a3) holds only a high-risk PRA; Bo (b2) too. Olga's reports: Frank moves from Olga
    // to Maria, and holds nothing.
    let people = PEOPLE.replace(
        "fb,Frank Fallback,frank@org.test,own,user,true",
        "fb,Frank Fallback,frank@org.test,m1,user,true",
    );
    let file = app.db.file("people.csv", &people);
    let (code, out, err) = attest_cli(&app.db, &["import", "people", file.to_str().unwrap()]);
    assert_eq!(code, 0, "import: {out}{err}");
    attest::scheduler::tick(&app.engine).await.expect("tick");
    assert!(mover_campaigns(&app).await.is_empty());
    let events = mover_event::Entity::find()
        .all(app.engine.store().conn())
        .await
        .expect("events");
    assert_eq!(events.len(), 1);
    assert!(
        events[0].handled_at.is_some(),
        "handled with nothing to launch"
    );
}

#[test]
fn a_mover_definition_has_no_schedule_and_a_scheduled_one_needs_one() {
    let spec = CampaignSpec::from_toml(MOVER_DEFINITION).expect("the mover definition");
    assert_eq!(spec.trigger.as_str(), "mover");
    let errors = common::definition_problems;
    let with_schedule = MOVER_DEFINITION.replace("trigger", "schedule = \"quarterly\"\ntrigger");
    assert!(
        errors(&with_schedule)
            .iter()
            .any(|e| e.starts_with("schedule:") && e.contains("leave schedule out")),
        "{:?}",
        errors(&with_schedule)
    );
    let without = DEFINITION.replace("schedule = \"quarterly\"\n", "");
    assert!(
        errors(&without)
            .iter()
            .any(|e| e.starts_with("schedule:") && e.contains("trigger")),
        "{:?}",
        errors(&without)
    );
    let unknown = MOVER_DEFINITION.replace("\"mover\"", "\"leaver\"");
    assert!(
        errors(&unknown).iter().any(|e| e.starts_with("trigger:")),
        "{:?}",
        errors(&unknown)
    );
}

/// The README's example mover definition defines as it is written.
#[test]
fn the_readme_mover_example_parses() {
    let toml = common::readme_toml("### Movers");
    let spec = CampaignSpec::from_toml(&toml)
        .unwrap_or_else(|problems| panic!("the README's example does not parse: {problems:?}"));
    assert_eq!(spec.trigger.as_str(), "mover");
}
