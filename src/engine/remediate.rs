//! The remediation worker: removes what a closed campaign decided to remove, through the source,
//! records every attempt, proves each removal by reading the source back, retries failures with
//! backoff and reports the ones it gives up on. A step function: the scheduler calls it in a
//! loop, tests call it directly.

use super::{Engine, EngineError};
use crate::domain::lifecycle::CampaignState;
use crate::domain::retry::{backoff, should_retry};
use crate::sources::Removal;
use crate::store::outbox::{self, template};
use crate::store::remediation::{self, DueRemoval, Settlement};
use crate::store::{self as st, campaigns, directory};
use chrono::Duration;

/// Removals leased per step.
const STEP: u64 = 200;

impl Engine {
    /// Works through the removals due now; returns how many it handled (0: nothing was due).
    pub async fn remediate_step(&self) -> Result<usize, EngineError> {
        let now = self.now();
        let txn = self.store().begin().await?;
        let due = remediation::lease_due(&txn, now, STEP, now + Duration::minutes(5)).await?;
        txn.commit().await?;
        for removal in &due {
            self.remove_one(removal).await?;
        }
        Ok(due.len())
    }

    async fn remove_one(&self, due: &DueRemoval) -> Result<(), EngineError> {
        let now = self.now();
        let attempt = due.attempts + 1;
        let removed = self.source().remove(&due.target, now).await;
        let verified = match &removed {
            Ok(_) => Some(self.source().is_present(&due.target).await),
            Err(_) => None,
        };
        let txn = self.store().begin().await?;
        match (removed, verified) {
            (Ok(removal), Some(Ok(still_there))) => {
                let (state, receipt) = match &removal {
                    Removal::Removed { receipt } => ("removed", receipt.as_str()),
                    Removal::AlreadyGone { receipt } => ("already_gone", receipt.as_str()),
                };
                remediation::record_attempt(&txn, due.id, attempt, state, Some(receipt), None, now)
                    .await?;
                if still_there {
                    let error = "the eligibility is still present in the source after its removal";
                    remediation::record_attempt(
                        &txn,
                        due.id,
                        attempt,
                        "still_present",
                        None,
                        Some(error),
                        now,
                    )
                    .await?;
                    remediation::settle(
                        &txn,
                        due.id,
                        attempt,
                        Settlement::Failed {
                            error,
                            receipt: Some(receipt),
                        },
                        now,
                    )
                    .await?;
                } else {
                    remediation::record_attempt(
                        &txn,
                        due.id,
                        attempt,
                        "verified_gone",
                        None,
                        None,
                        now,
                    )
                    .await?;
                    remediation::settle(
                        &txn,
                        due.id,
                        attempt,
                        Settlement::Done { state, receipt },
                        now,
                    )
                    .await?;
                }
            }
            (removed, verified) => {
                let error = match (removed, verified) {
                    (Err(e), _) => e.to_string(),
                    (Ok(_), Some(Err(e))) => format!("removed, but reading it back failed: {e}"),
                    (Ok(_), _) => "removed, but not read back".to_string(),
                };
                remediation::record_attempt(
                    &txn,
                    due.id,
                    attempt,
                    "error",
                    None,
                    Some(&error),
                    now,
                )
                .await?;
                let settlement = if should_retry(attempt) {
                    Settlement::Retry {
                        error: &error,
                        next_attempt_at: now + backoff(attempt),
                    }
                } else {
                    Settlement::Failed {
                        error: &format!("gave up after {attempt} attempts: {error}"),
                        receipt: None,
                    }
                };
                remediation::settle(&txn, due.id, attempt, settlement, now).await?;
            }
        }
        txn.commit().await?;
        Ok(())
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
