//! Delta-only campaigns (issue 17): a definition with `review = "changes"` asks only about what
//! changed since its last completed campaign and carries people's earlier "keep" forward for the
//! rest, in the evidence too. Run end to end: decisions from the mailed links, campaigns run to
//! completion by the scheduler on the manual clock, changes imported with `attest import`, the
//! next quarter's launch previewed and made through the REST API, then the campaign's figures
//! (API, `attest campaign show`) and its evidence bundle (`attest evidence export` / `verify`)
//! checked against the database. A third quarter carries the same decisions again (naming where
//! a person made them); a fourth, past `carry_max_days`, asks about them again.
//!
//! Each test gets its own database (SQLite, or PostgreSQL with ATTEST_TEST_DATABASE_URL) and
//! its own SMTP server.

mod common;

use attest::domain::definition::CampaignSpec;
use common::app::{TestApp, DEFINITION, DEFINITION_NAME};
use common::{at, attest_cli};
use entity::{carried_item, review_item};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::collections::{BTreeSet, HashMap};

const GA: &str = "Global Administrator";
const PRA: &str = "Privileged Role Administrator";

/// The shared reviewer-flow definition, reviewing only changes; a kept decision lasts 200 days.
fn delta_definition() -> String {
    DEFINITION.replace(
        "[scope]",
        "review = \"changes\"\ncarry_max_days = 200\n\n[scope]",
    )
}

/// `(holder, role, scope)` of each item.
fn keys(items: &[review_item::Model]) -> BTreeSet<(String, String, String)> {
    items
        .iter()
        .map(|i| {
            (
                i.holder_external_id.clone(),
                i.role_name.clone(),
                i.scope.clone(),
            )
        })
        .collect()
}

fn key(holder: &str, role: &str, scope: &str) -> (String, String, String) {
    (holder.into(), role.into(), scope.into())
}

fn item_of<'a>(
    items: &'a [review_item::Model],
    holder: &str,
    role: &str,
) -> &'a review_item::Model {
    items
        .iter()
        .find(|i| i.holder_external_id == holder && i.role_name == role && i.scope == "/")
        .unwrap_or_else(|| panic!("an item for {holder} in {role}: {items:?}"))
}

/// Decides `(item, verdict, why)` on the review page behind `link`.
async fn decide(app: &TestApp, link: &str, decisions: &[(i64, &str, &str)]) {
    let page = app.get(link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let mut form = vec![("csrf".to_string(), page.csrf())];
    for (item, verdict, why) in decisions {
        form.push((format!("item-{item}"), verdict.to_string()));
        form.push((format!("why-{item}"), why.to_string()));
    }
    form.push(("action".into(), "save".into()));
    let saved = app.post(link, &form).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
}

/// Launches the definition through the REST API at `when`; returns the campaign's id.
async fn launch_at(app: &TestApp, token: &str, when: &str) -> i64 {
    app.clock.set(at(when));
    let answer = app
        .http
        .post(app.url("/api/v1/campaigns"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "definition": DEFINITION_NAME }))
        .send()
        .await
        .expect("POST campaigns");
    assert_eq!(answer.status(), StatusCode::CREATED);
    let launched: serde_json::Value = answer.json().await.expect("JSON");
    let id = launched["campaign"]["id"]
        .as_i64()
        .or(launched["id"].as_i64())
        .unwrap_or_else(|| panic!("the campaign's id: {launched}"));
    app.drain_mail().await;
    id
}

/// A GET of the REST API as JSON.
async fn api(app: &TestApp, token: &str, path: &str) -> serde_json::Value {
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

/// The decisions campaign `id` carried forward: eligibility id → origin item id.
async fn carried(app: &TestApp, id: i64) -> HashMap<i64, i64> {
    carried_item::Entity::find()
        .filter(carried_item::Column::CampaignId.eq(id))
        .all(app.engine.store().conn())
        .await
        .expect("read carried items")
        .into_iter()
        .map(|c| (c.eligibility_id, c.origin_item_id))
        .collect()
}

/// carried_forward.csv of a bundle folder, each row by column name.
fn carried_csv(dir: &std::path::Path) -> Vec<HashMap<String, String>> {
    let mut reader =
        csv::Reader::from_path(dir.join("carried_forward.csv")).expect("carried_forward.csv");
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(header, attest::engine::evidence::CARRIED_COLUMNS.to_vec());
    reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.expect("a record").iter().map(str::to_string))
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn a_delta_only_campaign_asks_only_about_what_changed_and_carries_the_rest() {
    let Some(app) =
        TestApp::spawn("a_delta_only_campaign_asks_only_about_what_changed_and_carries_the_rest")
            .await
    else {
        return;
    };
    let conn = app.engine.store().conn();
    app.import_org().await;
    app.define_as("delta.toml", &delta_definition()).await;
    let token = app.admin_api_token("delta-only test").await;

    // The first campaign has nothing to carry from: it asks about all six.
    let first = app.launch_defined().await;
    app.drain_mail().await;
    let items1 = app.items(first.campaign_id).await;
    assert_eq!(items1.len(), 6, "{items1:?}");
    assert!(carried(&app, first.campaign_id).await.is_empty());
    let a1_ga = item_of(&items1, "a1", GA);
    let a1_pra_prod = items1
        .iter()
        .find(|i| i.holder_external_id == "a1" && i.scope == "/subscriptions/prod")
        .expect("Anna's PRA at prod");
    let a2_ga = item_of(&items1, "a2", GA);
    let b1_ga = item_of(&items1, "b1", GA);
    // Maria keeps both of Anna's and revokes Arne's; Aiko's PRA is left to the policy (keep).
    // Mark keeps Bea's; Bo's is left to the policy.
    decide(
        &app,
        &app.link_for("maria@org.test"),
        &[
            (a1_ga.id, "attest", "Runs the tenant"),
            (a1_pra_prod.id, "attest", "Owns prod"),
            (a2_ga.id, "revoke", "Moved to sales"),
        ],
    )
    .await;
    decide(
        &app,
        &app.link_for("mark@org.test"),
        &[(b1_ga.id, "attest", "On call")],
    )
    .await;
    app.run_to_completion(first.campaign_id).await;
    let a1_ga = app.item(a1_ga.id).await;

    // Between the quarters: Aiko becomes eligible for Global Administrator, and Bea's
    // eligibility is granted anew (its start moves).
    let file = app.db.file(
        "changes.csv",
        "principal_id,role,scope,start,end,last_activated_at\n\
         a3,Global Administrator,/,2027-02-01,,\n\
         b1,Global Administrator,/,2027-02-15,,2026-12-01\n",
    );
    let (code, out, err) = attest_cli(&app.db, &["import", "eligibility", file.to_str().unwrap()]);
    assert_eq!(code, 0, "import: {out}{err}");

    // The preview says what the launch will carry.
    app.clock.set(at("2027-04-05T08:00:00Z"));
    let preview = api(
        &app,
        &token,
        &format!("/api/v1/definitions/{DEFINITION_NAME}/preview"),
    )
    .await;
    assert_eq!(preview["carried_forward"], 2, "{preview}");
    assert_eq!(preview["population"], 4, "{preview}");

    // Next quarter: only what changed, or what no person kept, is asked about.
    let second = launch_at(&app, &token, "2027-04-05T08:00:00Z").await;
    let items2 = app.items(second).await;
    assert_eq!(
        keys(&items2),
        BTreeSet::from([
            key("a3", PRA, "/"), // the policy kept it: asked again
            key("b2", PRA, "/"), // the policy kept it: asked again
            key("b1", GA, "/"),  // its start changed
            key("a3", GA, "/"),  // new
        ]),
        "Anna's two kept eligibilities are carried; Arne's was removed"
    );
    let carried2 = carried(&app, second).await;
    assert_eq!(
        carried2,
        HashMap::from([
            (a1_ga.eligibility_id, a1_ga.id),
            (a1_pra_prod.eligibility_id, a1_pra_prod.id)
        ])
    );
    // Maria's new mail lists only Aiko's two.
    let maria2 = app.latest_link("maria@org.test");
    let page = app.get(&maria2).await;
    let on_page: BTreeSet<i64> = items2
        .iter()
        .filter(|i| page.body.contains(&format!("id=\"item-{}\"", i.id)))
        .map(|i| i.id)
        .collect();
    let marias: BTreeSet<i64> = items2
        .iter()
        .filter(|i| i.holder_external_id.starts_with('a'))
        .map(|i| i.id)
        .collect();
    assert_eq!(on_page, marias, "{}", page.body);

    // The figures: API and CLI say the same, from the same summary.
    let view = api(&app, &token, &format!("/api/v1/campaigns/{second}")).await;
    assert_eq!(view["summary"]["carried_forward"], 2, "{view}");
    assert_eq!(view["summary"]["population"], 4, "{view}");
    let (code, out, err) = attest_cli(&app.db, &["campaign", "show", &second.to_string()]);
    assert_eq!(code, 0, "show: {out}{err}");
    assert!(
        out.lines()
            .any(|l| l.contains("Carried forward unchanged") && l.trim_end().ends_with(" 2")),
        "{out}"
    );
    let launched = entity::audit_event::Entity::find()
        .filter(entity::audit_event::Column::Action.eq("campaign.launched"))
        .filter(entity::audit_event::Column::Target.eq(format!("campaign:{second}")))
        .one(conn)
        .await
        .expect("audit")
        .expect("the launch is audited");
    let details: serde_json::Value =
        serde_json::from_str(&launched.details).expect("audit details");
    assert_eq!(details["carried_forward"], 2, "{details}");

    // The evidence of the second campaign carries Anna's two decisions, named.
    let out_dir = app.db.dir().join("bundle-2");
    let (code, out, err) = attest_cli(
        &app.db,
        &[
            "evidence",
            "export",
            &second.to_string(),
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "export: {out}{err}");
    let (code, out, err) = attest_cli(&app.db, &["evidence", "verify", out_dir.to_str().unwrap()]);
    assert_eq!(code, 0, "verify: {out}{err}");
    assert!(out.contains("carried_forward.csv: 2 rows"), "{out}");
    let rows = carried_csv(&out_dir);
    assert_eq!(rows.len(), 2);
    let anna = rows
        .iter()
        .find(|r| r["scope"] == "/")
        .expect("Anna's Global Administrator");
    assert_eq!(anna["eligibility_id"], a1_ga.eligibility_id.to_string());
    assert_eq!(anna["holder_id"], "a1");
    assert_eq!(anna["role"], GA);
    assert_eq!(
        anna["decided_in_campaign_id"],
        first.campaign_id.to_string()
    );
    assert_eq!(anna["decided_in_campaign"], "reviewer-flow 2027-Q1");
    assert_eq!(anna["decided_in_item_id"], a1_ga.id.to_string());
    assert_eq!(anna["decision"], "attest");
    assert_eq!(anna["decided_by"], "m1");
    assert_eq!(anna["justification"], "Runs the tenant");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(&anna["decided_at"]).expect("a time"),
        a1_ga.decided_at.expect("decided")
    );
    let facts: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out_dir.join("campaign.json")).expect("campaign.json"),
    )
    .expect("JSON");
    assert_eq!(facts["population"]["carried_forward"]["count"], 2);
    assert_eq!(facts["summary"]["carried_forward"], 2);
    assert_eq!(facts["population"]["at_launch"]["count"], 4);

    // A bundle whose campaign.json claims another count does not verify.
    let json_path = out_dir.join("campaign.json");
    let tampered = std::fs::read_to_string(&json_path)
        .expect("campaign.json")
        .replacen(
            "\"count\": 2,\n      \"file\": \"carried_forward.csv\"",
            "\"count\": 1,\n      \"file\": \"carried_forward.csv\"",
            1,
        );
    assert!(
        tampered.contains("\"count\": 1,\n      \"file\": \"carried_forward.csv\""),
        "{tampered}"
    );
    std::fs::write(&json_path, tampered).expect("write");
    let (code, out, err) = attest_cli(&app.db, &["evidence", "verify", out_dir.to_str().unwrap()]);
    assert_ne!(
        code, 0,
        "a changed campaign.json does not verify: {out}{err}"
    );

    // Third quarter, nobody answers: Anna's decisions are carried again, still naming the first
    // campaign's items where Maria made them.
    app.run_to_completion(second).await;
    let third = launch_at(&app, &token, "2027-07-05T08:00:00Z").await;
    assert_eq!(carried(&app, third).await, carried2);
    assert_eq!(app.items(third).await.len(), 4);

    // Fourth quarter: Maria's decisions are more than 200 days old, so they are asked again.
    app.run_to_completion(third).await;
    let fourth = launch_at(&app, &token, "2027-10-04T08:00:00Z").await;
    assert!(carried(&app, fourth).await.is_empty());
    let items4 = keys(&app.items(fourth).await);
    assert!(items4.contains(&key("a1", GA, "/")), "{items4:?}");
    assert_eq!(items4.len(), 6, "{items4:?}");
}

#[test]
fn a_definition_says_what_is_wrong_with_its_delta_keys() {
    let bad = common::definition_problems;
    let without_changes = DEFINITION.replace("[scope]", "carry_max_days = 30\n\n[scope]");
    assert!(
        bad(&without_changes)
            .iter()
            .any(|e| e.starts_with("carry_max_days:") && e.contains("review = \"changes\"")),
        "{:?}",
        bad(&without_changes)
    );
    let unknown = DEFINITION.replace("[scope]", "review = \"sometimes\"\n\n[scope]");
    assert!(
        bad(&unknown)
            .iter()
            .any(|e| e.starts_with("review:") && e.contains("changes")),
        "{:?}",
        bad(&unknown)
    );
    let too_long = DEFINITION.replace(
        "[scope]",
        "review = \"changes\"\ncarry_max_days = 4000\n\n[scope]",
    );
    assert!(
        bad(&too_long)
            .iter()
            .any(|e| e.starts_with("carry_max_days:")),
        "{:?}",
        bad(&too_long)
    );
    let spec = CampaignSpec::from_toml(&delta_definition()).expect("the delta definition");
    assert_eq!(spec.carry_days(), 200);
    // A definition without the keys stores as it did before they existed.
    let plain = CampaignSpec::from_toml(DEFINITION).expect("the plain definition");
    let json = serde_json::to_string(&plain).expect("JSON");
    assert!(
        !json.contains("\"review\"") && !json.contains("carry_max_days"),
        "{json}"
    );
}

/// The README's example definition for delta-only campaigns defines as it is written.
#[test]
fn the_readme_delta_only_example_parses() {
    let toml = common::readme_toml("### Delta-only campaigns");
    let spec = CampaignSpec::from_toml(&toml)
        .unwrap_or_else(|problems| panic!("the README's example does not parse: {problems:?}"));
    assert_eq!(spec.review.as_str(), "changes");
}
