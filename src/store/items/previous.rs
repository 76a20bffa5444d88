//! An item's previous decision: what the latest completed campaign that reviewed the same
//! eligibility decided (verdict, who, when, why), read when items are shown or exported.
//!
//! Looked up when read, not stored at launch. A reference written at launch would cost every
//! launch a probe per item (a million items: a million probes, or a new index on
//! `review_item.eligibility_id` that every later launch would have to maintain as well), and the
//! launch is the path measured at a million items. Read instead, the lookup costs a page only
//! its own items: the earlier campaigns are listed first (completed before this one launched,
//! the latest [`PREVIOUS_CAMPAIGNS_SEARCHED`] of them), and each item probes the existing
//! unique index on `(campaign_id, eligibility_id)` once per earlier campaign at most. Only
//! campaigns completed before this one launched count, so the answer never changes once the
//! campaign runs: the page, the API and the evidence agree, and a bundle exported again says
//! the same.

use crate::domain::lifecycle::CampaignState;
use crate::domain::limits::PREVIOUS_CAMPAIGNS_SEARCHED;
use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::campaign;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::HashMap;

/// What the last review of an item's eligibility decided.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PreviousDecision {
    /// The campaign that decided it.
    pub campaign_id: i64,
    /// That campaign's definition and period, e.g. "reviewer-flow 2027-Q1".
    pub campaign: String,
    /// `attest` or `revoke`.
    pub verdict: String,
    /// `human` or `policy`.
    pub made_by: String,
    /// Who decided: the reviewer's (or admin's) id, or `policy`.
    pub decided_by: String,
    /// The reviewer's name, when a person decided.
    pub decided_by_name: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub justification: Option<String>,
}

/// The columns the join of [`join`] adds for the export, in this order: the campaign's id, its
/// definition and period, the verdict, human or policy, who (id, or `policy`), when, why.
pub const COLUMNS: &str = "p.campaign_id, pc.definition_name || ' ' || pc.period, p.verdict, \
     p.made_by, CASE WHEN p.made_by = 'policy' THEN 'policy' ELSE COALESCE(pdp.external_id, pd.actor) END, \
     p.decided_at, pd.justification";

/// The campaigns an item of `campaign_id` may have been reviewed in before: completed before it
/// launched, latest first, at most [`PREVIOUS_CAMPAIGNS_SEARCHED`].
pub async fn earlier_campaigns(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Vec<i64>, StoreError> {
    let launched: Option<Option<DateTime<Utc>>> = campaign::Entity::find_by_id(campaign_id)
        .select_only()
        .column(campaign::Column::LaunchedAt)
        .into_tuple()
        .one(conn)
        .await?;
    let Some(Some(launched)) = launched else {
        return Ok(Vec::new());
    };
    Ok(campaign::Entity::find()
        .select_only()
        .column(campaign::Column::Id)
        .filter(campaign::Column::State.eq(CampaignState::Completed.as_str()))
        .filter(campaign::Column::CompletedAt.lte(launched))
        .filter(campaign::Column::Id.ne(campaign_id))
        .order_by_desc(campaign::Column::CompletedAt)
        .order_by_desc(campaign::Column::Id)
        .limit(PREVIOUS_CAMPAIGNS_SEARCHED)
        .into_tuple()
        .all(conn)
        .await?)
}

/// The joins that give each item `i` its previous review `p` (with [`COLUMNS`]), searching the
/// campaigns of [`earlier_campaigns`]; with none, the columns are all empty.
pub fn join(earlier: &[i64]) -> String {
    // hand-written: a correlated subquery probing `uq_review_item_campaign_eligibility` once per
    // earlier campaign; the ids are the database's own integers, written as literals so the
    // same text serves the export's prepared reads on either backend.
    let found = if earlier.is_empty() {
        "NULL".to_string()
    } else {
        let ids: Vec<String> = earlier.iter().map(i64::to_string).collect();
        format!(
            "(SELECT p2.id FROM review_item p2 JOIN campaign c2 ON c2.id = p2.campaign_id \
             WHERE p2.campaign_id IN ({}) AND p2.eligibility_id = i.eligibility_id \
             ORDER BY c2.completed_at DESC, c2.id DESC LIMIT 1)",
            ids.join(", ")
        )
    };
    format!(
        " LEFT JOIN review_item p ON p.id = {found} \
         LEFT JOIN campaign pc ON pc.id = p.campaign_id \
         LEFT JOIN decision pd ON pd.id = p.current_decision_id \
         LEFT JOIN principal pdp ON pdp.id = pd.reviewer_id"
    )
}

/// The previous decisions of some items of one campaign, by item id; an item without one (new
/// since the last review) is absent.
pub async fn of_items(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    item_ids: &[i64],
) -> Result<HashMap<i64, PreviousDecision>, StoreError> {
    let mut found = HashMap::new();
    if item_ids.is_empty() {
        return Ok(found);
    }
    let earlier = earlier_campaigns(conn, campaign_id).await?;
    if earlier.is_empty() {
        return Ok(found);
    }
    let backend = conn.get_database_backend();
    let join = join(&earlier);
    for chunk in item_ids.chunks(crate::store::backend::ids_per_statement(backend)) {
        let mut sql = Sql::new(
            backend,
            &format!(
                "SELECT i.id, p.campaign_id AS prev_campaign, pc.definition_name AS prev_definition, \
                 pc.period AS prev_period, p.verdict AS prev_verdict, p.made_by AS prev_made_by, \
                 CASE WHEN p.made_by = 'policy' THEN 'policy' ELSE COALESCE(pdp.external_id, pd.actor) END AS prev_by, \
                 pdp.display_name AS prev_by_name, p.decided_at AS prev_at, pd.justification AS prev_why \
                 FROM review_item i{join} WHERE p.id IS NOT NULL AND i.campaign_id = "
            ),
        );
        sql.bind(campaign_id)
            .push(" AND i.id")
            .one_of(chunk.iter().copied());
        for row in conn.query_all_raw(sql.build()).await? {
            let definition: String = row.try_get("", "prev_definition")?;
            let period: String = row.try_get("", "prev_period")?;
            found.insert(
                row.try_get("", "id")?,
                PreviousDecision {
                    campaign_id: row.try_get("", "prev_campaign")?,
                    campaign: format!("{definition} {period}"),
                    verdict: row
                        .try_get::<Option<String>>("", "prev_verdict")?
                        .unwrap_or_default(),
                    made_by: row
                        .try_get::<Option<String>>("", "prev_made_by")?
                        .unwrap_or_default(),
                    decided_by: row
                        .try_get::<Option<String>>("", "prev_by")?
                        .unwrap_or_default(),
                    decided_by_name: row.try_get("", "prev_by_name")?,
                    decided_at: row.try_get("", "prev_at")?,
                    justification: row.try_get("", "prev_why")?,
                },
            );
        }
    }
    Ok(found)
}
