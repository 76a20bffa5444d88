//! The outbox's use cases for the mail worker: lease the mails that are due (probing an
//! unreachable server now and then), read the facts they are composed from, and record how
//! each attempt ended, with what follows when the server answers again (owners told of
//! given-up invitations, failed mail queued again). The worker composes and sends; every
//! read and write of the queue is here.

use super::{Engine, EngineError};
use crate::store::campaigns::{self, CampaignRow};
use crate::store::outbox::{self, template, Delivery, OutboxRow, Recipient};
use crate::store::{audit, directory};
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, HashMap};

/// What the mails of a step are composed from: each campaign, with the recipients its mails
/// go to (read once per step, fresh at send time).
pub type MailFacts = HashMap<i64, (CampaignRow, HashMap<i64, Recipient>)>;

/// A step's leased mail.
pub struct LeasedMail {
    pub mails: Vec<OutboxRow>,
    /// The mails were failed ones sent again to find out whether the server is back.
    pub probe: bool,
}

/// How the mail queue is worked: a step's size, its lease, and how often an unreachable server
/// is probed.
#[derive(Debug, Clone, Copy)]
pub struct LeaseTerms {
    pub step: u64,
    pub lease: Duration,
    pub probe_every: Duration,
    pub max_attempts: i32,
}

impl Engine {
    /// Leases up to `terms.step` mails that are due to this process. With none due and mail
    /// failed because the server could not be reached, one of that is queued again and leased
    /// (`probe`). `None`: nothing to send.
    pub async fn lease_mail(&self, terms: LeaseTerms) -> Result<Option<LeasedMail>, EngineError> {
        let now = self.now();
        let mut probe = false;
        loop {
            let txn = self.store.begin().await?;
            let mails =
                outbox::lease_due(&txn, now, terms.step, self.instance(), now + terms.lease)
                    .await?;
            txn.commit().await?;
            if !mails.is_empty() {
                return Ok(Some(LeasedMail { mails, probe }));
            }
            if probe
                || !outbox::queue_probe(
                    self.store.conn(),
                    now,
                    terms.probe_every,
                    terms.max_attempts,
                )
                .await?
            {
                return Ok(None);
            }
            probe = true;
        }
    }

    /// The campaigns and recipients the mails name.
    pub async fn mail_facts(&self, mails: &[OutboxRow]) -> Result<MailFacts, EngineError> {
        let conn = self.store.conn();
        let mut wanted: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for mail in mails {
            if let (Some(campaign), Some(recipient)) = (mail.campaign_id, mail.recipient_id) {
                wanted.entry(campaign).or_default().push(recipient);
            }
        }
        let mut facts = MailFacts::new();
        for (campaign_id, mut recipients) in wanted {
            let Some(campaign) = campaigns::campaign(conn, campaign_id).await? else {
                continue;
            };
            recipients.sort_unstable();
            recipients.dedup();
            let known = outbox::recipients(conn, campaign_id, &recipients).await?;
            facts.insert(campaign_id, (campaign, known));
        }
        Ok(facts)
    }

    /// The campaign's summary lines as the outcome mail lists them: the figures every other
    /// surface shows, from the same counts.
    pub async fn summary_lines(
        &self,
        campaign: &CampaignRow,
    ) -> Result<Vec<(String, String)>, EngineError> {
        let counts = campaigns::counts(self.store.conn(), campaign.id).await?;
        let summary = campaign.summary(&counts);
        let mut lines = vec![("Status".to_string(), summary.status.clone())];
        lines.extend(
            summary
                .lines()
                .into_iter()
                .map(|(label, value)| (label.to_string(), value)),
        );
        Ok(lines)
    }

    /// Records how each attempt of a step ended (`(mail id, attempt, delivery)`), in one
    /// transaction. When the server took a mail, what failed while it could not be reached is
    /// queued again, after owners are told of given-up invitations (`probes`: the failed mails
    /// this step sent again to find the server back).
    pub async fn record_mail(
        &self,
        attempts: &[(i64, i32, Delivery<'_>)],
        probes: &[i64],
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let server_answered = attempts
            .iter()
            .any(|(_, _, d)| matches!(d, Delivery::Sent { .. }));
        let txn = self.store.begin().await?;
        for (id, attempt, delivery) in attempts {
            outbox::record_delivery(&txn, *id, *attempt, *delivery, now).await?;
        }
        if server_answered {
            // Owners hear of given-up invitations first, while the counts still say which.
            tell_owners(&txn, now, probes).await?;
            let requeued = outbox::requeue_failed(&txn, None, true, now).await?;
            if requeued > 0 {
                tracing::info!(
                    "the mail server answers again: {requeued} failed mails queued again"
                );
                audit::append(
                    &txn,
                    now,
                    "engine",
                    "mail.requeued",
                    None,
                    &serde_json::json!({ "mails": requeued, "why": "the mail server answers again" }),
                )
                .await?;
            }
        }
        txn.commit().await?;
        Ok(())
    }
}

/// A campaign's owner is told when its invitations were given up: one mail per campaign once
/// the mail server takes mail again (how many reviewers never got their invitation, the last
/// error, what happens now), never one per failed invitation, and not again for the same
/// failures: the mail's key carries when the latest of them was given up. Returns how many
/// mails were queued.
async fn tell_owners(
    conn: &impl sea_orm::ConnectionTrait,
    now: DateTime<Utc>,
    probes: &[i64],
) -> Result<u64, EngineError> {
    let mut queued = 0;
    for failed in outbox::unreported_failed_invitations(conn, probes).await? {
        let Some(campaign) = campaigns::campaign(conn, failed.campaign_id).await? else {
            continue;
        };
        let owners = directory::principal_refs(conn, &[campaign.spec.owner.as_str()]).await?;
        let Some(owner) = owners.get(&campaign.spec.owner) else {
            // An owner missing from the directory cannot be mailed; the dashboard and the
            // campaign page still say it.
            tracing::warn!(
                campaign = failed.campaign_id,
                "invitations failed, and the owner {} is not in the directory to be told",
                campaign.spec.owner
            );
            continue;
        };
        let key = format!(
            "{}/{}/{}",
            template::INVITATIONS_FAILED,
            failed.campaign_id,
            failed.last_failed_at.timestamp_micros()
        );
        let payload = serde_json::json!({
            "reviewers": failed.reviewers,
            "requeued": failed.unreachable,
            "reason": failed.last_error,
        });
        if outbox::queue_to_principal(
            conn,
            &key,
            Some(failed.campaign_id),
            owner.id,
            template::INVITATIONS_FAILED,
            &payload,
            now,
        )
        .await?
        {
            queued += 1;
        }
    }
    Ok(queued)
}
