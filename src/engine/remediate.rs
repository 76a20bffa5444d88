//! The remediation worker: removes what a closed campaign decided to remove, through the source,
//! records every attempt, proves each removal by reading the source back, retries failures with
//! backoff and reports the ones it gives up on. A step function: the scheduler calls it in a
//! loop, tests call it directly.

use super::{Engine, EngineError};
use crate::domain::lifecycle::CampaignState;
use crate::domain::retry::{backoff, should_retry};
use crate::sources::{Removal, RemovalTarget};
use crate::store::outbox::{self, template};
use crate::store::remediation::{self, NewAttempt, Settlement};
use crate::store::{self as st, campaigns, directory};
use chrono::Duration;

/// Removals leased per step: removed through the source as one batch, read back as one.
const STEP: u64 = 1000;

/// How a removal that did not simply succeed ends this step.
enum Later {
    Retry {
        error: String,
        next: chrono::DateTime<chrono::Utc>,
    },
    Failed {
        error: String,
        receipt: Option<String>,
    },
}

impl Engine {
    /// Works through the removals due now; returns how many it handled (0: nothing was due).
    pub async fn remediate_step(&self) -> Result<usize, EngineError> {
        let now = self.now();
        let txn = self.store().begin().await?;
        let due = remediation::lease_due(&txn, now, STEP, now + Duration::minutes(5)).await?;
        txn.commit().await?;
        if due.is_empty() {
            return Ok(0);
        }
        let targets: Vec<RemovalTarget> = due.iter().map(|d| d.target.clone()).collect();
        let removed = self.source().remove_many(&targets, now).await;
        // Read back only what the source says it removed (or found gone): the proof.
        let to_check: Vec<RemovalTarget> = targets
            .iter()
            .zip(&removed)
            .filter(|(_, r)| r.is_ok())
            .map(|(t, _)| t.clone())
            .collect();
        let mut checked = self.source().present_many(&to_check).await.into_iter();
        let now = self.now();
        let mut attempts = Vec::with_capacity(due.len() * 2);
        let mut done = Vec::with_capacity(due.len());
        let mut later = Vec::new();
        for (item, removal) in due.iter().zip(removed) {
            let attempt = item.attempts + 1;
            let line = |outcome: &'static str, receipt: Option<String>, error: Option<String>| {
                NewAttempt {
                    remediation_id: item.id,
                    attempt,
                    outcome,
                    receipt,
                    error,
                }
            };
            let error = match removal {
                Ok(removal) => {
                    let (state, receipt) = match removal {
                        Removal::Removed { receipt } => ("removed", receipt),
                        Removal::AlreadyGone { receipt } => ("already_gone", receipt),
                    };
                    attempts.push(line(state, Some(receipt.clone()), None));
                    match checked.next() {
                        Some(Ok(false)) => {
                            attempts.push(line("verified_gone", None, None));
                            done.push((item.id, attempt, state, receipt));
                            continue;
                        }
                        Some(Ok(true)) => {
                            let error =
                                "the eligibility is still present in the source after its removal"
                                    .to_string();
                            attempts.push(line("still_present", None, Some(error.clone())));
                            later.push((
                                item.id,
                                attempt,
                                Later::Failed {
                                    error,
                                    receipt: Some(receipt),
                                },
                            ));
                            continue;
                        }
                        Some(Err(e)) => format!("removed, but reading it back failed: {e}"),
                        None => "removed, but not read back".to_string(),
                    }
                }
                Err(e) => e.to_string(),
            };
            attempts.push(line("error", None, Some(error.clone())));
            later.push((
                item.id,
                attempt,
                if should_retry(attempt) {
                    Later::Retry {
                        error,
                        next: now + backoff(attempt),
                    }
                } else {
                    Later::Failed {
                        error: format!("gave up after {attempt} attempts: {error}"),
                        receipt: None,
                    }
                },
            ));
        }
        let txn = self.store().begin().await?;
        remediation::record_attempts(&txn, &attempts, now).await?;
        remediation::settle_done(&txn, &done, now).await?;
        for (id, attempt, end) in &later {
            let settlement = match end {
                Later::Retry { error, next } => Settlement::Retry {
                    error,
                    next_attempt_at: *next,
                },
                Later::Failed { error, receipt } => Settlement::Failed {
                    error,
                    receipt: receipt.as_deref(),
                },
            };
            remediation::settle(&txn, *id, *attempt, settlement, now).await?;
        }
        txn.commit().await?;
        Ok(due.len())
    }

    /// Completes remediating campaigns with nothing left to remove or confirm, and tells their
    /// owners the outcome.
    pub async fn complete_finished(&self) -> Result<Vec<i64>, EngineError> {
        let mut completed = Vec::new();
        for id in remediation::finished_campaigns(self.store().conn()).await? {
            let now = self.now();
            let txn = self.store().begin().await?;
            if !campaigns::transition(
                &txn,
                id,
                &[CampaignState::Remediating],
                CampaignState::Completed,
                Some("completed_at"),
                now,
            )
            .await?
            {
                continue;
            }
            let campaign = campaigns::campaign(&txn, id).await?;
            let counts = campaigns::counts(&txn, id).await?;
            if let Some(campaign) = campaign {
                let owner =
                    directory::principal_refs(&txn, &[campaign.spec.owner.as_str()]).await?;
                if let Some(owner) = owner.get(&campaign.spec.owner) {
                    outbox::queue_to_principal(
                        &txn,
                        &format!("{}/{id}", template::OUTCOME),
                        Some(id),
                        owner.id,
                        template::OUTCOME,
                        &serde_json::json!({ "counts": counts }),
                        now,
                    )
                    .await?;
                }
            }
            st::audit::append(
                &txn,
                now,
                "engine",
                "campaign.completed",
                Some(&format!("campaign:{id}")),
                &serde_json::json!({ "counts": counts }),
            )
            .await?;
            txn.commit().await?;
            // The evidence is part of completing, but a failure to write it must not undo the
            // completion: it is logged, and `attest evidence export` can make it at any time.
            if let Err(e) = self.store_evidence(id, "completed").await {
                tracing::error!(campaign = id, "could not store the evidence bundle: {e}");
            }
            completed.push(id);
        }
        Ok(completed)
    }
}
