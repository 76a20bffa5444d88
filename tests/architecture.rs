//! The layers stay where docs/architecture.md says they are: SQL is written in src/store only,
//! only the store knows which database it talks to, adapters reach the database through the
//! engine, and the domain stays free of I/O. A change that breaks one of these fails here,
//! naming the file and line.

use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `(path relative to the repository, text)` of every Rust file under `dir`, in path order.
fn rust_files(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let name = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .display()
                .to_string();
            (name, text)
        })
        .collect()
}

/// `(path relative to the repository, line number, line)` of every line of code (comments
/// left out) of the Rust files under `dir`.
fn code_lines(dir: &Path) -> Vec<(String, usize, String)> {
    let mut lines = Vec::new();
    for (name, text) in rust_files(dir) {
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            lines.push((name.clone(), n + 1, line.to_string()));
        }
    }
    lines
}

/// Whether the line holds SQL text: a statement's opening keywords, in capitals as the store
/// writes them.
fn looks_like_sql(line: &str) -> bool {
    let words: Vec<&str> = line
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let pair = |a: &str, b: &[&str]| words.windows(2).any(|w| w[0] == a && b.contains(&w[1]));
    (words.contains(&"SELECT") && words.contains(&"FROM"))
        || pair("INSERT", &["INTO"])
        || pair("DELETE", &["FROM"])
        || pair("CREATE", &["TABLE", "INDEX", "DATABASE", "UNIQUE"])
        || pair("DROP", &["TABLE", "INDEX", "DATABASE"])
        || pair("ALTER", &["TABLE"])
        || (words.contains(&"UPDATE") && words.contains(&"SET"))
        || (words.contains(&"COPY") && words.contains(&"STDIN"))
}

fn outside(dir: &str, lines: Vec<(String, usize, String)>) -> Vec<(String, usize, String)> {
    let prefix = format!("src/{dir}/");
    lines
        .into_iter()
        .filter(|(file, _, _)| !file.starts_with(&prefix))
        .collect()
}

fn report(what: &str, found: &[(String, usize, String)]) {
    assert!(
        found.is_empty(),
        "{what}:\n{}",
        found
            .iter()
            .map(|(f, n, l)| format!("  {f}:{n}: {}", l.trim()))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_checks_see_sql_where_it_is() {
    // The checks below would pass vacuously if they could not recognise the store's SQL.
    let in_store = code_lines(&src().join("store"))
        .into_iter()
        .filter(|(_, _, l)| looks_like_sql(l))
        .count();
    assert!(
        in_store > 50,
        "only {in_store} lines of SQL found in src/store"
    );
    assert!(looks_like_sql(r#"  "UPDATE review_item SET verdict = ""#));
    assert!(!looks_like_sql("let selected = update_from(set);"));
}

#[test]
fn no_module_outside_the_store_contains_sql() {
    let found: Vec<_> = outside("store", code_lines(&src()))
        .into_iter()
        .filter(|(_, _, l)| looks_like_sql(l))
        .collect();
    report(
        "SQL outside src/store (move it into a store function)",
        &found,
    );
}

#[test]
fn only_the_store_knows_which_database_it_talks_to() {
    let found: Vec<_> = outside("store", code_lines(&src()))
        .into_iter()
        .filter(|(_, _, l)| {
            [
                "DbBackend",
                "DatabaseBackend",
                "PgPool",
                "SqlitePool",
                "sqlx::",
            ]
            .iter()
            .any(|w| l.contains(w))
        })
        .collect();
    report("backend-specific code outside src/store", &found);
}

/// What only one of the two backends understands: its connection pools and drivers, its
/// functions, catalogues and clauses.
const ONE_BACKEND_ONLY: &[&str] = &[
    "DbBackend::Postgres",
    "DbBackend::Sqlite",
    "get_postgres_connection_pool",
    "get_sqlite_connection_pool",
    "sqlx::postgres",
    "sqlx::sqlite",
    "PgPool",
    "SqlitePool",
    "copy_in",
    "json_group_array",
    "pg_",
    "sqlite_master",
    "::int8[",
    "::int4[",
    "::text[",
    "::timestamptz[",
    "::bool[",
    "UNNEST",
    "FOR UPDATE",
    "SKIP LOCKED",
    "ANALYZE",
];

#[test]
fn the_two_backends_differ_only_in_their_modules() {
    let is_one_backends = |l: &str| ONE_BACKEND_ONLY.iter().any(|w| l.contains(w));
    let in_backend = code_lines(&src().join("store/backend"))
        .into_iter()
        .filter(|(_, _, l)| is_one_backends(l))
        .count();
    assert!(
        in_backend > 20,
        "only {in_backend} backend-specific lines found in src/store/backend: the check cannot see them"
    );
    let found: Vec<_> = code_lines(&src().join("store"))
        .into_iter()
        .filter(|(f, _, l)| !f.starts_with("src/store/backend/") && is_one_backends(l))
        .collect();
    report(
        "one backend's code outside src/store/backend (move it to backend/postgres or backend/sqlite)",
        &found,
    );
}

#[test]
fn adapters_reach_the_database_through_the_engine() {
    let found: Vec<_> = outside("engine", outside("store", code_lines(&src())))
        .into_iter()
        .filter(|(_, _, l)| l.contains(".store()"))
        .collect();
    report(
        "an adapter reaches around the engine (add an engine function)",
        &found,
    );
}

#[test]
fn the_domain_does_no_io() {
    let found: Vec<_> = code_lines(&src().join("domain"))
        .into_iter()
        .filter(|(_, _, l)| {
            [
                "sea_orm",
                "sqlx",
                "tokio",
                "axum",
                "reqwest",
                "lettre",
                "Utc::now",
                "std::fs",
                "SystemTime",
            ]
            .iter()
            .any(|w| l.contains(w))
        })
        .collect();
    report("I/O or a clock in src/domain", &found);
}

/// The web layer's parts (api, auth, console, error, review, …) depend on each other without a
/// circle: the router (src/web/mod.rs) uses them all, and none reaches back to a part that
/// reaches it.
#[test]
fn the_web_layer_has_no_import_circles() {
    use std::collections::{BTreeMap, BTreeSet};
    let web = src().join("web");
    let part_of = |file: &str| -> Option<String> {
        let rest = file.strip_prefix("src/web/")?;
        let first = rest.split('/').next()?;
        let name = first.trim_end_matches(".rs");
        (name != "mod").then(|| name.to_string())
    };
    let lines = code_lines(&web);
    let parts: BTreeSet<String> = lines.iter().filter_map(|(f, _, _)| part_of(f)).collect();
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, _, line) in &lines {
        let Some(from) = part_of(file) else { continue };
        let depth = file.matches('/').count() - 2; // src/web/x.rs: 0, src/web/x/y.rs: 1
        let up = "super::".repeat(depth + 1);
        for to in &parts {
            if *to == from {
                continue;
            }
            let named = [
                format!("crate::web::{to}::"),
                format!("{up}{to}::"),
                format!("{up}{{"),
            ]
            .iter()
            .any(|p| {
                line.contains(p.as_str())
                    && (!p.ends_with('{')
                        || line.contains(&format!(" {to}"))
                        || line.contains(&format!("{{{to}")))
            });
            if named {
                uses.entry(from.clone()).or_default().insert(to.clone());
            }
        }
    }
    // A depth-first search for a circle.
    fn circle(
        at: &str,
        uses: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == at) {
            let mut c = path[i..].to_vec();
            c.push(at.to_string());
            return Some(c);
        }
        path.push(at.to_string());
        for next in uses.get(at).into_iter().flatten() {
            if let Some(c) = circle(next, uses, path) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    for part in &parts {
        if let Some(c) = circle(part, &uses, &mut Vec::new()) {
            panic!(
                "an import circle in src/web: {} (uses: {uses:?})",
                c.join(" -> ")
            );
        }
    }
    assert!(
        uses.get("auth").is_some_and(|u| u.contains("error")),
        "the check does not see auth's use of the error module: {uses:?}"
    );
}

/// Files stay short enough to read in one sitting: a module that outgrows this becomes a folder
/// of files, one concept each.
#[test]
fn no_source_file_is_longer_than_a_sitting() {
    const MOST_LINES: usize = 600;
    let counts: Vec<(String, usize)> = rust_files(&src())
        .into_iter()
        .map(|(name, text)| (name, text.lines().count()))
        .collect();
    assert!(
        counts.len() > 100,
        "only {} files found under src",
        counts.len()
    );
    let long: Vec<String> = counts
        .iter()
        .filter(|(_, n)| *n > MOST_LINES)
        .map(|(f, n)| format!("  {f}: {n} lines"))
        .collect();
    assert!(
        long.is_empty(),
        "files over {MOST_LINES} lines (split them by concept):\n{}",
        long.join("\n")
    );
}
