//! Where eligibility lives (issue 13). What a campaign removed is never reinstated silently: an
//! import that lists it again counts it, names it, audits it and records it as a finding.
//!
//! Every test gets its own database (SQLite, or PostgreSQL with ATTEST_TEST_DATABASE_URL) and
//! drives the real `attest` binary as an admin would.

mod common;
#[path = "sources/graph.rs"]
mod graph;
#[path = "sources/graph_activations.rs"]
mod graph_activations;
#[path = "sources/graph_campaign.rs"]
mod graph_campaign;
#[path = "sources/graph_standing.rs"]
mod graph_standing;
#[path = "sources/graph_standing_suspend.rs"]
mod graph_standing_suspend;
#[path = "sources/ldap.rs"]
mod ldap;
#[path = "sources/ldap_campaign.rs"]
mod ldap_campaign;
#[path = "sources/webhook.rs"]
mod webhook;

use common::app::{DEFINITION, ELIGIBILITY, PEOPLE, ROLES};
use common::{attest_cli, TestDb};
use sea_orm::{EntityTrait, PaginatorTrait};

fn ok(db: &TestDb, args: &[&str]) -> String {
    let (code, out, err) = attest_cli(db, args);
    assert_eq!(code, 0, "attest {args:?}:\nstdout:\n{out}\nstderr:\n{err}");
    out
}

fn json(db: &TestDb, args: &[&str]) -> serde_json::Value {
    let out = ok(db, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("attest {args:?}: not JSON ({e}):\n{out}"))
}

fn import(db: &TestDb, kind: &str, name: &str, content: &str) -> serde_json::Value {
    let path = db.file(name, content);
    json(db, &["import", kind, &path.to_string_lossy(), "--json"])
}

async fn reappearance_rows(db: &TestDb) -> u64 {
    entity::reappearance::Entity::find()
        .count(db.store().await.conn())
        .await
        .expect("count reappearances")
}

#[tokio::test]
async fn eligibility_a_campaign_removed_and_an_import_lists_again_is_reported_not_silently_reinstated(
) {
    let db = TestDb::new().await;
    import(&db, "people", "people.csv", PEOPLE);
    import(&db, "roles", "roles.csv", ROLES);
    import(&db, "eligibility", "eligibility.csv", ELIGIBILITY);
    // Unanswered items are removed, with no cap: closing removes all six reviewed eligibilities.
    let definition = DEFINITION.replace(
        "on_no_response = \"keep\"",
        "on_no_response = \"remove\"\nmax_auto_remove_percent = 100",
    );
    let path = db.file("definition.toml", &definition);
    ok(&db, &["campaign", "define", &path.to_string_lossy()]);
    let id = json(&db, &["campaign", "launch", "reviewer-flow", "--json"])["id"]
        .as_i64()
        .expect("id");
    ok(&db, &["campaign", "close", &id.to_string()]);
    // A safety rail may hold a role's last holders for confirmation; release them.
    let _ = attest_cli(&db, &["campaign", "confirm-removals", &id.to_string()]);
    let removed = json(&db, &["eligibility", "list", "--all", "--json"]);
    let removed: Vec<&serde_json::Value> = removed
        .as_array()
        .expect("array")
        .iter()
        .filter(|e| e["status"] == "removed")
        .collect();
    assert_eq!(
        removed.len(),
        6,
        "the campaign removed the six reviewed eligibilities"
    );

    // The routine import of the same file: six reappear, each named with its campaign.
    let path = db.file("eligibility-again.csv", ELIGIBILITY);
    let (code, out, err) = attest_cli(&db, &["import", "eligibility", &path.to_string_lossy()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("REAPPEARED: 6 eligibilities a campaign had removed"),
        "the import does not say what came back:\n{out}"
    );
    assert!(
        out.contains(&format!(
            "a1 × Global Administrator × /: removed by campaign #{id}"
        )),
        "the import does not name what came back:\n{out}"
    );
    assert_eq!(reappearance_rows(&db).await, 6);
    let events = json(&db, &["audit", "log", "--limit", "1", "--json"]);
    let event = &events.as_array().expect("events")[0];
    assert_eq!(event["action"], "import.eligibility", "{event}");
    let details: serde_json::Value =
        serde_json::from_str(event["details"].as_str().expect("details")).expect("json");
    assert_eq!(
        details["reappeared"], 6,
        "the import's audit event does not count the reappeared: {event}"
    );
    assert_eq!(details["reappeared_examples"][0]["campaign_id"], id);
    let listed = json(&db, &["eligibility", "reappeared", "--json"]);
    assert_eq!(listed["total"], 6, "{listed}");
    assert_eq!(listed["items"][0]["campaign_id"], id, "{listed}");
    assert_eq!(listed["items"][0]["status_now"], "active", "{listed}");
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let monthly = json(&db, &["report", "monthly", "--month", &month, "--json"]);
    assert_eq!(monthly["reappeared"], 6, "{monthly}");

    // The campaign's evidence now records access that did not stay removed: the bundle is
    // intact, and verify says it is not consistent, with the count, and exits 4.
    let bundle = db.dir().join("bundle.zip");
    ok(
        &db,
        &[
            "evidence",
            "export",
            &id.to_string(),
            "--out",
            &bundle.to_string_lossy(),
        ],
    );
    let (code, out, err) = attest_cli(&db, &["evidence", "verify", &bundle.to_string_lossy()]);
    assert_eq!(code, 4, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("bundle intact"), "{out}");
    assert!(
        out.contains("consistency: NOT consistent: 6 of 6 eligibilities"),
        "{out}"
    );

    // The next review of that access carries the finding in its evidence.
    let next = json(
        &db,
        &["campaign", "launch", "reviewer-flow", "--adhoc", "--json"],
    )["id"]
        .as_i64()
        .expect("id");
    let folder = db.dir().join("next-bundle");
    ok(
        &db,
        &[
            "evidence",
            "export",
            &next.to_string(),
            "--out",
            &folder.to_string_lossy(),
        ],
    );
    let campaign: serde_json::Value = serde_json::from_slice(
        &std::fs::read(folder.join("campaign.json")).expect("campaign.json"),
    )
    .expect("json");
    let finding = &campaign["findings"]["reappeared"];
    assert_eq!(finding["count"], 6, "{finding}");
    assert_eq!(
        finding["listed"][0]["removed_by_campaign_id"], id,
        "{finding}"
    );
    let report = std::fs::read_to_string(folder.join("report.html")).expect("report.html");
    assert!(
        report.contains("6 items are eligibilities that an earlier campaign removed"),
        "report.html does not show the finding"
    );

    // Importing again finds them active: nothing new reappears, nothing more is recorded.
    let again = import(&db, "eligibility", "eligibility-third.csv", ELIGIBILITY);
    assert_eq!(again["reappeared"], 0, "{again}");
    assert_eq!(reappearance_rows(&db).await, 6);
}

#[tokio::test]
async fn eligibility_an_import_pruned_and_lists_again_is_no_finding() {
    let db = TestDb::new().await;
    import(&db, "people", "people.csv", PEOPLE);
    import(&db, "roles", "roles.csv", ROLES);
    import(&db, "eligibility", "eligibility.csv", ELIGIBILITY);
    let fewer: String = ELIGIBILITY
        .lines()
        .filter(|l| !l.starts_with("b1,"))
        .map(|l| format!("{l}\n"))
        .collect();
    let path = db.file("fewer.csv", &fewer);
    let pruned = json(
        &db,
        &[
            "import",
            "eligibility",
            &path.to_string_lossy(),
            "--prune",
            "--json",
        ],
    );
    assert_eq!(pruned["pruned"], 1, "{pruned}");
    let back = import(&db, "eligibility", "all-again.csv", ELIGIBILITY);
    assert_eq!(back["updated"], 1, "{back}");
    assert_eq!(back["reappeared"], 0, "{back}");
    assert_eq!(reappearance_rows(&db).await, 0);
}
