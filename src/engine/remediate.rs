//! The remediation worker: removes what a closed campaign decided to remove, through the source,
//! records every attempt, proves each removal by reading the source back, retries failures with
//! backoff and reports the ones it gives up on. A step function: the scheduler calls it in a
//! loop, tests call it directly.

use super::{Engine, EngineError};
use crate::domain::closing::{AttemptOutcome, RemediationKind, RemediationState};
use crate::domain::lifecycle::CampaignState;
use crate::domain::retry::{backoff, should_retry};
use crate::sources::builtin;
use crate::sources::connector::Connector;
use crate::sources::{Removal, RemovalTarget, SourceError};
use crate::store::builtin_eligibility;
use crate::store::outbox::{self, template};
use crate::store::remediation::{self, NewAttempt, Settled, Settlement};
use crate::store::sources as sources_store;
use crate::store::{self as st, campaigns, directory};
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use std::collections::hash_map::Entry;
use std::collections::HashMap;

/// Removals leased per step: removed through the source as one batch, read back as one, and
/// settled in one transaction. Large enough that a million removals take a few hundred steps,
/// small enough that a step's memory and transaction stay bounded.
const STEP: u64 = 5000;
/// Removals through one connector in flight at once: enough to hide a directory's round trip,
/// few enough not to be throttled.
const CONNECTOR_REMOVALS_AT_ONCE: usize = 4;
/// Removals through sources outside the database one step carries out: each is a network call
/// (Graph answers in a few hundred milliseconds, more when throttled), so a step of 5,000 could
/// outlast its 5-minute lease and another worker would take the same removals. The rest of a
/// leased batch is given back at once for the next step.
const CONNECTOR_STEP: usize = 200;

/// How a removal that went through ends, and the outcome its attempt records: the same word,
/// as [`remediation::settle`] writes the history of a verified removal from its state.
const REMOVED: (RemediationState, AttemptOutcome) =
    (RemediationState::Removed, AttemptOutcome::Removed);
const ALREADY_GONE: (RemediationState, AttemptOutcome) =
    (RemediationState::AlreadyGone, AttemptOutcome::AlreadyGone);

/// A removal's answer, and the read-back of what it removed (absent when nothing was removed).
type Outcome = (
    Result<Removal, SourceError>,
    Option<Result<bool, SourceError>>,
);

impl Engine {
    /// How many removals wait to be carried out (due now or later): the total the command
    /// line's progress bar counts to.
    pub async fn removals_pending(&self) -> Result<u64, EngineError> {
        let states = crate::store::health::removals_by_state(self.store().conn()).await?;
        let pending = RemediationState::Pending.as_str();
        Ok(states
            .iter()
            .filter(|(state, _)| state.as_str() == pending)
            .map(|(_, n)| u64::try_from(*n).unwrap_or(0))
            .sum())
    }

    /// Works through the removals due now; returns how many it handled (0: nothing was due).
    pub async fn remediate_step(&self) -> Result<usize, EngineError> {
        let in_database = self.remediate_in_database_step().await?;
        if in_database > 0 {
            return Ok(in_database);
        }
        let now = self.now();
        let txn = self.store().begin().await?;
        let due =
            remediation::lease_due(&txn, now, STEP, self.instance(), now + Duration::minutes(5))
                .await?;
        txn.commit().await?;
        if due.is_empty() {
            return Ok(0);
        }
        let source_of = self.campaign_sources(&due).await?;
        let mut external = 0;
        let mut given_back = Vec::new();
        let due: Vec<remediation::DueRemoval> = due
            .into_iter()
            .filter(|d| {
                if source_of[&d.target.campaign_id].is_none() {
                    return true;
                }
                external += 1;
                if external <= CONNECTOR_STEP {
                    return true;
                }
                given_back.push(d.id);
                false
            })
            .collect();
        remediation::release(self.store().conn(), &given_back).await?;
        // Sources outside the database are called first, outside any transaction; removals
        // in attest's own database happen in the transaction that records them.
        let (mut outcomes, interrupted) =
            self.remove_through_sources(&due, &source_of, now).await?;
        let now = self.now();
        let txn = self.store().begin().await?;
        let in_database: Vec<usize> = (0..due.len()).filter(|&i| outcomes[i].is_none()).collect();
        for kind in [RemediationKind::Remove, RemediationKind::Convert] {
            let picked: Vec<usize> = in_database
                .iter()
                .copied()
                .filter(|&i| due[i].target.kind == kind)
                .collect();
            if picked.is_empty() {
                continue;
            }
            let targets: Vec<RemovalTarget> =
                picked.iter().map(|&i| due[i].target.clone()).collect();
            // A conversion is proven by the assignment no longer standing, a removal by the
            // eligibility no longer active.
            let (done, present) = match kind {
                RemediationKind::Remove => (
                    builtin_eligibility::remove_in_database(&txn, &targets, now).await?,
                    builtin_eligibility::still_active(&txn, &targets).await?,
                ),
                RemediationKind::Convert => (
                    builtin_eligibility::convert_in_database(&txn, &targets, now).await?,
                    builtin_eligibility::still_standing(&txn, &targets).await?,
                ),
            };
            for (&i, target) in picked.iter().zip(&targets) {
                let went_through = done.contains(&target.eligibility_id);
                let answer = match kind {
                    RemediationKind::Remove => builtin::answer(target, went_through, now),
                    RemediationKind::Convert => builtin::convert_answer(target, went_through, now),
                };
                outcomes[i] = Some((
                    Ok(answer),
                    Some(Ok(present.contains(&target.eligibility_id))),
                ));
            }
        }
        let outcomes = outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| (Err(SourceError("not attempted".into())), None)));
        // What went through gets its history from `settle`; the rest is written here.
        let mut attempts = Vec::new();
        let mut settled = Vec::with_capacity(due.len());
        for (index, (item, (removal, checked))) in due.iter().zip(outcomes).enumerate() {
            let attempt = item.attempts + 1;
            let line = |outcome: AttemptOutcome, receipt: Option<String>, error: Option<String>| {
                NewAttempt {
                    remediation_id: item.id,
                    attempt,
                    outcome,
                    receipt,
                    error,
                }
            };
            let end = |settlement| Settled {
                id: item.id,
                attempts: attempt,
                settlement,
            };
            let error = match removal {
                Ok(removal) => {
                    // The state the removal ends in, and the outcome its attempt records.
                    let ((state, outcome), receipt, removed_at) = match (
                        removal,
                        interrupted.get(&index),
                    ) {
                        (Removal::Removed { receipt }, _) => (REMOVED, receipt, None),
                        // Gone now, after an attempt that was sent and never recorded: that
                        // attempt removed it. Its outcome is recorded as it happened, at the
                        // time it started, not as "already gone" now.
                        (Removal::AlreadyGone { receipt }, Some(started)) => (
                            REMOVED,
                            format!(
                                "{receipt} (removed by attempt {attempt} started {}, which stopped before it was recorded)",
                                started.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                            ),
                            Some(*started),
                        ),
                        (Removal::AlreadyGone { receipt }, None) => (ALREADY_GONE, receipt, None),
                    };
                    match checked {
                        Some(Ok(false)) => {
                            settled.push(end(Settlement::Done {
                                state,
                                receipt,
                                removed_at,
                            }));
                            continue;
                        }
                        Some(Ok(true)) => {
                            let error = match item.target.kind {
                                RemediationKind::Remove => {
                                    "the eligibility is still present in the source after its removal"
                                }
                                RemediationKind::Convert => {
                                    "the assignment is still standing in the source after its conversion"
                                }
                            }
                            .to_string();
                            attempts.push(line(outcome, Some(receipt.clone()), None));
                            attempts.push(line(
                                AttemptOutcome::StillPresent,
                                None,
                                Some(error.clone()),
                            ));
                            settled.push(end(Settlement::Failed {
                                error,
                                receipt: Some(receipt),
                            }));
                            continue;
                        }
                        Some(Err(e)) => {
                            attempts.push(line(outcome, Some(receipt), None));
                            format!("removed, but reading it back failed: {e}")
                        }
                        None => {
                            attempts.push(line(outcome, Some(receipt), None));
                            "removed, but not read back".to_string()
                        }
                    }
                }
                Err(e) => e.to_string(),
            };
            attempts.push(line(AttemptOutcome::Error, None, Some(error.clone())));
            settled.push(end(if should_retry(attempt) {
                Settlement::Retry {
                    error,
                    next_attempt_at: now + backoff(attempt),
                }
            } else {
                Settlement::Failed {
                    error: format!("gave up after {attempt} attempts: {error}"),
                    receipt: None,
                }
            }));
        }
        remediation::record_attempts(&txn, &attempts, now).await?;
        remediation::settle(&txn, &settled, now).await?;
        // Removal events only when an endpoint wants one: this is the worker's hot path.
        {
            use crate::domain::webhooks::EventKind;
            let kinds = [
                EventKind::RemovalDone,
                EventKind::RemovalFailed,
                EventKind::RemovalGivenUp,
            ];
            if kinds.into_iter().any(|k| self.wants_event(k)) {
                // Conversions are not removals: no removal event for them.
                let (due, settled): (Vec<_>, Vec<_>) = due
                    .iter()
                    .zip(&settled)
                    .filter(|(d, _)| d.target.kind == RemediationKind::Remove)
                    .map(|(d, s)| (d.clone(), s.clone()))
                    .unzip();
                self.emit(
                    &txn,
                    crate::engine::webhook_events::removals(&due, &settled, now),
                )
                .await?;
            }
        }
        txn.commit().await?;
        for s in &settled {
            crate::telemetry::removal(match &s.settlement {
                Settlement::Done { state, .. } if *state == RemediationState::AlreadyGone => {
                    "already_gone"
                }
                Settlement::Done { .. } => "removed",
                Settlement::Retry { .. } => "failed",
                Settlement::Failed { .. } => "given_up",
            });
        }
        Ok(due.len())
    }

    /// The configured source of each campaign in `due` (`None`: the built-in one).
    async fn campaign_sources(
        &self,
        due: &[remediation::DueRemoval],
    ) -> Result<HashMap<i64, Option<String>>, EngineError> {
        let mut source_of: HashMap<i64, Option<String>> = HashMap::new();
        for d in due {
            if let Entry::Vacant(slot) = source_of.entry(d.target.campaign_id) {
                let campaign =
                    campaigns::campaign(self.store().conn(), d.target.campaign_id).await?;
                slot.insert(campaign.and_then(|c| c.spec.scope.source));
            }
        }
        Ok(source_of)
    }

    /// Removes each due item through the source of its campaign and reads it back: one answer
    /// per item, in order; `None` for the items of the built-in source, which the caller removes
    /// inside its recording transaction. A configured source removes one at a time (a few at
    /// once) through its connector, and attest's own row is marked removed with the
    /// connector's receipt. (An engine given another source for the built-in campaigns, as
    /// tests do, removes them through it in one batch.)
    async fn remove_through_sources(
        &self,
        due: &[remediation::DueRemoval],
        source_of: &HashMap<i64, Option<String>>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(Vec<Option<Outcome>>, HashMap<usize, DateTime<Utc>>), EngineError> {
        let mut outcomes: Vec<Option<Outcome>> = (0..due.len()).map(|_| None).collect();
        let mut builtin = Vec::new();
        let mut external: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, d) in due.iter().enumerate() {
            match &source_of[&d.target.campaign_id] {
                None => builtin.push(i),
                Some(name) => external.entry(name.clone()).or_default().push(i),
            }
        }
        // The built-in source itself: left to the recording transaction (see remediate_step).
        // Another source standing in for it removes only: it has no standing access.
        if !self.source().in_database() {
            builtin.retain(|&i| {
                let convert = due[i].target.kind == RemediationKind::Convert;
                if convert {
                    let e = SourceError("this source cannot convert standing access".into());
                    outcomes[i] = Some((Err(e), None));
                }
                !convert
            });
        }
        if !builtin.is_empty() && !self.source().in_database() {
            let targets: Vec<RemovalTarget> =
                builtin.iter().map(|&i| due[i].target.clone()).collect();
            let removed = self.source().remove_many(&targets, now).await;
            // Read back only what the source says it removed (or found gone): the proof.
            let to_check: Vec<RemovalTarget> = targets
                .iter()
                .zip(&removed)
                .filter(|(_, r)| r.is_ok())
                .map(|(t, _)| t.clone())
                .collect();
            drop(targets);
            let mut checked = self.source().present_many(&to_check).await.into_iter();
            for (&i, removal) in builtin.iter().zip(removed) {
                let check = if removal.is_ok() {
                    checked.next()
                } else {
                    None
                };
                outcomes[i] = Some((removal, check));
            }
        }
        // Before anything is sent out: which of these attempts were sent once already and never
        // recorded (a crash), and an intent for each attempt about to be sent.
        let mut interrupted = HashMap::new();
        let external_indexes: Vec<usize> = external.values().flatten().copied().collect();
        if !external_indexes.is_empty() {
            let conn = self.store().conn();
            let attempts: Vec<(i64, i32)> = external_indexes
                .iter()
                .map(|&i| (due[i].id, due[i].attempts + 1))
                .collect();
            let started = remediation::unsettled_starts(conn, &attempts).await?;
            for &i in &external_indexes {
                if let Some(at) = started.get(&due[i].id) {
                    interrupted.insert(i, *at);
                }
            }
            let intents: Vec<NewAttempt> = external_indexes
                .iter()
                .filter(|i| !interrupted.contains_key(i))
                .map(|&i| NewAttempt {
                    remediation_id: due[i].id,
                    attempt: due[i].attempts + 1,
                    outcome: AttemptOutcome::Started,
                    receipt: None,
                    error: None,
                })
                .collect();
            remediation::record_attempts(conn, &intents, now).await?;
        }
        for (name, indexes) in external {
            let connector = match self.sources().connector(&name) {
                Ok(connector) => connector,
                Err(e) => {
                    for i in indexes {
                        outcomes[i] = Some((Err(e.clone()), None));
                    }
                    continue;
                }
            };
            let answers: Vec<(usize, Outcome)> = futures::stream::iter(indexes)
                .map(|i| {
                    let connector = connector.clone();
                    async move { (i, self.remove_one(connector.as_ref(), &due[i].target).await) }
                })
                .buffered(CONNECTOR_REMOVALS_AT_ONCE)
                .collect()
                .await;
            for (i, outcome) in answers {
                outcomes[i] = Some(outcome);
            }
        }
        Ok((outcomes, interrupted))
    }

    /// One removal through a connector: remove there, read it back, and only when the source
    /// no longer lists it mark attest's row removed with the source's receipt (so attest's
    /// tables, and the evidence made from them, never claim a removal the source denies).
    async fn remove_one(&self, connector: &dyn Connector, target: &RemovalTarget) -> Outcome {
        if target.kind == RemediationKind::Convert {
            return self.convert_one(connector, target).await;
        }
        let removal = match connector.remove(target).await {
            Ok(removal) => removal,
            Err(e) => return (Err(e), None),
        };
        // A source that cannot be read back (a webhook): its receipt is the proof.
        let present = match connector.is_present(target).await {
            Ok(present) => present.unwrap_or(false),
            Err(e) => return (Ok(removal), Some(Err(e))),
        };
        if present {
            return (Ok(removal), Some(Ok(true)));
        }
        let receipt = match &removal {
            Removal::Removed { receipt } | Removal::AlreadyGone { receipt } => receipt.clone(),
        };
        let marked = sources_store::mark_removed(
            self.store().conn(),
            target.eligibility_id,
            target.campaign_id,
            &format!("access review campaign #{}", target.campaign_id),
            &receipt,
            self.now(),
        )
        .await;
        match marked {
            Ok(_) => (Ok(removal), Some(Ok(false))),
            Err(e) => (
                Ok(removal),
                Some(Err(SourceError(format!(
                    "removed in {}, but recording it failed: {e}",
                    connector.name()
                )))),
            ),
        }
    }

    /// One conversion of standing access to eligible through a connector: convert there, read
    /// it back, and only when the standing assignment is gone record attest's row as eligible.
    async fn convert_one(&self, connector: &dyn Connector, target: &RemovalTarget) -> Outcome {
        if !connector.converts() {
            let e = SourceError(format!(
                "source {}: this kind of source cannot convert standing access",
                connector.name()
            ));
            return (Err(e), None);
        }
        let conversion = match connector.convert(target).await {
            Ok(conversion) => conversion,
            Err(e) => return (Err(e), None),
        };
        match connector.is_standing(target).await {
            Err(e) => (Ok(conversion), Some(Err(e))),
            Ok(true) => (Ok(conversion), Some(Ok(true))),
            Ok(false) => {
                let marked = sources_store::mark_converted(
                    self.store().conn(),
                    target.eligibility_id,
                    self.now(),
                )
                .await;
                match marked {
                    Ok(_) => (Ok(conversion), Some(Ok(false))),
                    Err(e) => (
                        Ok(conversion),
                        Some(Err(SourceError(format!(
                            "converted in {}, but recording it failed: {e}",
                            connector.name()
                        )))),
                    ),
                }
            }
        }
    }

    /// Completes remediating campaigns with nothing left to remove or confirm, and tells their
    /// owners the outcome.
    pub async fn complete_finished(&self) -> Result<Vec<i64>, EngineError> {
        // Challenge windows that ended are settled first, so the evidence sees them final.
        self.end_challenge_windows().await?;
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
