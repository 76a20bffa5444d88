//! Items frozen at launch: written in batches (multi-row inserts here; PostgreSQL's COPY is in
//! `backend::postgres::launch`), and each reviewer's load recorded once the population is in.

use crate::domain::eligibility::{Assignment, SourceEligibility};
use crate::domain::recommendation::{Recommendation, STANDING_ACCESS_FINDING};
use crate::domain::reviewers::ReviewerReason;
use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::review_item;
use futures::TryStreamExt;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, StreamTrait,
};
use std::borrow::Cow;

/// One review item to insert at launch.
#[derive(Debug, Clone)]
pub struct NewItem<'a> {
    pub eligibility: &'a SourceEligibility,
    pub reviewer_id: i64,
    pub reviewer_reason: ReviewerReason,
    pub flag: Option<String>,
    pub recommendation: Recommendation,
    pub recommendation_reason: String,
    pub excluded: bool,
}

/// The columns a launch fills, in the order both bulk paths write them.
pub const ITEM_COLUMNS: &str = "campaign_id, eligibility_id, principal_id, role_id, scope, holder_external_id, \
    holder_name, holder_email, holder_kind, role_name, role_risk, since, last_activated_at, reviewer_id, \
    reviewer_reason, flagged, flag_reason, recommendation, recommendation_reason, excluded, created_at, \
    assignment";

impl NewItem<'_> {
    /// Why the item needs attention: its reviewer rule's flag, or its exclusion; and the
    /// standing-access finding of an active assignment. `None`: the item is not flagged.
    pub(crate) fn flag_reason(&self) -> Option<Cow<'_, str>> {
        let first = self
            .flag
            .as_deref()
            .or_else(|| self.excluded.then_some(EXCLUDED_FLAG));
        let standing =
            (self.eligibility.assignment == Assignment::Active).then_some(STANDING_ACCESS_FINDING);
        match (first, standing) {
            (Some(first), Some(standing)) => Some(Cow::Owned(format!("{first}; {standing}"))),
            (first, standing) => first.or(standing).map(Cow::Borrowed),
        }
    }
}

/// Inserts a batch of items (the SQLite launch path); an item already there (a resumed
/// launch) is left alone.
/// Returns how many were new.
pub async fn insert_items(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    items: &[NewItem<'_>],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    if items.is_empty() {
        return Ok(0);
    }
    // hand-written: the SQLite launch's bulk path, a multi-row VALUES with ON CONFLICT DO NOTHING.
    let mut sql = Sql::new(
        conn.get_database_backend(),
        &format!("INSERT INTO review_item ({ITEM_COLUMNS}) VALUES "),
    );
    sql.rows(items.iter().map(|i| {
        let e = i.eligibility;
        [
            campaign_id.into(),
            e.eligibility_id.into(),
            e.principal_id.into(),
            e.role_id.into(),
            e.scope.as_str().into(),
            e.principal_external_id.as_str().into(),
            e.principal_name.as_str().into(),
            e.principal_email.clone().into(),
            e.principal_kind.into(),
            e.role_name.as_str().into(),
            e.role_risk.into(),
            e.since.into(),
            e.last_activated_at.into(),
            i.reviewer_id.into(),
            i.reviewer_reason.as_str().into(),
            i.flag_reason().is_some().into(),
            i.flag_reason().map(Cow::into_owned).into(),
            i.recommendation.into(),
            i.recommendation_reason.as_str().into(),
            i.excluded.into(),
            now.into(),
            e.assignment.into(),
        ]
    }));
    sql.push(" ON CONFLICT (campaign_id, eligibility_id) DO NOTHING");
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}

/// Why an excluded item is flagged.
pub const EXCLUDED_FLAG: &str =
    "excluded from automatic removal (break-glass account or listed exclusion)";

/// Each reviewer of a campaign and how many items they hold. Streamed: a ten-million-item
/// campaign has over a hundred thousand reviewers, and rows read whole cost many times a pair.
pub async fn reviewer_loads<C>(conn: &C, campaign_id: i64) -> Result<Vec<(i64, i64)>, StoreError>
where
    C: ConnectionTrait + StreamTrait,
{
    let rows = review_item::Entity::find()
        .select_only()
        .column(review_item::Column::ReviewerId)
        .column_as(review_item::Column::Id.count(), "n")
        .filter(review_item::Column::CampaignId.eq(campaign_id))
        .group_by(review_item::Column::ReviewerId)
        .order_by_asc(review_item::Column::ReviewerId)
        .into_tuple::<(i64, i64)>()
        .stream(conn)
        .await?;
    Ok(rows.try_collect().await?)
}

/// Records each reviewer of the campaign (once) with their item count.
pub async fn upsert_campaign_reviewers(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    loads: &[(i64, i64)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for chunk in loads.chunks(1000) {
        // hand-written: bulk path, a multi-row VALUES upsert of a thousand reviewers a statement.
        let mut sql = Sql::new(
            conn.get_database_backend(),
            "INSERT INTO campaign_reviewer (campaign_id, reviewer_id, items_assigned, created_at) VALUES ",
        );
        sql.rows(chunk.iter().map(|(reviewer, n)| {
            [
                campaign_id.into(),
                (*reviewer).into(),
                (*n).into(),
                now.into(),
            ]
        }));
        sql.push(" ON CONFLICT (campaign_id, reviewer_id) DO UPDATE SET items_assigned = excluded.items_assigned");
        conn.execute_raw(sql.build()).await?;
    }
    Ok(())
}

/// Copies each item's holder's attributes (`principal.attributes`) onto the item, for a campaign
/// whose definition names some (`context`): frozen at launch, as an auditor expects. Returns how
/// many items were written.
pub async fn freeze_holder_context(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<u64, StoreError> {
    // hand-written: one set-based UPDATE from a correlated subquery over the campaign's items.
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE review_item SET holder_context = (SELECT p.attributes FROM principal p \
         WHERE p.id = review_item.principal_id) WHERE campaign_id = ",
    );
    sql.bind(campaign_id);
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}
