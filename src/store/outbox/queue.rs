//! Queueing mail: to a campaign's reviewers, or to one principal, once per idempotency key.

use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

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
    // hand-written: bulk path, one INSERT … SELECT for every reviewer, building keys and states
    // with concatenation and CASE.
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
    // hand-written: INSERT … SELECT, reading the recipient's address in the same statement.
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
