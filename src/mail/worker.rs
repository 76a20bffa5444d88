//! The outbox worker: a step function that sends the mails that are due. Each mail is leased
//! to one worker, composed with fresh data (a reminder to someone who has since finished is
//! skipped), sent, and its SMTP response recorded; temporary failures are retried with backoff.

use super::compose::{compose, MailContext};
use super::transport::{MailTransport, SendError};
use crate::domain::retry::{backoff, should_retry};
use crate::engine::{Engine, EngineError};
use crate::store::outbox::{self, template, Delivery, OutboxRow};
use crate::store::{campaigns, directory, items, review};
use chrono::Duration;
use lettre::message::Mailbox;
use std::sync::Arc;

/// Mails leased per step.
const STEP: u64 = 50;

/// Sends the outbox.
#[derive(Clone)]
pub struct Mailer {
    engine: Engine,
    transport: Arc<dyn MailTransport>,
    from: Mailbox,
    base_url: String,
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
        })
    }

    /// Sends the mails due now; returns how many it handled (0: nothing was due).
    pub async fn send_step(&self) -> Result<usize, EngineError> {
        let now = self.engine.now();
        let txn = self.engine.store().begin().await?;
        let due = outbox::lease_due(&txn, now, STEP, now + Duration::minutes(5)).await?;
        txn.commit().await?;
        for mail in &due {
            self.deliver(mail).await?;
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

    async fn deliver(&self, mail: &OutboxRow) -> Result<(), EngineError> {
        let attempt = mail.attempts + 1;
        let conn = self.engine.store().conn();
        let delivery = match self.context(mail).await? {
            Err(reason) => {
                outbox::record_delivery(
                    conn,
                    mail.id,
                    attempt,
                    Delivery::Skipped { reason: &reason },
                    self.engine.now(),
                )
                .await?;
                return Ok(());
            }
            Ok(context) => compose(
                &mail.template,
                &context,
                &self.from,
                &mail.to_address,
                &mail.idempotency_key,
            )
            .map(|m| (m, context)),
        };
        let ((message, message_id), context) = match delivery {
            Ok(composed) => composed,
            Err(error) => {
                outbox::record_delivery(
                    conn,
                    mail.id,
                    attempt,
                    Delivery::Failed { error: &error },
                    self.engine.now(),
                )
                .await?;
                return Ok(());
            }
        };
        let result = self.transport.send(&message).await;
        let now = self.engine.now();
        match &result {
            Ok(response) => {
                if self.transport.logs_links() {
                    let link = context.link.as_deref().unwrap_or("(no link)");
                    tracing::info!(to = %mail.to_address, template = %mail.template, "mail {response}; link: {link}");
                }
                outbox::record_delivery(
                    conn,
                    mail.id,
                    attempt,
                    Delivery::Sent {
                        response,
                        message_id: &message_id,
                    },
                    now,
                )
                .await?
            }
            Err(SendError::Temporary(error)) if should_retry(attempt) => {
                tracing::warn!(to = %mail.to_address, "mail not sent, will retry: {error}");
                let next_attempt_at = now + backoff(attempt);
                outbox::record_delivery(
                    conn,
                    mail.id,
                    attempt,
                    Delivery::Retry {
                        error,
                        next_attempt_at,
                    },
                    now,
                )
                .await?
            }
            Err(e) => {
                tracing::error!(to = %mail.to_address, "mail failed: {e}");
                let error = format!("after {attempt} attempts: {e}");
                outbox::record_delivery(
                    conn,
                    mail.id,
                    attempt,
                    Delivery::Failed { error: &error },
                    now,
                )
                .await?
            }
        }
        Ok(())
    }

    /// What the mail says, read now; `Err(reason)` when it no longer applies.
    async fn context(&self, mail: &OutboxRow) -> Result<Result<MailContext, String>, EngineError> {
        let conn = self.engine.store().conn();
        let (Some(campaign_id), Some(recipient)) = (mail.campaign_id, mail.recipient_id) else {
            return Ok(Err("the mail names no campaign or recipient".into()));
        };
        let Some(campaign) = campaigns::campaign(conn, campaign_id).await? else {
            return Ok(Err(format!("campaign #{campaign_id} no longer exists")));
        };
        let name = directory::names_by_id(conn, &[recipient])
            .await?
            .remove(&recipient);
        let timezone = directory::timezone_of(conn, recipient)
            .await?
            .unwrap_or_else(|| campaign.spec.timezone.clone());
        let (items_held, undecided) = items::load_of(conn, campaign_id, recipient).await?;
        let reviewer_mail = [
            template::INVITATION,
            template::REMINDER,
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
            if undecided == 0 {
                return Ok(Err("nothing left to review".into()));
            }
            if review::sign_off_of(conn, campaign_id, recipient)
                .await?
                .is_some()
            {
                return Ok(Err("the reviewer signed off".into()));
            }
        }
        let link = if reviewer_mail {
            let token = self
                .engine
                .issue_token(campaign_id, recipient, Some(mail.id))
                .await?;
            Some(format!("{}/r/{token}", self.base_url))
        } else {
            None
        };
        let payload: serde_json::Value = serde_json::from_str(&mail.payload).unwrap_or_default();
        let summary = if mail.template == template::OUTCOME {
            let c = campaigns::counts(conn, campaign_id).await?;
            vec![
                ("Population".to_string(), c.items.to_string()),
                ("Decided by reviewers".to_string(), c.decided.to_string()),
                ("Attested".to_string(), c.attested.to_string()),
                ("Revoked by reviewers".to_string(), c.revoked.to_string()),
                (
                    "Removed for no response (policy)".to_string(),
                    c.removed_by_policy.to_string(),
                ),
                (
                    "Kept for no response (policy)".to_string(),
                    c.kept_by_policy.to_string(),
                ),
                (
                    "Excluded and kept (break-glass)".to_string(),
                    c.excluded.to_string(),
                ),
                (
                    "Removals done".to_string(),
                    (c.removed + c.already_gone).to_string(),
                ),
                ("Removals failed".to_string(), c.removals_failed.to_string()),
            ]
        } else {
            Vec::new()
        };
        Ok(Ok(MailContext {
            recipient_name: name.map(|n| n.name).unwrap_or_default(),
            campaign_name: campaign.name.clone(),
            description: campaign.spec.description.clone(),
            period: campaign.period.clone(),
            items: items_held,
            undecided,
            deadline: deadline_text(campaign.due_at, &timezone),
            link,
            reason: payload
                .get("reason")
                .and_then(|r| r.as_str())
                .map(str::to_string)
                .or(campaign.rail_reason.clone()),
            summary,
            campaign_id,
            handed_over: payload.get("handed_over_by").is_some(),
        }))
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
