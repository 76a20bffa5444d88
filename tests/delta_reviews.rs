//! Delta reviews (issue 17): each item shows what the last completed campaign over the same
//! eligibility decided, and is marked "new since the last review" when none did. Run end to
//! end through the public surfaces: a first campaign decided from the mailed link and run to
//! completion on the manual clock, an eligibility added by `attest import`, a second campaign
//! launched by `attest campaign launch`, then the reviewer's page from the new mail, the REST
//! API and the evidence bundle (`attest evidence export` / `verify`), each checked against the
//! database.
//!
//! Each test gets its own database (SQLite, or PostgreSQL with ATTEST_TEST_DATABASE_URL) and
//! its own SMTP server.

mod common;

use attest::domain::access::Role;
use common::app::{field_value, set_cookie, TestApp, DEFINITION_NAME};
use common::{at, attest_cli};
use entity::{decision, review_item};
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use std::collections::HashMap;

const GA: &str = "Global Administrator";
const PRA: &str = "Privileged Role Administrator";

/// The item of `holder` in `role` at `scope` among `items`.
fn item_of<'a>(
    items: &'a [review_item::Model],
    holder: &str,
    role: &str,
    scope: &str,
) -> &'a review_item::Model {
    items
        .iter()
        .find(|i| i.holder_external_id == holder && i.role_name == role && i.scope == scope)
        .unwrap_or_else(|| panic!("an item for {holder} in {role} at {scope}: {items:?}"))
}

/// The part of the review page that shows one item (its fieldset).
fn fieldset(body: &str, item: i64) -> String {
    let start = body
        .find(&format!("id=\"item-{item}\""))
        .unwrap_or_else(|| panic!("the page shows item {item}:\n{body}"));
    let end = body[start..]
        .find("</fieldset>")
        .map_or(body.len(), |e| start + e);
    body[start..end].to_string()
}

/// An admin console page, read as a browser would after signing in with `email` (an admin
/// account with the password [`PASSWORD`]).
async fn console_page(app: &TestApp, email: &str, path: &str) -> String {
    let form = app
        .http
        .get(app.url("/login"))
        .send()
        .await
        .expect("GET /login");
    let cookie = set_cookie(&form, "attest_login").expect("the login cookie");
    let csrf = field_value(&form.text().await.expect("the login page"), "csrf").expect("csrf");
    let signed_in = app
        .http
        .post(app.url("/login"))
        .header(reqwest::header::COOKIE, format!("attest_login={cookie}"))
        .form(&[
            ("email", email),
            ("password", PASSWORD),
            ("csrf", &csrf),
            ("next", ""),
        ])
        .send()
        .await
        .expect("POST /login");
    assert_eq!(
        signed_in.status(),
        StatusCode::SEE_OTHER,
        "{email} signs in"
    );
    let session = set_cookie(&signed_in, "attest_session").expect("a session");
    let page = app
        .http
        .get(app.url(path))
        .header(reqwest::header::COOKIE, format!("attest_session={session}"))
        .send()
        .await
        .expect("GET a console page");
    assert_eq!(page.status(), StatusCode::OK, "{path}");
    page.text().await.expect("the page")
}

/// The console's row of item `id` in a campaign page's item list.
fn console_row(html: &str, id: i64) -> String {
    let start = html
        .find(&format!("<tr><td>{id}</td>"))
        .unwrap_or_else(|| panic!("the console lists item {id}:\n{html}"));
    let end = html[start..]
        .find("</tr>")
        .map_or(html.len(), |e| start + e);
    html[start..end].to_string()
}

const PASSWORD: &str = "a long enough password";

/// items.csv of a bundle folder, by item id, each row by column name.
fn items_csv(dir: &std::path::Path) -> HashMap<i64, HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(dir.join("items.csv")).expect("items.csv");
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        header,
        attest::engine::evidence::ITEM_COLUMNS.to_vec(),
        "the header of items.csv"
    );
    reader
        .records()
        .map(|r| {
            let row: HashMap<String, String> = header
                .iter()
                .cloned()
                .zip(r.expect("a record").iter().map(str::to_string))
                .collect();
            (row["item_id"].parse().expect("an item id"), row)
        })
        .collect()
}

#[tokio::test]
async fn each_item_shows_its_last_review_or_that_it_is_new() {
    let Some(app) = TestApp::spawn("each_item_shows_its_last_review_or_that_it_is_new").await
    else {
        return;
    };
    let conn = app.engine.store().conn();
    app.import_org().await;
    app.define().await;
    let first = app.launch_defined().await;
    app.drain_mail().await;
    let items = app.items(first.campaign_id).await;
    let a1_ga = item_of(&items, "a1", GA, "/").id;
    let a2_ga = item_of(&items, "a2", GA, "/").id;
    let a3_pra = item_of(&items, "a3", PRA, "/").id;

    // The first campaign of all: every item on Maria's page is new since the last review.
    let maria = app.link_for("maria@org.test");
    let page = app.get(&maria).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for id in [a1_ga, a2_ga, a3_pra] {
        assert!(
            fieldset(&page.body, id).contains("New since the last review"),
            "item {id}: {}",
            fieldset(&page.body, id)
        );
    }

    // Maria keeps Anna's Global Administrator and revokes Arne's; Aiko's is left to the policy
    // (keep).
    let form = [
        ("csrf".to_string(), page.csrf()),
        (format!("item-{a1_ga}"), "attest".to_string()),
        (format!("why-{a1_ga}"), "Runs the tenant".to_string()),
        (format!("item-{a2_ga}"), "revoke".to_string()),
        (format!("why-{a2_ga}"), "Moved to sales".to_string()),
        ("action".to_string(), "save".to_string()),
    ];
    let saved = app.post(&maria, &form).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let decided_at = app
        .item(a1_ga)
        .await
        .decided_at
        .expect("Anna's item is decided");
    app.run_to_completion(first.campaign_id).await;

    // A new eligibility for Aiko, imported through the CLI beside the ones already there.
    let file = app.db.file(
        "more-eligibility.csv",
        "principal_id,role,scope,start,end,last_activated_at\n\
         a3,Global Administrator,/,2027-02-01,,\n",
    );
    let (code, out, err) = attest_cli(&app.db, &["import", "eligibility", file.to_str().unwrap()]);
    assert_eq!(code, 0, "import: {out}{err}");

    // Next quarter's campaign, launched through the REST API (on the app's manual clock).
    let token = app.admin_api_token("delta test").await;
    app.clock.set(at("2027-04-05T08:00:00Z"));
    let answer = app
        .http
        .post(app.url("/api/v1/campaigns"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "definition": DEFINITION_NAME }))
        .send()
        .await
        .expect("POST campaigns");
    assert_eq!(answer.status(), StatusCode::CREATED);
    let launched: serde_json::Value = answer.json().await.expect("JSON");
    let second = launched["campaign"]["id"]
        .as_i64()
        .or(launched["id"].as_i64())
        .unwrap_or_else(|| panic!("the campaign's id: {launched}"));
    assert_ne!(second, first.campaign_id);
    app.drain_mail().await;
    let items2 = app.items(second).await;
    let a1_ga2 = item_of(&items2, "a1", GA, "/").id;
    let a3_pra2 = item_of(&items2, "a3", PRA, "/").id;
    let a3_ga2 = item_of(&items2, "a3", GA, "/").id;
    assert!(
        !items2
            .iter()
            .any(|i| i.holder_external_id == "a2" && i.role_name == GA),
        "Arne's revoked eligibility was removed and is not reviewed again"
    );

    // The reviewer's page from the new mail.
    let maria2 = app.latest_link("maria@org.test");
    assert_ne!(maria2, maria);
    let page = app.get(&maria2).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let anna = fieldset(&page.body, a1_ga2);
    let day = decided_at.format("%-d %b %Y").to_string();
    for text in [
        "Kept by Maria Manager (m1)",
        day.as_str(),
        "reviewer-flow 2027-Q1",
        "Runs the tenant",
    ] {
        assert!(anna.contains(text), "Anna's item says {text:?}: {anna}");
    }
    assert!(!anna.contains("New since the last review"), "{anna}");
    let aiko = fieldset(&page.body, a3_pra2);
    assert!(
        aiko.contains("Kept by the campaign&#39;s policy (no answer)")
            && aiko.contains("on_no_response = keep"),
        "Aiko's PRA was kept by the policy: {aiko}"
    );
    let aiko_new = fieldset(&page.body, a3_ga2);
    assert!(
        aiko_new.contains("New since the last review"),
        "Aiko's new eligibility: {aiko_new}"
    );

    // The REST API's view of Maria's items says the same.
    let answer = app
        .http
        .get(app.url(&format!("/api/v1/campaigns/{second}/items?reviewer=m1")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET items");
    assert_eq!(answer.status(), StatusCode::OK);
    let body: serde_json::Value = answer.json().await.expect("JSON");
    let by_id: HashMap<i64, &serde_json::Value> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| (i["id"].as_i64().expect("an id"), i))
        .collect();
    let anna = by_id[&a1_ga2];
    assert_eq!(anna["new_since_last_review"], false, "{anna}");
    assert_eq!(anna["previous"]["campaign_id"], first.campaign_id);
    assert_eq!(anna["previous"]["verdict"], "attest");
    assert_eq!(anna["previous"]["made_by"], "human");
    assert_eq!(anna["previous"]["decided_by"], "m1");
    assert_eq!(anna["previous"]["justification"], "Runs the tenant");
    let aiko = by_id[&a3_pra2];
    assert_eq!(aiko["previous"]["made_by"], "policy", "{aiko}");
    assert_eq!(aiko["previous"]["decided_by"], "policy", "{aiko}");
    let aiko_new = by_id[&a3_ga2];
    assert_eq!(aiko_new["new_since_last_review"], true, "{aiko_new}");
    assert!(aiko_new["previous"].is_null(), "{aiko_new}");

    // The console's item list, as an admin reads it.
    let console = console_page(
        &app,
        "admin@org.test",
        &format!("/admin/campaigns/{second}"),
    )
    .await;
    assert!(
        console.contains("Last review"),
        "the item list has the column"
    );
    let anna = console_row(&console, a1_ga2);
    assert!(
        anna.contains("attest by m1 (reviewer-flow 2027-Q1)"),
        "{anna}"
    );
    let aiko = console_row(&console, a3_pra2);
    assert!(
        aiko.contains("attest by policy (reviewer-flow 2027-Q1)"),
        "{aiko}"
    );
    let aiko_new = console_row(&console, a3_ga2);
    assert!(aiko_new.contains("new since the last review"), "{aiko_new}");

    // The evidence of the second campaign: exported and verified through the CLI, each item's
    // last review as the database holds the first campaign's decision.
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
    let rows = items_csv(&out_dir);
    assert_eq!(rows.len(), items2.len());
    let first_item = app.item(a1_ga).await;
    let first_decision =
        decision::Entity::find_by_id(first_item.current_decision_id.expect("decided"))
            .one(conn)
            .await
            .expect("read decision")
            .expect("the decision exists");
    let anna = &rows[&a1_ga2];
    assert_eq!(anna["new_since_last_review"], "no");
    assert_eq!(anna["previous_campaign_id"], first.campaign_id.to_string());
    assert_eq!(anna["previous_campaign"], "reviewer-flow 2027-Q1");
    assert_eq!(
        anna["previous_decision"],
        first_item.verdict.clone().unwrap()
    );
    assert_eq!(anna["previous_decided_by_kind"], "human");
    assert_eq!(anna["previous_decided_by"], "m1");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(&anna["previous_decided_at"]).expect("a time"),
        first_decision.decided_at
    );
    assert_eq!(
        anna["previous_justification"],
        first_decision.justification.clone().unwrap()
    );
    let aiko = &rows[&a3_pra2];
    assert_eq!(aiko["previous_decided_by_kind"], "policy");
    assert_eq!(aiko["previous_decided_by"], "policy");
    assert_eq!(aiko["previous_decision"], "attest");
    let aiko_new = &rows[&a3_ga2];
    assert_eq!(aiko_new["new_since_last_review"], "yes");
    assert_eq!(aiko_new["previous_campaign_id"], "");
    assert_eq!(aiko_new["previous_decision"], "");
    let facts: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out_dir.join("campaign.json")).expect("campaign.json"),
    )
    .expect("JSON");
    let new_count = items2
        .iter()
        .filter(|i| rows[&i.id]["new_since_last_review"] == "yes")
        .count();
    assert_eq!(new_count, 1, "only Aiko's new eligibility is new");
    assert_eq!(
        facts["population"]["previous_review"]["new_since_last_review"],
        1
    );
    assert_eq!(
        facts["population"]["previous_review"]["reviewed_before"],
        items2.len() - 1
    );
}

/// The README's example definition for delta reviews defines as it is written.
#[test]
fn the_readme_delta_example_parses() {
    let toml = common::readme_toml("### Delta reviews");
    if let Err(problems) = attest::domain::definition::CampaignSpec::from_toml(&toml) {
        panic!("the README's delta example does not parse: {problems:?}");
    }
}

/// The people file of [`common::app::PEOPLE`] with extra columns: a title and a department for
/// everyone, and fifteen more that nobody fills in, so the seventeenth extra column is one too
/// many.
fn people_with_attributes(anna_title: &str) -> String {
    let extra: Vec<String> = (1..=15).map(|n| format!("x{n}")).collect();
    let mut out = format!(
        "id,name,email,manager_id,kind,enabled,Title,department,{}\n",
        extra.join(",")
    );
    for line in common::app::PEOPLE.lines().skip(1) {
        let id = line.split(',').next().expect("an id");
        let (title, department) = match id {
            "a1" => (anna_title, "Platform"),
            "a2" => ("Analyst", "Finance"),
            _ => ("Staff", "Operations"),
        };
        out.push_str(&format!("{line},{title},{department}{}\n", ",".repeat(15)));
    }
    out
}

#[tokio::test]
async fn the_named_person_attributes_are_shown_beside_each_holder_as_frozen_at_launch() {
    let Some(app) = TestApp::spawn(
        "the_named_person_attributes_are_shown_beside_each_holder_as_frozen_at_launch",
    )
    .await
    else {
        return;
    };
    let conn = app.engine.store().conn();
    // The people import keeps the extra columns (16 of them), and warns about the one beyond.
    let people = app
        .db
        .file("people.csv", &people_with_attributes("Cloud Engineer"));
    let (code, out, err) = attest_cli(&app.db, &["import", "people", people.to_str().unwrap()]);
    assert_eq!(code, 0, "import people: {out}{err}");
    assert!(
        format!("{out}{err}").contains("unknown column \"x15\" ignored"),
        "the seventeenth extra column is warned about: {out}{err}"
    );
    assert!(
        !format!("{out}{err}").contains("unknown column \"title\""),
        "{out}{err}"
    );
    let anna = app.principal("a1").await;
    let attributes: serde_json::Value =
        serde_json::from_str(anna.attributes.as_deref().expect("Anna has attributes"))
            .expect("JSON");
    assert_eq!(
        attributes,
        serde_json::json!({ "title": "Cloud Engineer", "department": "Platform" }),
        "header names in lower case, empty cells left out"
    );
    for (kind, name, content) in [
        ("roles", "roles.csv", common::app::ROLES),
        ("eligibility", "eligibility.csv", common::app::ELIGIBILITY),
    ] {
        let path = app.db.file(name, content);
        let (code, out, err) = attest_cli(&app.db, &["import", kind, path.to_str().unwrap()]);
        assert_eq!(code, 0, "import {kind}: {out}{err}");
    }
    app.define_as(
        "context.toml",
        &common::app::DEFINITION.replace(
            "[scope]",
            "context = [\"title\", \"department\"]\n\n[scope]",
        ),
    )
    .await;
    let launched = app.launch_defined().await;
    app.drain_mail().await;
    let items = app.items(launched.campaign_id).await;
    let a1_ga = item_of(&items, "a1", GA, "/");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(a1_ga.holder_context.as_deref().expect("frozen"))
            .expect("JSON"),
        attributes,
        "the holder's attributes are frozen with the item"
    );
    let launch_event = entity::audit_event::Entity::find()
        .all(conn)
        .await
        .expect("audit")
        .into_iter()
        .find(|e| e.action == "campaign.launched")
        .expect("the launch is audited");
    let details: serde_json::Value = serde_json::from_str(&launch_event.details).expect("JSON");
    assert_eq!(
        details["context"],
        serde_json::json!(["title", "department"])
    );
    assert_eq!(details["items_with_context"], items.len());

    // Anna is promoted after the launch: the campaign keeps showing what was true at launch.
    let people = app
        .db
        .file("people.csv", &people_with_attributes("Head of Platform"));
    let (code, out, err) = attest_cli(&app.db, &["import", "people", people.to_str().unwrap()]);
    assert_eq!(code, 0, "import people again: {out}{err}");
    assert!(app
        .principal("a1")
        .await
        .attributes
        .unwrap_or_default()
        .contains("Head of Platform"));

    let page = app.get(&app.link_for("maria@org.test")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let anna_group = {
        let start = page.body.find("Anna One").expect("Anna's group");
        let end = page.body[start..]
            .find("<fieldset")
            .map_or(page.body.len(), |e| start + e);
        page.body[start..end].to_string()
    };
    for text in [
        "<dt>title</dt><dd>Cloud Engineer</dd>",
        "<dt>department</dt><dd>Platform</dd>",
    ] {
        assert!(
            anna_group.contains(text),
            "{text} beside Anna: {anna_group}"
        );
    }
    assert!(!page.body.contains("Head of Platform"), "{}", page.body);
    let arne = page.body.find("Arne Two").expect("Arne's group");
    assert!(page.body[arne..].contains("<dd>Analyst</dd>"));

    // The API and the evidence show the named attributes, as frozen.
    app.engine
        .add_account(
            "auditor@org.test",
            Role::Admin,
            "a long enough password",
            "test",
        )
        .await
        .expect("an account");
    let operator = app
        .engine
        .account_operator("auditor@org.test")
        .await
        .expect("the account");
    let token = app
        .engine
        .create_api_token(&operator, "context test", Role::Auditor)
        .await
        .expect("a token");
    let answer = app
        .http
        .get(app.url(&format!(
            "/api/v1/campaigns/{}/items?holder=a1",
            launched.campaign_id
        )))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET items");
    assert_eq!(answer.status(), StatusCode::OK);
    let body: serde_json::Value = answer.json().await.expect("JSON");
    let listed = body["items"].as_array().expect("items");
    assert_eq!(listed.len(), 2, "{body}");
    for item in listed {
        assert_eq!(
            item["holder_context"],
            serde_json::json!([
                { "name": "title", "value": "Cloud Engineer" },
                { "name": "department", "value": "Platform" },
            ]),
            "the named attributes, in the definition's order: {item}"
        );
    }
    let console = console_page(
        &app,
        "auditor@org.test",
        &format!("/admin/campaigns/{}", launched.campaign_id),
    )
    .await;
    let row = console_row(&console, a1_ga.id);
    assert!(
        row.contains("title: Cloud Engineer, department: Platform"),
        "{row}"
    );

    let out_dir = app.db.dir().join("bundle-context");
    let (code, out, err) = attest_cli(
        &app.db,
        &[
            "evidence",
            "export",
            &launched.campaign_id.to_string(),
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "export: {out}{err}");
    let (code, out, err) = attest_cli(&app.db, &["evidence", "verify", out_dir.to_str().unwrap()]);
    assert_eq!(code, 0, "verify: {out}{err}");
    let rows = items_csv(&out_dir);
    let cell: serde_json::Value =
        serde_json::from_str(&rows[&a1_ga.id]["holder_context"]).expect("a JSON object");
    assert_eq!(cell, attributes);
    for item in &items {
        assert!(
            !rows[&item.id]["holder_context"].is_empty(),
            "every holder has a title: {:?}",
            rows[&item.id]
        );
    }
}
