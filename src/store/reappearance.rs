//! Reappearances: eligibilities a campaign removed that an import or a sync lists again. Found
//! before the upsert that makes them active again, recorded in the same transaction.

use super::directory::EligibilityWrite;
use super::sql::Sql;
use super::StoreError;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde::Serialize;

/// One eligibility listed again after a campaign removed it, with what that campaign did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Reappeared {
    pub eligibility_id: i64,
    pub holder: String,
    pub role: String,
    pub scope: String,
    /// The campaign that had removed it.
    pub campaign_id: Option<i64>,
    pub removed_at: Option<DateTime<Utc>>,
    pub removal_receipt: Option<String>,
}

/// Of `rows` (about to be upserted), those whose eligibility a campaign had removed.
pub async fn removed_by_campaign(
    conn: &impl ConnectionTrait,
    rows: &[EligibilityWrite],
) -> Result<Vec<Reappeared>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT e.id, p.external_id, r.name, e.scope, e.removed_by_campaign_id, e.removed_at, e.removal_receipt \
         FROM eligibility e JOIN principal p ON p.id = e.principal_id JOIN \"role\" r ON r.id = e.role_id \
         WHERE e.status = 'removed' AND e.removed_by_campaign_id IS NOT NULL \
         AND (e.principal_id, e.role_id, e.scope) IN (VALUES ",
    );
    sql.rows(rows.iter().map(|w| {
        [
            w.principal_id.into(),
            w.role_id.into(),
            w.scope.as_str().into(),
        ]
    }))
    .push(") ORDER BY e.id");
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            Ok(Reappeared {
                eligibility_id: row.try_get("", "id")?,
                holder: row.try_get("", "external_id")?,
                role: row.try_get("", "name")?,
                scope: row.try_get("", "scope")?,
                campaign_id: row.try_get("", "removed_by_campaign_id")?,
                removed_at: row.try_get("", "removed_at")?,
                removal_receipt: row.try_get("", "removal_receipt")?,
            })
        })
        .collect()
}

/// Records `rows` as reappeared at `now`, brought back by `via`, with `action` taken.
pub async fn record(
    conn: &impl ConnectionTrait,
    rows: &[Reappeared],
    via: &str,
    action: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO reappearance (eligibility_id, campaign_id, removed_at, removal_receipt, reappeared_at, via, action) VALUES ",
    );
    sql.rows(rows.iter().map(|r| {
        [
            r.eligibility_id.into(),
            r.campaign_id.into(),
            r.removed_at.into(),
            r.removal_receipt.clone().into(),
            now.into(),
            via.into(),
            action.into(),
        ]
    }));
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}

/// How many reappearances were recorded in `[from, to)`.
pub async fn count_between(
    conn: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT COUNT(*) AS n FROM reappearance WHERE reappeared_at >= ",
    );
    sql.bind(from).push(" AND reappeared_at < ").bind(to);
    match conn.query_one_raw(sql.build()).await? {
        Some(row) => row.try_get("", "n").map_err(StoreError::from),
        None => Ok(0),
    }
}

/// An item of a campaign whose eligibility had reappeared (before the campaign launched) after
/// an earlier campaign removed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReappearedItem {
    pub item_id: i64,
    pub holder: String,
    pub role: String,
    pub scope: String,
    /// The campaign that had removed it.
    pub removed_by_campaign_id: Option<i64>,
    pub removed_at: Option<DateTime<Utc>>,
    pub reappeared_at: DateTime<Utc>,
    pub via: String,
}

/// The items of `campaign_id` whose eligibility reappeared at or before `until`, latest
/// reappearance per item, in item order: the first `limit`, and how many there are.
pub async fn in_campaign(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    until: DateTime<Utc>,
    limit: u64,
) -> Result<(Vec<ReappearedItem>, i64), StoreError> {
    // Driven from the reappearance table (small), each row finding its item through the
    // (campaign_id, eligibility_id) key: cheap however large the campaign.
    let from = "FROM reappearance ra JOIN review_item i ON i.eligibility_id = ra.eligibility_id AND i.campaign_id = ";
    let mut count = Sql::new(
        conn.get_database_backend(),
        &format!("SELECT COUNT(DISTINCT i.id) AS n {from}"),
    );
    count
        .bind(campaign_id)
        .push(" WHERE ra.reappeared_at <= ")
        .bind(until);
    let total: i64 = match conn.query_one_raw(count.build()).await? {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    let mut sql = Sql::new(
        conn.get_database_backend(),
        &format!(
            "SELECT i.id, i.holder_external_id, i.role_name, i.scope, ra.campaign_id, ra.removed_at, ra.reappeared_at, ra.via {from}"
        ),
    );
    sql.bind(campaign_id)
        .push(" WHERE ra.reappeared_at <= ")
        .bind(until)
        .push(" ORDER BY i.id, ra.reappeared_at DESC");
    let mut items: Vec<ReappearedItem> = Vec::new();
    for row in conn.query_all_raw(sql.build()).await? {
        let item_id: i64 = row.try_get("", "id")?;
        if items.last().is_some_and(|last| last.item_id == item_id) {
            continue; // an older reappearance of the same item
        }
        if items.len() as u64 >= limit {
            break;
        }
        items.push(ReappearedItem {
            item_id,
            holder: row.try_get("", "holder_external_id")?,
            role: row.try_get("", "role_name")?,
            scope: row.try_get("", "scope")?,
            removed_by_campaign_id: row.try_get("", "campaign_id")?,
            removed_at: row.try_get("", "removed_at")?,
            reappeared_at: row.try_get("", "reappeared_at")?,
            via: row.try_get("", "via")?,
        });
    }
    Ok((items, total))
}

/// One recorded reappearance, as admins and auditors list them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReappearanceView {
    pub id: i64,
    pub eligibility_id: i64,
    pub holder: String,
    pub role: String,
    pub scope: String,
    /// The campaign that had removed it.
    pub campaign_id: Option<i64>,
    pub removed_at: Option<DateTime<Utc>>,
    pub removal_receipt: Option<String>,
    pub reappeared_at: DateTime<Utc>,
    /// What listed it again.
    pub via: String,
    /// `flagged`, or `removed_again` through its source.
    pub action: String,
    /// The eligibility's status now (`active`, or `removed` by a later campaign or prune).
    pub status_now: String,
}

/// The newest `limit` reappearances, newest first, and how many there are in all.
pub async fn recent(
    conn: &impl ConnectionTrait,
    limit: u64,
) -> Result<(Vec<ReappearanceView>, i64), StoreError> {
    let backend = conn.get_database_backend();
    let total: i64 = match conn
        .query_one_raw(Sql::new(backend, "SELECT COUNT(*) AS n FROM reappearance").build())
        .await?
    {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    let mut sql = Sql::new(
        backend,
        "SELECT ra.id, ra.eligibility_id, p.external_id, r.name, e.scope, ra.campaign_id, ra.removed_at, \
         ra.removal_receipt, ra.reappeared_at, ra.via, ra.action, e.status \
         FROM reappearance ra JOIN eligibility e ON e.id = ra.eligibility_id \
         JOIN principal p ON p.id = e.principal_id JOIN \"role\" r ON r.id = e.role_id \
         ORDER BY ra.id DESC LIMIT ",
    );
    sql.bind(i64::try_from(limit).unwrap_or(i64::MAX));
    let rows = conn
        .query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            Ok(ReappearanceView {
                id: row.try_get("", "id")?,
                eligibility_id: row.try_get("", "eligibility_id")?,
                holder: row.try_get("", "external_id")?,
                role: row.try_get("", "name")?,
                scope: row.try_get("", "scope")?,
                campaign_id: row.try_get("", "campaign_id")?,
                removed_at: row.try_get("", "removed_at")?,
                removal_receipt: row.try_get("", "removal_receipt")?,
                reappeared_at: row.try_get("", "reappeared_at")?,
                via: row.try_get("", "via")?,
                action: row.try_get("", "action")?,
                status_now: row.try_get("", "status")?,
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    Ok((rows, total))
}
