//! Carried decisions of delta-only campaigns (`domain::delta`): the baseline a campaign carries
//! decisions from, the earlier decisions of a batch of eligibilities, the rows that record what
//! was carried, and their listing for the evidence.

use crate::domain::closing::{MadeBy, Outcome};
use crate::domain::delta::EarlierDecision;
use crate::domain::lifecycle::CampaignState;
use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::{campaign, carried_item};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

/// Rows per INSERT of carried decisions (four values each: far below either backend's limit on
/// parameters).
const ROWS_PER_INSERT: usize = 1000;
/// Rows per read of the evidence listing.
const ROWS_PER_READ: u64 = 5000;

/// The campaign `campaign_id` carries decisions from: the latest campaign of the same definition
/// completed before it launched. `None` before its first completed campaign (everything is
/// reviewed then).
pub async fn baseline(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Option<i64>, StoreError> {
    let Some(this) = campaign::Entity::find_by_id(campaign_id).one(conn).await? else {
        return Ok(None);
    };
    // While it launches (launched_at is set when the launch finishes), the start of the launch.
    let launched = this.launched_at.unwrap_or(this.created_at);
    latest_completed(conn, &this.definition_name, launched, Some(campaign_id)).await
}

/// The latest campaign of `definition` completed by `by` (other than `except`).
pub async fn latest_completed(
    conn: &impl ConnectionTrait,
    definition: &str,
    by: DateTime<Utc>,
    except: Option<i64>,
) -> Result<Option<i64>, StoreError> {
    let mut query = campaign::Entity::find()
        .select_only()
        .column(campaign::Column::Id)
        .filter(campaign::Column::DefinitionName.eq(definition))
        .filter(campaign::Column::State.eq(CampaignState::Completed.as_str()))
        .filter(campaign::Column::CompletedAt.lte(by));
    if let Some(except) = except {
        query = query.filter(campaign::Column::Id.ne(except));
    }
    Ok(query
        .order_by_desc(campaign::Column::CompletedAt)
        .order_by_desc(campaign::Column::Id)
        .into_tuple()
        .one(conn)
        .await?)
}

/// What `baseline` decided about each of `eligibility_ids`: its own items, and the decisions it
/// carried itself (each naming the item where a person made it). An eligibility the baseline
/// did not cover is absent.
pub async fn earlier_decisions(
    conn: &impl ConnectionTrait,
    baseline: i64,
    eligibility_ids: &[i64],
) -> Result<Vec<EarlierDecision>, StoreError> {
    let backend = conn.get_database_backend();
    let mut found = Vec::new();
    const COLUMNS: &str = "o.id AS origin_item_id, o.principal_id, o.role_id, o.scope, o.since, \
                           o.outcome, o.made_by, o.decided_at";
    for chunk in eligibility_ids.chunks(crate::store::backend::ids_per_statement(backend)) {
        // hand-written: a UNION of the baseline's items and its carried rows joined to their
        // origin items (a join without a declared relation), probing the unique
        // (campaign_id, eligibility_id) index and carried_item's primary key.
        let mut sql = Sql::new(
            backend,
            &format!(
                "SELECT o.eligibility_id, {COLUMNS} FROM review_item o WHERE o.campaign_id = "
            ),
        );
        sql.bind(baseline)
            .push(" AND o.eligibility_id")
            .one_of(chunk.iter().copied())
            .push(&format!(
                " UNION ALL SELECT c.eligibility_id, {COLUMNS} FROM carried_item c \
                 JOIN review_item o ON o.id = c.origin_item_id WHERE c.campaign_id = "
            ))
            .bind(baseline)
            .push(" AND c.eligibility_id")
            .one_of(chunk.iter().copied());
        for row in conn.query_all_raw(sql.build()).await? {
            found.push(EarlierDecision {
                eligibility_id: row.try_get("", "eligibility_id")?,
                origin_item_id: row.try_get("", "origin_item_id")?,
                principal_id: row.try_get("", "principal_id")?,
                role_id: row.try_get("", "role_id")?,
                scope: row.try_get("", "scope")?,
                since: row.try_get("", "since")?,
                outcome: row
                    .try_get::<Option<String>>("", "outcome")?
                    .map(|o| o.parse::<Outcome>().map_err(StoreError::Corrupt))
                    .transpose()?,
                made_by: row.try_get::<Option<MadeBy>>("", "made_by")?,
                decided_at: row.try_get("", "decided_at")?,
            });
        }
    }
    Ok(found)
}

/// Records that campaign `campaign_id` carries each `(eligibility_id, origin_item_id)` forward;
/// a pair already recorded (a resumed launch) is left as it is. Returns how many were added.
pub async fn insert(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    carried: &[(i64, i64)],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut added = 0;
    for chunk in carried.chunks(ROWS_PER_INSERT) {
        let models =
            chunk.iter().map(
                |&(eligibility_id, origin_item_id)| carried_item::ActiveModel {
                    campaign_id: Set(campaign_id),
                    eligibility_id: Set(eligibility_id),
                    origin_item_id: Set(origin_item_id),
                    created_at: Set(now),
                },
            );
        added += carried_item::Entity::insert_many(models)
            .on_conflict(
                OnConflict::columns([
                    carried_item::Column::CampaignId,
                    carried_item::Column::EligibilityId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
    }
    Ok(added)
}

/// How many decisions campaign `campaign_id` carried forward.
pub async fn count(conn: &impl ConnectionTrait, campaign_id: i64) -> Result<i64, StoreError> {
    Ok(carried_item::Entity::find()
        .filter(carried_item::Column::CampaignId.eq(campaign_id))
        .count(conn)
        .await? as i64)
}

/// One carried decision as the evidence lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarriedRow {
    pub eligibility_id: i64,
    pub holder_external_id: String,
    pub holder_name: String,
    pub role_name: String,
    pub scope: String,
    pub since: Option<DateTime<Utc>>,
    pub origin_campaign_id: i64,
    /// The origin campaign's definition and period, e.g. "quarterly 2027-Q1".
    pub origin_campaign: String,
    pub origin_item_id: i64,
    pub verdict: String,
    /// The reviewer's (or admin's) id who decided.
    pub decided_by: String,
    pub decided_at: Option<DateTime<Utc>>,
    pub justification: Option<String>,
}

/// Every decision campaign `campaign_id` carried forward, in eligibility order, a page at a time
/// to `visit`.
pub async fn each<E: From<StoreError>>(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    mut visit: impl FnMut(&CarriedRow) -> Result<(), E>,
) -> Result<(), E> {
    let backend = conn.get_database_backend();
    let mut after = i64::MIN;
    loop {
        // hand-written: joins without declared relations (origin item, its campaign, its
        // decision and the decider), keyset-paged on carried_item's primary key.
        let mut sql = Sql::new(
            backend,
            "SELECT c.eligibility_id, o.holder_external_id, o.holder_name, o.role_name, o.scope, \
             o.since, o.campaign_id AS origin_campaign_id, oc.definition_name, oc.period, \
             o.id AS origin_item_id, o.verdict, COALESCE(dp.external_id, d.actor) AS decided_by, \
             o.decided_at, d.justification \
             FROM carried_item c JOIN review_item o ON o.id = c.origin_item_id \
             JOIN campaign oc ON oc.id = o.campaign_id \
             LEFT JOIN decision d ON d.id = o.current_decision_id \
             LEFT JOIN principal dp ON dp.id = d.reviewer_id \
             WHERE c.campaign_id = ",
        );
        sql.bind(campaign_id)
            .push(" AND c.eligibility_id > ")
            .bind(after)
            .push(" ORDER BY c.eligibility_id LIMIT ")
            .bind(ROWS_PER_READ as i64);
        let rows = conn
            .query_all_raw(sql.build())
            .await
            .map_err(StoreError::from)?;
        if rows.is_empty() {
            return Ok(());
        }
        for row in &rows {
            let get = || -> Result<CarriedRow, sea_orm::DbErr> {
                let definition: String = row.try_get("", "definition_name")?;
                let period: String = row.try_get("", "period")?;
                Ok(CarriedRow {
                    eligibility_id: row.try_get("", "eligibility_id")?,
                    holder_external_id: row.try_get("", "holder_external_id")?,
                    holder_name: row.try_get("", "holder_name")?,
                    role_name: row.try_get("", "role_name")?,
                    scope: row.try_get("", "scope")?,
                    since: row.try_get("", "since")?,
                    origin_campaign_id: row.try_get("", "origin_campaign_id")?,
                    origin_campaign: format!("{definition} {period}"),
                    origin_item_id: row.try_get("", "origin_item_id")?,
                    verdict: row
                        .try_get::<Option<String>>("", "verdict")?
                        .unwrap_or_default(),
                    decided_by: row
                        .try_get::<Option<String>>("", "decided_by")?
                        .unwrap_or_default(),
                    decided_at: row.try_get("", "decided_at")?,
                    justification: row.try_get("", "justification")?,
                })
            };
            let carried = get().map_err(StoreError::from)?;
            after = carried.eligibility_id;
            visit(&carried)?;
        }
        if (rows.len() as u64) < ROWS_PER_READ {
            return Ok(());
        }
    }
}
