//! Who reviewed what in a campaign: each reviewer's summary (or just the roster, for a caller
//! that tallies the items itself), and the items handed over from one reviewer to another.

use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::{campaign_reviewer, principal};
use futures::TryStreamExt;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait, StreamTrait,
};

/// One reviewer's part in a campaign.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReviewerSummary {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub items: i64,
    /// Items that were theirs and went to someone else because they did not answer in time
    /// (escalated away): who failed to answer, which `items` alone no longer shows.
    pub escalated_away: i64,
    pub decided: i64,
    pub attested: i64,
    pub revoked: i64,
    pub first_decision_at: Option<DateTime<Utc>>,
    pub last_decision_at: Option<DateTime<Utc>>,
    pub signed_off_at: Option<DateTime<Utc>>,
    pub signed_off_addr: Option<String>,
}

pub async fn reviewer_summaries(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Vec<ReviewerSummary>, StoreError> {
    // hand-written: report aggregate with CASE/GROUP BY over three tables.
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT p.external_id, p.display_name, p.email, cr.signed_off_at, cr.signed_off_addr, \
         COUNT(i.id) AS items, \
         SUM(CASE WHEN i.made_by = 'human' THEN 1 ELSE 0 END) AS decided, \
         SUM(CASE WHEN i.made_by = 'human' AND i.verdict = 'attest' THEN 1 ELSE 0 END) AS attested, \
         SUM(CASE WHEN i.made_by = 'human' AND i.verdict = 'revoke' THEN 1 ELSE 0 END) AS revoked, \
         MIN(CASE WHEN i.made_by = 'human' THEN i.decided_at END) AS first_decision_at, \
         MAX(CASE WHEN i.made_by = 'human' THEN i.decided_at END) AS last_decision_at \
         FROM campaign_reviewer cr JOIN principal p ON p.id = cr.reviewer_id \
         LEFT JOIN review_item i ON i.campaign_id = cr.campaign_id AND i.reviewer_id = cr.reviewer_id \
         WHERE cr.campaign_id = ",
    );
    sql.bind(campaign_id).push(
        " GROUP BY p.external_id, p.display_name, p.email, cr.signed_off_at, cr.signed_off_addr ORDER BY p.external_id",
    );
    let away = escalated_away(conn, campaign_id).await?;
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            let n = |name: &str| -> Result<i64, DbErr> {
                Ok(row.try_get::<Option<i64>>("", name)?.unwrap_or(0))
            };
            Ok(ReviewerSummary {
                id: row.try_get("", "external_id")?,
                name: row.try_get("", "display_name")?,
                email: row.try_get("", "email")?,
                items: n("items")?,
                escalated_away: 0,
                decided: n("decided")?,
                attested: n("attested")?,
                revoked: n("revoked")?,
                first_decision_at: row.try_get("", "first_decision_at")?,
                last_decision_at: row.try_get("", "last_decision_at")?,
                signed_off_at: row.try_get("", "signed_off_at")?,
                signed_off_addr: row.try_get("", "signed_off_addr")?,
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()
        .map(|mut summaries| {
            for summary in &mut summaries {
                summary.escalated_away = away.get(&summary.id).copied().unwrap_or(0);
            }
            summaries
        })
        .map_err(StoreError::from)
}

/// Per reviewer (external id), the campaign's items escalated away from them: one pass over
/// the campaign's escalated items.
async fn escalated_away(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<std::collections::HashMap<String, i64>, DbErr> {
    // hand-written: a GROUP BY count, kept beside the report it completes.
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT ef.external_id, COUNT(*) AS n FROM review_item i JOIN principal ef ON ef.id = i.escalated_from_id \
         WHERE i.campaign_id = ",
    );
    sql.bind(campaign_id)
        .push(" AND i.escalated_from_id IS NOT NULL GROUP BY ef.external_id");
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| Ok((row.try_get("", "external_id")?, row.try_get("", "n")?)))
        .collect()
}

/// The campaign's reviewers as [`reviewer_summaries`] lists them (same order), with their
/// counts and decision times left empty: for a caller that tallies the items itself.
pub async fn reviewer_roster<C>(
    conn: &C,
    campaign_id: i64,
) -> Result<Vec<ReviewerSummary>, StoreError>
where
    C: ConnectionTrait + StreamTrait,
{
    type Row = (
        String,
        String,
        Option<String>,
        Option<DateTime<Utc>>,
        Option<String>,
    );
    // Streamed: read whole, the rows of 114,303 reviewers (ten million items) cost several
    // times the summaries made of them.
    let rows = campaign_reviewer::Entity::find()
        .select_only()
        .columns([
            principal::Column::ExternalId,
            principal::Column::DisplayName,
            principal::Column::Email,
        ])
        .columns([
            campaign_reviewer::Column::SignedOffAt,
            campaign_reviewer::Column::SignedOffAddr,
        ])
        .join(
            JoinType::InnerJoin,
            campaign_reviewer::Relation::Reviewer.def(),
        )
        .filter(campaign_reviewer::Column::CampaignId.eq(campaign_id))
        .order_by_asc(principal::Column::ExternalId)
        .into_tuple::<Row>()
        .stream(conn)
        .await?;
    Ok(rows
        .map_ok(
            |(id, name, email, signed_off_at, signed_off_addr)| ReviewerSummary {
                id,
                name,
                email,
                items: 0,
                escalated_away: 0,
                decided: 0,
                attested: 0,
                revoked: 0,
                first_decision_at: None,
                last_decision_at: None,
                signed_off_at,
                signed_off_addr,
            },
        )
        .try_collect()
        .await?)
}

/// An item that did not stay with the reviewer first chosen for it: escalated because they did
/// not answer in time, or one only its holder could have reviewed (decided by an admin).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Handover {
    pub item_id: i64,
    pub holder: String,
    pub holder_name: String,
    pub role: String,
    pub scope: String,
    /// Who had it before the escalation (external id and name).
    pub from: Option<(String, String)>,
    /// Who has it now; for an admin's item, the holder (never asked: the link hides it).
    pub to: Option<(String, String)>,
    pub at: Option<DateTime<Utc>>,
    /// `escalated` or `admin_decision`.
    pub kind: &'static str,
    pub verdict: Option<String>,
    /// The audit name of whoever decided it when no reviewer did (an admin's account).
    pub decided_by: Option<String>,
}

/// A campaign's handovers (at most `limit`, escalations first) and how many there are.
pub async fn handovers(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    limit: u64,
) -> Result<(Vec<Handover>, i64), StoreError> {
    let backend = conn.get_database_backend();
    let filter = " FROM review_item i LEFT JOIN principal f ON f.id = i.escalated_from_id \
                  LEFT JOIN principal t ON t.id = i.reviewer_id LEFT JOIN decision d ON d.id = i.current_decision_id \
                  WHERE (i.escalated_from_id IS NOT NULL OR i.reviewer_id = i.principal_id) AND i.campaign_id = ";
    // hand-written: three outer joins (two to principal) and a CASE, a long custom row for
    // sea-orm to gain nothing.
    let mut count = Sql::new(backend, &format!("SELECT COUNT(*) AS n{filter}"));
    count.bind(campaign_id);
    let total = crate::store::sql::count(conn, count).await?;
    let mut sql = Sql::new(
        backend,
        &format!(
            "SELECT i.id, i.holder_external_id, i.holder_name, i.role_name, i.scope, i.escalated_at, i.verdict, \
             f.external_id AS from_id, f.display_name AS from_name, t.external_id AS to_id, t.display_name AS to_name, \
             CASE WHEN i.reviewer_id = i.principal_id THEN 1 ELSE 0 END AS own, d.actor{filter}"
        ),
    );
    sql.bind(campaign_id)
        .push(" ORDER BY i.escalated_from_id IS NULL, i.id LIMIT ")
        .bind(limit as i64);
    let rows = conn
        .query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            let pair = |id: &str, name: &str| -> Result<Option<(String, String)>, DbErr> {
                let id: Option<String> = row.try_get("", id)?;
                let name: Option<String> = row.try_get("", name)?;
                Ok(id.map(|id| (id, name.unwrap_or_default())))
            };
            let own: i32 = row.try_get("", "own")?;
            Ok(Handover {
                item_id: row.try_get("", "id")?,
                holder: row.try_get("", "holder_external_id")?,
                holder_name: row.try_get("", "holder_name")?,
                role: row.try_get("", "role_name")?,
                scope: row.try_get("", "scope")?,
                from: pair("from_id", "from_name")?,
                to: pair("to_id", "to_name")?,
                at: row.try_get("", "escalated_at")?,
                kind: if own == 1 {
                    "admin_decision"
                } else {
                    "escalated"
                },
                verdict: row.try_get("", "verdict")?,
                decided_by: row.try_get("", "actor")?,
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    Ok((rows, total))
}
