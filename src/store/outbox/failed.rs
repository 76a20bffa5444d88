//! Failed mail: queued again (by an admin, or once the server answers), probed meanwhile,
//! and reported to campaign owners.

use crate::store::outbox::{template, GAVE_UP_UNREACHABLE};
use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Value};

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
