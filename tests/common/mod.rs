//! Shared helpers for integration tests: a fresh database per test, on the backend the run
//! selected, so tests run in parallel and never see each other's rows.
//!
//! `cargo test` uses SQLite files. With `ATTEST_TEST_DATABASE_URL=postgres://…/test` every test
//! gets its own PostgreSQL database created beside that one (and dropped afterwards).
#![allow(dead_code)]

use attest::clock::{Clock, ManualClock, SystemClock};
use attest::engine::Engine;
use attest::store::Store;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Database};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// The selected PostgreSQL server, if the run selected one.
pub fn postgres_url() -> Option<String> {
    std::env::var("ATTEST_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A fresh, empty database on the selected backend.
    pub async fn new() -> Self {
        match postgres_url() {
            Some(admin) => Self::postgres(&admin).await,
            None => Self::sqlite(),
        }
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("attest.db").display()
        );
        Self {
            url,
            dir,
            postgres: None,
        }
    }

    /// A fresh database on the PostgreSQL server at `admin_url`.
    pub async fn postgres(admin_url: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let name = format!(
            "attest_t_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            nanos
        );
        let admin = Database::connect(admin_url)
            .await
            .expect("connect to the PostgreSQL admin database");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        admin.close().await.ok();
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url, |(base, _)| base);
        Self {
            url: format!("{base}/{name}"),
            dir: tempfile::tempdir().expect("temp dir"),
            postgres: Some((admin_url.to_string(), name)),
        }
    }

    /// A scratch folder that lives as long as the database.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub async fn store(&self) -> Store {
        Store::connect(&self.url)
            .await
            .expect("connect and migrate")
    }

    pub async fn engine(&self) -> Engine {
        Engine::new(self.store().await, Arc::new(SystemClock))
    }

    pub async fn engine_at(&self, clock: Arc<ManualClock>) -> Engine {
        let clock: Arc<dyn Clock> = clock;
        Engine::new(self.store().await, clock)
    }

    /// Writes `content` to a file named `name` in the scratch folder.
    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).expect("write test file");
        path
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs inside the test's runtime; a short-lived thread with its own runtime may block.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(admin) = Database::connect(&admin_url).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// The PostgreSQL server CI runs beside every build.
pub const CI_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// For tests that only make sense on PostgreSQL (several instances on one database): the server
/// to use, or `None` after printing why the test is skipped. Under CI they always run.
pub fn require_postgres(test: &str) -> Option<String> {
    if let Some(url) = postgres_url() {
        return Some(url);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        return Some(CI_POSTGRES.to_string());
    }
    skipped(
        test,
        &format!("needs PostgreSQL (set ATTEST_TEST_DATABASE_URL={CI_POSTGRES})"),
    );
    None
}

/// Says that a test skipped (part of) its work because something it needs is missing, as
/// `SKIPPED <test>: <why>` on stderr. It writes to the stderr handle itself rather than through
/// `eprintln!`: libtest captures the print macros of a passing test and shows nothing of them,
/// so a skip would pass silently in a plain `cargo test`; writes to the handle are not captured.
pub fn skipped(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {why}");
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("valid time")
        .with_timezone(&Utc)
}

/// Runs the `attest` binary against `db` in its scratch folder; returns (exit code, stdout, stderr).
pub fn attest_cli(db: &TestDb, args: &[&str]) -> (i32, String, String) {
    attest_cli_env(db, args, &[])
}

/// [`attest_cli`] with further environment variables (a source's secret, say).
pub fn attest_cli_env(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_attest"))
        .args(args)
        .current_dir(db.dir())
        .env("ATTEST_DATABASE_URL", &db.url)
        .env("ATTEST_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("run attest");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Makes writing removal history fail (as a crash between a removal and its record would leave
/// things), or stops doing so (`on = false`). With `outcomes_only`, a removal's `started` intent
/// is still written and only its outcome fails.
pub async fn fail_remediation_records(engine: &Engine, on: bool, outcomes_only: bool) {
    use sea_orm::DbBackend;
    let conn = engine.store().conn();
    let statements: Vec<String> = match (conn.get_database_backend(), on) {
        (DbBackend::Postgres, true) => vec![
            "CREATE FUNCTION simulated_crash() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'simulated crash'; END $$ LANGUAGE plpgsql".into(),
            format!(
                "CREATE TRIGGER simulated_crash BEFORE INSERT ON remediation_attempt FOR EACH ROW {}EXECUTE FUNCTION simulated_crash()",
                if outcomes_only { "WHEN (NEW.outcome <> 'started') " } else { "" }
            ),
        ],
        (DbBackend::Postgres, false) => vec![
            "DROP TRIGGER simulated_crash ON remediation_attempt".into(),
            "DROP FUNCTION simulated_crash()".into(),
        ],
        (_, true) => vec![format!(
            "CREATE TRIGGER simulated_crash BEFORE INSERT ON remediation_attempt {}BEGIN SELECT RAISE(ABORT, 'simulated crash'); END",
            if outcomes_only { "WHEN NEW.outcome <> 'started' " } else { "" }
        )],
        (_, false) => vec!["DROP TRIGGER simulated_crash".into()],
    };
    for sql in &statements {
        conn.execute_unprepared(sql).await.expect(sql);
    }
}

/// Makes recording a mail as sent fail (as a crash between sending it and recording it would
/// leave things), or stops doing so (`on = false`).
pub async fn fail_mail_records(engine: &Engine, on: bool) {
    use sea_orm::DbBackend;
    let conn = engine.store().conn();
    let statements: Vec<&str> = match (conn.get_database_backend(), on) {
        (DbBackend::Postgres, true) => vec![
            "CREATE FUNCTION simulated_mail_crash() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'simulated crash'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER simulated_mail_crash BEFORE UPDATE ON outbox_mail FOR EACH ROW WHEN (NEW.state = 'sent') EXECUTE FUNCTION simulated_mail_crash()",
        ],
        (DbBackend::Postgres, false) => vec![
            "DROP TRIGGER simulated_mail_crash ON outbox_mail",
            "DROP FUNCTION simulated_mail_crash()",
        ],
        (_, true) => vec![
            "CREATE TRIGGER simulated_mail_crash BEFORE UPDATE ON outbox_mail WHEN NEW.state = 'sent' BEGIN SELECT RAISE(ABORT, 'simulated crash'); END",
        ],
        (_, false) => vec!["DROP TRIGGER simulated_mail_crash"],
    };
    for sql in statements {
        conn.execute_unprepared(sql).await.expect(sql);
    }
}

/// The files of a zip (an evidence bundle), by name.
pub fn unzip(bytes: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a readable zip");
    let mut files = std::collections::BTreeMap::new();
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).expect("a zip entry");
        let mut content = Vec::new();
        file.read_to_end(&mut content).expect("read a zip entry");
        files.insert(file.name().to_string(), content);
    }
    files
}

pub mod app;
pub mod graph_server;
pub mod slapd;
pub mod smtp;

/// Runs the `attest` binary in `dir` as an auditor away from the instance would: no database at
/// hand (the configured SQLite file does not exist, and the run must not create it).
pub fn attest_cli_without_database(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let missing = dir.join("no-instance-here.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_attest"))
        .args(args)
        .current_dir(dir)
        .env(
            "ATTEST_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", missing.display()),
        )
        .env("ATTEST_LOG", "warn")
        .output()
        .expect("run attest");
    assert!(
        !missing.exists(),
        "attest {args:?} created a database at {}",
        missing.display()
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The first ```toml block of the README section whose heading is `heading` (e.g. "### Movers"),
/// for the tests that check the README's examples define as written.
pub fn readme_toml(heading: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    readme
        .split(heading)
        .nth(1)
        .and_then(|section| section.split("```toml\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .unwrap_or_else(|| panic!("a toml block in the README's {heading} section"))
        .to_string()
}

/// Every problem the definition parser finds in `text`, as written ("key: reason"); panics when
/// it accepts the text.
pub fn definition_problems(text: &str) -> Vec<String> {
    attest::domain::definition::CampaignSpec::from_toml(text)
        .err()
        .unwrap_or_else(|| panic!("refused: {text}"))
        .iter()
        .map(|e| e.to_string())
        .collect()
}
