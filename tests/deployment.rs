//! The documented deployment, run: two `attest serve` instances on one database behind nginx
//! configured by `docs/deploy/nginx.conf` itself (ports and log path substituted). Both
//! instances answer, every reviewer is mailed once although two mail workers share the outbox,
//! decisions go through the proxy to either instance, and when one instance is killed the
//! proxy and the other instance carry on with nothing lost: the campaign closes through the
//! proxy with every acknowledged decision in it.

mod common;
#[path = "chaos_support/reviewers.rs"]
mod reviewers;

use common::smtp::{dying_with_parent, free_port, kill_group, require, SmtpServer};
use common::{attest_cli, TestDb};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const TEST: &str = "deployment";
const NGINX: &str = "/usr/sbin/nginx";
const MANAGERS: usize = 6;
const REPORTS: usize = 10;
const LINK_KEY: &str = "deployment-test-link-key-the-same-for-both-instances";

const DEFINITION: &str = r#"
name = "two-instances"
owner = "own"
schedule = "quarterly"
duration_days = 14
reviewers = "manager"
fallback_reviewer = "own"
on_no_response = "keep"
"#;

/// One `attest serve`, its own process group, killed when dropped.
struct Instance {
    port: u16,
    child: Option<Child>,
    log: PathBuf,
}

impl Instance {
    async fn start(db: &TestDb, smtp: &SmtpServer, public_url: &str, name: &str) -> Self {
        let port = free_port();
        let log = db.dir().join(format!("{name}.log"));
        let stderr = std::fs::File::create(&log).expect("instance log");
        let child = dying_with_parent(env!("CARGO_BIN_EXE_attest"))
            .args(["serve", "--tick", "1"])
            .current_dir(db.dir())
            .env("ATTEST_DATABASE_URL", &db.url)
            .env("ATTEST_SMTP_URL", smtp.url())
            .env("ATTEST_BIND", format!("127.0.0.1:{port}"))
            .env("ATTEST_BASE_URL", public_url)
            .env("ATTEST_LINK_KEY", LINK_KEY)
            .env("ATTEST_LOG", "warn,attest=info")
            .env_remove("USER")
            .env_remove("LOGNAME")
            .env_remove("USERNAME")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .expect("start attest serve");
        let mut instance = Self {
            port,
            child: Some(child),
            log,
        };
        let url = format!("http://127.0.0.1:{port}/healthz");
        instance.wait_until(&url, "attest serve").await;
        instance
    }

    async fn wait_until(&mut self, url: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("{what} exited at start ({status}):\n{}", self.log_text());
            }
            if reqwest::get(url)
                .await
                .is_ok_and(|a| a.status().is_success())
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what} did not answer {url}:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, as `systemctl stop` and `docker stop` send; the exit status within 20 s.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(sent.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("wait for attest serve") {
                return status;
            }
            if Instant::now() > deadline {
                kill_group(&mut child);
                panic!(
                    "attest serve did not stop within 20 s of SIGTERM:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child);
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// nginx in the foreground with the documented server block, its files in `dir`.
struct Proxy {
    port: u16,
    access_log: PathBuf,
    _child: Instance,
}

impl Proxy {
    async fn start(dir: &Path, port: u16, upstreams: [u16; 2]) -> Self {
        let documented = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/deploy/nginx.conf"),
        )
        .expect("docs/deploy/nginx.conf");
        let access_log = dir.join("nginx-access.log");
        let mut server = documented.clone();
        for (from, to) in [
            ("127.0.0.1:8081", format!("127.0.0.1:{}", upstreams[0])),
            ("127.0.0.1:8082", format!("127.0.0.1:{}", upstreams[1])),
            ("listen 8080;", format!("listen 127.0.0.1:{port};")),
            (
                "/var/log/nginx/attest.access.log",
                access_log.display().to_string(),
            ),
        ] {
            assert!(
                server.contains(from),
                "docs/deploy/nginx.conf no longer has {from:?}"
            );
            server = server.replace(from, &to);
        }
        std::fs::write(dir.join("attest.conf"), server).expect("write attest.conf");
        let temp = dir.join("nginx-temp");
        std::fs::create_dir_all(&temp).expect("nginx temp dir");
        // nginx's workers may run as another user (nobody, when the test runs as root).
        for (path, mode) in [(dir, 0o755), (temp.as_path(), 0o777)] {
            std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))
                .expect("permissions");
        }
        let mut main = String::new();
        let t = temp.display();
        writeln!(
            main,
            "worker_processes 1;\npid {dir}/nginx.pid;\nerror_log {dir}/nginx-error.log;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  client_body_temp_path {t}/body;\n  proxy_temp_path {t}/proxy;\n  \
             fastcgi_temp_path {t}/fastcgi;\n  uwsgi_temp_path {t}/uwsgi;\n  scgi_temp_path {t}/scgi;\n  \
             access_log off;\n  include {dir}/attest.conf;\n}}",
            dir = dir.display()
        )
        .expect("a String takes any text");
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, main).expect("write nginx.conf");
        let log = dir.join("nginx.out");
        let child = dying_with_parent(NGINX)
            .args(["-e", "stderr", "-p"])
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("nginx log"))
            .process_group(0)
            .spawn()
            .expect("start nginx");
        let mut instance = Instance {
            port,
            child: Some(child),
            log,
        };
        instance
            .wait_until(&format!("http://127.0.0.1:{port}/healthz"), "nginx")
            .await;
        Self {
            port,
            access_log,
            _child: instance,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many requests each upstream answered, from the documented log format.
    fn answered_by(&self) -> BTreeMap<String, usize> {
        let text = std::fs::read_to_string(&self.access_log).unwrap_or_default();
        let mut by = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.split("upstream=").nth(1) {
                let upstream = rest.split_whitespace().next().unwrap_or_default();
                // "a, b": the first refused the connection and the second answered.
                let last = upstream.rsplit(", ").next().unwrap_or(upstream);
                *by.entry(last.to_string()).or_insert(0) += 1;
            }
        }
        by
    }
}

fn write_org(db: &TestDb) {
    let mut people = String::from("id,name,email,manager_id\nown,Owner,own@example.test,\n");
    let mut eligibility = String::from("principal_id,role,scope\n");
    for m in 0..MANAGERS {
        writeln!(people, "m{m},Manager {m},m{m}@example.test,own").expect("String");
        for r in 0..REPORTS {
            writeln!(people, "r{m}x{r},Report {m}.{r},r{m}x{r}@example.test,m{m}").expect("String");
            writeln!(eligibility, "r{m}x{r},Global Administrator,/").expect("String");
        }
    }
    db.file("people.csv", &people);
    db.file(
        "roles.csv",
        "name,owner_id,risk,description\nGlobal Administrator,own,high,\n",
    );
    db.file("eligibility.csv", &eligibility);
    db.file("two-instances.toml", DEFINITION);
    for (kind, file) in [
        ("people", "people.csv"),
        ("roles", "roles.csv"),
        ("eligibility", "eligibility.csv"),
    ] {
        let (code, out, err) = attest_cli(db, &["import", kind, file]);
        assert_eq!(code, 0, "import {kind}: {out}{err}");
    }
    let (code, out, err) = attest_cli(db, &["campaign", "define", "two-instances.toml"]);
    assert_eq!(code, 0, "define: {out}{err}");
}

/// Each item's latest decision made by a person (later ones supersede earlier ones).
async fn human_decisions(engine: &attest::engine::Engine, campaign: i64) -> BTreeMap<i64, String> {
    use entity::decision;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    decision::Entity::find()
        .filter(decision::Column::CampaignId.eq(campaign))
        .filter(decision::Column::MadeBy.eq("human"))
        .order_by_asc(decision::Column::Id)
        .all(engine.store().conn())
        .await
        .expect("read decisions")
        .into_iter()
        .map(|d| (d.item_id, d.verdict))
        .collect()
}

/// An admin API token, made by the CLI as the README says.
fn admin_token(db: &TestDb) -> String {
    let (code, out, err) = attest_cli(
        db,
        &["user", "add", "admin@example.test", "--role", "admin"],
    );
    assert_eq!(code, 0, "user add: {out}{err}");
    let (code, out, err) = attest_cli(
        db,
        &[
            "user",
            "token",
            "deploy",
            "--admin",
            "admin@example.test",
            "--role",
            "admin",
        ],
    );
    assert_eq!(code, 0, "user token: {out}{err}");
    out.lines()
        .last()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| panic!("no token printed: {out}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_behind_the_documented_nginx_share_the_work_and_survive_one_going() {
    if !require(TEST, "nginx", Path::new(NGINX).exists()) {
        return;
    }
    let Some(smtp) = SmtpServer::start_for(TEST) else {
        return;
    };
    let db = TestDb::new().await;
    write_org(&db);
    let token = admin_token(&db);

    let proxy_port = free_port();
    let public = format!("http://127.0.0.1:{proxy_port}");
    let mut a = Instance::start(&db, &smtp, &public, "a").await;
    let mut b = Instance::start(&db, &smtp, &public, "b").await;
    let proxy = Proxy::start(db.dir(), proxy_port, [a.port, b.port]).await;
    assert_eq!(proxy.url(), public);

    let http = reqwest::Client::new();
    let api = |path: &str| format!("{public}/api/v1{path}");
    let launched: serde_json::Value = http
        .post(api("/campaigns"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "definition": "two-instances" }))
        .send()
        .await
        .expect("launch through the proxy")
        .error_for_status()
        .expect("launch accepted")
        .json()
        .await
        .expect("launch JSON");
    let id = launched["id"].as_i64().expect("campaign id");

    // Both mail workers drain one outbox: each manager is mailed once, with a link through
    // the proxy.
    let deadline = Instant::now() + Duration::from_secs(60);
    while smtp.messages().len() < MANAGERS {
        assert!(
            Instant::now() < deadline,
            "invitations sent: {} of {MANAGERS}",
            smtp.messages().len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Two more ticks of both workers: nothing is sent twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails = smtp.messages();
    let to: BTreeSet<String> = mails.iter().map(|m| m.to.clone()).collect();
    assert_eq!(
        (mails.len(), to.len()),
        (MANAGERS, MANAGERS),
        "one invitation per manager: {to:?}"
    );
    let links: Vec<String> = mails.iter().map(|m| m.review_link(&public)).collect();

    // Half the reviewers decide while both instances run: both answer through the proxy.
    let (first, second) = links.split_at(MANAGERS / 2);
    let early = reviewers::decide(first.to_vec(), 7, Duration::from_secs(30)).await;
    assert!(early.problems.is_empty(), "{:?}", early.problems);
    let served = proxy.answered_by();
    for port in [a.port, b.port] {
        assert!(
            served
                .get(&format!("127.0.0.1:{port}"))
                .is_some_and(|n| *n > 0),
            "instance on port {port} answered no request through the proxy: {served:?}"
        );
    }

    // One instance goes (kill -9); the proxy sends everything to the other.
    a.kill();
    let late = reviewers::decide(second.to_vec(), 8, Duration::from_secs(30)).await;
    assert!(late.problems.is_empty(), "{:?}", late.problems);
    assert!(
        early.uncertain.is_empty() && late.uncertain.is_empty(),
        "no answer was lost: the instance was killed between requests"
    );

    let closed = http
        .post(api(&format!("/campaigns/{id}/close")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("close through the proxy");
    assert!(closed.status().is_success(), "close: {}", closed.status());
    let engine = db.engine().await;
    let decided = human_decisions(&engine, id).await;
    let mut acknowledged: BTreeMap<i64, String> = BTreeMap::new();
    for (item, verdict) in early.acknowledged.iter().chain(&late.acknowledged) {
        acknowledged.insert(*item, (*verdict).to_string());
    }
    assert!(!acknowledged.is_empty(), "the reviewers decided something");
    assert_eq!(
        decided, acknowledged,
        "every decision acknowledged through the proxy is in the campaign, and nothing else"
    );

    // The survivor stops on SIGTERM, cleanly.
    let status = b.terminate();
    assert!(
        status.success(),
        "attest serve exits 0 on SIGTERM, not {status}:\n{}",
        b.log_text()
    );
}
