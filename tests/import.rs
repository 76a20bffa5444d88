//! Acceptance tests for `attest import people|roles|eligibility`: what lands in the database,
//! what a bad file leaves behind (nothing), and what the audit log records.
//!
//! Every test gets its own database (SQLite, or PostgreSQL with ATTEST_TEST_DATABASE_URL).

mod common;

use attest::clock::ManualClock;
use attest::domain::directory::{PrincipalKind, Risk};
use attest::domain::records::ImportKind;
use attest::engine::import::{ImportOptions, ImportReport};
use attest::engine::{Engine, EngineError, NoProgress, Rejection};
use attest::store::directory::{list_eligibility, EligibilityFilter, EligibilityView};
use chrono::{DateTime, Duration, Utc};
use common::{at, attest_cli, TestDb};
use entity::{audit_event, eligibility, principal, role};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

// ---------------------------------------------------------------------------------------------
// The reference data set, written three ways (CSV with BOM and CRLF, JSON array, JSON Lines).
// ---------------------------------------------------------------------------------------------

const PEOPLE: &[&str] = &[
    "id,name,email,manager_id,kind,enabled,timezone",
    "u1,\"Zoë O'Brien, Jr.\",zoe@example.test,,user,true,Europe/Dublin",
    "u2,\"Søren \"\"Sly\"\" Ødegård\",soren@example.test,u1,user,yes,Europe/Copenhagen",
    "u3,山田 太郎,taro@example.jp,u1,User,1,Asia/Tokyo",
    "u4,Ana Ruiz,ana@example.test,u2,,,",
    "svc-backup,Backup Service,,u2,service,false,",
    "bg-1,Break Glass 1,bg1@example.test,,break_glass,no,UTC",
];

const ROLES: &[&str] = &[
    "name,owner_id,risk,description",
    "Global Administrator,u1,high,\"Full control, incl. \"\"root\"\" access\"",
    "Lecteur de facturation,u2,Medium,Lit les coûts – € et ¥",
    "Reader,,low,",
];

const ELIGIBILITY: &[&str] = &[
    "principal_id,role,scope,start,end,last_activated_at",
    "u1,Global Administrator,/,2025-01-10,,2026-10-01T10:00:00+02:00",
    "u2,Lecteur de facturation,\"/subscriptions/a,b\",2025-03-01T12:30:00-05:00,2026-12-31,",
    "u3,Reader,/régions/東京,,,2026-11-02T23:59:59.123456+09:00",
    "svc-backup,Reader,/prod,,,",
    "u4,Reader,/prod,2025-06-01,2025-12-31T23:59:59Z,2025-07-04",
];

fn people_json() -> Value {
    json!([
        {"id": "u1", "name": "Zoë O'Brien, Jr.", "email": "zoe@example.test", "manager_id": null,
         "kind": "user", "enabled": true, "timezone": "Europe/Dublin"},
        {"id": "u2", "name": "Søren \"Sly\" Ødegård", "email": "soren@example.test", "manager_id": "u1",
         "kind": "user", "enabled": "yes", "timezone": "Europe/Copenhagen"},
        {"id": "u3", "name": "山田 太郎", "email": "taro@example.jp", "manager_id": "u1",
         "kind": "User", "enabled": "1", "timezone": "Asia/Tokyo"},
        {"id": "u4", "name": "Ana Ruiz", "email": "ana@example.test", "manager_id": "u2"},
        {"id": "svc-backup", "name": "Backup Service", "email": null, "manager_id": "u2",
         "kind": "service", "enabled": false, "timezone": ""},
        {"id": "bg-1", "name": "Break Glass 1", "email": "bg1@example.test", "manager_id": null,
         "kind": "break_glass", "enabled": "no", "timezone": "UTC"}
    ])
}

fn roles_json() -> Value {
    json!([
        {"name": "Global Administrator", "owner_id": "u1", "risk": "high",
         "description": "Full control, incl. \"root\" access"},
        {"name": "Lecteur de facturation", "owner_id": "u2", "risk": "Medium",
         "description": "Lit les coûts – € et ¥"},
        {"name": "Reader", "owner_id": null, "risk": "low"}
    ])
}

fn eligibility_json() -> Value {
    json!([
        {"principal_id": "u1", "role": "Global Administrator", "scope": "/", "start": "2025-01-10",
         "end": null, "last_activated_at": "2026-10-01T10:00:00+02:00"},
        {"principal_id": "u2", "role": "Lecteur de facturation", "scope": "/subscriptions/a,b",
         "start": "2025-03-01T12:30:00-05:00", "end": "2026-12-31"},
        {"principal_id": "u3", "role": "Reader", "scope": "/régions/東京",
         "last_activated_at": "2026-11-02T23:59:59.123456+09:00"},
        {"principal_id": "svc-backup", "role": "Reader", "scope": "/prod"},
        {"principal_id": "u4", "role": "Reader", "scope": "/prod", "start": "2025-06-01",
         "end": "2025-12-31T23:59:59Z", "last_activated_at": "2025-07-04"}
    ])
}

/// Excel-style CSV: a UTF-8 BOM, CRLF line ends, a final CRLF.
fn csv_crlf(lines: &[&str]) -> String {
    let mut text = String::from("\u{feff}");
    for line in lines {
        text.push_str(line);
        text.push_str("\r\n");
    }
    text
}

/// Plain CSV: no BOM, LF line ends.
fn csv_lf(lines: &[&str]) -> String {
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

fn json_array(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("serialise JSON")
}

fn json_lines(value: &Value) -> String {
    value
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|object| format!("{object}\n"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Helpers: running imports and reading the database back.
// ---------------------------------------------------------------------------------------------

const ACTOR: &str = "test:alice";

async fn import(
    engine: &Engine,
    kind: ImportKind,
    path: &Path,
    prune: bool,
) -> Result<ImportReport, EngineError> {
    engine
        .import(
            kind,
            attest::engine::import::ImportInput::open(path)?,
            ImportOptions { prune },
            ACTOR,
            &NoProgress,
        )
        .await
}

async fn import_ok(engine: &Engine, kind: ImportKind, path: &Path) -> ImportReport {
    match import(engine, kind, path, false).await {
        Ok(report) => report,
        Err(e) => panic!("import of {} failed: {e}", path.display()),
    }
}

fn rejection(result: Result<ImportReport, EngineError>) -> Rejection {
    match result {
        Err(EngineError::Rejected(rejection)) => rejection,
        other => panic!("expected EngineError::Rejected, got {other:?}"),
    }
}

/// The reference data set, imported from CSV files with a BOM and CRLF line ends.
async fn load_reference(db: &TestDb, engine: &Engine) {
    import_ok(
        engine,
        ImportKind::People,
        &db.file("people.csv", &csv_crlf(PEOPLE)),
    )
    .await;
    import_ok(
        engine,
        ImportKind::Roles,
        &db.file("roles.csv", &csv_crlf(ROLES)),
    )
    .await;
    import_ok(
        engine,
        ImportKind::Eligibility,
        &db.file("eligibility.csv", &csv_crlf(ELIGIBILITY)),
    )
    .await;
}

/// Every row of the four tables an import touches, exactly as stored.
#[derive(Debug, PartialEq)]
struct Snapshot {
    principals: Vec<principal::Model>,
    roles: Vec<role::Model>,
    eligibility: Vec<eligibility::Model>,
    audit: Vec<audit_event::Model>,
}

async fn snapshot(engine: &Engine) -> Snapshot {
    let conn = engine.store().conn();
    Snapshot {
        principals: principal::Entity::find()
            .order_by_asc(principal::Column::Id)
            .all(conn)
            .await
            .expect("read principals"),
        roles: role::Entity::find()
            .order_by_asc(role::Column::Id)
            .all(conn)
            .await
            .expect("read roles"),
        eligibility: eligibility::Entity::find()
            .order_by_asc(eligibility::Column::Id)
            .all(conn)
            .await
            .expect("read eligibility"),
        audit: audit_event::Entity::find()
            .order_by_asc(audit_event::Column::Seq)
            .all(conn)
            .await
            .expect("read audit events"),
    }
}

/// Row counts: principal, role, eligibility, audit_event.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct Counts {
    principals: u64,
    roles: u64,
    eligibility: u64,
    audit: u64,
}

async fn counts(engine: &Engine) -> Counts {
    let conn = engine.store().conn();
    Counts {
        principals: principal::Entity::find().count(conn).await.expect("count"),
        roles: role::Entity::find().count(conn).await.expect("count"),
        eligibility: eligibility::Entity::find()
            .count(conn)
            .await
            .expect("count"),
        audit: audit_event::Entity::find()
            .count(conn)
            .await
            .expect("count"),
    }
}

/// A principal by natural keys only, so databases can be compared with each other.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Person {
    id: String,
    name: String,
    email: Option<String>,
    manager: Option<String>,
    kind: &'static str,
    enabled: bool,
    timezone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RoleView {
    name: String,
    owner: Option<String>,
    risk: &'static str,
    description: Option<String>,
}

async fn external_ids(engine: &Engine) -> HashMap<i64, String> {
    principal::Entity::find()
        .all(engine.store().conn())
        .await
        .expect("read principals")
        .into_iter()
        .map(|p| (p.id, p.external_id))
        .collect()
}

async fn people(engine: &Engine) -> Vec<Person> {
    let rows = principal::Entity::find()
        .all(engine.store().conn())
        .await
        .expect("read principals");
    let ids: HashMap<i64, String> = rows.iter().map(|p| (p.id, p.external_id.clone())).collect();
    let mut people: Vec<Person> = rows
        .into_iter()
        .map(|p| Person {
            manager: p.manager_id.map(|m| ids[&m].clone()),
            id: p.external_id,
            name: p.display_name,
            email: p.email,
            kind: p
                .kind
                .parse::<PrincipalKind>()
                .expect("a stored kind")
                .as_str(),
            enabled: p.enabled,
            timezone: p.timezone,
        })
        .collect();
    people.sort_by(|a, b| a.id.cmp(&b.id));
    people
}

async fn roles(engine: &Engine) -> Vec<RoleView> {
    let ids = external_ids(engine).await;
    let mut roles: Vec<RoleView> = role::Entity::find()
        .all(engine.store().conn())
        .await
        .expect("read roles")
        .into_iter()
        .map(|r| RoleView {
            name: r.name,
            owner: r.owner_id.map(|o| ids[&o].clone()),
            risk: r.risk.parse::<Risk>().expect("a stored risk").as_str(),
            description: r.description,
        })
        .collect();
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    roles
}

/// Every eligibility, removed ones too, in (principal, role, scope) order.
async fn eligibilities(engine: &Engine) -> Vec<EligibilityView> {
    let mut rows = list_eligibility(
        engine.store().conn(),
        &EligibilityFilter {
            all: true,
            ..EligibilityFilter::default()
        },
    )
    .await
    .expect("list eligibility");
    rows.sort_by(|a, b| (&a.principal, &a.role, &a.scope).cmp(&(&b.principal, &b.role, &b.scope)));
    rows
}

/// Eligibility rows as stored, by (principal, role, scope).
async fn eligibility_by_key(
    engine: &Engine,
) -> BTreeMap<(String, String, String), eligibility::Model> {
    let ids = external_ids(engine).await;
    let role_names: HashMap<i64, String> = role::Entity::find()
        .all(engine.store().conn())
        .await
        .expect("read roles")
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    eligibility::Entity::find()
        .all(engine.store().conn())
        .await
        .expect("read eligibility")
        .into_iter()
        .map(|e| {
            (
                (
                    ids[&e.principal_id].clone(),
                    role_names[&e.role_id].clone(),
                    e.scope.clone(),
                ),
                e,
            )
        })
        .collect()
}

/// The active eligibilities as (principal, role, scope), sorted.
async fn active_keys(engine: &Engine) -> Vec<(String, String, String)> {
    let mut active: Vec<(String, String, String)> =
        list_eligibility(engine.store().conn(), &EligibilityFilter::default())
            .await
            .expect("list")
            .into_iter()
            .map(|e| (e.principal, e.role, e.scope))
            .collect();
    active.sort();
    active
}

fn key(principal: &str, role: &str, scope: &str) -> (String, String, String) {
    (principal.into(), role.into(), scope.into())
}

async fn principal_model(engine: &Engine, external_id: &str) -> principal::Model {
    principal::Entity::find()
        .filter(principal::Column::ExternalId.eq(external_id))
        .one(engine.store().conn())
        .await
        .expect("read principal")
        .unwrap_or_else(|| panic!("no principal {external_id}"))
}

async fn audit_event_at(engine: &Engine, seq: i64) -> audit_event::Model {
    audit_event::Entity::find()
        .filter(audit_event::Column::Seq.eq(seq))
        .one(engine.store().conn())
        .await
        .expect("read audit event")
        .unwrap_or_else(|| panic!("no audit event #{seq}"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn some(text: &str) -> Option<String> {
    Some(text.to_string())
}

fn utc(rfc3339: &str) -> Option<DateTime<Utc>> {
    Some(at(rfc3339))
}

// ---------------------------------------------------------------------------------------------
// What the reference data set must read back as.
// ---------------------------------------------------------------------------------------------

fn expected_people() -> Vec<Person> {
    let person = |id: &str, name: &str, email: Option<&str>, manager: Option<&str>| Person {
        id: id.into(),
        name: name.into(),
        email: email.map(str::to_string),
        manager: manager.map(str::to_string),
        kind: "user",
        enabled: true,
        timezone: None,
    };
    vec![
        Person {
            kind: "break_glass",
            enabled: false,
            timezone: some("UTC"),
            ..person("bg-1", "Break Glass 1", Some("bg1@example.test"), None)
        },
        Person {
            kind: "service",
            enabled: false,
            ..person("svc-backup", "Backup Service", None, Some("u2"))
        },
        Person {
            timezone: some("Europe/Dublin"),
            ..person("u1", "Zoë O'Brien, Jr.", Some("zoe@example.test"), None)
        },
        Person {
            timezone: some("Europe/Copenhagen"),
            ..person(
                "u2",
                "Søren \"Sly\" Ødegård",
                Some("soren@example.test"),
                Some("u1"),
            )
        },
        Person {
            timezone: some("Asia/Tokyo"),
            ..person("u3", "山田 太郎", Some("taro@example.jp"), Some("u1"))
        },
        person("u4", "Ana Ruiz", Some("ana@example.test"), Some("u2")),
    ]
}

fn expected_roles() -> Vec<RoleView> {
    vec![
        RoleView {
            name: "Global Administrator".into(),
            owner: some("u1"),
            risk: "high",
            description: some("Full control, incl. \"root\" access"),
        },
        RoleView {
            name: "Lecteur de facturation".into(),
            owner: some("u2"),
            risk: "medium",
            description: some("Lit les coûts – € et ¥"),
        },
        RoleView {
            name: "Reader".into(),
            owner: None,
            risk: "low",
            description: None,
        },
    ]
}

fn expected_eligibility() -> Vec<EligibilityView> {
    let view = |principal: &str, name: &str, role: &str, risk: &str, scope: &str| EligibilityView {
        principal: principal.into(),
        principal_name: name.into(),
        role: role.into(),
        risk: risk.into(),
        scope: scope.into(),
        start: None,
        end: None,
        last_activated_at: None,
        status: "active".into(),
        removal_reason: None,
    };
    vec![
        view("svc-backup", "Backup Service", "Reader", "low", "/prod"),
        EligibilityView {
            start: utc("2025-01-10T00:00:00Z"),
            last_activated_at: utc("2026-10-01T08:00:00Z"),
            ..view(
                "u1",
                "Zoë O'Brien, Jr.",
                "Global Administrator",
                "high",
                "/",
            )
        },
        EligibilityView {
            start: utc("2025-03-01T17:30:00Z"),
            end: utc("2026-12-31T00:00:00Z"),
            ..view(
                "u2",
                "Søren \"Sly\" Ødegård",
                "Lecteur de facturation",
                "medium",
                "/subscriptions/a,b",
            )
        },
        EligibilityView {
            last_activated_at: utc("2026-11-02T14:59:59.123456Z"),
            ..view("u3", "山田 太郎", "Reader", "low", "/régions/東京")
        },
        EligibilityView {
            start: utc("2025-06-01T00:00:00Z"),
            end: utc("2025-12-31T23:59:59Z"),
            last_activated_at: utc("2025-07-04T00:00:00Z"),
            ..view("u4", "Ana Ruiz", "Reader", "low", "/prod")
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// 1. CSV reads back exactly.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn csv_with_bom_crlf_quotes_and_non_ascii_reads_back_exactly() {
    let db = TestDb::new().await;
    let engine = db.engine().await;

    let people_csv = csv_crlf(PEOPLE);
    assert!(people_csv.starts_with('\u{feff}') && people_csv.contains("\r\n"));
    let report = import_ok(
        &engine,
        ImportKind::People,
        &db.file("people.csv", &people_csv),
    )
    .await;
    assert_eq!(
        (
            report.rows,
            report.inserted,
            report.updated,
            report.unchanged
        ),
        (6, 6, 0, 0)
    );
    assert_eq!(report.managers_changed, 4);
    assert_eq!(report.warnings, Vec::<String>::new());

    let report = import_ok(
        &engine,
        ImportKind::Roles,
        &db.file("roles.csv", &csv_crlf(ROLES)),
    )
    .await;
    assert_eq!((report.rows, report.inserted), (3, 3));

    let report = import_ok(
        &engine,
        ImportKind::Eligibility,
        &db.file("eligibility.csv", &csv_crlf(ELIGIBILITY)),
    )
    .await;
    assert_eq!((report.rows, report.inserted), (5, 5));

    assert_eq!(people(&engine).await, expected_people());
    assert_eq!(roles(&engine).await, expected_roles());
    assert_eq!(eligibilities(&engine).await, expected_eligibility());

    // Imports land in the built-in source, granted via "import".
    for e in eligibility_by_key(&engine).await.values() {
        assert_eq!(e.granted_via, "import");
        assert_eq!(e.status.as_str(), "active");
        assert_eq!((e.removed_at, e.removal_reason.as_deref()), (None, None));
    }

    // The CLI lists the same thing, names and all.
    let (code, stdout, stderr) = attest_cli(&db, &["eligibility", "list", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let listed: Value = serde_json::from_str(&stdout).expect("JSON from eligibility list");
    let names: Vec<&str> = listed
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["principal_name"].as_str())
        .collect();
    for name in ["Zoë O'Brien, Jr.", "Søren \"Sly\" Ødegård", "山田 太郎"] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
}

/// PowerShell's `Export-Csv` (and many other tools) quote every field, header included, and
/// Windows PowerShell 5 writes a BOM before it.
#[tokio::test]
async fn csv_with_bom_and_quoted_header_is_read() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    let text = "\u{feff}\"id\",\"name\",\"email\",\"manager_id\"\r\n\
                \"u1\",\"Zoë O'Brien, Jr.\",\"zoe@example.test\",\"\"\r\n\
                \"u2\",\"山田 太郎\",\"taro@example.jp\",\"u1\"\r\n";
    let result = import(
        &engine,
        ImportKind::People,
        &db.file("export.csv", text),
        false,
    )
    .await;
    let report = result.expect("a BOM followed by a quoted header is valid CSV");
    assert_eq!(report.inserted, 2);
    let got = people(&engine).await;
    assert_eq!(
        got.iter()
            .map(|p| (p.id.as_str(), p.name.as_str(), p.manager.as_deref()))
            .collect::<Vec<_>>(),
        vec![
            ("u1", "Zoë O'Brien, Jr.", None),
            ("u2", "山田 太郎", Some("u1"))
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// 2. JSON and JSON Lines give the same rows as CSV.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn json_array_and_json_lines_give_the_same_rows_as_csv() {
    let mut results = Vec::new();
    for format in ["csv", "json", "jsonl"] {
        let db = TestDb::new().await;
        let engine = db.engine().await;
        let files: [(ImportKind, &str, String); 3] = match format {
            "csv" => [
                (ImportKind::People, "people.csv", csv_crlf(PEOPLE)),
                (ImportKind::Roles, "roles.csv", csv_crlf(ROLES)),
                (
                    ImportKind::Eligibility,
                    "eligibility.csv",
                    csv_crlf(ELIGIBILITY),
                ),
            ],
            "json" => [
                (
                    ImportKind::People,
                    "people.json",
                    json_array(&people_json()),
                ),
                (ImportKind::Roles, "roles.json", json_array(&roles_json())),
                (
                    ImportKind::Eligibility,
                    "eligibility.json",
                    json_array(&eligibility_json()),
                ),
            ],
            _ => [
                (
                    ImportKind::People,
                    "people.jsonl",
                    json_lines(&people_json()),
                ),
                (ImportKind::Roles, "roles.jsonl", json_lines(&roles_json())),
                (
                    ImportKind::Eligibility,
                    "eligibility.jsonl",
                    json_lines(&eligibility_json()),
                ),
            ],
        };
        for (kind, name, content) in &files {
            let report = import_ok(&engine, *kind, &db.file(name, content)).await;
            assert_eq!(report.inserted, report.rows, "{format}: {report:?}");
            assert_eq!(report.warnings, Vec::<String>::new(), "{format}");
        }
        results.push((
            format,
            people(&engine).await,
            roles(&engine).await,
            eligibilities(&engine).await,
        ));
    }
    for (format, people, roles, eligibility) in &results {
        assert_eq!(people, &expected_people(), "people from {format}");
        assert_eq!(roles, &expected_roles(), "roles from {format}");
        assert_eq!(
            eligibility,
            &expected_eligibility(),
            "eligibility from {format}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 3. One bad row changes nothing; the error names the line and the reason.
// ---------------------------------------------------------------------------------------------

/// A file with exactly one bad row, and what the rejection must say about it.
struct BadFile<'a> {
    kind: ImportKind,
    name: &'a str,
    content: String,
    line: u64,
    /// The field the problem must name; `None` when the problem is not about one field.
    field: Option<&'a str>,
    /// A part of the reason that must be shown.
    reason: &'a str,
}

/// Imports `bad` through the engine and through the CLI, checking each time that it is rejected
/// with the expected line, field and reason, and that no row (nor audit event) changed.
async fn assert_rejected_and_nothing_changed(db: &TestDb, engine: &Engine, bad: BadFile<'_>) {
    let before_counts = counts(engine).await;
    let before = snapshot(engine).await;
    let path = db.file(bad.name, &bad.content);

    let rejection = rejection(import(engine, bad.kind, &path, false).await);
    assert_eq!(rejection.file, path.display().to_string());
    assert_eq!(rejection.total, 1, "exactly one problem: {rejection}");
    assert_eq!(rejection.problems.len(), 1, "{rejection}");
    let problem = &rejection.problems[0];
    assert_eq!(problem.line, bad.line, "line of the bad row: {rejection}");
    if let Some(field) = bad.field {
        assert_eq!(problem.field.as_deref(), Some(field), "{rejection}");
    }
    assert!(
        problem.reason.contains(bad.reason),
        "reason {:?} should contain {:?}",
        problem.reason,
        bad.reason
    );
    assert_eq!(counts(engine).await, before_counts, "row counts changed");
    assert_eq!(snapshot(engine).await, before, "rows changed");

    // The same file through the real binary, by the name the user typed.
    let kind = bad.kind.as_str();
    let (code, stdout, stderr) = attest_cli(db, &["import", kind, bad.name]);
    assert_eq!(code, 2, "stdout: {stdout}\nstderr: {stderr}");
    let location = format!("{}:{}:", bad.name, bad.line);
    assert!(
        stderr.contains(&location),
        "stderr should name {location}: {stderr}"
    );
    assert!(
        stderr.contains(bad.reason),
        "stderr should give the reason {:?}: {stderr}",
        bad.reason
    );
    if let Some(field) = bad.field {
        assert!(
            stderr.contains(&format!("{location} {field}: ")),
            "stderr should name the field {field}: {stderr}"
        );
    }
    assert_eq!(
        counts(engine).await,
        before_counts,
        "the CLI changed counts"
    );
    assert_eq!(snapshot(engine).await, before, "the CLI changed rows");
}

#[tokio::test]
async fn unknown_manager_rejects_the_whole_file() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    load_reference(&db, &engine).await;
    // Valid rows first: a changed name, a new person, a new manager link; the bad row last.
    let content = csv_crlf(&[
        "id,name,email,manager_id,kind,enabled,timezone",
        "u1,Zoë O'Brien,zoe@example.test,,user,true,Europe/Dublin",
        "u5,New Person,new@example.test,u1,user,true,",
        "u4,Ana Ruiz,ana@example.test,u1,,,",
        "u6,Orphan,orphan@example.test,ghost,user,true,",
    ]);
    assert_rejected_and_nothing_changed(
        &db,
        &engine,
        BadFile {
            kind: ImportKind::People,
            name: "people-bad-manager.csv",
            content,
            line: 5,
            field: Some("manager_id"),
            reason: "unknown person \"ghost\"",
        },
    )
    .await;
}

#[tokio::test]
async fn unknown_role_rejects_the_whole_file_even_after_a_full_batch() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    load_reference(&db, &engine).await;
    // 1500 valid new rows (more than one write batch) and a changed row before the bad one.
    let mut lines = vec![
        "principal_id,role,scope,start,end,last_activated_at".to_string(),
        "u1,Global Administrator,/,2025-01-10,,2027-01-01T00:00:00Z".to_string(),
    ];
    lines.extend((0..1500).map(|i| format!("u4,Reader,/bulk/{i},,,")));
    lines.push("u2,No Such Role,/,,,".to_string());
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert_rejected_and_nothing_changed(
        &db,
        &engine,
        BadFile {
            kind: ImportKind::Eligibility,
            name: "eligibility-bad-role.csv",
            content: csv_lf(&lines),
            line: 1503,
            field: Some("role"),
            reason: "unknown role \"No Such Role\"",
        },
    )
    .await;
}

#[tokio::test]
async fn bad_date_rejects_the_whole_file() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    load_reference(&db, &engine).await;
    let content = csv_crlf(&[
        "principal_id,role,scope,start,end,last_activated_at",
        "u1,Global Administrator,/,2025-01-10,,2027-01-01T00:00:00Z",
        "u4,Reader,/new,,,",
        "u3,Reader,/other,,,2026-02-30",
        "u2,Reader,/new,,,",
    ]);
    assert_rejected_and_nothing_changed(
        &db,
        &engine,
        BadFile {
            kind: ImportKind::Eligibility,
            name: "eligibility-bad-date.csv",
            content,
            line: 4,
            field: Some("last_activated_at"),
            reason: "\"2026-02-30\" is not a date",
        },
    )
    .await;
}

#[tokio::test]
async fn duplicate_eligibility_key_rejects_the_whole_file() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    load_reference(&db, &engine).await;
    // The first occurrence is in the first write batch, the duplicate far after it.
    let mut lines = vec![
        "principal_id,role,scope".to_string(),
        "u4,Reader,/dup".to_string(),
    ];
    lines.extend((0..1200).map(|i| format!("u4,Reader,/bulk/{i}")));
    lines.push("u4,Reader,/dup".to_string());
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert_rejected_and_nothing_changed(
        &db,
        &engine,
        BadFile {
            kind: ImportKind::Eligibility,
            name: "eligibility-duplicate.csv",
            content: csv_lf(&lines),
            line: 1203,
            field: None,
            reason: "duplicate: line 2 already lists u4 × Reader × /dup",
        },
    )
    .await;
}

#[tokio::test]
async fn duplicate_eligibility_key_on_the_next_line_rejects_the_whole_file() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    load_reference(&db, &engine).await;
    // Both in one write batch (one statement of the listing), the key an existing eligibility's.
    assert_rejected_and_nothing_changed(
        &db,
        &engine,
        BadFile {
            kind: ImportKind::Eligibility,
            name: "eligibility-duplicate-adjacent.csv",
            content: csv_lf(&[
                "principal_id,role,scope",
                "u2,Reader,/new",
                "u4,Reader,/prod",
                "u4,Reader,/prod",
            ]),
            line: 4,
            field: None,
            reason: "duplicate: line 3 already lists u4 × Reader × /prod",
        },
    )
    .await;
}

#[tokio::test]
async fn a_prune_after_a_rejected_file_goes_by_its_own_file_alone() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    load_reference(&db, &engine).await;
    // The rejected file lists everything (and a duplicate); what it listed must not count
    // for the next import.
    let mut all = ELIGIBILITY.to_vec();
    all.push(ELIGIBILITY[5]);
    let path = db.file("eligibility-all-twice.csv", &csv_crlf(&all));
    let rejected = rejection(import(&engine, ImportKind::Eligibility, &path, true).await);
    assert_eq!(rejected.problems[0].line, 7, "{rejected}");
    let path = db.file(
        "eligibility-two.csv",
        &csv_crlf(&[ELIGIBILITY[0], ELIGIBILITY[1], ELIGIBILITY[3]]),
    );
    let report = import(&engine, ImportKind::Eligibility, &path, true)
        .await
        .expect("a good file imports");
    assert_eq!((report.rows, report.pruned), (2, 3), "{report:?}");
    assert_eq!(
        active_keys(&engine).await,
        vec![
            key("u1", "Global Administrator", "/"),
            key("u3", "Reader", "/régions/東京"),
        ]
    );
}

#[tokio::test]
async fn duplicate_person_id_rejects_the_whole_file() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    load_reference(&db, &engine).await;
    let content = csv_crlf(&[
        "id,name,email,manager_id",
        "u7,Seven,seven@example.test,",
        "u3,山田 太郎,taro@example.jp,u1",
        "u1,Changed Name,zoe@example.test,",
        "u3,Taro Yamada,taro2@example.jp,u7",
    ]);
    assert_rejected_and_nothing_changed(
        &db,
        &engine,
        BadFile {
            kind: ImportKind::People,
            name: "people-duplicate.csv",
            content,
            line: 5,
            field: Some("id"),
            reason: "duplicate: \"u3\" is already on line 3",
        },
    )
    .await;
}

#[tokio::test]
async fn missing_required_column_is_reported_at_line_1() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    load_reference(&db, &engine).await;
    let content = csv_crlf(&[
        "principal_id,role,start",
        "u4,Reader,2025-01-01",
        "u2,Reader,2025-01-01",
    ]);
    assert_rejected_and_nothing_changed(
        &db,
        &engine,
        BadFile {
            kind: ImportKind::Eligibility,
            name: "eligibility-no-scope.csv",
            content,
            line: 1,
            field: Some("scope"),
            reason: "required column is missing",
        },
    )
    .await;
}

/// In a JSON array the problem is reported at the line where the bad object starts.
#[tokio::test]
async fn json_rejection_names_the_line_where_the_object_starts() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    load_reference(&db, &engine).await;
    let content = json_array(&json!([
        {"principal_id": "u4", "role": "Reader", "scope": "/a"},
        {"principal_id": "u4", "role": "Nope", "scope": "/b"}
    ]));
    // Pretty-printed: "[" is line 1, each object takes 5 lines.
    assert_eq!(
        content.lines().nth(6).map(str::trim),
        Some("{"),
        "{content}"
    );
    assert_rejected_and_nothing_changed(
        &db,
        &engine,
        BadFile {
            kind: ImportKind::Eligibility,
            name: "eligibility-bad.json",
            content,
            line: 7,
            field: Some("role"),
            reason: "unknown role \"Nope\"",
        },
    )
    .await;
}

/// The line and field of the first problem of a rejected file.
async fn first_problem(
    db: &TestDb,
    engine: &Engine,
    kind: ImportKind,
    name: &str,
    content: &str,
) -> (u64, Option<String>) {
    let rejection = rejection(import(engine, kind, &db.file(name, content), false).await);
    let problem = rejection.problems.first().expect("a problem");
    (problem.line, problem.field.clone())
}

/// In a CRLF file, a quoted field spanning two lines still leaves the next row's line number
/// the one an editor shows.
#[tokio::test]
async fn line_numbers_are_right_after_a_quoted_line_break_in_a_crlf_file() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    load_reference(&db, &engine).await;
    let multiline = "\u{feff}name,owner_id,risk,description\r\n\
                     Auditor,u1,low,\"two\r\nlines\"\r\n\
                     Operator,u1,extreme,\r\n";
    assert_eq!(
        first_problem(
            &db,
            &engine,
            ImportKind::Roles,
            "roles-multiline.csv",
            multiline
        )
        .await,
        (4, some("risk"))
    );
}

/// A blank line between rows (LF or CRLF) still leaves later rows at the line an editor shows.
#[tokio::test]
async fn line_numbers_are_right_after_a_blank_line() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    load_reference(&db, &engine).await;
    let crlf = "\u{feff}principal_id,role,scope\r\nu4,Reader,/x\r\n\r\nu4,Nope,/y\r\n";
    let lf = "principal_id,role,scope\nu4,Reader,/x\n\nu4,Nope,/y\n";
    assert_eq!(
        (
            first_problem(&db, &engine, ImportKind::Eligibility, "blank-lf.csv", lf).await,
            first_problem(
                &db,
                &engine,
                ImportKind::Eligibility,
                "blank-crlf.csv",
                crlf
            )
            .await,
        ),
        ((4, some("role")), (4, some("role"))),
        "(LF, CRLF)"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Re-importing the same file changes nothing but the audit log.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn reimporting_the_same_files_changes_no_row_and_adds_one_audit_event_each() {
    let db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(at("2026-11-26T10:00:00Z")));
    let engine = db.engine_at(Arc::clone(&clock)).await;
    load_reference(&db, &engine).await;

    for (kind, name) in [
        (ImportKind::People, "people.csv"),
        (ImportKind::Roles, "roles.csv"),
        (ImportKind::Eligibility, "eligibility.csv"),
    ] {
        for _ in 0..2 {
            // A later clock makes any needless write visible in updated_at.
            clock.advance(Duration::hours(1));
            let before = snapshot(&engine).await;
            let report = import_ok(&engine, kind, &db.dir().join(name)).await;
            assert_eq!(
                (
                    report.inserted,
                    report.updated,
                    report.unchanged,
                    report.managers_changed
                ),
                (0, 0, report.rows, 0),
                "{name}: {report:?}"
            );
            assert!(report.rows > 0);
            let after = snapshot(&engine).await;
            assert_eq!(after.principals, before.principals, "{name}");
            assert_eq!(after.roles, before.roles, "{name}");
            assert_eq!(after.eligibility, before.eligibility, "{name}");
            assert_eq!(after.audit.len(), before.audit.len() + 1, "{name}");
            assert_eq!(after.audit[..before.audit.len()], before.audit[..]);
            assert_eq!(
                after.audit.last().map(|e| e.seq),
                Some(report.audit_seq),
                "{name}"
            );
        }
    }
    assert_eq!(people(&engine).await, expected_people());
    assert_eq!(roles(&engine).await, expected_roles());
    assert_eq!(eligibilities(&engine).await, expected_eligibility());

    // And through the CLI, which says so.
    let before = snapshot(&engine).await;
    let (code, stdout, stderr) = attest_cli(&db, &["import", "eligibility", "eligibility.csv"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("5 rows (0 new, 0 changed, 5 unchanged)"),
        "{stdout}"
    );
    let after = snapshot(&engine).await;
    assert_eq!(after.eligibility, before.eligibility);
    assert_eq!(after.principals, before.principals);
    assert_eq!(after.audit.len(), before.audit.len() + 1);
}

// ---------------------------------------------------------------------------------------------
// 5. --prune removes exactly what the file no longer lists; listing it again brings it back.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn prune_removes_exactly_the_missing_eligibilities_and_relisting_restores_them() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    load_reference(&db, &engine).await;
    let before = eligibility_by_key(&engine).await;
    assert_eq!(before.len(), 5);

    // Drops u2 × Lecteur de facturation and svc-backup × Reader × /prod.
    db.file(
        "eligibility-pruned.csv",
        &csv_crlf(&[
            ELIGIBILITY[0],
            ELIGIBILITY[1],
            ELIGIBILITY[3],
            ELIGIBILITY[5],
        ]),
    );
    let (code, stdout, stderr) = attest_cli(
        &db,
        &["import", "eligibility", "eligibility-pruned.csv", "--prune"],
    );
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.contains("3 rows (0 new, 0 changed, 3 unchanged)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("removed because the file no longer lists them: 2"),
        "{stdout}"
    );

    let after = eligibility_by_key(&engine).await;
    assert_eq!(
        after.len(),
        5,
        "prune marks rows removed, it does not delete them"
    );
    let gone = [
        key("u2", "Lecteur de facturation", "/subscriptions/a,b"),
        key("svc-backup", "Reader", "/prod"),
    ];
    for (k, row) in &after {
        if gone.contains(k) {
            assert_eq!(row.status.as_str(), "removed", "{k:?}");
            assert!(row.removed_at.is_some(), "{k:?}");
            let reason = row.removal_reason.as_deref().unwrap_or_default();
            assert!(reason.contains("eligibility-pruned.csv"), "{k:?}: {reason}");
            // Everything but the removal is as it was.
            let was = &before[k];
            assert_eq!(
                (&row.start_at, &row.end_at, &row.last_activated_at),
                (&was.start_at, &was.end_at, &was.last_activated_at)
            );
        } else {
            assert_eq!(row, &before[k], "{k:?} must be untouched");
            assert_eq!(row.status.as_str(), "active");
        }
    }
    assert_eq!(
        active_keys(&engine).await,
        vec![
            key("u1", "Global Administrator", "/"),
            key("u3", "Reader", "/régions/東京"),
            key("u4", "Reader", "/prod"),
        ]
    );

    // The audit event counts the pruned rows.
    let event: Value = serde_json::from_str(
        &snapshot(&engine)
            .await
            .audit
            .last()
            .expect("an audit event")
            .details,
    )
    .expect("JSON details");
    assert_eq!(
        (event["prune"].clone(), event["pruned"].clone()),
        (json!(true), json!(2))
    );

    // Listing a pruned eligibility again makes it active again, with no trace of the removal.
    let report = import_ok(
        &engine,
        ImportKind::Eligibility,
        &db.dir().join("eligibility.csv"),
    )
    .await;
    assert_eq!(
        (report.inserted, report.updated, report.unchanged),
        (0, 2, 3),
        "{report:?}"
    );
    let restored = eligibility_by_key(&engine).await;
    for k in &gone {
        let row = &restored[k];
        assert_eq!(row.status.as_str(), "active", "{k:?}");
        assert_eq!(row.removed_at, None, "{k:?}");
        assert_eq!(row.removal_reason, None, "{k:?}");
        assert_eq!(
            row.id, before[k].id,
            "the same row comes back, not a new one"
        );
    }
    assert_eq!(eligibilities(&engine).await, expected_eligibility());
}

// ---------------------------------------------------------------------------------------------
// 6. One changed field is reported as one change and read back changed.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn one_changed_name_is_one_change() {
    let db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(at("2026-11-26T10:00:00Z")));
    let engine = db.engine_at(Arc::clone(&clock)).await;
    load_reference(&db, &engine).await;
    let before = snapshot(&engine).await;

    clock.advance(Duration::hours(1));
    let mut lines = PEOPLE.to_vec();
    lines[2] = "u2,Søren Ødegård,soren@example.test,u1,user,yes,Europe/Copenhagen";
    let report = import_ok(
        &engine,
        ImportKind::People,
        &db.file("people-renamed.csv", &csv_crlf(&lines)),
    )
    .await;
    assert_eq!(
        (
            report.rows,
            report.inserted,
            report.updated,
            report.unchanged,
            report.managers_changed
        ),
        (6, 0, 1, 5, 0),
        "{report:?}"
    );

    let after = snapshot(&engine).await;
    let u2_before = before
        .principals
        .iter()
        .find(|p| p.external_id == "u2")
        .expect("u2");
    let u2_after = principal_model(&engine, "u2").await;
    assert_eq!(u2_after.display_name, "Søren Ødegård");
    assert_eq!(u2_after.updated_at, at("2026-11-26T11:00:00Z"));
    assert_eq!(
        principal::Model {
            display_name: u2_before.display_name.clone(),
            updated_at: u2_before.updated_at,
            ..u2_after.clone()
        },
        *u2_before,
        "only the name (and updated_at) changed"
    );
    for (was, now) in before.principals.iter().zip(&after.principals) {
        if was.external_id != "u2" {
            assert_eq!(now, was, "{} must be untouched", was.external_id);
        }
    }
}

#[tokio::test]
async fn one_changed_last_activation_is_one_change() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    load_reference(&db, &engine).await;
    let before = eligibility_by_key(&engine).await;

    let mut lines = ELIGIBILITY.to_vec();
    lines[3] = "u3,Reader,/régions/東京,,,2026-11-20T09:15:00+01:00";
    db.file("eligibility-activated.csv", &csv_crlf(&lines));
    let (code, stdout, stderr) =
        attest_cli(&db, &["import", "eligibility", "eligibility-activated.csv"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("5 rows (0 new, 1 changed, 4 unchanged)"),
        "{stdout}"
    );

    let after = eligibility_by_key(&engine).await;
    let k = key("u3", "Reader", "/régions/東京");
    assert_eq!(after[&k].last_activated_at, utc("2026-11-20T08:15:00Z"));
    assert_eq!(after[&k].status.as_str(), "active");
    for (other, row) in &after {
        if other != &k {
            assert_eq!(row, &before[other], "{other:?} must be untouched");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Managers may come after their reports.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn managers_listed_after_their_reports_are_linked() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    let content = csv_crlf(&[
        "id,name,email,manager_id",
        "e1,Employee One,e1@example.test,m2",
        "e2,Employee Two,e2@example.test,m1",
        "m1,Manager One,m1@example.test,m2",
        "m2,Manager Two,m2@example.test,",
    ]);
    let report = import_ok(
        &engine,
        ImportKind::People,
        &db.file("people-forward.csv", &content),
    )
    .await;
    assert_eq!((report.inserted, report.managers_changed), (4, 3));
    let links: Vec<(String, Option<String>)> = people(&engine)
        .await
        .into_iter()
        .map(|p| (p.id, p.manager))
        .collect();
    assert_eq!(
        links,
        vec![
            ("e1".into(), some("m2")),
            ("e2".into(), some("m1")),
            ("m1".into(), some("m2")),
            ("m2".into(), None),
        ]
    );
}

#[tokio::test]
async fn managers_listed_batches_after_their_reports_are_linked() {
    let db = TestDb::new().await;
    let engine = db.engine().await;
    // p0 reports to p1, p1 to p2, …: every manager comes on the next line, and the last
    // person (the top) comes more than one read batch after the first.
    let n = 2500;
    let mut lines = vec!["id,name,email,manager_id".to_string()];
    lines.extend((0..n).map(|i| {
        let manager = if i + 1 < n {
            format!("p{}", i + 1)
        } else {
            String::new()
        };
        format!("p{i},Person {i},p{i}@example.test,{manager}")
    }));
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let report = import_ok(
        &engine,
        ImportKind::People,
        &db.file("people-chain.csv", &csv_lf(&lines)),
    )
    .await;
    assert_eq!(
        (report.rows, report.inserted, report.managers_changed),
        (n, n, n - 1)
    );
    let got: HashMap<String, Option<String>> = people(&engine)
        .await
        .into_iter()
        .map(|p| (p.id, p.manager))
        .collect();
    assert_eq!(got.len() as u64, n);
    for i in 0..n {
        let expected = (i + 1 < n).then(|| format!("p{}", i + 1));
        assert_eq!(got[&format!("p{i}")], expected, "p{i}");
    }
}

// ---------------------------------------------------------------------------------------------
// 8. The audit event of an import: who, which file, its SHA-256, the counts.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_audit_event_records_actor_file_sha256_and_counts() {
    let db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(at("2026-11-26T10:00:00.123456Z")));
    let engine = db.engine_at(Arc::clone(&clock)).await;

    let content = csv_crlf(PEOPLE);
    let path = db.file("people.csv", &content);
    let report = import_ok(&engine, ImportKind::People, &path).await;
    let file_sha = sha256_hex(content.as_bytes());
    assert_eq!(report.sha256, file_sha);

    let event = audit_event_at(&engine, report.audit_seq).await;
    assert_eq!(event.seq, 1);
    assert_eq!(event.actor, ACTOR);
    assert_eq!(event.action, "import.people");
    assert_eq!(event.at, at("2026-11-26T10:00:00.123456Z"));
    let file = path.display().to_string();
    assert_eq!(event.target.as_deref(), Some(file.as_str()));
    let details: Value = serde_json::from_str(&event.details).expect("JSON details");
    assert_eq!(details["kind"], json!("people"));
    assert_eq!(details["file"], json!(file));
    assert_eq!(details["sha256"], json!(file_sha));
    assert_eq!(details["rows"], json!(6));
    assert_eq!(details["inserted"], json!(6));
    assert_eq!(details["updated"], json!(0));
    assert_eq!(details["unchanged"], json!(0));
    assert_eq!(details["managers_changed"], json!(4));
    assert_eq!(details["prune"], json!(false));

    // A second, changed file: its own hash and counts.
    clock.advance(Duration::minutes(5));
    let mut lines = PEOPLE.to_vec();
    lines[4] = "u4,Ana Ruiz-Pérez,ana@example.test,u1,,,";
    lines.push("u5,Nuevo,nuevo@example.test,u4,,,");
    let changed = csv_lf(&lines);
    let path2 = db.file("people-v2.csv", &changed);
    let report = import_ok(&engine, ImportKind::People, &path2).await;
    let event = audit_event_at(&engine, report.audit_seq).await;
    assert_eq!(event.seq, 2);
    let details: Value = serde_json::from_str(&event.details).expect("JSON details");
    let changed_sha = sha256_hex(changed.as_bytes());
    assert_ne!(changed_sha, file_sha);
    assert_eq!(details["sha256"], json!(changed_sha));
    assert_eq!(details["file"], json!(path2.display().to_string()));
    assert_eq!(
        [
            &details["rows"],
            &details["inserted"],
            &details["updated"],
            &details["unchanged"],
            &details["managers_changed"]
        ],
        [&json!(7), &json!(1), &json!(1), &json!(5), &json!(2)]
    );

    // Through the CLI the actor is the user running it, and the file is named as they typed it.
    let roles_csv = csv_crlf(ROLES);
    db.file("roles.csv", &roles_csv);
    let (code, stdout, stderr) = attest_cli(&db, &["import", "roles", "roles.csv", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let printed: Value = serde_json::from_str(&stdout).expect("JSON report");
    assert_eq!(printed["sha256"], json!(sha256_hex(roles_csv.as_bytes())));
    assert_eq!(printed["audit_seq"], json!(3));
    let event = audit_event_at(&engine, 3).await;
    // $USER when set, else the operating system's name for the user (never "unknown").
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .or_else(|_| std::env::var("USERNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            let id = std::process::Command::new("id")
                .arg("-un")
                .output()
                .expect("id -un");
            String::from_utf8_lossy(&id.stdout).trim().to_string()
        });
    assert_eq!(event.actor, format!("cli:{user}"));
    assert_eq!(event.action, "import.roles");
    assert_eq!(event.target.as_deref(), Some("roles.csv"));
    let details: Value = serde_json::from_str(&event.details).expect("JSON details");
    assert_eq!(details["sha256"], json!(sha256_hex(roles_csv.as_bytes())));
    assert_eq!(
        (details["rows"].clone(), details["inserted"].clone()),
        (json!(3), json!(3))
    );
}

/// Issue 14: logs written to a file or a pipe (cron, systemd, `2> log`) carry no colour codes;
/// here stderr is a pipe and the import's warning about an unknown column is logged.
#[tokio::test]
async fn logs_to_a_pipe_carry_no_colour_codes() {
    let db = TestDb::new().await;
    // A people file keeps its extra columns as attributes (issue 17): the roles file warns.
    db.file(
        "people.csv",
        "id,name,email,manager_id\nu1,Ana Ruiz,ana@example.test,\n",
    );
    let (code, _, stderr) = attest_cli(&db, &["import", "people", "people.csv"]);
    assert_eq!(code, 0, "{stderr}");
    db.file(
        "roles.csv",
        "name,owner_id,risk,shoe_size\nReader,u1,low,42\n",
    );
    let (code, _, stderr) = attest_cli(&db, &["import", "roles", "roles.csv"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("unknown column \"shoe_size\" ignored"),
        "the warning is logged: {stderr:?}"
    );
    assert!(!stderr.contains('\u{1b}'), "no escape codes: {stderr:?}");
}
