//! Progress on long commands: on a terminal, imports, launch, close with its removals and the
//! evidence export draw a bar with rows, rate and time left on stderr; in scripts (no
//! terminal) and with `--json` they print none of it. The terminal is a real pseudo-terminal
//! (`script` from util-linux), as a person at a shell would have.

mod common;

use common::{attest_cli, TestDb};
use std::fmt::Write as _;
use std::process::Command;

const PEOPLE: usize = 500;
const ROLES: [&str; 4] = ["Role A", "Role B", "Role C", "Role D"];
const SCOPES: usize = 10;

const DEFINITION: &str = r#"
name = "progress"
owner = "p0"
schedule = "quarterly"
duration_days = 14
reviewers = "manager"
fallback_reviewer = "p0"
on_no_response = "remove"
max_auto_remove_percent = 100
"#;

/// 500 people under one manager, four roles and 20,000 eligibilities (400 KB): enough rows that
/// a file is read in several buffers and each command draws before it ends.
fn write_files(db: &TestDb) {
    let mut people = String::from("id,name,email,manager_id\n");
    for i in 0..PEOPLE {
        let manager = if i == 0 { String::new() } else { "p0".into() };
        writeln!(people, "p{i},Person {i},p{i}@example.test,{manager}")
            .expect("a String takes any text");
    }
    db.file("people.csv", &people);
    let mut roles = String::from("name,owner_id,risk,description\n");
    for role in ROLES {
        writeln!(roles, "{role},p0,high,").expect("a String takes any text");
    }
    db.file("roles.csv", &roles);
    let mut eligibility = String::from("principal_id,role,scope\n");
    for i in 1..PEOPLE {
        for role in ROLES {
            for s in 0..SCOPES {
                writeln!(eligibility, "p{i},{role},/tenant/{s}").expect("a String takes any text");
            }
        }
    }
    db.file("eligibility.csv", &eligibility);
    db.file("progress.toml", DEFINITION);
}

/// Runs attest on a pseudo-terminal: (exit code, everything the terminal showed).
fn on_terminal(db: &TestDb, args: &[&str]) -> (i32, String) {
    let command = std::iter::once(env!("CARGO_BIN_EXE_attest"))
        .chain(args.iter().copied())
        .map(shell_quote)
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new("script")
        .args(["-q", "-e", "-f", "-c", &command, "/dev/null"])
        .current_dir(db.dir())
        .env("ATTEST_DATABASE_URL", &db.url)
        .env("ATTEST_LOG", "warn")
        .env("TERM", "xterm-256color")
        .env("COLUMNS", "160")
        .output()
        .expect("run script(1): util-linux");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// What a progress bar with a known total draws: "[====>   ] 12,000/80,000 … left".
fn shows_bar(screen: &str, what: &str) -> bool {
    screen.contains(what) && screen.contains(" left") && screen.contains('/')
}

#[tokio::test]
async fn long_commands_show_progress_on_a_terminal_and_nothing_in_scripts() {
    let db = TestDb::new().await;
    write_files(&db);

    // In a script: stderr carries no progress at all.
    for (kind, file) in [("people", "people.csv"), ("roles", "roles.csv")] {
        let (code, stdout, stderr) = attest_cli(&db, &["import", kind, file]);
        assert_eq!(code, 0, "import {kind}: {stdout}\n{stderr}");
        assert!(
            !stderr.contains("rows read"),
            "progress drawn without a terminal: {stderr:?}"
        );
    }

    // On a terminal: rows read against the file's estimated rows, with the time left.
    let (code, screen) = on_terminal(&db, &["import", "eligibility", "eligibility.csv"]);
    assert_eq!(code, 0, "{screen}");
    assert!(
        shows_bar(&screen, "rows read"),
        "no progress bar on the terminal: {screen:?}"
    );
    assert!(
        screen.contains("19,960"),
        "the import's own summary: {screen:?}"
    );

    // `--json` on a terminal: the JSON only.
    let (code, screen) = on_terminal(&db, &["import", "eligibility", "eligibility.csv", "--json"]);
    assert_eq!(code, 0, "{screen}");
    assert!(
        !screen.contains("rows read"),
        "progress with --json: {screen:?}"
    );
    let json: serde_json::Value =
        serde_json::from_str(screen.trim()).unwrap_or_else(|e| panic!("{e}: {screen:?}"));
    assert_eq!(json["rows"], 19_960);

    let (code, stdout, stderr) = attest_cli(&db, &["campaign", "define", "progress.toml"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");

    // The launch counts items against the population in scope.
    let (code, screen) = on_terminal(&db, &["campaign", "launch", "progress"]);
    assert_eq!(code, 0, "{screen}");
    assert!(shows_bar(&screen, "items"), "launch: {screen:?}");
    let id = campaign_id(&db);

    // The close settles (a spinner with the time spent), then counts its removals.
    let (code, screen) = on_terminal(&db, &["campaign", "close", &id.to_string()]);
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains(&format!("closing campaign #{id}")),
        "close: {screen:?}"
    );
    assert!(shows_bar(&screen, "removals"), "removals: {screen:?}");

    // The export counts the campaign's items.
    let out = db.dir().join("bundle.zip");
    let out = out.to_str().expect("utf-8 path");
    let (code, screen) = on_terminal(&db, &["evidence", "export", &id.to_string(), "--out", out]);
    assert_eq!(code, 0, "{screen}");
    assert!(shows_bar(&screen, "items"), "export: {screen:?}");

    // The same export in a script: stderr is empty.
    let (code, stdout, stderr) = attest_cli(
        &db,
        &[
            "evidence",
            "export",
            &id.to_string(),
            "--out",
            out,
            "--force",
        ],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.trim().is_empty(), "stderr in a script: {stderr:?}");
}

fn campaign_id(db: &TestDb) -> i64 {
    let (code, stdout, stderr) = attest_cli(db, &["campaign", "list", "--json"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let list: serde_json::Value = serde_json::from_str(&stdout).expect("campaign list JSON");
    list.as_array()
        .and_then(|l| l.first())
        .and_then(|c| c["id"].as_i64())
        .unwrap_or_else(|| panic!("no campaign: {stdout}"))
}
