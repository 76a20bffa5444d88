//! Health for the people who run attest: whether this instance is ready to serve (`/readyz`),
//! and the figures of the whole installation read from the database for `/metrics`, each
//! with every known state listed (at 0 when empty) so a series never vanishes.

use super::{Engine, EngineError};
use crate::domain::closing::{Outcome, RemediationState};
use crate::domain::lifecycle::CampaignState;
use crate::domain::liveness;
use crate::domain::mail_state::MailState;
use crate::store::{health, process};
use std::collections::BTreeMap;

/// Whether this instance can do its work, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Readiness {
    /// The database answered.
    pub database: bool,
    /// Migrations this binary has that the database lacks (`attest serve` applies them at start).
    pub migrations_pending: usize,
    /// This process's workers (scheduler, mail, removals) keep their heartbeat: only `attest
    /// serve` runs them.
    pub workers: bool,
    /// What is wrong, in words; empty when ready.
    pub problems: Vec<String>,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Counts by state, as `/metrics` shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gauges {
    pub campaigns: BTreeMap<String, i64>,
    /// Items of open campaigns: their outcome once settled (`kept`, `revoked`,
    /// `kept_by_policy`, `removed_by_policy`, `kept_excluded`), before that `decided_attest`,
    /// `decided_revoke` (a person's answer, until the close) or `undecided`.
    pub items: BTreeMap<String, i64>,
    pub mail: BTreeMap<String, i64>,
    pub removals: BTreeMap<String, i64>,
}

/// Every known value at 0, then the counts read.
fn with_zeros(
    known: impl IntoIterator<Item = String>,
    read: health::ByValue,
) -> BTreeMap<String, i64> {
    let mut all: BTreeMap<String, i64> = known.into_iter().map(|k| (k, 0)).collect();
    for (value, n) in read {
        *all.entry(value).or_default() += n;
    }
    all
}

impl Engine {
    /// Is this instance ready: database, schema, workers.
    pub async fn readiness(&self) -> Readiness {
        let conn = self.store().conn();
        let mut problems = Vec::new();
        let database = match health::ping(conn).await {
            Ok(()) => true,
            // The cause goes to the log only: anyone may ask /readyz.
            Err(e) => {
                tracing::warn!("readiness: the database does not answer: {e}");
                problems.push("the database does not answer (the log says why)".into());
                false
            }
        };
        let migrations_pending = if database {
            match health::pending_migrations(conn).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!("readiness: the applied migrations cannot be read: {e}");
                    problems
                        .push("the applied migrations cannot be read (the log says why)".into());
                    0
                }
            }
        } else {
            0
        };
        if migrations_pending > 0 {
            problems.push(format!(
                "{migrations_pending} migrations are not applied (attest serve applies them when it starts)"
            ));
        }
        let now = self.now();
        let workers = database
            && matches!(
                process::process(conn, self.instance()).await,
                Ok(Some(p)) if p.stopped_at.is_none() && p.heartbeat_at >= liveness::gone_before(now)
            );
        if database && !workers {
            problems.push(
                "the workers (scheduler, mail, removals) of this process are not running: only attest serve runs them"
                    .into(),
            );
        }
        Readiness {
            database,
            migrations_pending,
            workers,
            problems,
        }
    }

    /// Campaigns, open items, mail and removals by state, for `/metrics`.
    pub async fn gauges(&self) -> Result<Gauges, EngineError> {
        let conn = self.store().conn();
        let names = |all: &[&str]| all.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let item_labels = [
            "undecided",
            "decided_attest",
            "decided_revoke",
            "decided_convert",
        ]
        .into_iter()
        .map(String::from)
        .chain(Outcome::ALL.iter().map(|o| o.to_string()));
        let items = health::open_items(conn)
            .await?
            .into_iter()
            .map(|(outcome, verdict, n)| {
                let label = outcome.unwrap_or_else(|| {
                    match verdict.as_deref() {
                        Some("attest") => "decided_attest",
                        Some("revoke") => "decided_revoke",
                        Some("convert") => "decided_convert",
                        _ => "undecided",
                    }
                    .to_string()
                });
                (label, n)
            })
            .collect();
        Ok(Gauges {
            campaigns: with_zeros(
                names(
                    &CampaignState::ALL
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>(),
                ),
                health::campaigns_by_state(conn).await?,
            ),
            items: with_zeros(item_labels, items),
            mail: with_zeros(
                names(
                    &MailState::ALL
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>(),
                ),
                health::mail_by_state(conn).await?,
            ),
            removals: with_zeros(
                names(
                    &RemediationState::ALL
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>(),
                ),
                health::removals_by_state(conn).await?,
            ),
        })
    }
}
