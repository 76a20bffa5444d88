//! The mail worker's side: leasing due mail, recording each send attempt, reading the
//! recipients a step composes for, and storing link nonces.

use crate::domain::mail_state::MailState;
use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::outbox_mail;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Value};
use std::collections::HashMap;

/// A cleared time column.
const NO_TIME: Option<DateTime<Utc>> = None;
/// A cleared text column.
const NO_TEXT: Option<String> = None;

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
    // hand-written: the lease-free condition is SQL text shared with the other lease queries
    // (`process::push_lease_free`), and the rows are locked SKIP LOCKED on PostgreSQL.
    let backend = conn.get_database_backend();
    let mut sql = Sql::new(
        backend,
        "SELECT id, idempotency_key, campaign_id, recipient_id, to_address, template, payload, attempts, link_nonce \
         FROM outbox_mail WHERE state = 'pending' AND next_attempt_at <= ",
    );
    sql.bind(now).push(" AND");
    crate::store::process::push_lease_free(&mut sql, "", now);
    sql.push("ORDER BY next_attempt_at, id LIMIT ")
        .bind(limit as i64);
    sql.lock_rows_skipping_locked();
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
    crate::store::lease(conn, "outbox_mail", &ids, owner, lease_until).await?;
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
    use outbox_mail::Column as Mail;
    let update = outbox_mail::Entity::update_many()
        .col_expr(Mail::Attempts, Expr::value(attempts))
        .col_expr(Mail::LeaseUntil, Expr::value(NO_TIME))
        .col_expr(Mail::LeaseOwner, Expr::value(NO_TEXT));
    let update = match delivery {
        Delivery::Sent {
            response,
            message_id,
        } => update
            .col_expr(Mail::State, Expr::value(MailState::Sent))
            .col_expr(Mail::SmtpResponse, Expr::value(response))
            .col_expr(Mail::MessageId, Expr::value(message_id))
            .col_expr(Mail::SentAt, Expr::value(now))
            .col_expr(Mail::LastError, Expr::value(NO_TEXT)),
        Delivery::Retry {
            error,
            next_attempt_at,
        } => update
            .col_expr(Mail::LastError, Expr::value(error))
            .col_expr(Mail::NextAttemptAt, Expr::value(next_attempt_at)),
        // A failed mail's next_attempt_at says when it was given up: the probe counts its
        // quiet time from then, and the owner's failed-invitation mail what is new.
        Delivery::Failed { error } => update
            .col_expr(Mail::State, Expr::value(MailState::Failed))
            .col_expr(Mail::LastError, Expr::value(error))
            .col_expr(Mail::NextAttemptAt, Expr::value(now)),
        Delivery::Skipped { reason } => update
            .col_expr(Mail::State, Expr::value(MailState::Skipped))
            .col_expr(Mail::LastError, Expr::value(reason)),
    };
    update
        .filter(Mail::State.eq(MailState::Pending))
        .filter(Mail::Id.eq(id))
        .exec(conn)
        .await?;
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
    /// Of `items`, those that are standing access (active assignments).
    pub standing: i64,
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
        // hand-written: a join to an aggregate subquery with CASE.
        let mut sql = Sql::new(
            conn.get_database_backend(),
            "SELECT p.id, p.display_name, p.timezone, cr.signed_off_at, l.n, l.open, l.standing FROM principal p \
             LEFT JOIN campaign_reviewer cr ON cr.reviewer_id = p.id AND cr.campaign_id = ",
        );
        sql.bind(campaign_id).push(
            " LEFT JOIN (SELECT reviewer_id, COUNT(*) AS n, SUM(CASE WHEN verdict IS NULL THEN 1 ELSE 0 END) AS open, \
             SUM(CASE WHEN assignment = 'active' THEN 1 ELSE 0 END) AS standing FROM review_item WHERE campaign_id = ",
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
                    standing: row.try_get::<Option<i64>>("", "standing")?.unwrap_or(0),
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
        // hand-written: bulk path, one CASE update sets five hundred mails' nonces.
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
