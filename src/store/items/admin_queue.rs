//! The admins' decision queue: items only their own holder could have reviewed.

use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

/// An item only its holder could have reviewed (the campaign's owner holding it, nobody else
/// eligible): it is decided by an admin from the console's queue, never through a link.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct QueuedItem {
    pub id: i64,
    pub campaign_id: i64,
    pub campaign: String,
    pub period: String,
    pub due_at: Option<DateTime<Utc>>,
    pub holder_id: String,
    pub holder_name: String,
    pub holder_email: Option<String>,
    pub role: String,
    pub risk: String,
    pub scope: String,
    pub recommendation: String,
    pub flag_reason: Option<String>,
}

/// The undecided items of active campaigns assigned to their own holder, oldest campaign first
/// (at most `limit`; 0 reads only how many), and how many there are.
pub async fn admin_queue(
    conn: &impl ConnectionTrait,
    limit: u64,
) -> Result<(Vec<QueuedItem>, i64), StoreError> {
    let backend = conn.get_database_backend();
    let from = " FROM review_item i JOIN campaign c ON c.id = i.campaign_id \
                WHERE c.state = 'active' AND i.verdict IS NULL AND i.reviewer_id = i.principal_id";
    let total = crate::store::sql::count(
        conn,
        Sql::new(backend, &format!("SELECT COUNT(*) AS n{from}")),
    )
    .await?;
    if limit == 0 {
        return Ok((Vec::new(), total));
    }
    let mut sql = Sql::new(
        backend,
        &format!(
            "SELECT i.id, i.campaign_id, c.definition_name, c.period, c.due_at, i.holder_external_id, \
             i.holder_name, i.holder_email, i.role_name, i.role_risk, i.scope, i.recommendation, i.flag_reason{from} \
             ORDER BY i.campaign_id, i.id LIMIT "
        ),
    );
    sql.bind(limit as i64);
    let items = conn
        .query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            Ok(QueuedItem {
                id: row.try_get("", "id")?,
                campaign_id: row.try_get("", "campaign_id")?,
                campaign: row.try_get("", "definition_name")?,
                period: row.try_get("", "period")?,
                due_at: row.try_get("", "due_at")?,
                holder_id: row.try_get("", "holder_external_id")?,
                holder_name: row.try_get("", "holder_name")?,
                holder_email: row.try_get("", "holder_email")?,
                role: row.try_get("", "role_name")?,
                risk: row.try_get("", "role_risk")?,
                scope: row.try_get("", "scope")?,
                recommendation: row.try_get("", "recommendation")?,
                flag_reason: row.try_get("", "flag_reason")?,
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    Ok((items, total))
}

/// The campaign and holder of an item, for checks before an admin decides it.
pub async fn item_holder(
    conn: &impl ConnectionTrait,
    item_id: i64,
) -> Result<Option<(i64, i64, Option<i64>, Option<String>)>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT campaign_id, principal_id, reviewer_id, holder_email FROM review_item WHERE id = ",
    );
    sql.bind(item_id);
    conn.query_one_raw(sql.build())
        .await?
        .map(|row| {
            Ok((
                row.try_get("", "campaign_id")?,
                row.try_get("", "principal_id")?,
                row.try_get("", "reviewer_id")?,
                row.try_get("", "holder_email")?,
            ))
        })
        .transpose()
}
