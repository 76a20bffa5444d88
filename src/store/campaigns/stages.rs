//! The stages of a multi-stage campaign: opening the next one (compare-and-set on the stage, so
//! it opens once however many instances try), and each stage's record and figures, the one
//! place every surface reads them from.

use crate::domain::lifecycle::CampaignState;
use crate::domain::reviewers::Strategy;
use crate::store::campaigns::CampaignRow;
use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::{campaign, campaign_stage};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;
use std::collections::HashMap;

/// A later stage about to open.
#[derive(Debug, Clone, Copy)]
pub struct NewStage<'a> {
    pub stage: i32,
    pub due_before: Option<DateTime<Utc>>,
    pub due_at: DateTime<Utc>,
    pub items: u64,
    pub reviewers: u64,
    pub started_by: &'a str,
}

/// Opens `next.stage` when the campaign is still active in the stage before it: the stage and
/// its start and deadline on the campaign, and the stage's record. False when another instance,
/// a close or a cancel got there first (nothing written).
pub async fn open_stage(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    next: &NewStage<'_>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let moved = campaign::Entity::update_many()
        .col_expr(campaign::Column::Stage, Expr::value(next.stage))
        .col_expr(campaign::Column::StageStartedAt, Expr::value(now))
        .col_expr(campaign::Column::DueAt, Expr::value(next.due_at))
        .col_expr(campaign::Column::UpdatedAt, Expr::value(now))
        .filter(campaign::Column::Id.eq(campaign_id))
        .filter(campaign::Column::Stage.eq(next.stage - 1))
        .filter(campaign::Column::State.eq(CampaignState::Active))
        .exec(conn)
        .await?;
    if moved.rows_affected != 1 {
        return Ok(false);
    }
    campaign_stage::Entity::insert(campaign_stage::ActiveModel {
        campaign_id: Set(campaign_id),
        stage: Set(next.stage),
        started_at: Set(now),
        started_by: Set(next.started_by.to_string()),
        due_before: Set(next.due_before),
        due_at: Set(next.due_at),
        items_entered: Set(next.items as i64),
        reviewers: Set(next.reviewers as i64),
        ..Default::default()
    })
    .exec(conn)
    .await?;
    Ok(true)
}

/// One stage as the console, the API, the CLI and the evidence show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StageRow {
    pub stage: i32,
    /// How this stage picks reviewers: `manager`, `role_owner` or `named`.
    #[schema(value_type = String)]
    pub reviewers: Strategy,
    pub started_at: Option<DateTime<Utc>>,
    /// Who opened it: the launch's creator for stage 1, an admin or `scheduler` later.
    pub started_by: String,
    /// The stage's deadline (the campaign's, while it is the one open).
    pub due_at: Option<DateTime<Utc>>,
    /// Items that entered the stage.
    pub items: i64,
    /// People's decisions in force in this stage.
    pub attested: i64,
    pub revoked: i64,
    pub converted: i64,
    /// Items of the stage nobody answered in it (yet, while it is open).
    pub unanswered: i64,
    /// Whether this is the stage open now.
    pub open: bool,
}

/// Every stage the campaign has opened so far, first first, with its figures.
pub async fn stage_rows(
    conn: &impl ConnectionTrait,
    c: &CampaignRow,
) -> Result<Vec<StageRow>, StoreError> {
    let later = campaign_stage::Entity::find()
        .filter(campaign_stage::Column::CampaignId.eq(c.id))
        .order_by_asc(campaign_stage::Column::Stage)
        .all(conn)
        .await?;
    let tally = verdicts_by_stage(conn, c.id).await?;
    let open = c.state.accepts_decisions();
    let mut rows = Vec::with_capacity(1 + later.len());
    let first_due = later.first().and_then(|s| s.due_before).or(c.due_at);
    rows.push((
        1,
        c.launched_at,
        c.created_by.clone(),
        first_due,
        c.items_created,
    ));
    for (i, s) in later.iter().enumerate() {
        let due = later
            .get(i + 1)
            .and_then(|n| n.due_before)
            .unwrap_or(s.due_at);
        let due = if s.stage == c.stage {
            c.due_at.unwrap_or(due)
        } else {
            due
        };
        rows.push((
            s.stage,
            Some(s.started_at),
            s.started_by.clone(),
            Some(due),
            s.items_entered,
        ));
    }
    Ok(rows
        .into_iter()
        .map(|(stage, started_at, started_by, due_at, items)| {
            let count = |verdict: &str| {
                tally
                    .get(&(stage, verdict.to_string()))
                    .copied()
                    .unwrap_or(0)
            };
            let (attested, revoked, converted) =
                (count("attest"), count("revoke"), count("convert"));
            StageRow {
                stage,
                reviewers: c.spec.stage(stage).reviewers,
                started_at,
                started_by,
                due_at,
                items,
                attested,
                revoked,
                converted,
                unanswered: (items - attested - revoked - converted).max(0),
                open: open && stage == c.stage,
            }
        })
        .collect())
}

/// People's decisions in force (the latest per item and stage), counted by stage and verdict.
async fn verdicts_by_stage(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<HashMap<(i32, String), i64>, StoreError> {
    // hand-written: one grouped count over the campaign's decisions, the latest per item and
    // stage found by MAX(id) on the campaign's own index.
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT d.stage AS stage, d.verdict AS verdict, COUNT(*) AS n FROM decision d \
         JOIN (SELECT MAX(id) AS id FROM decision WHERE made_by = 'human' AND campaign_id = ",
    );
    sql.bind(campaign_id)
        .push(" GROUP BY item_id, stage) latest ON latest.id = d.id GROUP BY d.stage, d.verdict");
    let mut tally = HashMap::new();
    for row in conn.query_all_raw(sql.build()).await? {
        let stage: i32 = row.try_get("", "stage")?;
        let verdict: String = row.try_get("", "verdict")?;
        let n: i64 = row.try_get("", "n")?;
        tally.insert((stage, verdict), n);
    }
    Ok(tally)
}
