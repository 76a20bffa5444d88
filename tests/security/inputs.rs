//! Issue 12, items 4, 7 and 8: every place input enters has a limit, control characters are
//! refused by line and field on both databases, JSON imports refuse duplicate keys and wrong
//! types, errors quote only a short prefix of a bad value, and the audit log stores bounded
//! fields. Each test fails on the code before the limits (see tests/security.rs).

use crate::common::app::{Page, TestApp};
use crate::common::{attest_cli, TestDb};
use attest::domain::access::Role;
use attest::domain::limits::{
    API_BODY_MAX_BYTES, DEFINITION_MAX_BYTES, FORM_BODY_MAX_BYTES, REVIEW_FORM_BODY_MAX_BYTES,
};
use attest::domain::records::ImportKind;
use attest::engine::definitions::DefinitionText;
use attest::engine::import::{ImportOptions, ImportReport};
use attest::engine::{Engine, EngineError, NoProgress, Rejection};
use entity::{audit_event, campaign_definition, decision, principal};
use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait, QueryOrder};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

const PEOPLE_HEADER: &str = "id,name,email,manager_id,kind,enabled";

async fn import(
    engine: &Engine,
    kind: ImportKind,
    db: &TestDb,
    name: &str,
    content: &str,
) -> Result<ImportReport, EngineError> {
    let path = db.file(name, content);
    engine
        .import(
            kind,
            attest::engine::import::ImportInput::open(&path).expect("the import file opens"),
            ImportOptions::default(),
            "test",
            &NoProgress,
        )
        .await
}

fn rejected(result: Result<ImportReport, EngineError>) -> Rejection {
    match result {
        Err(EngineError::Rejected(rejection)) => rejection,
        other => panic!("expected the file to be rejected, got {other:?}"),
    }
}

async fn people_count(engine: &Engine) -> u64 {
    principal::Entity::find()
        .count(engine.store().conn())
        .await
        .expect("count principals")
}

async fn audit_count(engine: &Engine) -> u64 {
    audit_event::Entity::find()
        .count(engine.store().conn())
        .await
        .expect("count audit events")
}

async fn decision_count(engine: &Engine) -> u64 {
    decision::Entity::find()
        .count(engine.store().conn())
        .await
        .expect("count decisions")
}

/// An admin account with an API token; the `Authorization` header's value.
async fn admin_bearer(engine: &Engine) -> String {
    engine
        .add_account(
            "admin@org.test",
            Role::Admin,
            "correct horse battery staple",
            "test",
        )
        .await
        .expect("add admin");
    let admin = engine
        .account_operator("admin@org.test")
        .await
        .expect("admin operator");
    let token = engine
        .create_api_token(&admin, "ci-admin", Role::Admin)
        .await
        .expect("admin token");
    format!("Bearer {token}")
}

/// The `error` object of an API answer (panics, showing the body, when there is none).
fn api_error(status: StatusCode, body: &str) -> Value {
    let value: Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {body:.300}"));
    value["error"].clone()
}

/// The mailed link of Maria (the tests' reviewer of four items) and her page.
async fn maria_page(app: &TestApp) -> (String, Page) {
    app.drain_mail().await;
    let link = app.link_for("maria@org.test");
    let page = app.get(&link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    (link, page)
}

// ---------------------------------------------------------------------------------------------
// Justifications.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_1_mb_justification_is_refused_on_the_review_page_and_nothing_is_stored() {
    let Some(app) = TestApp::spawn("a_1_mb_justification_is_refused_on_the_review_page").await
    else {
        return;
    };
    let launched = app.launch().await;
    let maria = app.principal("m1").await;
    let item = *launched.items_of(maria.id).iter().next().expect("an item");
    let (link, page) = maria_page(&app).await;
    let decisions = decision_count(&app.engine).await;
    let audit = audit_count(&app.engine).await;

    let huge = "A".repeat(1_000_000);
    let refused = app
        .post(
            &link,
            &[
                ("csrf", page.csrf()),
                (&format!("item-{item}"), "revoke".into()),
                (&format!("why-{item}"), huge),
            ],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:.500}",
        refused.body
    );
    assert!(
        refused.says("longer than 2000 characters"),
        "the page says why: {:.2000}",
        refused.body
    );
    // The page shows the form again, but never the megabyte it was sent.
    assert!(refused.body.len() < 100_000, "{} bytes", refused.body.len());
    assert_eq!(decision_count(&app.engine).await, decisions);
    assert_eq!(audit_count(&app.engine).await, audit);
    assert_eq!(app.item(item).await.verdict, None);

    // The limit itself is accepted.
    let longest = "B".repeat(2_000);
    let saved = app
        .post(
            &link,
            &[
                ("csrf", page.csrf()),
                (&format!("item-{item}"), "revoke".into()),
                (&format!("why-{item}"), longest.clone()),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{:.500}", saved.body);
    let decision_id = app
        .item(item)
        .await
        .current_decision_id
        .expect("a decision");
    let stored = decision::Entity::find_by_id(decision_id)
        .one(app.engine.store().conn())
        .await
        .expect("read the decision")
        .expect("the decision exists");
    assert_eq!(stored.justification.as_deref(), Some(longest.as_str()));
}

#[tokio::test]
async fn a_1_mb_justification_is_refused_by_the_api_and_nothing_is_stored() {
    let Some(app) = TestApp::spawn("a_1_mb_justification_is_refused_by_the_api").await else {
        return;
    };
    let launched = app.launch().await;
    let bearer = admin_bearer(&app.engine).await;
    let item = *launched
        .items_of(app.principal("m1").await.id)
        .iter()
        .next()
        .expect("an item");
    let decisions = decision_count(&app.engine).await;
    let audit = audit_count(&app.engine).await;
    let body = json!({"items": [{"item_id": item, "verdict": "revoke", "justification": "A".repeat(1_000_000)}]});
    let answer = app
        .http
        .post(app.url(&format!(
            "/api/v1/campaigns/{}/decisions",
            launched.campaign_id
        )))
        .header("authorization", &bearer)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("POST decisions");
    let status = answer.status();
    let text = answer.text().await.expect("read the answer");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text:.500}");
    let error = api_error(status, &text);
    assert_eq!(error["code"], "invalid", "{error}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("justification: longer than 2000 characters"),
        "{message}"
    );
    assert!(
        text.len() < 1_000,
        "the answer quotes a short prefix: {text:.500}"
    );
    assert_eq!(decision_count(&app.engine).await, decisions);
    assert_eq!(audit_count(&app.engine).await, audit);
}

/// The largest legitimate post from a reviewer's page: a thousand items, each answered with a
/// justification, fits the limit with room to spare (the limit's comment quotes this size).
#[tokio::test]
async fn a_thousand_item_review_page_with_justifications_fits_the_form_limit() {
    let Some(app) = TestApp::spawn("a_thousand_item_review_page_fits").await else {
        return;
    };
    app.import_org().await;
    let mut eligibility = String::from("principal_id,role,scope\n");
    for i in 0..1_000 {
        eligibility.push_str(&format!(
            "a1,Global Administrator,/subscriptions/bulk-{i:04}\n"
        ));
    }
    import(
        &app.engine,
        ImportKind::Eligibility,
        &app.db,
        "bulk.csv",
        &eligibility,
    )
    .await
    .expect("import 1,000 eligibilities");
    app.define().await;
    let launched = app.launch_defined().await;
    let items = launched.items_of(app.principal("m1").await.id).clone();
    assert!(items.len() > 1_000, "{} items", items.len());
    let (link, page) = maria_page(&app).await;

    let why = "Still on the on-call rota; activation reviewed with the team lead this quarter. "
        .repeat(3)[..200]
        .to_string();
    let mut form: Vec<(String, String)> = vec![("csrf".into(), page.csrf())];
    for item in &items {
        form.push((format!("item-{item}"), "revoke".into()));
        form.push((format!("why-{item}"), why.clone()));
    }
    form.push(("bulk_why".into(), String::new()));
    form.push(("action".into(), "save".into()));
    let size = serde_urlencoded::to_string(&form).expect("encode").len();
    eprintln!(
        "{} items with a 200-character justification each: {size} bytes (limit {REVIEW_FORM_BODY_MAX_BYTES})",
        items.len()
    );
    assert!(size * 3 < REVIEW_FORM_BODY_MAX_BYTES, "{size} bytes");
    let saved = app.post(&link, &form).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{:.1000}", saved.body);
    assert_eq!(decision_count(&app.engine).await, items.len() as u64);
}

// ---------------------------------------------------------------------------------------------
// Request bodies.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_oversized_json_body_gets_a_413_json_error_naming_the_limit() {
    let Some(app) = TestApp::spawn("an_oversized_json_body_gets_a_413").await else {
        return;
    };
    let bearer = admin_bearer(&app.engine).await;
    let audit = audit_count(&app.engine).await;
    let body = json!({"items": [], "reviewer": "x".repeat(API_BODY_MAX_BYTES)});
    let answer = app
        .http
        .post(app.url("/api/v1/campaigns/1/decisions"))
        .header("authorization", &bearer)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("POST decisions");
    let status = answer.status();
    let text = answer.text().await.expect("read the answer");
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text:.300}");
    let error = api_error(status, &text);
    assert_eq!(error["code"], "payload_too_large");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("1 MiB"),
        "{error}"
    );

    // A definition is held to 64 KiB.
    let toml = format!("description = \"{}\"\n", "d".repeat(DEFINITION_MAX_BYTES));
    let answer = app
        .http
        .post(app.url("/api/v1/definitions"))
        .header("authorization", &bearer)
        .header("content-type", "application/toml")
        .body(toml)
        .send()
        .await
        .expect("POST definition");
    let status = answer.status();
    let text = answer.text().await.expect("read the answer");
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text:.300}");
    assert!(
        api_error(status, &text)["message"]
            .as_str()
            .unwrap_or_default()
            .contains("64 KiB"),
        "{text}"
    );
    assert_eq!(audit_count(&app.engine).await, audit, "nothing was audited");
}

#[tokio::test]
async fn an_oversized_form_gets_a_413_page_and_writes_nothing() {
    let Some(app) = TestApp::spawn("an_oversized_form_gets_a_413_page").await else {
        return;
    };
    let launched = app.launch().await;
    let audit = audit_count(&app.engine).await;

    // An anonymous sign-in with a 1.9 MB email: refused before anything reads it.
    let email = format!("{}@org.test", "a".repeat(1_900_000));
    let refused = app
        .post("/login", &[("email", email.as_str()), ("password", "x")])
        .await;
    assert_eq!(
        refused.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{:.300}",
        refused.body
    );
    assert!(
        refused.content_type.starts_with("text/html"),
        "{}",
        refused.content_type
    );
    assert!(refused.says("8 KiB"), "{:.2000}", refused.body);
    assert_eq!(
        audit_count(&app.engine).await,
        audit,
        "the audit log did not grow"
    );

    // Over the limit of any form.
    let email = format!("{}@org.test", "a".repeat(FORM_BODY_MAX_BYTES));
    let refused = app
        .post("/login", &[("email", email.as_str()), ("password", "x")])
        .await;
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);

    // A reviewer's form over its limit.
    let (link, page) = maria_page(&app).await;
    let item = *launched
        .items_of(app.principal("m1").await.id)
        .iter()
        .next()
        .expect("an item");
    let refused = app
        .post(
            &link,
            &[
                ("csrf", page.csrf()),
                (&format!("item-{item}"), "revoke".into()),
                (
                    &format!("why-{item}"),
                    "A".repeat(REVIEW_FORM_BODY_MAX_BYTES),
                ),
            ],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{:.300}",
        refused.body
    );
    assert!(refused.says("1 MiB"), "{:.2000}", refused.body);
    assert_eq!(app.item(item).await.verdict, None);
    assert_eq!(audit_count(&app.engine).await, audit);
}

// ---------------------------------------------------------------------------------------------
// Import files.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_over_long_person_name_is_refused_with_line_and_field() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    let long = "A".repeat(257);
    let content = format!(
        "{PEOPLE_HEADER}\nu1,Ana,ana@org.test,,user,true\nu2,{long},bo@org.test,,user,true\n"
    );
    let rejection =
        rejected(import(&engine, ImportKind::People, &db, "people.csv", &content).await);
    let text = rejection.to_string();
    let expected = format!(
        "people.csv:3: name: longer than 256 characters (\"{}…\")",
        "A".repeat(40)
    );
    assert!(text.contains(&expected), "{text}");
    assert_eq!(people_count(&engine).await, 0, "nothing was imported");

    // Through the CLI, by the name the user typed.
    let (code, _, stderr) = attest_cli(&db, &["import", "people", "people.csv"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&expected), "{stderr}");

    // A 10 MB name: the record is refused at its line, and the message stays short.
    let content = format!(
        "{PEOPLE_HEADER}\nu1,Ana,ana@org.test,,user,true\nu2,{},bo@org.test,,user,true\n",
        "A".repeat(10 * 1024 * 1024)
    );
    let rejection =
        rejected(import(&engine, ImportKind::People, &db, "people.csv", &content).await);
    let text = rejection.to_string();
    assert!(text.contains("people.csv:3: "), "{text:.500}");
    assert!(text.contains("longer than 64 KiB"), "{text:.500}");
    assert!(text.len() < 300, "{} characters: {text:.500}", text.len());
    assert_eq!(people_count(&engine).await, 0);
}

#[tokio::test]
async fn a_10_mb_header_line_gets_a_short_error_from_the_cli_and_the_api() {
    let Some(app) = TestApp::spawn("a_10_mb_header_line_gets_a_short_error").await else {
        return;
    };
    let header = format!(
        "{PEOPLE_HEADER},{}\nu1,Ana,ana@org.test,,user,true,x\n",
        "H".repeat(10 * 1024 * 1024)
    );
    let rejection = rejected(
        import(
            &app.engine,
            ImportKind::People,
            &app.db,
            "people.csv",
            &header,
        )
        .await,
    );
    let text = rejection.to_string();
    assert!(text.len() < 300, "{} characters: {text:.500}", text.len());
    assert!(
        text.contains("people.csv:1: the header is longer than 8 KiB"),
        "{text}"
    );

    let (code, _, stderr) = attest_cli(&app.db, &["import", "people", "people.csv"]);
    assert_eq!(code, 2, "{stderr:.500}");
    assert!(
        stderr.len() < 300,
        "{} characters: {stderr:.500}",
        stderr.len()
    );

    // A missing required column in a long (but allowed) header is named without the header.
    let wide = format!("id,name,{}\n", "c".repeat(8_000));
    let text = rejected(
        import(
            &app.engine,
            ImportKind::People,
            &app.db,
            "people.csv",
            &wide,
        )
        .await,
    )
    .to_string();
    assert!(text.contains("required column is missing"), "{text:.500}");
    assert!(text.len() < 300, "{} characters: {text:.500}", text.len());

    let bearer = admin_bearer(&app.engine).await;
    let answer = app
        .http
        .post(app.url("/api/v1/imports/people"))
        .header("authorization", &bearer)
        .header("content-type", "text/csv")
        .body(header)
        .send()
        .await
        .expect("POST import");
    let status = answer.status();
    let text = answer.text().await.expect("read the answer");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text:.500}");
    let error = api_error(status, &text);
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.len() < 300,
        "{} characters: {message:.500}",
        message.len()
    );
    assert!(text.len() < 1_000, "{} bytes: {text:.500}", text.len());
    assert_eq!(people_count(&app.engine).await, 0);
}

/// On PostgreSQL a NUL used to fail the whole file with a driver message; on SQLite it was
/// stored. Both now refuse it by line and field (the test runs on the database the run selects).
#[tokio::test]
async fn control_characters_are_refused_with_line_and_field() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    let content = format!(
        "{PEOPLE_HEADER}\nu1,Ana,ana@org.test,,user,true\nu2,B\0o,bo@org.test,,user,true\n"
    );
    let text = rejected(import(&engine, ImportKind::People, &db, "people.csv", &content).await)
        .to_string();
    assert!(
        text.contains("people.csv:3: name: contains a control character (U+0000)"),
        "{text}"
    );
    let (code, _, stderr) = attest_cli(&db, &["import", "people", "people.csv"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("people.csv:3: name: contains a control character (U+0000)"),
        "{stderr}"
    );

    // Escaped in JSON, and other control characters, in any field.
    let json = "[\n{\"id\": \"u1\", \"name\": \"Ana\", \"email\": \"ana@org.test\", \"manager_id\": null},\n{\"id\": \"u\\u0000 2\", \"name\": \"Bo\", \"email\": \"bo@org.test\", \"manager_id\": null}\n]\n";
    let text =
        rejected(import(&engine, ImportKind::People, &db, "people.json", json).await).to_string();
    assert!(
        text.contains("people.json:3: id: contains a control character (U+0000)"),
        "{text}"
    );
    let content = "principal_id,role,scope\nu1,Reader,/a\u{1b}[31m\n";
    let text =
        rejected(import(&engine, ImportKind::Eligibility, &db, "e.csv", content).await).to_string();
    assert!(
        text.contains("e.csv:2: scope: contains a control character (U+001B)"),
        "{text}"
    );
    assert_eq!(people_count(&engine).await, 0);
}

#[tokio::test]
async fn json_duplicate_keys_and_numbers_for_strings_are_refused_with_line_and_field() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    let duplicate = "[\n  {\"id\": \"u1\", \"name\": \"Ana\", \"email\": \"ana@org.test\", \"manager_id\": null},\n  {\"id\": \"u2\", \"name\": \"Bo\", \"email\": \"bo@org.test\", \"manager_id\": null},\n  {\"id\": \"u3\", \"name\": \"Cy\", \"email\": \"cy@org.test\", \"manager_id\": null,\n   \"id\": \"u4\"}\n]\n";
    let text = rejected(import(&engine, ImportKind::People, &db, "people.json", duplicate).await)
        .to_string();
    assert!(text.contains("people.json:4: id: duplicate key"), "{text}");

    let number =
        "{\"id\": 12345, \"name\": \"Ana\", \"email\": \"ana@org.test\", \"manager_id\": null}\n";
    let text = rejected(import(&engine, ImportKind::People, &db, "people.jsonl", number).await)
        .to_string();
    assert!(
        text.contains("people.jsonl:1: id: expected a string, found a number"),
        "{text}"
    );
    let nested = "{\"id\": \"u1\", \"name\": [\"Ana\"], \"email\": \"ana@org.test\", \"manager_id\": null}\n";
    let text = rejected(import(&engine, ImportKind::People, &db, "people.jsonl", nested).await)
        .to_string();
    assert!(
        text.contains("people.jsonl:1: name: expected a string, found an array"),
        "{text}"
    );
    let (code, _, stderr) = attest_cli(&db, &["import", "people", "people.json"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("people.json:4: id: duplicate key"),
        "{stderr}"
    );
    assert_eq!(people_count(&engine).await, 0);
}

// ---------------------------------------------------------------------------------------------
// Campaign definitions.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_definition_over_its_limits_is_refused_naming_the_file_and_key() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    import(
        &engine,
        ImportKind::People,
        &db,
        "people.csv",
        &format!("{PEOPLE_HEADER}\nown,Olga,olga@org.test,,user,true\n"),
    )
    .await
    .expect("import the owner");
    let definition = |description: &str| {
        format!(
            "name = \"big\"\ndescription = \"{description}\"\nowner = \"own\"\nschedule = \"quarterly\"\nduration_days = 14\nreviewers = \"manager\"\non_no_response = \"keep\"\n"
        )
    };
    let path = db.file("big.toml", &definition(&"d".repeat(DEFINITION_MAX_BYTES)));
    // Refused as it is read, before the engine sees it.
    let message = match DefinitionText::read(&path) {
        Err(EngineError::Invalid(message)) => message,
        other => panic!("expected the definition to be refused, got {other:?}"),
    };
    assert!(
        message.contains("big.toml: larger than 64 KiB"),
        "{message:.500}"
    );
    assert!(message.len() < 300, "{message:.500}");
    // And as text (an upload), by the engine itself.
    let big = DefinitionText::new("big.toml", definition(&"d".repeat(DEFINITION_MAX_BYTES)));
    match engine.define(&big, "test").await {
        Err(EngineError::Invalid(message)) => assert!(
            message.contains("big.toml: larger than 64 KiB"),
            "{message:.500}"
        ),
        other => panic!("expected the definition to be refused, got {other:?}"),
    }
    let (code, _, stderr) = attest_cli(&db, &["campaign", "define", "big.toml"]);
    assert_eq!(code, 2, "{stderr:.500}");
    assert!(
        stderr.contains("big.toml: larger than 64 KiB"),
        "{stderr:.500}"
    );

    // Within the file's limit, but a description over its own.
    let path = db.file("long.toml", &definition(&"d".repeat(1_001)));
    let message = match engine
        .define(
            &DefinitionText::read(&path).expect("read the definition"),
            "test",
        )
        .await
    {
        Err(EngineError::Invalid(message)) => message,
        other => panic!("expected the definition to be refused, got {other:?}"),
    };
    assert!(
        message.contains("long.toml: description: longer than 1000 characters"),
        "{message}"
    );
    let path = db.file("nul.toml", &definition("a\\u0000b"));
    let message = match engine
        .define(
            &DefinitionText::read(&path).expect("read the definition"),
            "test",
        )
        .await
    {
        Err(EngineError::Invalid(message)) => message,
        other => panic!("expected the definition to be refused, got {other:?}"),
    };
    assert!(
        message.contains("nul.toml: description: contains a control character (U+0000)"),
        "{message}"
    );
    assert_eq!(
        campaign_definition::Entity::find()
            .count(engine.store().conn())
            .await
            .expect("count definitions"),
        0
    );
    // The limits themselves are accepted.
    let path = db.file("ok.toml", &definition(&"d".repeat(1_000)));
    engine
        .define(
            &DefinitionText::read(&path).expect("read the definition"),
            "test",
        )
        .await
        .expect("a 1,000-character description");
}

// ---------------------------------------------------------------------------------------------
// The audit log.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_audit_event_with_a_1_mb_detail_is_stored_bounded_and_the_chain_verifies() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    let huge = "x".repeat(1_000_000);
    let txn = engine.store().begin().await.expect("begin");
    let event = attest::store::audit::append(
        &txn,
        engine.now(),
        &format!("account:{huge}"),
        "login.refused",
        Some(&huge),
        &json!({ "email": huge, "reason": "unknown account" }),
    )
    .await
    .expect("append");
    txn.commit().await.expect("commit");
    let stored = audit_event::Entity::find()
        .order_by_desc(audit_event::Column::Seq)
        .one(engine.store().conn())
        .await
        .expect("read the event")
        .expect("an event");
    assert_eq!(stored.seq, event.seq);
    let size =
        stored.actor.len() + stored.target.as_deref().map_or(0, str::len) + stored.details.len();
    assert!(size < 1_000, "{size} bytes stored: {stored:?}");
    let details: Value = serde_json::from_str(&stored.details).expect("JSON details");
    assert_eq!(details["reason"], "unknown account");
    assert_eq!(details["email"]["chars"], 1_000_000);
    assert_eq!(details["email"]["prefix"], "x".repeat(32));
    assert!(stored.actor.starts_with("account:xxx") && stored.actor.contains("sha256:"));

    let (code, stdout, stderr) = attest_cli(&db, &["audit", "verify"]);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
}

/// An error quotes at most a short prefix of what it refuses, wherever it comes from.
#[tokio::test]
async fn errors_quote_only_a_short_prefix_of_a_bad_value() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    let long = "Z".repeat(60);
    for (kind, name, content, field) in [
        (
            ImportKind::People,
            "people.csv",
            format!("{PEOPLE_HEADER}\nu1,Ana,ana@org.test,{long},user,true\n"),
            "manager_id",
        ),
        (
            ImportKind::People,
            "people-kind.csv",
            format!(
                "{PEOPLE_HEADER}\nu1,Ana,ana@org.test,,{},true\n",
                "k".repeat(60)
            ),
            "kind",
        ),
        (
            ImportKind::Eligibility,
            "eligibility.csv",
            format!("principal_id,role,scope,start\nu1,R,/,{}\n", "2".repeat(60)),
            "start",
        ),
    ] {
        let rejection = rejected(import(&engine, kind, &db, name, &content).await);
        let problem = &rejection.problems[0];
        assert_eq!(problem.field.as_deref(), Some(field), "{rejection}");
        assert!(problem.reason.contains('…'), "{rejection}");
        assert!(problem.reason.len() < 140, "{rejection}");
    }
    // The unknown column's name in the warnings is cut too.
    let content = format!(
        "{PEOPLE_HEADER},{}\nu1,Ana,ana@org.test,,user,true,x\n",
        "w".repeat(5_000)
    );
    let report = import(&engine, ImportKind::People, &db, "people.csv", &content)
        .await
        .expect("an unknown column is only a warning");
    assert!(report.warnings[0].len() < 100, "{:?}", report.warnings);
}
