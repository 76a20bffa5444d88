//! The reads behind the cross-campaign reports (coverage, monthly metrics): plain aggregates the
//! engine turns into report rows. Hand-written SQL because each is one aggregate over a large
//! table that sea-orm's builder would only spell longer.

use super::sql::Sql;
use super::StoreError;
use crate::domain::eligibility::Assignment;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, QueryResult};

/// A role with how many held eligibility for it at `as_of`.
#[derive(Debug, Clone)]
pub struct RoleHolders {
    pub id: i64,
    pub name: String,
    pub risk: String,
    pub holders: i64,
}

/// Every role, by name, with the eligibility that existed at `as_of` and had not been removed
/// by then.
pub async fn roles_with_holders(
    conn: &impl ConnectionTrait,
    as_of: DateTime<Utc>,
) -> Result<Vec<RoleHolders>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT r.id, r.name, r.risk, (SELECT COUNT(*) FROM eligibility e WHERE e.role_id = r.id AND e.created_at <= ",
    );
    sql.bind(as_of)
        .push(" AND (e.status = 'active' OR (e.removed_at IS NOT NULL AND e.removed_at > ")
        .bind(as_of)
        .push("))) AS holders FROM \"role\" r ORDER BY r.name");
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            Ok(RoleHolders {
                id: row.try_get("", "id")?,
                name: row.try_get("", "name")?,
                risk: row.try_get("", "risk")?,
                holders: row.try_get("", "holders")?,
            })
        })
        .collect()
}

/// The newest campaign completed by `as_of` that reviewed role `role_id`.
#[derive(Debug, Clone)]
pub struct LastReview {
    pub campaign_id: i64,
    pub definition_name: String,
    pub period: String,
    pub completed_at: Option<DateTime<Utc>>,
    /// The campaign's definition as frozen at launch (JSON).
    pub frozen_definition: String,
}

pub async fn last_review(
    conn: &impl ConnectionTrait,
    role_id: i64,
    as_of: DateTime<Utc>,
) -> Result<Option<LastReview>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT c.id, c.definition_name, c.period, c.completed_at, c.frozen_definition FROM campaign c \
         WHERE c.state = 'completed' AND c.completed_at <= ",
    );
    sql.bind(as_of)
        .push(
            " AND EXISTS (SELECT 1 FROM review_item i WHERE i.campaign_id = c.id AND i.role_id = ",
        )
        .bind(role_id)
        .push(") ORDER BY c.completed_at DESC LIMIT 1");
    conn.query_one_raw(sql.build())
        .await?
        .map(|row| {
            Ok(LastReview {
                campaign_id: row.try_get("", "id")?,
                definition_name: row.try_get("", "definition_name")?,
                period: row.try_get("", "period")?,
                completed_at: row.try_get("", "completed_at")?,
                frozen_definition: row.try_get("", "frozen_definition")?,
            })
        })
        .transpose()
}

/// Eligibility per role (name, risk, count) as of `at`: what existed before then and was not
/// removed before then, held as `assignment` (eligible, or active: standing access).
pub async fn eligible_by_role(
    conn: &impl ConnectionTrait,
    at: DateTime<Utc>,
    assignment: Assignment,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT r.name, r.risk, COUNT(*) AS n FROM eligibility e JOIN \"role\" r ON r.id = e.role_id \
         WHERE e.assignment = ",
    );
    sql.bind(assignment)
        .push(" AND e.created_at < ")
        .bind(at)
        .push(" AND (e.status = 'active' OR (e.removed_at IS NOT NULL AND e.removed_at >= ")
        .bind(at)
        .push(")) GROUP BY r.name, r.risk ORDER BY r.name");
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.try_get("", "name")?,
                row.try_get("", "risk")?,
                row.try_get("", "n")?,
            ))
        })
        .collect()
}

fn total(row: &Option<QueryResult>, name: &str) -> Result<i64, DbErr> {
    Ok(match row {
        Some(row) => row.try_get::<Option<i64>>("", name)?.unwrap_or(0),
        None => 0,
    })
}

/// Campaigns completed in [from, to), and how many of those closed by their deadline.
pub async fn campaigns_completed(
    conn: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(i64, i64), StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT COUNT(*) AS completed, SUM(CASE WHEN c.closed_at <= c.due_at THEN 1 ELSE 0 END) AS on_time \
         FROM campaign c WHERE c.state = 'completed' AND c.completed_at >= ",
    );
    sql.bind(from).push(" AND c.completed_at < ").bind(to);
    let row = conn.query_one_raw(sql.build()).await?;
    Ok((total(&row, "completed")?, total(&row, "on_time")?))
}

/// The items of campaigns closed in [from, to).
#[derive(Debug, Clone, Default)]
pub struct ClosedItems {
    pub items: i64,
    /// Decided by a person (not by the policy at the deadline).
    pub human: i64,
    /// Revoked by a person.
    pub revoked: i64,
    /// Removed by the policy because nobody answered.
    pub auto_removed: i64,
}

pub async fn closed_items(
    conn: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<ClosedItems, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT COUNT(*) AS items, SUM(CASE WHEN i.made_by = 'human' THEN 1 ELSE 0 END) AS human, \
         SUM(CASE WHEN i.made_by = 'human' AND i.verdict = 'revoke' THEN 1 ELSE 0 END) AS revoked, \
         SUM(CASE WHEN i.outcome = 'removed_by_policy' THEN 1 ELSE 0 END) AS auto_removed \
         FROM review_item i JOIN campaign c ON c.id = i.campaign_id WHERE c.closed_at >= ",
    );
    sql.bind(from).push(" AND c.closed_at < ").bind(to);
    let row = conn.query_one_raw(sql.build()).await?;
    Ok(ClosedItems {
        items: total(&row, "items")?,
        human: total(&row, "human")?,
        revoked: total(&row, "revoked")?,
        auto_removed: total(&row, "auto_removed")?,
    })
}

/// For every decision a person made in [from, to): seconds from its campaign's launch.
pub async fn decision_waits(
    conn: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<i64>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT d.decided_at, c.launched_at FROM decision d JOIN campaign c ON c.id = d.campaign_id \
         WHERE d.made_by = 'human' AND d.decided_at >= ",
    );
    sql.bind(from).push(" AND d.decided_at < ").bind(to);
    let mut waits = Vec::new();
    for row in conn.query_all_raw(sql.build()).await? {
        let decided: DateTime<Utc> = row.try_get("", "decided_at")?;
        let launched: Option<DateTime<Utc>> = row.try_get("", "launched_at")?;
        if let Some(launched) = launched {
            waits.push((decided - launched).num_seconds());
        }
    }
    Ok(waits)
}
