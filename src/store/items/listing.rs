//! Item reads for pages and the API: a campaign's items filtered and paged, and a reviewer's load.

use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

/// How many items of the campaign still wait for this reviewer's answer.
pub async fn undecided_for(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    reviewer_id: i64,
) -> Result<i64, StoreError> {
    Ok(load_of(conn, campaign_id, reviewer_id).await?.1)
}

/// A reviewer's items in a campaign: (all, still undecided), in one query.
pub async fn load_of(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    reviewer_id: i64,
) -> Result<(i64, i64), StoreError> {
    // hand-written: aggregate with CASE (both counts in one pass).
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT COUNT(*) AS n, SUM(CASE WHEN verdict IS NULL THEN 1 ELSE 0 END) AS open FROM review_item WHERE campaign_id = ",
    );
    sql.bind(campaign_id)
        .push(" AND reviewer_id = ")
        .bind(reviewer_id);
    let row = conn
        .query_one_raw(sql.build())
        .await?
        .ok_or(DbErr::RecordNotFound("load".into()))?;
    Ok((
        row.try_get("", "n")?,
        row.try_get::<Option<i64>>("", "open")?.unwrap_or(0),
    ))
}

/// Which items of a campaign to list.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ItemFilter {
    /// Only this reviewer's (external id).
    pub reviewer: Option<String>,
    /// Only this holder's (external id).
    pub holder: Option<String>,
    /// `undecided`, `decided`, `revoked` (by a person or the policy), `flagged`, `standing`
    /// (standing access), or all when unset.
    pub show: Option<String>,
}

/// One item as consoles and the API show it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ItemView {
    pub id: i64,
    pub holder_id: String,
    pub holder_name: String,
    pub role: String,
    pub risk: String,
    pub scope: String,
    pub reviewer_id: Option<String>,
    /// The reviewer's name beside their id.
    pub reviewer_name: Option<String>,
    pub recommendation: String,
    pub verdict: Option<String>,
    pub made_by: Option<String>,
    /// Who made the current decision, by name: the reviewer (or the delegate acting for them),
    /// or the account or token of an admin who recorded it; `policy` for the policy's.
    pub decided_by: Option<String>,
    pub justification: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub flagged: bool,
    pub flag_reason: Option<String>,
    /// `eligible`, or `active`: standing access (an active assignment, frozen at launch).
    pub assignment: String,
    pub removal_state: Option<String>,
    /// What the last completed campaign over the same eligibility decided; none when the
    /// eligibility is new since the last review.
    pub previous: Option<super::previous::PreviousDecision>,
    /// No completed campaign before this one reviewed this eligibility.
    pub new_since_last_review: bool,
    /// The holder's attributes the definition names (`context`), as frozen at launch, in the
    /// definition's order.
    pub holder_context: Vec<Attribute>,
    /// The holder's attributes frozen at launch, all of them (JSON); the engine picks the named.
    #[serde(skip)]
    pub frozen_context: Option<String>,
}

/// One person attribute: its name (an extra column of the people import) and value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Attribute {
    pub name: String,
    pub value: String,
}

/// A page of a campaign's items (ordered by id) and how many match in all.
pub async fn list_items(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    filter: &ItemFilter,
    limit: u64,
    offset: u64,
) -> Result<(Vec<ItemView>, u64), StoreError> {
    // hand-written: four joins, two of them to `principal` under aliases, read into a view
    // that names who decided from three of them.
    let backend = conn.get_database_backend();
    let where_clause = |sql: &mut Sql| {
        sql.push(" WHERE i.campaign_id = ").bind(campaign_id);
        if let Some(reviewer) = filter.reviewer.as_deref().filter(|r| !r.is_empty()) {
            sql.push(" AND rv.external_id = ").bind(reviewer);
        }
        if let Some(holder) = filter.holder.as_deref().filter(|h| !h.is_empty()) {
            sql.push(" AND i.holder_external_id = ").bind(holder);
        }
        match filter.show.as_deref() {
            Some("undecided") => {
                sql.push(" AND i.verdict IS NULL");
            }
            Some("decided") => {
                sql.push(" AND i.verdict IS NOT NULL");
            }
            Some("revoked") => {
                sql.push(" AND i.verdict = 'revoke'");
            }
            Some("flagged") => {
                sql.push(" AND i.flagged = ").bind(true);
            }
            Some("standing") => {
                sql.push(" AND i.assignment = ")
                    .bind(crate::domain::eligibility::Assignment::Active);
            }
            _ => {}
        }
    };
    let from = " FROM review_item i LEFT JOIN principal rv ON rv.id = i.reviewer_id \
                LEFT JOIN decision d ON d.id = i.current_decision_id LEFT JOIN principal dr ON dr.id = d.reviewer_id \
                LEFT JOIN remediation r ON r.item_id = i.id";
    let mut count = Sql::new(backend, &format!("SELECT COUNT(*) AS n{from}"));
    where_clause(&mut count);
    let total = crate::store::sql::count(conn, count).await?;
    let mut sql = Sql::new(
        backend,
        &format!(
            "SELECT i.id, i.holder_external_id, i.holder_name, i.role_name, i.role_risk, i.scope, rv.external_id AS reviewer, \
             rv.display_name AS reviewer_name, dr.display_name AS decider_name, dr.external_id AS decider_id, d.actor AS decision_actor, \
             i.recommendation, i.verdict, i.made_by, d.justification, i.decided_at, i.outcome, i.flagged, i.flag_reason, \
             r.state AS removal_state, i.holder_context, i.assignment{from}"
        ),
    );
    where_clause(&mut sql);
    sql.push(" ORDER BY i.id LIMIT ")
        .bind(limit as i64)
        .push(" OFFSET ")
        .bind(offset as i64);
    let items = conn
        .query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            Ok(ItemView {
                id: row.try_get("", "id")?,
                holder_id: row.try_get("", "holder_external_id")?,
                holder_name: row.try_get("", "holder_name")?,
                role: row.try_get("", "role_name")?,
                risk: row.try_get("", "role_risk")?,
                scope: row.try_get("", "scope")?,
                reviewer_id: row.try_get("", "reviewer")?,
                reviewer_name: row.try_get("", "reviewer_name")?,
                recommendation: row.try_get("", "recommendation")?,
                verdict: row.try_get("", "verdict")?,
                decided_by: {
                    let made_by: Option<String> = row.try_get("", "made_by")?;
                    let name: Option<String> = row.try_get("", "decider_name")?;
                    let id: Option<String> = row.try_get("", "decider_id")?;
                    let actor: Option<String> = row.try_get("", "decision_actor")?;
                    match (made_by.as_deref(), name, id, actor) {
                        (Some("policy"), ..) => Some("policy".to_string()),
                        (_, Some(name), Some(id), _) => Some(format!("{name} ({id})")),
                        (_, _, _, Some(actor)) => Some(actor),
                        _ => None,
                    }
                },
                made_by: row.try_get("", "made_by")?,
                justification: row.try_get("", "justification")?,
                decided_at: row.try_get("", "decided_at")?,
                outcome: row.try_get("", "outcome")?,
                flagged: row.try_get("", "flagged")?,
                flag_reason: row.try_get("", "flag_reason")?,
                assignment: row.try_get("", "assignment")?,
                removal_state: row.try_get("", "removal_state")?,
                previous: None,
                new_since_last_review: true,
                holder_context: Default::default(),
                frozen_context: row.try_get("", "holder_context")?,
            })
        })
        .collect::<Result<Vec<ItemView>, DbErr>>()?;
    // A page at a time (at most 1,000 items): bounded, see `previous`.
    let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
    let mut previous = super::previous::of_items(conn, campaign_id, &ids).await?;
    let items = items
        .into_iter()
        .map(|mut item| {
            item.previous = previous.remove(&item.id);
            item.new_since_last_review = item.previous.is_none();
            item
        })
        .collect();
    Ok((items, total.max(0) as u64))
}
