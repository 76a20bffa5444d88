//! The documents stand on their own and say what the code does: the example definition of
//! docs/definitions.md defines through the real CLI, the examples of docs/import-formats.md
//! import, every command and flag that `attest --help` shows is in the README's command table,
//! and nothing refers to a document that is not in the repository.
//!
//! Every test gets its own database (SQLite, or PostgreSQL with ATTEST_TEST_DATABASE_URL).

mod common;

use common::{attest_cli, TestDb};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    let path = repo().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn nothing_refers_to_a_design_document_outside_the_repository() {
    // Spelled in pieces so that this file does not find itself.
    let needles = [
        ["design", " section"].concat(),
        ["design", " §"].concat(),
        ["shared/", "design"].concat(),
        ["design", ".md"].concat(),
    ];
    let mut files = vec![repo().join("README.md")];
    for dir in [
        "src",
        "templates",
        "docs",
        "tests",
        "migration",
        "entity",
        ".ci",
    ] {
        files_under(&repo().join(dir), &mut files);
    }
    let mut found = Vec::new();
    for file in &files {
        // Binary files (screenshots, fixtures) hold no references.
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (number, line) in text.lines().enumerate() {
            let lower = line.to_lowercase();
            if needles.iter().any(|n| lower.contains(n.as_str())) {
                let shown = file.strip_prefix(repo()).unwrap_or(file);
                found.push(format!(
                    "{}:{}: {}",
                    shown.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "these lines cite a design document the repository does not hold; cite a document in \
         docs/ or the README instead (or say it where it is cited):\n{}",
        found.join("\n")
    );
}

/// The people and roles the example definition names.
const EXAMPLE_PEOPLE: &str = "\
id,name,email,manager_id,kind
u0001,Chief Information Security Officer,ciso@example.test,,user
u0002,Identity Lead,iam@example.test,u0001,user
u0003,Platform Lead,platform@example.test,u0001,user
u0004,Operator,operator@example.test,u0003,user
u0009,Break Glass,,u0001,break_glass
";
const EXAMPLE_ROLES: &str = "\
name,owner_id,risk
Global Administrator,u0002,high
Privileged Role Administrator,u0002,high
Security Administrator,u0003,medium
";
const EXAMPLE_ELIGIBILITY: &str = "\
principal_id,role,scope,last_activated_at
u0004,Global Administrator,/,2026-01-01
u0009,Global Administrator,/,
u0003,Security Administrator,/subscriptions/prod,
";

fn write(db: &TestDb, name: &str, text: &str) -> String {
    let path = db.dir().join(name);
    std::fs::write(&path, text).expect("write a file");
    path.display().to_string()
}

fn import(db: &TestDb, kind: &str, path: &str) {
    let (code, out, err) = attest_cli(db, &["import", kind, path]);
    assert_eq!(code, 0, "import {kind} {path}: {out}{err}");
}

#[tokio::test]
async fn the_example_definition_defines_through_the_cli() {
    let db = TestDb::new().await;
    import(&db, "people", &write(&db, "people.csv", EXAMPLE_PEOPLE));
    import(&db, "roles", &write(&db, "roles.csv", EXAMPLE_ROLES));
    let eligibility = write(&db, "eligibility.csv", EXAMPLE_ELIGIBILITY);
    import(&db, "eligibility", &eligibility);

    let example = repo().join("docs/examples/quarterly-review.toml");
    let example = example.display().to_string();
    let (code, out, err) = attest_cli(&db, &["campaign", "define", &example, "--json"]);
    assert_eq!(code, 0, "the example definition was refused:\n{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("define --json");
    assert_eq!(report["name"], "quarterly-privileged-review", "{out}");
    assert_eq!(report["version"], 1, "{out}");
    assert!(report["next_launch"].is_string(), "no next launch: {out}");

    // It reviews what its scope says: all three eligibilities (high and medium risk, below "/").
    let (code, out, err) = attest_cli(
        &db,
        &[
            "campaign",
            "preview",
            "quarterly-privileged-review",
            "--json",
        ],
    );
    assert_eq!(code, 0, "preview: {out}{err}");
    let preview: serde_json::Value = serde_json::from_str(&out).expect("preview --json");
    assert_eq!(preview["population"], 3, "{out}");
    // The break-glass holder and the listed exclusion are one and the same here.
    let excluded = preview["excluded"].to_string();
    assert!(excluded.contains("u0009"), "{out}");
}

#[test]
fn the_example_definition_uses_every_key_and_the_document_describes_each() {
    use attest::domain::definition::CampaignSpec;
    let example = read("docs/examples/quarterly-review.toml");
    let document = read("docs/definitions.md");
    let spec = CampaignSpec::from_toml(&example)
        .unwrap_or_else(|e| panic!("the example does not parse: {e:?}"));
    // The keys a definition has, read from what the parser produces, so that a key added to
    // the parser and left out of the example or the document fails here.
    let value = serde_json::to_value(&spec).expect("spec as JSON");
    let mut keys: Vec<String> = Vec::new();
    for (key, inner) in value.as_object().expect("an object") {
        if key == "scope" {
            for scope_key in inner.as_object().expect("scope is an object").keys() {
                keys.push(format!("scope.{scope_key}"));
            }
        } else {
            keys.push(key.clone());
        }
    }
    // `source` sits in the scope of the parsed spec but is written at the top level, and the
    // example's `source = "builtin"` parses to no source at all.
    keys.retain(|k| k != "scope.source");
    keys.push("source".into());
    keys.push("scope".into());
    for key in &keys {
        let bare = key.trim_start_matches("scope.");
        let written = if key == "scope" {
            example.lines().any(|l| l.trim() == "[scope]")
        } else {
            example
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{bare} =")))
        };
        assert!(
            written,
            "docs/examples/quarterly-review.toml does not set {key}"
        );
        let described = if key == "scope" {
            document.contains("`[scope]`")
        } else {
            document.contains(&format!("| `{key}` |"))
        };
        assert!(described, "docs/definitions.md has no row for `{key}`");
    }
}

#[tokio::test]
async fn the_import_examples_import() {
    // Each fenced example of docs/import-formats.md, under the heading of its kind.
    let document = read("docs/import-formats.md");
    let mut kind = None;
    let mut block: Option<(String, Vec<&str>)> = None;
    let mut examples = Vec::new();
    for line in document.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            kind = match heading {
                "People" => Some("people"),
                "Roles" => Some("roles"),
                "Eligibility" => Some("eligibility"),
                "Activations" => Some("activations"),
                _ => None,
            };
        } else if let Some(fence) = line.strip_prefix("```") {
            match block.take() {
                Some((extension, lines)) => {
                    if let Some(kind) = kind {
                        examples.push((kind, extension, lines.join("\n") + "\n"));
                    }
                }
                None => block = Some((fence.to_string(), Vec::new())),
            }
        } else if let Some((_, lines)) = block.as_mut() {
            lines.push(line);
        }
    }
    let kinds: Vec<&str> = examples.iter().map(|(k, _, _)| *k).collect();
    for expected in ["people", "roles", "eligibility", "activations"] {
        assert!(
            kinds.contains(&expected),
            "docs/import-formats.md has no {expected} example"
        );
    }

    let db = TestDb::new().await;
    for (i, (kind, extension, text)) in examples.iter().enumerate() {
        let path = write(&db, &format!("example-{i}-{kind}.{extension}"), text);
        import(&db, kind, &path);
    }
    let (code, out, err) = attest_cli(&db, &["eligibility", "list", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Global Administrator"), "{out}");
}

/// The commands listed under `Commands:` in a `--help` text, without `help`.
fn commands_of(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// The long flags a `--help` text offers, without those every command has.
fn flags_of(help: &str) -> Vec<String> {
    help.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("-h, ").unwrap_or(l);
            let l = l.strip_prefix("-V, ").unwrap_or(l);
            l.starts_with("--")
                .then(|| l.split([' ', '=']).next().unwrap_or(l).to_string())
        })
        .filter(|f| !["--help", "--version", "--config"].contains(&f.as_str()))
        .collect()
}

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_attest"))
        .args(args)
        .arg("--help")
        .output()
        .expect("run attest --help");
    assert!(out.status.success(), "attest {args:?} --help failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_command_and_flag_of_the_help_is_in_the_readme() {
    let readme = read("README.md");
    // The rows of the command table: `| \`attest …\` | … |`.
    let rows: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("| `attest "))
        .collect();
    let mut missing = Vec::new();
    let top = help(&[]);
    assert!(
        readme.contains("--config FILE"),
        "the README does not mention the global --config FILE"
    );
    for command in commands_of(&top) {
        let subcommands = commands_of(&help(&[&command]));
        let leaves: Vec<Vec<String>> = if subcommands.is_empty() {
            vec![vec![command.clone()]]
        } else {
            subcommands
                .into_iter()
                .map(|s| vec![command.clone(), s])
                .collect()
        };
        for leaf in leaves {
            // A row names the leaf as `attest group sub`, or names the group and then the
            // subcommand on its own (`attest campaign list …`, `show ID`).
            let full = format!("`attest {}", leaf.join(" "));
            let row = rows.iter().find(|r| {
                let cell = r.split(" | ").next().unwrap_or(r);
                cell.contains(&format!("{full} "))
                    || cell.contains(&format!("{full}`"))
                    || leaf.len() == 2
                        && cell.starts_with(&format!("| `attest {} ", leaf[0]))
                        && (cell.contains(&format!("`{} ", leaf[1]))
                            || cell.contains(&format!("`{}`", leaf[1])))
            });
            let Some(row) = row else {
                missing.push(format!("attest {}: no row", leaf.join(" ")));
                continue;
            };
            let args: Vec<&str> = leaf.iter().map(String::as_str).collect();
            let cell = row.split(" | ").next().unwrap_or(row);
            for flag in flags_of(&help(&args)) {
                if !cell.contains(&flag) {
                    missing.push(format!("attest {}: {flag}", leaf.join(" ")));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the README's command table lacks:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_readme_links_every_document() {
    let readme = read("README.md");
    let mut files = Vec::new();
    files_under(&repo().join("docs"), &mut files);
    for file in files {
        let relative = file.strip_prefix(repo()).expect("under the repository");
        let relative = relative.display().to_string();
        assert!(
            readme.contains(&format!("]({relative})")),
            "the README does not link {relative}"
        );
    }
}

#[test]
fn the_readme_definition_parses() {
    use attest::domain::definition::CampaignSpec;
    let readme = read("README.md");
    let section = readme
        .split("### Campaign definitions")
        .nth(1)
        .expect("the README has a Campaign definitions section");
    let toml = section
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a toml block in the Campaign definitions section");
    if let Err(problems) = CampaignSpec::from_toml(toml) {
        panic!("the README's definition does not parse: {problems:?}");
    }
}
