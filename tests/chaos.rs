//! The chaos suite (issue 15): one campaign of at least 20,000 items carried through import,
//! launch, invitations, decisions under load, close, removals, completion and export by the
//! real `attest` binary as separate processes, while the suite kills them with `kill -9` at
//! random (seeded) points and starts them again, stops and restarts the SMTP server and, on
//! PostgreSQL, cuts every connection to the database. Afterwards the invariants of
//! docs/reliability.md ("Chaos suite") are checked, each failure naming what broke.
//!
//! CI mode (the default) makes at least 20 kills; `ATTEST_CHAOS_KILLS=200` is the long mode.
//! `ATTEST_CHAOS_SEED` replays a run (the seed is printed first, and a summary line last).
//! `ATTEST_CHAOS_RECOVERY_SECS` (default 60) bounds how long work a kill interrupted may take to
//! be taken over by a process started after it.
//!
//! Time is real here (separate processes cannot share a manual clock): the campaign is launched
//! by hand and closed early with `attest campaign close`, rather than at its deadline.

mod chaos_support;
mod common;

use attest::domain::mail_state::MailState;
use attest::synth::{write_org, OrgSpec};
use chaos_support::invariants::{self, Expected, Observer};
use chaos_support::procs::{Cli, Env, Serve};
use chaos_support::{poll, reviewers, say, ChaosLog, Settings};
use common::smtp::{free_port, SmtpServer};
use common::TestDb;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

const TEST: &str = "chaos_kills_outages_and_cuts_lose_nothing";
const DEFINITION: &str = "chaos-review";

/// Every eligibility, reviewed by the holders' managers; unanswered items follow attest's
/// recommendation (so some are removed, some kept), and no safety rail holds the removals.
/// Quarterly, and defined just now: the scheduler launches nothing by itself this quarter.
fn definition() -> String {
    format!(
        r#"name = "{DEFINITION}"
description = "Chaos suite: every eligibility, reviewed by managers under kill -9"
owner = "p0000000"
schedule = "quarterly"
duration_days = 14
reviewers = "manager"
fallback_reviewer = "p0000000"
on_no_response = "recommendation"
require_justification = ["revoke"]
max_auto_remove_percent = 100
"#
    )
}

/// How long a started `attest serve` may take to answer `/healthz`.
const START: Duration = Duration::from_secs(60);

/// Beyond the takeover bound: mail that failed while the SMTP server was away is tried again
/// after 1, then 2 minutes (docs/reliability.md, Mail).
const MAIL_BACKOFF: Duration = Duration::from_secs(200);

struct Run {
    settings: Settings,
    env: Env,
    rng: StdRng,
    log: ChaosLog,
    obs: Observer,
    serve: Serve,
    smtp: SmtpServer,
    /// The admin URL and database name on PostgreSQL, for cutting connections.
    postgres: Option<(String, String)>,
    campaign: Option<i64>,
    /// Failures met on the way (work that stayed stuck), reported with the invariants.
    failures: Vec<String>,
}

impl Run {
    fn millis(&mut self, range: std::ops::Range<u64>) -> Duration {
        Duration::from_millis(self.rng.random_range(range))
    }

    async fn snapshot(&self) -> String {
        self.obs.snapshot(self.campaign, DEFINITION).await
    }

    /// kill -9 of `attest serve`, then starts it again.
    async fn kill_serve(&mut self, phase: &str) {
        self.serve.kill();
        let state = self.snapshot().await;
        self.log.kill(&format!("serve/{phase} [{state}]"));
        self.serve.start(START).await;
    }

    /// Stops the SMTP server for a moment.
    async fn smtp_outage(&mut self, phase: &str) {
        let outage = self.millis(500..2500);
        self.smtp.stop();
        self.log
            .smtp_outage(&format!("{phase} {}ms", outage.as_millis()));
        tokio::time::sleep(outage).await;
        self.smtp.restart();
    }

    /// On PostgreSQL, terminates every connection to the run's database.
    async fn db_cut(&mut self, phase: &str) {
        use sea_orm::{ConnectionTrait, Statement};
        let Some((admin, name)) = self.postgres.clone() else {
            return;
        };
        let conn = sea_orm::Database::connect(&admin)
            .await
            .expect("connect to the PostgreSQL admin database");
        let rows = conn
            .query_all_raw(Statement::from_string(
                conn.get_database_backend(),
                format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                ),
            ))
            .await
            .expect("terminate the test database's connections");
        conn.close().await.ok();
        self.log
            .db_cut(&format!("{phase} ({} connections)", rows.len()));
    }

    /// Runs `attest ARGS`, killing it after a random delay (under `max_delay` ms) while `kills`
    /// last; again until it exits 0 or the campaign reached one of `done_states`. Work a killed
    /// run left behind must be taken over within the recovery bound. Returns the kills that
    /// landed (a command may finish before its kill).
    async fn cli_with_kills(
        &mut self,
        args: &[&str],
        mut kills: usize,
        max_delay: u64,
        done_states: &[&str],
    ) -> usize {
        let what = args[..2].join(" ");
        let mut landed = 0;
        let mut stuck_since: Option<Instant> = None;
        loop {
            let mut cli = Cli::spawn(&self.env, args);
            if kills > 0 {
                let delay = self.millis(50..max_delay);
                let started = Instant::now();
                while cli.running() && started.elapsed() < delay {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                if cli.kill() {
                    kills -= 1;
                    landed += 1;
                    let state = self.snapshot().await;
                    self.log
                        .kill(&format!("{what} +{}ms [{state}]", delay.as_millis()));
                    continue;
                }
                self.log.note(&format!(
                    "{what} ended by itself before its kill at +{}ms",
                    delay.as_millis()
                ));
                kills = 0;
            }
            let code = cli.wait();
            if code == 0 {
                return landed;
            }
            let said = format!("{} {}", cli.stdout().trim(), cli.stderr().trim());
            let campaign = match self.campaign {
                Some(id) => Some(self.obs.campaign(id).await),
                None => self.obs.campaign_named(DEFINITION).await,
            };
            if let Some(c) = campaign {
                if done_states.contains(&c.state.as_str()) {
                    self.log.note(&format!(
                        "`attest {}` exited {code} on a campaign {}: {}",
                        args.join(" "),
                        c.state,
                        said.trim()
                    ));
                    return landed;
                }
            }
            if stuck_since.is_none() {
                self.log.note(&format!(
                    "`attest {}` exited {code} after a kill: {}",
                    args.join(" "),
                    said.trim()
                ));
            }
            let since = *stuck_since.get_or_insert_with(Instant::now);
            if since.elapsed() > self.settings.recovery {
                panic!(
                    "{}: `attest {}` still exits {code} {:?} after a kill -9 interrupted it: {}\n{}",
                    TEST,
                    args.join(" "),
                    self.settings.recovery,
                    said.trim(),
                    self.log.summary(&self.settings, self.backend(), "STUCK")
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    fn backend(&self) -> &'static str {
        if self.postgres.is_some() {
            "postgresql"
        } else {
            "sqlite"
        }
    }

    /// Waits (at most `timeout`) until `done` holds; otherwise records that `what` stayed stuck.
    async fn settle(&mut self, what: &str, timeout: Duration, done: impl AsyncCheck) -> bool {
        let obs = &self.obs;
        let ok = poll(timeout, Duration::from_millis(250), || async {
            done.check(obs).await.then_some(())
        })
        .await
        .is_some();
        if !ok {
            let state = self.snapshot().await;
            self.failures.push(format!(
                "recovery: {what} did not happen within {timeout:?} [{state}]; serve's last errors: {:?}",
                self.serve.errors(5)
            ));
        }
        ok
    }
}

/// A condition on the database that a phase waits for.
trait AsyncCheck {
    async fn check(&self, obs: &Observer) -> bool;
}

/// Every reviewer's invitation recorded as sent.
struct InvitationsSent(i64);

impl AsyncCheck for InvitationsSent {
    async fn check(&self, obs: &Observer) -> bool {
        let reviewers = obs.reviewers(self.0).await;
        let sent = obs
            .outbox()
            .await
            .iter()
            .filter(|m| {
                m.campaign_id == Some(self.0)
                    && m.template == "invitation"
                    && m.state == MailState::Sent.as_str()
            })
            .count() as u64;
        reviewers > 0 && sent >= reviewers
    }
}

/// The campaign completed with a stored bundle, and no mail waiting.
struct Finished(i64);

impl AsyncCheck for Finished {
    async fn check(&self, obs: &Observer) -> bool {
        let c = obs.campaign(self.0).await;
        if c.state != "completed" {
            return false;
        }
        if !obs
            .bundles(self.0)
            .await
            .iter()
            .any(|b| b.reason != "export")
        {
            return false;
        }
        obs.outbox()
            .await
            .iter()
            .all(|m| !matches!(m.state.parse(), Ok(MailState::Pending | MailState::Sending)))
    }
}

/// Kills spread over the phases: launch, invitations, decisions, close, and whatever the CLI
/// phases could not land (a command that finished first) goes to the removals.
struct Budget {
    launch: usize,
    invitations: usize,
    decisions: usize,
    close: usize,
    smtp_outages: usize,
    db_cuts: usize,
}

impl Budget {
    fn of(kills: usize) -> Self {
        Self {
            launch: (kills / 10).max(2),
            invitations: (kills / 10).max(2),
            decisions: (kills / 2).max(1),
            close: (kills * 15 / 100).max(2),
            smtp_outages: (kills / 10).max(2),
            db_cuts: (kills / 7).max(3),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_kills_outages_and_cuts_lose_nothing() {
    let Some(smtp) = SmtpServer::start_for(TEST) else {
        return;
    };
    let settings = Settings::from_env();
    let db = TestDb::new().await;
    let postgres = common::postgres_url().map(|admin| {
        let name = db.url.rsplit('/').next().unwrap_or_default().to_string();
        (admin, name)
    });
    let env = Env {
        dir: db.dir().to_path_buf(),
        database_url: db.url.clone(),
        smtp_url: smtp.url(),
        port: free_port(),
    };
    let backend = if postgres.is_some() {
        "postgresql"
    } else {
        "sqlite"
    };
    say(&format!(
        "CHAOS {TEST}: seed {} on {backend}, at least {} kills, {} items (replay: ATTEST_CHAOS_SEED={})",
        settings.seed, settings.kills, settings.eligibilities, settings.seed
    ));

    // The organisation, imported and defined without chaos: the run is about what follows.
    let spec = OrgSpec {
        people: settings.eligibilities / 10,
        eligibilities: settings.eligibilities,
        seed: settings.seed,
    };
    let files = write_org(&spec, db.dir(), chrono::Utc::now()).expect("write the import files");
    for (kind, path) in [
        ("people", &files.people),
        ("roles", &files.roles),
        ("eligibility", &files.eligibility),
    ] {
        let path = path.display().to_string();
        let (code, out, err) = env.run(&["import", kind, &path]);
        assert_eq!(code, 0, "attest import {kind} {path}: {out}{err}");
    }
    let toml = db.file("chaos-review.toml", &definition());
    let (code, out, err) = env.run(&["campaign", "define", &toml.display().to_string()]);
    assert_eq!(code, 0, "attest campaign define: {out}{err}");

    let obs = Observer::connect(&db.url).await;
    let population = obs.active_eligibility().await;
    assert!(
        population >= 20_000,
        "the generated organisation holds {population} active eligibilities, fewer than 20,000"
    );
    let budget = Budget::of(settings.kills);
    let mut run = Run {
        rng: StdRng::seed_from_u64(settings.seed),
        log: ChaosLog::new(),
        serve: Serve::new(&env),
        settings,
        env,
        obs,
        smtp,
        postgres,
        campaign: None,
        failures: Vec::new(),
    };

    // Launch: `campaign launch` killed part way, then run again until it has launched.
    let landed = run
        .cli_with_kills(
            &["campaign", "launch", DEFINITION],
            budget.launch,
            800,
            &["active"],
        )
        .await;
    let mut carry = budget.launch - landed;
    let campaign = run
        .obs
        .campaign_named(DEFINITION)
        .await
        .expect("the launched campaign exists");
    let id = campaign.id;
    run.campaign = Some(id);
    assert_eq!(
        campaign.state, "active",
        "campaign #{id} is active once `attest campaign launch` exited 0"
    );

    // Invitations: serve starts sending; it is killed, the SMTP server and the database go away.
    // The first step of mail goes out at once: kills come soon after each start to land in it.
    run.serve.start(START).await;
    // The SMTP outage after the first kill, so that one lands in mail being sent rather than in
    // mail waiting out the backoff the outage starts.
    let outage_at = run.rng.random_range(1..=budget.invitations);
    let cut_at = run.rng.random_range(0..=budget.invitations);
    for i in 0..=budget.invitations {
        let pause = run.millis(0..800);
        tokio::time::sleep(pause).await;
        if i == outage_at {
            run.smtp_outage("invitations").await;
        }
        if i == cut_at {
            run.db_cut("invitations").await;
        }
        if i < budget.invitations {
            run.kill_serve("invitations").await;
        }
    }
    let bound = run.settings.recovery + MAIL_BACKOFF;
    run.settle("every invitation sent", bound, InvitationsSent(id))
        .await;

    // Decisions under load from the mailed links, while serve is killed again and again.
    let base_url = run.env.base_url();
    let outbox = run.obs.outbox().await;
    let mails = run.smtp.messages();
    let mut links = Vec::new();
    for row in outbox
        .iter()
        .filter(|m| m.campaign_id == Some(id) && m.template == "invitation")
    {
        let Some(message_id) = row.message_id.as_deref() else {
            continue;
        };
        if let Some(mail) = mails
            .iter()
            .find(|m| m.message_id.trim() == message_id.trim())
        {
            if let Some(link) = mail.review_links(&base_url).0.first() {
                links.push(link.clone());
            }
        }
    }
    if links.is_empty() {
        run.failures
            .push("decisions: no invitation with a review link reached the SMTP server".into());
    }
    let seed = run.settings.seed;
    let recovery = run.settings.recovery;
    let deciding = tokio::spawn(reviewers::decide(links, seed, recovery));
    let outage_at: Vec<usize> = (1..budget.smtp_outages)
        .map(|_| run.rng.random_range(0..budget.decisions))
        .collect();
    let cut_at: Vec<usize> = (1..budget.db_cuts - 1)
        .map(|_| run.rng.random_range(0..budget.decisions))
        .collect();
    let mut kills = 0;
    while kills < budget.decisions || !deciding.is_finished() {
        let pause = run.millis(300..2500);
        tokio::time::sleep(pause).await;
        if kills >= budget.decisions {
            continue;
        }
        for _ in outage_at.iter().filter(|&&k| k == kills) {
            run.smtp_outage("decisions").await;
        }
        for _ in cut_at.iter().filter(|&&k| k == kills) {
            run.db_cut("decisions").await;
        }
        let phase = if deciding.is_finished() {
            "decided"
        } else {
            "decisions"
        };
        run.kill_serve(phase).await;
        kills += 1;
    }
    let decided = deciding.await.expect("the reviewers' task");
    run.log.note(&format!(
        "{} decisions acknowledged, {} uncertain, {} posts, {} retries",
        decided.acknowledged.len(),
        decided.uncertain.len(),
        decided.posts,
        decided.retries
    ));
    run.failures.extend(
        decided
            .problems
            .iter()
            .take(10)
            .map(|p| format!("decisions: {p}")),
    );
    if decided.acknowledged.is_empty() {
        run.failures
            .push("decisions: not one decision was acknowledged".into());
    }

    // Close: `campaign close` killed part way (serve keeps running and may carry removals on).
    let id_text = id.to_string();
    let landed = run
        .cli_with_kills(
            &["campaign", "close", &id_text],
            budget.close,
            1500,
            &["completed"],
        )
        .await;
    carry += budget.close - landed;
    let c = run.obs.campaign(id).await;
    if c.rail_reason.is_some() && c.state == "remediating" {
        let (code, out, err) = run.env.run(&["campaign", "confirm-removals", &id_text]);
        run.log.note(&format!(
            "a safety rail held removals ({:?}); confirm-removals exited {code}: {}{}",
            c.rail_reason,
            out.trim(),
            err.trim()
        ));
    }

    // Removals and completion under further kills, then everything settles.
    let total = run.settings.kills;
    let mut cut_done = false;
    while run.log.kills.len() < total || carry > 0 {
        let pause = run.millis(200..2000);
        tokio::time::sleep(pause).await;
        if !cut_done {
            run.db_cut("removals").await;
            cut_done = true;
        }
        run.kill_serve("removals").await;
        carry = carry.saturating_sub(1);
    }
    let bound = run.settings.recovery + MAIL_BACKOFF;
    run.settle(
        "completion, its stored bundle and the last mail",
        bound,
        Finished(id),
    )
    .await;
    run.serve.stop();

    // The invariants.
    let mails = run.smtp.messages();
    let expected = Expected {
        campaign_id: id,
        population,
        decided: &decided,
        log: &run.log,
        mails: &mails,
        base_url: &base_url,
    };
    let mut failures = std::mem::take(&mut run.failures);
    let (broken, figures) = invariants::check(&run.obs, &run.env, &expected).await;
    failures.extend(broken);
    run.log.figures = figures;
    let outcome = if failures.is_empty() {
        "ok".to_string()
    } else {
        format!("FAILED({})", failures.len())
    };
    let summary = run.log.summary(&run.settings, backend, &outcome);
    say(&summary);
    assert!(
        failures.is_empty(),
        "the chaos run broke {} invariants (replay: ATTEST_CHAOS_SEED={}):\n- {}\n{summary}",
        failures.len(),
        run.settings.seed,
        failures.join("\n- ")
    );
}
