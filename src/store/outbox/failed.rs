//! Failed mail: queued again (by an admin, or once the server answers), probed meanwhile,
//! and reported to campaign owners.

use crate::domain::mail_state::MailState;
use crate::store::outbox::{template, GAVE_UP_UNREACHABLE};
use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::outbox_mail;
use entity::outbox_mail::Column as Mail;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Value,
};

/// A cleared time column.
const NO_TIME: Option<DateTime<Utc>> = None;

/// Failed mail that has an address to go to.
fn failed_with_address() -> Condition {
    Condition::all()
        .add(Mail::State.eq(MailState::Failed))
        .add(Mail::ToAddress.ne(""))
}

/// Mail given up because its server was unreachable or busy ([`GAVE_UP_UNREACHABLE`]).
fn gave_up_unreachable() -> Expr {
    Mail::LastError.like(format!("{GAVE_UP_UNREACHABLE}%"))
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
    let mut update = outbox_mail::Entity::update_many()
        .col_expr(Mail::State, Expr::value(MailState::Pending))
        .col_expr(Mail::Attempts, Expr::value(0i32))
        .col_expr(Mail::NextAttemptAt, Expr::value(now))
        .col_expr(Mail::LeaseUntil, Expr::value(NO_TIME))
        .filter(failed_with_address());
    if let Some(id) = campaign_id {
        update = update.filter(Mail::CampaignId.eq(id));
    }
    if only_unreachable {
        update = update.filter(gave_up_unreachable());
    }
    Ok(update.exec(conn).await?.rows_affected)
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
    let oldest_quiet = outbox_mail::Entity::find()
        .select_only()
        .column(Mail::Id)
        .filter(failed_with_address())
        .filter(gave_up_unreachable())
        .filter(Mail::NextAttemptAt.lte(now - quiet))
        .order_by_asc(Mail::Id)
        .limit(1)
        .into_query();
    let queued = outbox_mail::Entity::update_many()
        .col_expr(Mail::State, Expr::value(MailState::Pending))
        .col_expr(Mail::Attempts, Expr::value(last_attempt - 1))
        .col_expr(Mail::NextAttemptAt, Expr::value(now))
        .filter(Mail::Id.in_subquery(oldest_quiet))
        .exec(conn)
        .await?;
    Ok(queued.rows_affected == 1)
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
    // hand-written: report aggregate with COUNT(DISTINCT CASE …), GROUP BY and HAVING over
    // correlated subqueries.
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
        let last_error: Option<Option<String>> = outbox_mail::Entity::find()
            .select_only()
            .column(Mail::LastError)
            .filter(Mail::State.eq(MailState::Failed))
            .filter(Mail::CampaignId.eq(campaign_id))
            .filter(Mail::Template.eq(template::INVITATION))
            .order_by_desc(Mail::NextAttemptAt)
            .order_by_desc(Mail::Id)
            .into_tuple()
            .one(conn)
            .await?;
        found.push(FailedInvitations {
            campaign_id,
            reviewers: row.try_get("", "reviewers")?,
            unreachable: row.try_get("", "unreachable")?,
            last_failed_at: row.try_get("", "last_failed_at")?,
            // Only the probe failed, and it has gone out since: it failed for want of a server.
            last_error: last_error
                .flatten()
                .unwrap_or_else(|| GAVE_UP_UNREACHABLE.into()),
        });
    }
    Ok(found)
}
