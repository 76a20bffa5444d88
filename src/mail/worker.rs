//! The outbox worker: a step function that sends the mails that are due. A step leases a batch
//! of mails, reads what they say with a few set-based queries (fresh at send time: a reminder
//! to someone who has since finished is skipped), issues the batch's links in one statement,
//! sends the batch (over several pooled connections when the transport has them), and records
//! every outcome in one transaction; temporary failures are retried with backoff.
//!
//! Crash safety: a link's token is committed before the mail carrying it is sent, and a mail
//! is recorded as sent only after its transport said so. A crash between sending and recording
//! resends the mails of that step once another process finds this one gone (seconds; see
//! `domain::liveness`), with the same Message-ID and the same link (`engine::mail_links`), so
//! a receiver can tell and no second link exists; nothing is ever recorded as sent that was not.

use super::compose::{compose, MailContext};
use super::transport::{MailTransport, SendError};
use crate::domain::retry::RetryPolicy;
use crate::engine::mail_links::MailLink;
use crate::engine::outbox::{LeaseTerms, LeasedMail, MailFacts};
use crate::engine::{Engine, EngineError};
use crate::store::outbox::{self, template, Delivery, OutboxRow, Recipient};
use chrono::{DateTime, Duration, Utc};
use lettre::message::Mailbox;
use lettre::Message;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Mails leased per step: enough to keep every pooled connection busy and to spread the
/// step's few database round trips over many mails, few enough to finish well within the lease.
const STEP: u64 = 200;

/// How long a step's mails stay leased to this worker.
const LEASE_MINUTES: i64 = 5;

/// While mail waits for an unreachable server, one of it is tried this often.
const PROBE_MINUTES: i64 = 5;

/// Sends the outbox.
#[derive(Clone)]
pub struct Mailer {
    engine: Engine,
    transport: Arc<dyn MailTransport>,
    from: Mailbox,
    base_url: String,
    retry: RetryPolicy,
}

/// Where one leased mail stands within a step.
enum Plan {
    /// Decided without sending (skipped or failed), with what to record.
    Settled(Outcome),
    /// Composed and ready to send.
    Ready {
        message: Message,
        message_id: String,
        link: Option<String>,
    },
}

/// How an attempt ended, owned until the step records it.
enum Outcome {
    Sent {
        response: String,
        message_id: String,
    },
    Retry {
        error: String,
        next_attempt_at: DateTime<Utc>,
    },
    Failed {
        error: String,
    },
    Skipped {
        reason: String,
    },
}

impl Outcome {
    fn delivery(&self) -> Delivery<'_> {
        match self {
            Outcome::Sent {
                response,
                message_id,
            } => Delivery::Sent {
                response,
                message_id,
            },
            Outcome::Retry {
                error,
                next_attempt_at,
            } => Delivery::Retry {
                error,
                next_attempt_at: *next_attempt_at,
            },
            Outcome::Failed { error } => Delivery::Failed { error },
            Outcome::Skipped { reason } => Delivery::Skipped { reason },
        }
    }
}

impl Mailer {
    pub fn new(
        engine: Engine,
        transport: Arc<dyn MailTransport>,
        from: &str,
        base_url: &str,
    ) -> Result<Self, String> {
        let from = from
            .parse()
            .map_err(|e| format!("mail_from \"{from}\": {e}"))?;
        Ok(Self {
            engine,
            transport,
            from,
            base_url: base_url.trim_end_matches('/').to_string(),
            retry: RetryPolicy::default(),
        })
    }

    /// The mailer with `[mail]`'s retry policy instead of the default (6 attempts, 1 to 16
    /// minutes apart).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sends the mails due now; returns how many it handled (0: nothing was due).
    pub async fn send_step(&self) -> Result<usize, EngineError> {
        let terms = LeaseTerms {
            step: STEP,
            lease: Duration::minutes(LEASE_MINUTES),
            probe_every: Duration::minutes(PROBE_MINUTES),
            max_attempts: self.retry.max_attempts,
        };
        let Some(LeasedMail { mails: due, probe }) = self.engine.lease_mail(terms).await? else {
            return Ok(0);
        };
        let plans = self.prepare(&due).await?;
        let ready: Vec<&Message> = plans
            .iter()
            .filter_map(|plan| match plan {
                Plan::Ready { message, .. } => Some(message),
                Plan::Settled(_) => None,
            })
            .collect();
        let sending = std::time::Instant::now();
        let mut results = self.transport.send_all(&ready).await.into_iter();
        if !ready.is_empty() {
            crate::telemetry::mail_send_time(sending.elapsed() / ready.len() as u32, ready.len());
        }
        let now = self.engine.now();
        let mut outcomes = Vec::with_capacity(due.len());
        for (mail, plan) in due.iter().zip(plans) {
            let attempt = mail.attempts + 1;
            let outcome = match plan {
                Plan::Settled(outcome) => outcome,
                Plan::Ready {
                    message_id, link, ..
                } => {
                    let result = results.next().unwrap_or_else(|| {
                        Err(SendError::Temporary("the transport gave no answer".into()))
                    });
                    self.outcome(mail, attempt, result, message_id, link, now)
                }
            };
            outcomes.push((mail.id, attempt, outcome));
        }
        // The probe that found the server back was one of the given-up invitations.
        let probes: Vec<i64> = outcomes
            .iter()
            .filter(|(_, _, o)| probe && matches!(o, Outcome::Sent { .. }))
            .map(|(id, _, _)| *id)
            .collect();
        let attempts: Vec<_> = outcomes
            .iter()
            .map(|(id, attempt, outcome)| (*id, *attempt, outcome.delivery()))
            .collect();
        self.engine.record_mail(&attempts, &probes, now).await?;
        for (mail, (_, _, outcome)) in due.iter().zip(&outcomes) {
            crate::telemetry::mail(
                &mail.template,
                match outcome {
                    Outcome::Sent { .. } => "sent",
                    Outcome::Retry { .. } => "retry",
                    Outcome::Failed { .. } => "failed",
                    Outcome::Skipped { .. } => "skipped",
                },
            );
        }
        Ok(due.len())
    }

    /// Sends until nothing is due.
    pub async fn drain(&self) -> Result<usize, EngineError> {
        let mut sent = 0;
        loop {
            match self.send_step().await? {
                0 => return Ok(sent),
                n => sent += n,
            }
        }
    }

    fn outcome(
        &self,
        mail: &OutboxRow,
        attempt: i32,
        result: Result<String, SendError>,
        message_id: String,
        link: Option<String>,
        now: DateTime<Utc>,
    ) -> Outcome {
        match result {
            Ok(response) => {
                if self.transport.logs_links() {
                    let link = link.as_deref().unwrap_or("(no link)");
                    tracing::info!(to = %mail.to_address, template = %mail.template, "mail {response}");
                    // A reviewer link opens that reviewer's items: it goes to the log only when
                    // asked for (`ATTEST_LOG=…,attest::links=debug`), never at the default level.
                    tracing::debug!(target: "attest::links", to = %mail.to_address, "link: {link}");
                }
                Outcome::Sent {
                    response,
                    message_id,
                }
            }
            Err(SendError::Temporary(error)) if self.retry.should_retry(attempt) => {
                tracing::warn!(to = %mail.to_address, "mail not sent, will retry: {error}");
                Outcome::Retry {
                    error,
                    next_attempt_at: now + self.retry.backoff(attempt),
                }
            }
            Err(SendError::Temporary(error)) => {
                tracing::error!(to = %mail.to_address, "mail failed: {error}");
                Outcome::Failed {
                    error: format!(
                        "{} ({attempt} attempts): {error}",
                        outbox::GAVE_UP_UNREACHABLE
                    ),
                }
            }
            Err(e) => {
                tracing::error!(to = %mail.to_address, "mail failed: {e}");
                Outcome::Failed {
                    error: format!("after {attempt} attempts: {e}"),
                }
            }
        }
    }

    /// Reads what the step's mails say, issues their links (one statement a campaign,
    /// committed before any of them is sent) and composes them.
    async fn prepare(&self, due: &[OutboxRow]) -> Result<Vec<Plan>, EngineError> {
        let facts = self.engine.mail_facts(due).await?;

        let mut contexts = Vec::with_capacity(due.len());
        let mut grants: BTreeMap<i64, Vec<(usize, MailLink)>> = BTreeMap::new();
        for (index, mail) in due.iter().enumerate() {
            let context = self.context(mail, &facts).await?;
            if let Ok((context, true)) = &context {
                grants.entry(context.campaign_id).or_default().push((
                    index,
                    MailLink {
                        reviewer_id: mail.recipient_id.unwrap_or_default(),
                        mail_id: mail.id,
                        nonce: mail.link_nonce.clone(),
                    },
                ));
            }
            contexts.push(context.map(|(context, _)| context));
        }
        for (campaign_id, wants) in grants {
            let Some((campaign, _)) = facts.get(&campaign_id) else {
                continue;
            };
            let asked: Vec<MailLink> = wants.iter().map(|(_, link)| link.clone()).collect();
            let tokens = self.engine.mail_links(campaign, &asked).await?;
            for ((index, _), token) in wants.iter().zip(tokens) {
                if let Ok(context) = &mut contexts[*index] {
                    context.link = Some(format!("{}/r/{token}", self.base_url));
                }
            }
        }

        Ok(due
            .iter()
            .zip(contexts)
            .map(|(mail, context)| match context {
                Err(reason) => Plan::Settled(Outcome::Skipped { reason }),
                Ok(context) => match compose(
                    &mail.template,
                    &context,
                    &self.from,
                    &mail.to_address,
                    &mail.idempotency_key,
                ) {
                    Ok((message, message_id)) => Plan::Ready {
                        message,
                        message_id,
                        link: context.link,
                    },
                    Err(error) => Plan::Settled(Outcome::Failed { error }),
                },
            })
            .collect())
    }

    /// What the mail says, from the step's facts; with whether it carries a link (issued by
    /// the caller). `Err(reason)` when it no longer applies.
    async fn context(
        &self,
        mail: &OutboxRow,
        facts: &MailFacts,
    ) -> Result<Result<(MailContext, bool), String>, EngineError> {
        if mail.template == template::LAUNCH_WAITING {
            // No campaign exists yet: everything the mail says was written into its payload.
            let payload: serde_json::Value =
                serde_json::from_str(&mail.payload).unwrap_or_default();
            let text = |key: &str| payload_text(&payload, key);
            return Ok(Ok((
                MailContext {
                    recipient_name: text("owner_name"),
                    campaign_name: text("definition"),
                    period: text("period"),
                    reason: Some(text("error")),
                    source: Some(text("source")),
                    ..MailContext::default()
                },
                false,
            )));
        }
        if super::challenge::is_challenge_mail(&mail.template) {
            return Ok(
                super::challenge::context(&self.engine, mail, &self.base_url)
                    .await?
                    .map(|context| (context, false)),
            );
        }
        if mail.template == crate::engine::activations::MAIL_TEMPLATE {
            return Ok(Ok((activation_review(mail, &self.base_url), false)));
        }
        if mail.template == crate::engine::leavers::MAIL_TEMPLATE {
            return Ok(Ok((leaver(mail), false)));
        }
        let (Some(campaign_id), Some(recipient)) = (mail.campaign_id, mail.recipient_id) else {
            return Ok(Err("the mail names no campaign or recipient".into()));
        };
        let Some((campaign, recipients)) = facts.get(&campaign_id) else {
            return Ok(Err(format!("campaign #{campaign_id} no longer exists")));
        };
        let unknown = Recipient::default();
        let who = recipients.get(&recipient).unwrap_or(&unknown);
        let timezone = who
            .timezone
            .clone()
            .unwrap_or_else(|| campaign.spec.timezone.clone());
        let reviewer_mail = [
            template::INVITATION,
            template::REMINDER,
            template::RERUN,
            template::STAGE,
            template::ESCALATION,
        ]
        .contains(&mail.template.as_str());
        if reviewer_mail && !campaign.state.accepts_decisions() {
            return Ok(Err(format!(
                "campaign #{campaign_id} is {}: nothing to review",
                campaign.state
            )));
        }
        if mail.template == template::REMINDER {
            if who.undecided == 0 {
                return Ok(Err("nothing left to review".into()));
            }
            if who.signed_off_at.is_some() {
                return Ok(Err("the reviewer signed off".into()));
            }
        }
        let payload: serde_json::Value = serde_json::from_str(&mail.payload).unwrap_or_default();
        let figure = |key: &str| payload.get(key).and_then(|v| v.as_i64()).unwrap_or(0);
        // The outcome mail lists the campaign's summary: the figures every other surface shows.
        let summary = if mail.template == template::OUTCOME {
            self.engine.summary_lines(campaign).await?
        } else {
            Vec::new()
        };
        Ok(Ok((
            MailContext {
                recipient_name: who.name.clone(),
                campaign_name: campaign.name.clone(),
                description: campaign.spec.description.clone(),
                period: campaign.period.clone(),
                items: who.items,
                undecided: who.undecided,
                standing: who.standing,
                deadline: deadline_text(campaign.due_at, &timezone),
                link: None,
                reason: payload
                    .get("reason")
                    .and_then(|r| r.as_str())
                    .map(str::to_string)
                    .or(campaign.rail_reason.clone()),
                summary,
                campaign_id,
                handed_over: payload.get("handed_over_by").is_some(),
                source: None,
                console_link: [
                    template::REMOVALS_AWAITING_CONFIRMATION,
                    template::INVITATIONS_FAILED,
                ]
                .contains(&mail.template.as_str())
                .then(|| format!("{}/admin/campaigns/{campaign_id}", self.base_url)),
                failed_reviewers: figure("reviewers"),
                requeued_reviewers: figure("requeued"),
                stage_line: (campaign.spec.stage_count() > 1).then(|| {
                    format!(
                        "stage {} of {}",
                        campaign.stage,
                        campaign.spec.stage_count()
                    )
                }),
                ..MailContext::default()
            },
            reviewer_mail,
        )))
    }
}

/// A text field of a mail's payload ("" when absent).
fn payload_text(payload: &serde_json::Value, key: &str) -> String {
    payload
        .get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

/// A leaver's manager told what was removed: everything it says was written into its payload
/// when the leaver event was handled.
fn leaver(mail: &OutboxRow) -> MailContext {
    let payload: serde_json::Value = serde_json::from_str(&mail.payload).unwrap_or_default();
    let text = |key: &str| payload_text(&payload, key);
    MailContext {
        recipient_name: text("manager_name"),
        holder: Some(format!("{} ({})", text("person_name"), text("person"))),
        reason: Some(text("via")),
        summary: serde_json::from_value(payload.get("removed").cloned().unwrap_or_default())
            .unwrap_or_default(),
        items: payload.get("count").and_then(|v| v.as_i64()).unwrap_or(0),
        ..MailContext::default()
    }
}

/// The weekly activation review to a role owner: everything it says was written into its
/// payload when the week's review was queued.
fn activation_review(mail: &OutboxRow, base_url: &str) -> MailContext {
    let payload: serde_json::Value = serde_json::from_str(&mail.payload).unwrap_or_default();
    let text = |key: &str| payload_text(&payload, key);
    let week = text("week");
    MailContext {
        recipient_name: text("owner_name"),
        summary: serde_json::from_value(payload.get("findings").cloned().unwrap_or_default())
            .unwrap_or_default(),
        console_link: Some(format!("{base_url}/audit/activations?week={week}")),
        items: payload.get("total").and_then(|v| v.as_i64()).unwrap_or(0),
        period: week,
        ..MailContext::default()
    }
}

/// "Friday 15 January 2027, 09:00 (Europe/Berlin)".
pub fn deadline_text(due_at: Option<chrono::DateTime<chrono::Utc>>, timezone: &str) -> String {
    let Some(due) = due_at else {
        return "no deadline".into();
    };
    let tz: chrono_tz::Tz = timezone.parse().unwrap_or(chrono_tz::UTC);
    format!(
        "{} ({})",
        due.with_timezone(&tz).format("%A %-d %B %Y, %H:%M"),
        tz.name()
    )
}
