//! The mail outbox: every mail is a row before it is anything else. The idempotency key makes
//! queuing the same mail twice (a retried step, two instances) a no-op.

use super::sql::Sql;
use super::StoreError;
use crate::domain::mail_state::{Invitation, InvitationState, MailState, MailTally, ReviewerMail};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, Value};
use std::collections::HashMap;

/// Mail templates the engine queues; the mail module composes them at send time.
pub mod template {
    pub const INVITATION: &str = "invitation";
    pub const REMINDER: &str = "reminder";
    pub const ESCALATION: &str = "escalation";
    pub const REMOVALS_AWAITING_CONFIRMATION: &str = "removals_awaiting_confirmation";
    pub const OUTCOME: &str = "outcome";
    pub const THANKS: &str = "thanks";
    /// To a definition's owner: its scheduled launch waits for a source that cannot be synced.
    pub const LAUNCH_WAITING: &str = "launch_waiting";
    /// To a campaign's owner, once mail goes out again: invitations were given up.
    pub const INVITATIONS_FAILED: &str = "invitations_failed";
}

/// Queues `template` to every reviewer of the campaign (only those with undecided items who
/// have not signed off, when `only_pending`), keyed `template/campaign/reviewer[/suffix]`.
/// A reviewer without an email address gets a failed row that says so. Returns rows added.
pub async fn queue_for_reviewers(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    template: &str,
    key_suffix: Option<&str>,
    only_pending: bool,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let suffix = key_suffix.map(|s| format!("/{s}")).unwrap_or_default();
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO outbox_mail (idempotency_key, campaign_id, recipient_id, to_address, template, payload, state, \
         attempts, next_attempt_at, last_error, created_at) SELECT ",
    );
    sql.bind(format!("{template}/"))
        .push(" || CAST(cr.campaign_id AS TEXT) || '/' || CAST(cr.reviewer_id AS TEXT) || ")
        .bind(suffix)
        .push(", cr.campaign_id, cr.reviewer_id, COALESCE(p.email, ''), ")
        .bind(template)
        .push(", '{}', CASE WHEN p.email IS NULL THEN 'failed' ELSE 'pending' END, 0, ")
        .bind(now)
        .push(", CASE WHEN p.email IS NULL THEN 'the reviewer has no email address' END, ")
        .bind(now)
        .push(" FROM campaign_reviewer cr JOIN principal p ON p.id = cr.reviewer_id WHERE cr.campaign_id = ")
        .bind(campaign_id);
    if only_pending {
        sql.push(
            " AND cr.signed_off_at IS NULL AND EXISTS (SELECT 1 FROM review_item i WHERE i.campaign_id = cr.campaign_id \
             AND i.reviewer_id = cr.reviewer_id AND i.verdict IS NULL)",
        );
    }
    sql.push(" ON CONFLICT (idempotency_key) DO NOTHING");
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}

/// Queues one mail to one principal; false when that key was queued before.
pub async fn queue_to_principal(
    conn: &impl ConnectionTrait,
    key: &str,
    campaign_id: Option<i64>,
    recipient_id: i64,
    template: &str,
    payload: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO outbox_mail (idempotency_key, campaign_id, recipient_id, to_address, template, payload, state, \
         attempts, next_attempt_at, last_error, created_at) SELECT ",
    );
    sql.bind(key)
        .push(", ")
        .bind(campaign_id)
        .push(", p.id, COALESCE(p.email, ''), ")
        .bind(template)
        .push(", ")
        .bind(payload.to_string())
        .push(", CASE WHEN p.email IS NULL THEN 'failed' ELSE 'pending' END, 0, ")
        .bind(now)
        .push(", CASE WHEN p.email IS NULL THEN 'the recipient has no email address' END, ")
        .bind(now)
        .push(" FROM principal p WHERE p.id = ")
        .bind(recipient_id)
        .push(" ON CONFLICT (idempotency_key) DO NOTHING");
    Ok(conn.execute_raw(sql.build()).await?.rows_affected() == 1)
}

/// How a mail that failed because its server was unreachable or busy through every attempt
/// starts its `last_error`: such mail is queued again once the server answers (a mail that
/// failed for good, like a refused address, is not).
pub const GAVE_UP_UNREACHABLE: &str = "gave up while the mail server was unreachable or busy";

/// A campaign's mail by state: queued (not tried yet), retrying (tried, failed, to be tried
/// again), sent, failed (given up: reported, re-queued by an admin or when the server is back)
/// and skipped (no longer applied).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailCounts {
    pub queued: i64,
    pub retrying: i64,
    pub sent: i64,
    pub failed: i64,
    pub skipped: i64,
    /// Reviewers of the campaign with failed mail (who is affected, for the alerts).
    pub failed_reviewers: i64,
}

pub async fn mail_counts(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<MailCounts, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT state, CASE WHEN attempts > 0 THEN 1 ELSE 0 END AS tried, COUNT(*) AS n FROM outbox_mail WHERE campaign_id = ",
    );
    sql.bind(campaign_id)
        .push(" GROUP BY state, CASE WHEN attempts > 0 THEN 1 ELSE 0 END");
    let mut counts = MailCounts::default();
    for row in conn.query_all_raw(sql.build()).await? {
        let tried: i32 = row.try_get("", "tried")?;
        let n: i64 = row.try_get("", "n")?;
        match (row.try_get("", "state")?, tried) {
            (MailState::Pending | MailState::Sending, 0) => counts.queued += n,
            (MailState::Pending | MailState::Sending, _) => counts.retrying += n,
            (MailState::Sent, _) => counts.sent += n,
            (MailState::Failed, _) => counts.failed += n,
            (MailState::Skipped, _) => counts.skipped += n,
        }
    }
    if counts.failed > 0 {
        let mut sql = Sql::new(
            conn.get_database_backend(),
            "SELECT COUNT(DISTINCT o.recipient_id) AS n FROM outbox_mail o JOIN campaign_reviewer cr \
             ON cr.campaign_id = o.campaign_id AND cr.reviewer_id = o.recipient_id WHERE o.state = 'failed' AND o.campaign_id = ",
        );
        sql.bind(campaign_id);
        if let Some(row) = conn.query_one_raw(sql.build()).await? {
            counts.failed_reviewers = row.try_get("", "n")?;
        }
    }
    Ok(counts)
}

/// Queues failed mail again, to be sent at `now` with its attempts counted afresh: of one
/// campaign or of all, and all of it or only what failed while the server was unreachable.
/// Mail to someone without an address stays failed. Returns how many.
pub async fn requeue_failed(
    conn: &impl ConnectionTrait,
    campaign_id: Option<i64>,
    only_unreachable: bool,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE outbox_mail SET state = 'pending', attempts = 0, next_attempt_at = ",
    );
    sql.bind(now)
        .push(", lease_until = NULL WHERE state = 'failed' AND to_address <> ''");
    if let Some(id) = campaign_id {
        sql.push(" AND campaign_id = ").bind(id);
    }
    if only_unreachable {
        sql.push(" AND last_error LIKE ")
            .bind(format!("{GAVE_UP_UNREACHABLE}%"));
    }
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}

/// While mail that failed for an unreachable server waits: every `quiet` (since its last
/// try), one of it is tried once more, so the worker notices when the server is back. Returns
/// whether one was queued.
pub async fn queue_probe(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    quiet: chrono::Duration,
    last_attempt: i32,
) -> Result<bool, StoreError> {
    let backend = conn.get_database_backend();
    let mut sql = Sql::new(
        backend,
        "UPDATE outbox_mail SET state = 'pending', attempts = ",
    );
    sql.bind(last_attempt - 1)
        .push(", next_attempt_at = ")
        .bind(now)
        .push(
            " WHERE id = (SELECT id FROM outbox_mail WHERE state = 'failed' AND to_address <> '' AND last_error LIKE ",
        )
        .bind(format!("{GAVE_UP_UNREACHABLE}%"))
        .push(" AND next_attempt_at <= ")
        .bind(now - quiet)
        .push(" ORDER BY id LIMIT 1)");
    Ok(conn.execute_raw(sql.build()).await?.rows_affected() == 1)
}

/// How many mails of a template a campaign has queued (tests and progress pages).
pub async fn count(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    template: &str,
) -> Result<i64, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT COUNT(*) AS n FROM outbox_mail WHERE campaign_id = ",
    );
    sql.bind(campaign_id)
        .push(" AND template = ")
        .bind(template);
    let row = conn
        .query_one_raw(sql.build())
        .await?
        .ok_or(DbErr::RecordNotFound("outbox".into()))?;
    row.try_get("", "n").map_err(StoreError::from)
}

/// A mail the worker is about to send.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub idempotency_key: String,
    pub campaign_id: Option<i64>,
    pub recipient_id: Option<i64>,
    pub to_address: String,
    pub template: String,
    pub payload: String,
    pub attempts: i32,
    /// Set once the mail's link was issued: a re-send derives the same link from it.
    pub link_nonce: Option<String>,
}

/// Claims up to `limit` pending mails that are due for process `owner`, until `lease_until`
/// or until `owner` is gone (SKIP LOCKED on PostgreSQL, so several workers take disjoint
/// mails). Call it in a transaction.
pub async fn lease_due(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
    owner: &str,
    lease_until: DateTime<Utc>,
) -> Result<Vec<OutboxRow>, StoreError> {
    let backend = conn.get_database_backend();
    let mut sql = Sql::new(
        backend,
        "SELECT id, idempotency_key, campaign_id, recipient_id, to_address, template, payload, attempts, link_nonce \
         FROM outbox_mail WHERE state = 'pending' AND next_attempt_at <= ",
    );
    sql.bind(now).push(" AND");
    super::process::push_lease_free(&mut sql, "", now);
    sql.push("ORDER BY next_attempt_at, id LIMIT ")
        .bind(limit as i64);
    sql.lock_rows(super::backend::RowLock::UpdateSkipLocked);
    let rows = conn
        .query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            Ok(OutboxRow {
                id: row.try_get("", "id")?,
                idempotency_key: row.try_get("", "idempotency_key")?,
                campaign_id: row.try_get("", "campaign_id")?,
                recipient_id: row.try_get("", "recipient_id")?,
                to_address: row.try_get("", "to_address")?,
                template: row.try_get("", "template")?,
                payload: row.try_get("", "payload")?,
                attempts: row.try_get("", "attempts")?,
                link_nonce: row.try_get("", "link_nonce")?,
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    super::lease(conn, "outbox_mail", &ids, owner, lease_until).await?;
    Ok(rows)
}

/// How a send attempt ended.
#[derive(Debug, Clone, Copy)]
pub enum Delivery<'a> {
    Sent {
        response: &'a str,
        message_id: &'a str,
    },
    Retry {
        error: &'a str,
        next_attempt_at: DateTime<Utc>,
    },
    Failed {
        error: &'a str,
    },
    Skipped {
        reason: &'a str,
    },
}

/// Records a send attempt; only a mail still pending is touched, so a late duplicate worker
/// cannot undo a recorded send.
pub async fn record_delivery(
    conn: &impl ConnectionTrait,
    id: i64,
    attempts: i32,
    delivery: Delivery<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE outbox_mail SET attempts = ",
    );
    sql.bind(attempts)
        .push(", lease_until = NULL, lease_owner = NULL");
    match delivery {
        Delivery::Sent {
            response,
            message_id,
        } => {
            sql.push(", state = 'sent', smtp_response = ")
                .bind(response)
                .push(", message_id = ")
                .bind(message_id)
                .push(", sent_at = ")
                .bind(now)
                .push(", last_error = NULL");
        }
        Delivery::Retry {
            error,
            next_attempt_at,
        } => {
            sql.push(", last_error = ")
                .bind(error)
                .push(", next_attempt_at = ")
                .bind(next_attempt_at);
        }
        Delivery::Failed { error } => {
            // A failed mail's next_attempt_at says when it was given up: the probe counts its
            // quiet time from then, and the owner's failed-invitation mail what is new.
            sql.push(", state = 'failed', last_error = ")
                .bind(error)
                .push(", next_attempt_at = ")
                .bind(now);
        }
        Delivery::Skipped { reason } => {
            sql.push(", state = 'skipped', last_error = ").bind(reason);
        }
    }
    sql.push(" WHERE state = 'pending' AND id = ").bind(id);
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// What a step's mails say about their recipient in one campaign.
#[derive(Debug, Clone, Default)]
pub struct Recipient {
    pub name: String,
    /// Their own time zone, if their record has one.
    pub timezone: Option<String>,
    /// Items they hold as reviewer, and how many of those still wait for an answer.
    pub items: i64,
    pub undecided: i64,
    pub signed_off_at: Option<DateTime<Utc>>,
}

/// The recipients of a step's mails in one campaign, read together (one statement per 500):
/// the worker composes a whole step from these instead of four queries a mail.
pub async fn recipients(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    ids: &[i64],
) -> Result<HashMap<i64, Recipient>, StoreError> {
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let ids = || chunk.iter().map(|id| Value::from(*id));
        let mut sql = Sql::new(
            conn.get_database_backend(),
            "SELECT p.id, p.display_name, p.timezone, cr.signed_off_at, l.n, l.open FROM principal p \
             LEFT JOIN campaign_reviewer cr ON cr.reviewer_id = p.id AND cr.campaign_id = ",
        );
        sql.bind(campaign_id).push(
            " LEFT JOIN (SELECT reviewer_id, COUNT(*) AS n, SUM(CASE WHEN verdict IS NULL THEN 1 ELSE 0 END) AS open \
             FROM review_item WHERE campaign_id = ",
        );
        sql.bind(campaign_id).push(" AND reviewer_id IN ");
        sql.tuple(ids())
            .push(" GROUP BY reviewer_id) l ON l.reviewer_id = p.id WHERE p.id IN ");
        sql.tuple(ids());
        for row in conn.query_all_raw(sql.build()).await? {
            found.insert(
                row.try_get("", "id")?,
                Recipient {
                    name: row.try_get("", "display_name")?,
                    timezone: row.try_get("", "timezone")?,
                    items: row.try_get::<Option<i64>>("", "n")?.unwrap_or(0),
                    undecided: row.try_get::<Option<i64>>("", "open")?.unwrap_or(0),
                    signed_off_at: row.try_get("", "signed_off_at")?,
                },
            );
        }
    }
    Ok(found)
}

/// Stores the nonces mails' links derive from (`engine::mail_links`), in the transaction that
/// stores the links' tokens.
pub async fn set_link_nonces(
    conn: &impl ConnectionTrait,
    nonces: &[(i64, String)],
) -> Result<(), StoreError> {
    for chunk in nonces.chunks(500) {
        let mut sql = Sql::new(
            conn.get_database_backend(),
            "UPDATE outbox_mail SET link_nonce = CASE id",
        );
        for (id, nonce) in chunk {
            sql.push(" WHEN ")
                .bind(*id)
                .push(" THEN ")
                .bind(nonce.clone());
        }
        sql.push(" END WHERE id IN ");
        sql.tuple(chunk.iter().map(|(id, _)| Value::from(*id)));
        conn.execute_raw(sql.build()).await?;
    }
    Ok(())
}

/// Where each reviewer's mail of a campaign stands, in reviewer order: their latest invitation
/// and a tally of their other mail, in one statement (1,000 reviewers read at once).
pub async fn reviewer_mail(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Vec<ReviewerMail>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT p.external_id, p.display_name, p.email, inv.state, inv.attempts, inv.sent_at, inv.next_attempt_at, \
         inv.last_error, o.queued, o.retrying, o.sent, o.failed, o.skipped \
         FROM campaign_reviewer cr JOIN principal p ON p.id = cr.reviewer_id \
         LEFT JOIN outbox_mail inv ON inv.id = (SELECT MAX(m.id) FROM outbox_mail m WHERE m.campaign_id = cr.campaign_id \
         AND m.recipient_id = cr.reviewer_id AND m.template = ",
    );
    sql.bind(template::INVITATION).push(
        ") LEFT JOIN (SELECT recipient_id, \
         SUM(CASE WHEN state IN ('pending', 'sending') AND attempts = 0 THEN 1 ELSE 0 END) AS queued, \
         SUM(CASE WHEN state IN ('pending', 'sending') AND attempts > 0 THEN 1 ELSE 0 END) AS retrying, \
         SUM(CASE WHEN state = 'sent' THEN 1 ELSE 0 END) AS sent, \
         SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) AS failed, \
         SUM(CASE WHEN state = 'skipped' THEN 1 ELSE 0 END) AS skipped \
         FROM outbox_mail WHERE campaign_id = ",
    );
    sql.bind(campaign_id)
        .push(" AND template <> ")
        .bind(template::INVITATION)
        .push(
            " GROUP BY recipient_id) o ON o.recipient_id = cr.reviewer_id WHERE cr.campaign_id = ",
        )
        .bind(campaign_id)
        .push(" ORDER BY p.external_id");
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            let n = |name: &str| -> Result<i64, DbErr> {
                Ok(row.try_get::<Option<i64>>("", name)?.unwrap_or(0))
            };
            let attempts = row.try_get::<Option<i32>>("", "attempts")?.unwrap_or(0);
            let state = match (row.try_get("", "state")?, attempts) {
                (None, _) => InvitationState::None,
                (Some(MailState::Pending | MailState::Sending), 0) => InvitationState::Queued,
                (Some(MailState::Pending | MailState::Sending), _) => InvitationState::Retrying,
                (Some(MailState::Sent), _) => InvitationState::Sent,
                (Some(MailState::Skipped), _) => InvitationState::Skipped,
                (Some(MailState::Failed), _) => InvitationState::Failed,
            };
            let waiting = matches!(state, InvitationState::Queued | InvitationState::Retrying);
            let invitation = Invitation {
                state,
                attempts,
                sent_at: row.try_get("", "sent_at")?,
                next_attempt_at: if waiting {
                    row.try_get("", "next_attempt_at")?
                } else {
                    None
                },
                error: if state == InvitationState::Sent {
                    None
                } else {
                    row.try_get("", "last_error")?
                },
            };
            let other = MailTally {
                queued: n("queued")?,
                retrying: n("retrying")?,
                sent: n("sent")?,
                failed: n("failed")?,
                skipped: n("skipped")?,
            };
            Ok(ReviewerMail::new(
                row.try_get("", "external_id")?,
                row.try_get("", "display_name")?,
                row.try_get("", "email")?,
                invitation,
                other,
            ))
        })
        .collect()
}

/// A campaign's given-up invitations its owner has not been told about.
#[derive(Debug, Clone)]
pub struct FailedInvitations {
    pub campaign_id: i64,
    /// Reviewers with a failed invitation, and of those the ones that failed only because the
    /// server was unreachable (queued again when it answers).
    pub reviewers: i64,
    pub unreachable: i64,
    /// When the latest of them was given up, and its error.
    pub last_failed_at: DateTime<Utc>,
    pub last_error: String,
}

/// Campaigns with failed invitations given up since their owner was last told (by an
/// `invitations_failed` mail queued at or after the failure), read before failed mail is
/// queued again. `probes` are failed invitations this step sent again to see whether the server
/// is back: they count as failed (their reviewers had not got them either). Key the owner's
/// mail with `last_failed_at`, so the same failures are told once.
pub async fn unreported_failed_invitations(
    conn: &impl ConnectionTrait,
    probes: &[i64],
) -> Result<Vec<FailedInvitations>, StoreError> {
    let backend = conn.get_database_backend();
    let told = |sql: &mut Sql| {
        sql.push(" (SELECT MAX(n.created_at) FROM outbox_mail n WHERE n.campaign_id = o.campaign_id AND n.template = ")
            .bind(template::INVITATIONS_FAILED)
            .push(")");
    };
    let probed = |sql: &mut Sql| {
        if !probes.is_empty() {
            sql.push(" OR o.id IN ");
            sql.tuple(probes.iter().map(|id| Value::from(*id)));
        }
    };
    let mut sql = Sql::new(
        backend,
        "SELECT o.campaign_id, COUNT(DISTINCT o.recipient_id) AS reviewers, \
         COUNT(DISTINCT CASE WHEN (o.to_address <> '' AND o.last_error LIKE ",
    );
    sql.bind(format!("{GAVE_UP_UNREACHABLE}%")).push(")");
    probed(&mut sql);
    sql.push(
        " THEN o.recipient_id END) AS unreachable, MAX(o.next_attempt_at) AS last_failed_at \
         FROM outbox_mail o WHERE o.campaign_id IS NOT NULL AND o.template = ",
    )
    .bind(template::INVITATION)
    .push(" AND (o.state = 'failed'");
    probed(&mut sql);
    sql.push(") GROUP BY o.campaign_id HAVING");
    told(&mut sql);
    sql.push(" IS NULL OR MAX(o.next_attempt_at) >=");
    told(&mut sql);
    sql.push(" ORDER BY o.campaign_id");
    let mut found = Vec::new();
    for row in conn.query_all_raw(sql.build()).await? {
        let campaign_id: i64 = row.try_get("", "campaign_id")?;
        let mut last = Sql::new(
            backend,
            "SELECT last_error FROM outbox_mail WHERE state = 'failed' AND campaign_id = ",
        );
        last.bind(campaign_id)
            .push(" AND template = ")
            .bind(template::INVITATION)
            .push(" ORDER BY next_attempt_at DESC, id DESC LIMIT 1");
        let last_error = match conn.query_one_raw(last.build()).await? {
            Some(row) => row.try_get::<Option<String>>("", "last_error")?,
            None => None,
        };
        found.push(FailedInvitations {
            campaign_id,
            reviewers: row.try_get("", "reviewers")?,
            unreachable: row.try_get("", "unreachable")?,
            last_failed_at: row.try_get("", "last_failed_at")?,
            // Only the probe failed, and it has gone out since: it failed for want of a server.
            last_error: last_error.unwrap_or_else(|| GAVE_UP_UNREACHABLE.into()),
        });
    }
    Ok(found)
}
