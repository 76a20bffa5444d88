//! Standing access (issue 17): active role assignments (permanent or time-bound, held without
//! activation) imported beside eligibility with the `assignment` column, reviewed in a campaign
//! as items of their own kind (flagged "standing access", recommended "convert to eligible"),
//! counted on their own in every summary, in the evidence and in `report monthly`.
//!
//! End to end through public surfaces: the files imported with `attest import`, the campaign
//! launched through the REST API, decided from the reviewers' mailed links, run to completion
//! on the manual clock, the evidence exported and verified with the CLI. Each test gets its own
//! database (SQLite, or PostgreSQL with ATTEST_TEST_DATABASE_URL) and its own SMTP server.

mod common;

use common::app::{TestApp, DEFINITION_NAME, PEOPLE, ROLES};
use common::attest_cli;
use entity::eligibility;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

const GA: &str = "Global Administrator";
const PRA: &str = "Privileged Role Administrator";

/// Maria (m1) reviews Anna's GA (eligible), Arne's GA, Aiko's PRA and Anna's PRA at prod (all
/// three standing); Mark (m2) reviews Bea's GA (standing) and Bo's PRA (eligible). Arne's
/// Reader is standing access out of the campaign's (high-risk) scope.
const ELIGIBILITY: &str = "\
principal_id,role,scope,start,end,last_activated_at,assignment
a1,Global Administrator,/,2025-01-10,,2026-12-01,
a2,Global Administrator,/,2024-05-02,,,active
a3,Privileged Role Administrator,/,2024-05-02,,,active
a1,Privileged Role Administrator,/subscriptions/prod,2025-01-10,,2026-12-01,ACTIVE
b1,Global Administrator,/,2025-01-10,,2026-12-01,active
b2,Privileged Role Administrator,/,2025-01-10,,2026-12-01,eligible
a2,Reader,/,2025-01-10,,,active
";

fn import(app: &TestApp, kind: &str, name: &str, content: &str) -> (i32, String, String) {
    let file = app.db.file(name, content);
    attest_cli(&app.db, &["import", kind, file.to_str().expect("path")])
}

async fn held(app: &TestApp, holder: &str, role: &str, scope: &str) -> eligibility::Model {
    let p = app.principal(holder).await;
    let roles = entity::role::Entity::find()
        .filter(entity::role::Column::Name.eq(role))
        .one(app.engine.store().conn())
        .await
        .expect("role")
        .expect("the role exists");
    eligibility::Entity::find()
        .filter(eligibility::Column::PrincipalId.eq(p.id))
        .filter(eligibility::Column::RoleId.eq(roles.id))
        .filter(eligibility::Column::Scope.eq(scope))
        .one(app.engine.store().conn())
        .await
        .expect("read eligibility")
        .unwrap_or_else(|| panic!("{holder} holds {role} at {scope}"))
}

async fn api(app: &TestApp, token: &str, path: &str) -> Value {
    let answer = app
        .http
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET");
    assert_eq!(answer.status(), StatusCode::OK, "{path}");
    answer.json().await.expect("JSON")
}

/// Imports the organisation with standing access; checks the import's errors and idempotence.
async fn import_org(app: &TestApp) {
    for (kind, name, content) in [
        ("people", "people.csv", PEOPLE),
        ("roles", "roles.csv", ROLES),
    ] {
        let (code, out, err) = import(app, kind, name, content);
        assert_eq!(code, 0, "import {kind}: {out}{err}");
    }
    // A value that is neither eligible nor active is a bad row, named by file, line and field,
    // and the file changes nothing.
    let bad = ELIGIBILITY.replace(
        "a3,Privileged Role Administrator,/,2024-05-02,,,active",
        "a3,Privileged Role Administrator,/,2024-05-02,,,permanent",
    );
    let (code, out, err) = import(app, "eligibility", "bad.csv", &bad);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains(
            "bad.csv:4: assignment: unknown assignment \"permanent\" (expected eligible, active)"
        ),
        "{err}"
    );
    assert!(eligibility::Entity::find()
        .all(app.engine.store().conn())
        .await
        .expect("read")
        .is_empty());

    let (code, out, err) = import(app, "eligibility", "eligibility.csv", ELIGIBILITY);
    assert_eq!(code, 0, "import eligibility: {out}{err}");
    let (code, out, err) = import(app, "eligibility", "eligibility.csv", ELIGIBILITY);
    assert_eq!(code, 0, "again: {out}{err}");
    assert!(
        out.contains("0 new, 0 changed"),
        "importing again changes nothing: {out}"
    );
    for (holder, role, scope, assignment) in [
        ("a1", GA, "/", "eligible"),
        ("a2", GA, "/", "active"),
        ("a3", PRA, "/", "active"),
        ("a1", PRA, "/subscriptions/prod", "active"),
        ("b1", GA, "/", "active"),
        ("b2", PRA, "/", "eligible"),
        ("a2", "Reader", "/", "active"),
    ] {
        assert_eq!(
            held(app, holder, role, scope).await.assignment,
            assignment,
            "{holder} {role} {scope}"
        );
    }
}

#[tokio::test]
async fn standing_access_is_reviewed_counted_and_evidenced() {
    let Some(app) = TestApp::spawn("standing_access_is_reviewed_counted_and_evidenced").await
    else {
        return;
    };
    let conn = app.engine.store().conn();
    import_org(&app).await;
    app.define().await;
    let token = app.admin_api_token("standing access test").await;

    // The preview counts the standing access a launch would review.
    let (code, out, err) = attest_cli(&app.db, &["campaign", "preview", DEFINITION_NAME]);
    assert_eq!(code, 0, "preview: {out}{err}");
    assert!(
        out.contains("standing access (active assignments, recommended: convert to eligible): 4"),
        "{out}"
    );

    let launched = app.launch_defined().await;
    let id = launched.campaign_id;
    let items = app.items(id).await;
    assert_eq!(items.len(), 6, "the six high-risk assignments: {items:?}");
    let item = |holder: &str, role: &str| {
        items
            .iter()
            .find(|i| i.holder_external_id == holder && i.role_name == role && i.scope == "/")
            .or_else(|| {
                items
                    .iter()
                    .find(|i| i.holder_external_id == holder && i.role_name == role)
            })
            .unwrap_or_else(|| panic!("{holder}'s {role}"))
            .clone()
    };
    let (anna_ga, arne_ga, aiko_pra, bea_ga) = (
        item("a1", GA),
        item("a2", GA),
        item("a3", PRA),
        item("b1", GA),
    );
    let anna_prod = items
        .iter()
        .find(|i| i.scope == "/subscriptions/prod")
        .expect("Anna's PRA at prod")
        .clone();
    // Each standing item is frozen as such, flagged with the finding and recommended to be
    // converted, whatever its activation history (Anna's prod PRA was activated recently).
    for i in [&arne_ga, &aiko_pra, &anna_prod, &bea_ga] {
        assert_eq!(i.assignment, "active", "{i:?}");
        assert!(i.flagged, "{i:?}");
        assert_eq!(
            i.flag_reason.as_deref(),
            Some("standing access: an active assignment, held without activation")
        );
        assert_eq!(i.recommendation, "convert_to_eligible", "{i:?}");
    }
    assert_eq!(anna_ga.assignment, "eligible");
    assert!(!anna_ga.flagged);
    assert_eq!(anna_ga.recommendation, "keep");

    // The summary counts standing access on its own, alike on the API and the CLI.
    let view = app.engine.campaign(id).await.expect("show");
    assert_eq!(view.summary.standing_access, 4);
    assert_eq!(view.summary.flagged, 4);
    let shown = api(&app, &token, &format!("/api/v1/campaigns/{id}")).await;
    assert_eq!(shown["summary"]["standing_access"], 4);
    let (code, out, err) = attest_cli(&app.db, &["campaign", "show", &id.to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .any(|l| l.contains("Standing access (active assignments)")
                && l.trim_end().ends_with('4')),
        "{out}"
    );
    // The API and the console list them.
    let standing = api(
        &app,
        &token,
        &format!("/api/v1/campaigns/{id}/items?show=standing"),
    )
    .await;
    assert_eq!(standing["total"], 4, "{standing}");
    assert!(standing["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|i| i["assignment"] == "active"));

    // Maria's invitation says how many of her items are standing access; her page shows each
    // as such, with the suggestion.
    app.drain_mail().await;
    let mail = app.smtp.messages_to("maria@org.test");
    assert!(
        mail.iter()
            .any(|m| m.text.contains("Standing access: 3 of them")),
        "{:?}",
        mail.iter().map(|m| m.text.clone()).collect::<Vec<_>>()
    );
    let link = app.link_for("maria@org.test");
    let page = app.get(&link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.says("Standing access"), "{}", page.body);
    assert!(page.says("Convert to eligible"), "{}", page.body);
    assert!(
        page.body.matches("badge standing").count() == 3,
        "three standing items on Maria's page:\n{}",
        page.body
    );

    assert!(
        page.body
            .contains(&format!("name=\"item-{}\" value=\"convert\"", arne_ga.id)),
        "standing access may be converted"
    );
    assert!(
        !page
            .body
            .contains(&format!("name=\"item-{}\" value=\"convert\"", anna_ga.id)),
        "an eligibility is not offered to be converted"
    );
    // Converting an eligibility is refused, naming the item, and nothing is recorded.
    let refused = app
        .post(
            &link,
            &[
                ("csrf".to_string(), page.csrf()),
                (format!("item-{}", anna_ga.id), "convert".to_string()),
                ("action".to_string(), "save".to_string()),
            ],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(refused.says("only standing access"), "{}", refused.body);
    assert!(app.item(anna_ga.id).await.verdict.is_none());

    // The API refuses it too, whole: a convert of Bo's eligibility with a keep beside it.
    let bo_pra = item("b2", PRA);
    let answer = app
        .http
        .post(app.url(&format!("/api/v1/campaigns/{id}/decisions")))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "items": [
            { "item_id": bo_pra.id, "verdict": "convert" },
            { "item_id": bea_ga.id, "verdict": "attest" },
        ] }))
        .send()
        .await
        .expect("POST decisions");
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = answer.json().await.expect("JSON");
    assert!(
        body.to_string().contains(&format!(
            "item {}: only standing access (an active assignment) can be converted",
            bo_pra.id
        )),
        "{body}"
    );
    assert!(
        app.item(bea_ga.id).await.verdict.is_none(),
        "nothing recorded"
    );

    // Maria converts Arne's GA to eligible, keeps Aiko's PRA and revokes Anna's PRA at prod;
    // Mark leaves Bea's GA unanswered (the policy keeps it).
    let page = app.get(&link).await;
    let form = [
        ("csrf".to_string(), page.csrf()),
        (format!("item-{}", arne_ga.id), "convert".to_string()),
        (format!("item-{}", aiko_pra.id), "attest".to_string()),
        (
            format!("why-{}", aiko_pra.id),
            "On call for the tenant".to_string(),
        ),
        (format!("item-{}", anna_prod.id), "revoke".to_string()),
        (
            format!("why-{}", anna_prod.id),
            "Left the prod team".to_string(),
        ),
        (format!("item-{}", anna_ga.id), "attest".to_string()),
        ("action".to_string(), "save".to_string()),
    ];
    let saved = app.post(&link, &form).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    app.run_to_completion(id).await;

    // The database: the revoked standing assignment is removed, the converted one is an
    // eligibility now, the kept ones stand.
    assert_eq!(
        held(&app, "a1", PRA, "/subscriptions/prod").await.status,
        "removed"
    );
    let arne = held(&app, "a2", GA, "/").await;
    assert_eq!(
        (arne.status.as_str(), arne.assignment.as_str()),
        ("active", "eligible")
    );
    for (holder, role) in [("a3", PRA), ("b1", GA)] {
        let e = held(&app, holder, role, "/").await;
        assert_eq!(
            (e.status.as_str(), e.assignment.as_str()),
            ("active", "active")
        );
    }
    let conversion = entity::remediation::Entity::find()
        .filter(entity::remediation::Column::ItemId.eq(arne_ga.id))
        .one(conn)
        .await
        .expect("read remediation")
        .expect("the conversion is a remediation");
    assert_eq!(
        (conversion.kind.as_str(), conversion.state.as_str()),
        ("convert", "removed")
    );
    let receipt = conversion.receipt.clone().expect("a receipt");
    assert!(
        receipt.starts_with(&format!(
            "builtin:eligibility/{}:converted-to-eligible-by-campaign/{id}@",
            arne_ga.eligibility_id
        )),
        "{receipt}"
    );
    assert!(conversion.verified_at.is_some(), "read back");
    assert_eq!(
        app.item(arne_ga.id).await.outcome.as_deref(),
        Some("converted")
    );
    let view = app.engine.campaign(id).await.expect("show");
    assert_eq!(view.summary.standing_access, 4);
    assert_eq!(view.summary.converted_by_people, 1);
    assert_eq!(view.summary.conversions_done, 1);
    assert_eq!(view.summary.revoked_by_people, 1);
    assert_eq!(view.summary.removals, 1, "a conversion is not a removal");
    assert_eq!(view.summary.removals_done, 1);
    assert_eq!(
        view.summary.kept_by_policy, 2,
        "Mark answers neither of his"
    );
    // The decision is audited with its verdict.
    let decided = entity::audit_event::Entity::find()
        .all(conn)
        .await
        .expect("audit")
        .into_iter()
        .any(|e| e.details.contains("\"verdict\":\"convert\""));
    assert!(decided, "the conversion decision is audited");

    // The evidence: items.csv's last column says which items are standing access, and
    // campaign.json counts them; verify checks the two agree.
    let out_dir = app.db.dir().join("bundle");
    let (code, out, err) = attest_cli(
        &app.db,
        &[
            "evidence",
            "export",
            &id.to_string(),
            "--out",
            out_dir.to_str().expect("path"),
        ],
    );
    assert_eq!(code, 0, "export: {out}{err}");
    let (code, out, err) = attest_cli(&app.db, &["evidence", "verify", out_dir.to_str().unwrap()]);
    assert_eq!(code, 0, "verify: {out}{err}");
    assert!(
        out.contains("items.csv: 4 rows of standing access, as campaign.json counts"),
        "{out}"
    );
    let facts: Value = serde_json::from_slice(
        &std::fs::read(out_dir.join("campaign.json")).expect("campaign.json"),
    )
    .expect("JSON");
    assert_eq!(facts["population"]["standing_access"]["count"], 4);
    assert_eq!(facts["summary"]["standing_access"], 4);
    let csv_text = std::fs::read_to_string(out_dir.join("items.csv")).expect("items.csv");
    let mut csv = csv::Reader::from_reader(csv_text.as_bytes());
    let header = csv.headers().expect("header").clone();
    assert_eq!(
        header.iter().rev().take(3).collect::<Vec<_>>(),
        ["decided_in_stage", "remediation", "assignment"]
    );
    let column = |name: &str| header.iter().position(|h| h == name).expect(name);
    let mut by_item = std::collections::HashMap::new();
    for record in csv.records() {
        let record = record.expect("record");
        by_item.insert(
            record[column("item_id")].to_string(),
            (
                record[column("assignment")].to_string(),
                record[column("recommendation")].to_string(),
                record[column("remediation")].to_string(),
                record[column("outcome")].to_string(),
                record[column("removal_receipt")].to_string(),
            ),
        );
    }
    assert_eq!(
        by_item[&arne_ga.id.to_string()],
        (
            "active".to_string(),
            "convert_to_eligible".to_string(),
            "convert".to_string(),
            "converted".to_string(),
            receipt.clone()
        )
    );
    assert_eq!(
        by_item[&anna_prod.id.to_string()].2,
        "remove",
        "a revocation's remediation removes"
    );
    assert_eq!(
        by_item[&anna_ga.id.to_string()],
        (
            "eligible".to_string(),
            "keep".to_string(),
            String::new(),
            "kept".to_string(),
            String::new()
        )
    );

    // `report monthly` shows the standing access that remains: Aiko's PRA, Bea's GA and Arne's
    // Reader (out of the campaign's scope); Anna's prod PRA is gone, Arne's GA eligible.
    let (code, out, err) = attest_cli(
        &app.db,
        &["report", "monthly", "--month", "2027-01", "--json"],
    );
    assert_eq!(code, 0, "monthly: {out}{err}");
    let monthly: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(monthly["standing_access"], 3, "{monthly}");
    let by_role: Vec<(String, i64)> = monthly["standing_by_role"]
        .as_array()
        .expect("by role")
        .iter()
        .map(|r| {
            (
                r["role"].as_str().unwrap().to_string(),
                r["active"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        by_role,
        [
            (GA.to_string(), 1),
            (PRA.to_string(), 1),
            ("Reader".to_string(), 1)
        ]
    );
    // Eligibility by role counts only eligibilities: Anna's and Arne's GA and Bo's PRA.
    let eligible: i64 = monthly["eligible_by_role"]
        .as_array()
        .expect("eligible")
        .iter()
        .map(|r| r["eligible"].as_i64().unwrap())
        .sum();
    assert_eq!(eligible, 3, "{monthly}");
    let api_monthly = api(&app, &token, "/api/v1/reports/monthly?month=2027-01").await;
    assert_eq!(api_monthly["standing_access"], 3);
    let (code, out, _) = attest_cli(&app.db, &["report", "monthly", "--month", "2027-01"]);
    assert_eq!(code, 0);
    assert!(out.contains("standing access remaining:   3"), "{out}");

    // The file the import came from now lists Arne's GA as eligible: importing it changes
    // nothing more there; one that still lists it active makes it standing access again.
    let converted = ELIGIBILITY.replace(
        "a2,Global Administrator,/,2024-05-02,,,active",
        "a2,Global Administrator,/,2024-05-02,,,",
    );
    let (code, out, err) = import(&app, "eligibility", "eligibility.csv", &converted);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(held(&app, "a2", GA, "/").await.assignment, "eligible");
    let (code, out, err) = import(&app, "eligibility", "eligibility.csv", ELIGIBILITY);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(held(&app, "a2", GA, "/").await.assignment, "active");
}
