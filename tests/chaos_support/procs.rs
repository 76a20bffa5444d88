//! The `attest` processes of a chaos run: `attest serve --tick 1` (killed and started again on
//! the same port, since the mailed links name it) and CLI commands, some of them killed part
//! way. Each child leads its own process group and has a parent-death signal, and every handle
//! kills its group when dropped, so a failing test leaves nothing running.

use crate::common::smtp::{dying_with_parent, kill_group};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The binary cargo built for this test run.
pub const ATTEST: &str = env!("CARGO_BIN_EXE_attest");

/// Where and how every `attest` process of the run connects.
#[derive(Debug, Clone)]
pub struct Env {
    pub dir: PathBuf,
    pub database_url: String,
    pub smtp_url: String,
    pub port: u16,
}

impl Env {
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn command(&self, args: &[&str], log: &Path) -> Command {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
        let mut command = dying_with_parent(ATTEST);
        command
            .args(args)
            .current_dir(&self.dir)
            .env("ATTEST_DATABASE_URL", &self.database_url)
            .env("ATTEST_SMTP_URL", &self.smtp_url)
            .env("ATTEST_BIND", format!("127.0.0.1:{}", self.port))
            .env("ATTEST_BASE_URL", self.base_url())
            .env("ATTEST_LOG", "warn,attest=info")
            // As every instance sharing a database should: one key, so a mail re-sent by
            // another process after a kill carries the link its first copy carried.
            .env(
                "ATTEST_LINK_KEY",
                "chaos-suite-link-key-the-same-for-every-process",
            )
            .env_remove("USER")
            .env_remove("LOGNAME")
            .env_remove("USERNAME")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .process_group(0);
        command
    }

    /// Runs `attest ARGS` to its end; returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let mut cli = Cli::spawn(self, args);
        let code = cli.wait();
        (code, cli.stdout(), cli.stderr())
    }
}

/// One CLI command in flight.
pub struct Cli {
    child: Option<Child>,
    stdout: String,
    stderr: PathBuf,
}

impl Cli {
    pub fn spawn(env: &Env, args: &[&str]) -> Self {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let stderr = env.dir.join(format!(
            "cli-{:04}.log",
            RUNS.fetch_add(1, Ordering::Relaxed)
        ));
        let child = env
            .command(args, &stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("start attest {args:?}: {e}"));
        Self {
            child: Some(child),
            stdout: String::new(),
            stderr,
        }
    }

    /// What it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// kill -9 of its process group when it is still running (true: the kill landed); a
    /// command that already ended is left to `wait`.
    pub fn kill(&mut self) -> bool {
        if !self.running() {
            return false;
        }
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child);
        }
        true
    }

    /// Waits for its end; its exit code (-1 when killed).
    pub fn wait(&mut self) -> i32 {
        let Some(mut child) = self.child.take() else {
            return -1;
        };
        if let Some(mut out) = child.stdout.take() {
            use std::io::Read;
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            self.stdout = text;
        }
        child.wait().map(|s| s.code().unwrap_or(-1)).unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        self.stdout.clone()
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child);
        }
    }
}

/// `attest serve --tick 1`, started again after each kill.
pub struct Serve {
    env: Env,
    child: Option<Child>,
    log: PathBuf,
    pub starts: usize,
}

impl Serve {
    pub fn new(env: &Env) -> Self {
        Self {
            env: env.clone(),
            child: None,
            log: env.dir.join("serve.log"),
            starts: 0,
        }
    }

    /// Starts it and waits until `/healthz` answers (at most `timeout`).
    pub async fn start(&mut self, timeout: Duration) {
        assert!(self.child.is_none(), "attest serve is already running");
        let mut command = self.env.command(&["serve", "--tick", "1"], &self.log);
        command.stdout(Stdio::null());
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start attest serve: {e}"));
        self.child = Some(child);
        self.starts += 1;
        let url = format!("{}/healthz", self.env.base_url());
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("HTTP client");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "attest serve exited at start ({status}); the end of its log:\n{}",
                        self.log_tail(40)
                    );
                }
            }
            if let Ok(answer) = client.get(&url).send().await {
                if answer.status().is_success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "attest serve did not answer {url} within {timeout:?}; the end of its log:\n{}",
                self.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// kill -9 of its process group.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "attest serve had exited by itself ({status}) before the chaos killed it; the end of its log:\n{}",
                    self.log_tail(40)
                );
            }
            kill_group(&mut child);
        }
    }

    /// Stops it for good (kill -9 as well: the run never depends on a clean shutdown).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child);
        }
    }

    /// The last `lines` lines of its log (every start appends to it).
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The log lines at ERROR level, the last `lines` of them.
    pub fn errors(&self, lines: usize) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<String> = text
            .lines()
            .filter(|l| l.contains("ERROR"))
            .map(str::to_string)
            .collect();
        all[all.len().saturating_sub(lines)..].to_vec()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.stop();
    }
}
