//! The outbound event outbox (`webhook_delivery`, migration 17): queued in the transaction of
//! the change it reports, once per (endpoint, event type, subject key); leased by the sender
//! (SKIP LOCKED on PostgreSQL, so two `serve` instances never send one row at once); each
//! attempt recorded; read back per endpoint and per campaign.

use crate::domain::webhooks::{DeliveryState, EventKind};
use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::webhook_delivery;
use entity::webhook_delivery::Column as Hook;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

/// A cleared time column.
const NO_TIME: Option<DateTime<Utc>> = None;
/// A cleared text column.
const NO_TEXT: Option<String> = None;

/// One event for one endpoint, about to be queued.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub event_id: String,
    pub endpoint: String,
    pub event_type: EventKind,
    pub campaign_id: Option<i64>,
    pub subject_key: String,
    pub payload: String,
}

/// Queues `rows` at `now`; a fact queued before for the same endpoint is left as it is.
/// Returns how many were added.
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    rows: Vec<NewDelivery>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let models = rows.into_iter().map(|r| webhook_delivery::ActiveModel {
        event_id: Set(r.event_id),
        endpoint: Set(r.endpoint),
        event_type: Set(r.event_type.as_str().to_string()),
        campaign_id: Set(r.campaign_id),
        subject_key: Set(r.subject_key),
        payload: Set(r.payload),
        state: Set(DeliveryState::Pending.as_str().to_string()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_owner: Set(None),
        lease_until: Set(None),
        last_error: Set(None),
        receipt_id: Set(None),
        delivered_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    });
    let once = OnConflict::columns([Hook::Endpoint, Hook::EventType, Hook::SubjectKey])
        .do_nothing()
        .to_owned();
    match webhook_delivery::Entity::insert_many(models)
        .on_conflict(once)
        .exec_without_returning(conn)
        .await
    {
        Ok(n) => Ok(n),
        Err(DbErr::RecordNotInserted) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// A delivery the sender is about to attempt.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: i64,
    pub event_id: String,
    pub endpoint: String,
    pub event_type: String,
    pub campaign_id: Option<i64>,
    pub payload: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

/// Claims up to `limit` deliveries due at `now` for process `owner` until `lease_until`: never
/// tried (due at once, whatever the clocks of the instances say) or failed and past their
/// wait, and free of a live lease. Call it in a transaction.
pub async fn lease_due(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
    owner: &str,
    lease_until: DateTime<Utc>,
) -> Result<Vec<DueDelivery>, StoreError> {
    // hand-written: the lease-free condition is SQL text shared with the other lease queries
    // (`process::push_lease_free`), and the rows are locked SKIP LOCKED on PostgreSQL.
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT id, event_id, endpoint, event_type, campaign_id, payload, attempts, created_at \
         FROM webhook_delivery WHERE (state = 'pending' OR (state = 'failed' AND next_attempt_at <= ",
    );
    sql.bind(now).push(")) AND");
    crate::store::process::push_lease_free(&mut sql, "", now);
    sql.push("ORDER BY id LIMIT ").bind(limit as i64);
    sql.lock_rows_skipping_locked();
    let rows = conn
        .query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            Ok(DueDelivery {
                id: row.try_get("", "id")?,
                event_id: row.try_get("", "event_id")?,
                endpoint: row.try_get("", "endpoint")?,
                event_type: row.try_get("", "event_type")?,
                campaign_id: row.try_get("", "campaign_id")?,
                payload: row.try_get("", "payload")?,
                attempts: row.try_get("", "attempts")?,
                created_at: row.try_get("", "created_at")?,
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    crate::store::lease(conn, "webhook_delivery", &ids, owner, lease_until).await?;
    Ok(rows)
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum Attempt {
    Delivered {
        receipt: Option<String>,
    },
    Retry {
        error: String,
        next_attempt_at: DateTime<Utc>,
    },
    GivenUp {
        error: String,
    },
}

/// Records attempt number `attempts` of delivery `id`; a delivery recorded delivered (by a
/// late duplicate, say) is never touched again.
pub async fn record(
    conn: &impl ConnectionTrait,
    id: i64,
    attempts: i32,
    attempt: &Attempt,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let update = webhook_delivery::Entity::update_many()
        .col_expr(Hook::Attempts, Expr::value(attempts))
        .col_expr(Hook::LeaseUntil, Expr::value(NO_TIME))
        .col_expr(Hook::LeaseOwner, Expr::value(NO_TEXT));
    let update = match attempt {
        Attempt::Delivered { receipt } => update
            .col_expr(Hook::State, Expr::value(DeliveryState::Delivered))
            .col_expr(Hook::ReceiptId, Expr::value(receipt.clone()))
            .col_expr(Hook::LastError, Expr::value(NO_TEXT))
            .col_expr(Hook::DeliveredAt, Expr::value(now)),
        Attempt::Retry {
            error,
            next_attempt_at,
        } => update
            .col_expr(Hook::State, Expr::value(DeliveryState::Failed))
            .col_expr(Hook::LastError, Expr::value(error.clone()))
            .col_expr(Hook::NextAttemptAt, Expr::value(*next_attempt_at)),
        Attempt::GivenUp { error } => update
            .col_expr(Hook::State, Expr::value(DeliveryState::GivenUp))
            .col_expr(Hook::LastError, Expr::value(error.clone())),
    };
    update
        .filter(Hook::Id.eq(id))
        .filter(Hook::State.is_in([DeliveryState::Pending, DeliveryState::Failed]))
        .exec(conn)
        .await?;
    Ok(())
}

/// Gives back the leases of `ids`.
pub async fn release(conn: &impl ConnectionTrait, ids: &[i64]) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    webhook_delivery::Entity::update_many()
        .col_expr(Hook::LeaseUntil, Expr::value(NO_TIME))
        .col_expr(Hook::LeaseOwner, Expr::value(NO_TEXT))
        .filter(Hook::Id.is_in(ids.iter().copied()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Deliveries per endpoint and state.
pub async fn counts(
    conn: &impl ConnectionTrait,
) -> Result<Vec<(String, DeliveryState, i64)>, StoreError> {
    let rows: Vec<(String, String, i64)> = webhook_delivery::Entity::find()
        .select_only()
        .column(Hook::Endpoint)
        .column(Hook::State)
        .column_as(Hook::Id.count(), "n")
        .group_by(Hook::Endpoint)
        .group_by(Hook::State)
        .into_tuple()
        .all(conn)
        .await?;
    rows.into_iter()
        .map(|(endpoint, state, n)| {
            let state = state.parse().map_err(DbErr::Type)?;
            Ok((endpoint, state, n))
        })
        .collect()
}

/// One event sent (or being sent) about a campaign, as its page shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CampaignDelivery {
    /// `campaign.launched`, `removal.done`, …
    #[schema(value_type = String)]
    pub event: EventKind,
    /// The `[webhooks.NAME]` it went to.
    pub endpoint: String,
    /// `pending`, `failed` (retried), `delivered` or `given_up`.
    #[schema(value_type = String)]
    pub state: DeliveryState,
    /// What the receiver answered as its receipt (a ticket number, say).
    pub receipt: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    /// Why the latest attempt failed.
    pub last_error: Option<String>,
}

/// A campaign's deliveries, oldest first (at most `limit`).
pub async fn for_campaign(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    limit: u64,
) -> Result<Vec<CampaignDelivery>, StoreError> {
    let rows = webhook_delivery::Entity::find()
        .filter(Hook::CampaignId.eq(campaign_id))
        .order_by_asc(Hook::Id)
        .limit(limit)
        .all(conn)
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(CampaignDelivery {
                event: r.event_type.parse().map_err(DbErr::Type)?,
                endpoint: r.endpoint,
                state: r.state.parse().map_err(DbErr::Type)?,
                receipt: r.receipt_id,
                delivered_at: r.delivered_at,
                attempts: r.attempts,
                last_error: r.last_error,
            })
        })
        .collect()
}
