//! Every stage's decisions on an item of a multi-stage campaign: what a later stage's
//! reviewers see beside each item, and what the outcome rule combines when the last stage
//! ends. A stage's decision in force is the latest a person gave in that stage (a reviewer may
//! change their mind before the stage ends; each change supersedes the one before).

use crate::domain::closing::Verdict;
use crate::domain::stages::StageVote;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::{decision, principal};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;

/// One earlier stage's decision on an item, as the later stages' reviewers see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct StageDecision {
    pub stage: i32,
    pub verdict: Verdict,
    /// Who decided: the reviewer's external id, or the admin who recorded it.
    pub decided_by: String,
    pub decided_by_name: Option<String>,
    pub decided_at: DateTime<Utc>,
    pub justification: Option<String>,
    #[serde(skip)]
    pub decision_id: i64,
}

/// A decision row as read: id, item, stage, verdict, when, why, actor, reviewer's external id
/// and name.
type Row = (
    i64,
    i64,
    i32,
    Verdict,
    DateTime<Utc>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// People's decisions in force per stage on `items`, in stages before `before_stage`, by item,
/// first stage first.
pub async fn earlier_stages(
    conn: &impl ConnectionTrait,
    items: &[i64],
    before_stage: i32,
) -> Result<HashMap<i64, Vec<StageDecision>>, StoreError> {
    use decision::Column as D;
    let mut latest: HashMap<(i64, i32), StageDecision> = HashMap::new();
    for chunk in items.chunks(500) {
        let rows: Vec<Row> = decision::Entity::find()
            .select_only()
            .columns([D::Id, D::ItemId, D::Stage, D::Verdict, D::DecidedAt])
            .columns([D::Justification, D::Actor])
            .column(principal::Column::ExternalId)
            .column(principal::Column::DisplayName)
            .join(
                JoinType::LeftJoin,
                decision::Entity::belongs_to(principal::Entity)
                    .from(D::ReviewerId)
                    .to(principal::Column::Id)
                    .into(),
            )
            .filter(D::ItemId.is_in(chunk.iter().copied()))
            .filter(D::MadeBy.eq("human"))
            .filter(D::Stage.lt(before_stage))
            .order_by_asc(D::Id)
            .into_tuple()
            .all(conn)
            .await?;
        for (id, item, stage, verdict, at, why, actor, external, name) in rows {
            // Ordered by id: the last one seen in a stage is the one in force.
            latest.insert(
                (item, stage),
                StageDecision {
                    stage,
                    verdict,
                    decided_by: external.or(actor).unwrap_or_default(),
                    decided_by_name: name,
                    decided_at: at,
                    justification: why,
                    decision_id: id,
                },
            );
        }
    }
    let mut by_item: HashMap<i64, Vec<StageDecision>> = HashMap::new();
    for ((item, _), decision) in latest {
        by_item.entry(item).or_default().push(decision);
    }
    for decisions in by_item.values_mut() {
        decisions.sort_by_key(|d| d.stage);
    }
    Ok(by_item)
}

/// Every stage's decision in force on `items` (people's only), as the outcome rule reads them:
/// the votes, and the decisions by id.
pub async fn votes(
    conn: &impl ConnectionTrait,
    items: &[i64],
) -> Result<HashMap<i64, Vec<StageDecision>>, StoreError> {
    earlier_stages(conn, items, i32::MAX).await
}

/// A stage decision as the outcome rule (`domain::stages`) weighs it.
pub fn vote(d: &StageDecision) -> StageVote {
    StageVote {
        stage: d.stage,
        verdict: d.verdict,
        decision_id: d.decision_id,
    }
}
