//! People's decisions: the items a decision may touch, and decisions appended (each
//! superseding the item's previous one).

use crate::domain::closing::{MadeBy, Verdict};
use crate::domain::eligibility::Assignment;
use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::{decision, review_item};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QuerySelect, RelationDef,
    Value,
};

/// An item as a decision sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemForDecision {
    pub id: i64,
    /// The holder.
    pub principal_id: i64,
    pub reviewer_id: Option<i64>,
    pub current_decision_id: Option<i64>,
    pub verdict: Option<Verdict>,
    /// The justification of the current decision.
    pub justification: Option<String>,
    /// When the current verdict was given.
    pub decided_at: Option<DateTime<Utc>>,
    /// Eligible, or active (standing access: the only kind that may be converted).
    pub assignment: Assignment,
    /// The stage the item is in: a decision on it is that stage's.
    pub stage: i32,
}

/// The join from an item to the decision in force (`current_decision_id`; the entities'
/// relation is the item's whole history, `decision.item_id`).
pub(crate) fn current_decision() -> RelationDef {
    review_item::Entity::belongs_to(decision::Entity)
        .from(review_item::Column::CurrentDecisionId)
        .to(decision::Column::Id)
        .into()
}

/// The items among `ids` that belong to the campaign, with their current decision.
pub async fn items_for_decision(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    ids: &[i64],
) -> Result<Vec<ItemForDecision>, StoreError> {
    use review_item::Column as Item;
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        // By id alone, with the campaign checked here: given `campaign_id = ? AND id IN (…)`,
        // SQLite (without statistics) prefers an index on campaign_id and walks every item of
        // the campaign — a million rows per decision.
        let rows: Vec<ItemRow> = review_item::Entity::find()
            .select_only()
            .columns([
                Item::Id,
                Item::CampaignId,
                Item::PrincipalId,
                Item::ReviewerId,
                Item::CurrentDecisionId,
                Item::Verdict,
                Item::DecidedAt,
            ])
            .column(decision::Column::Justification)
            .column(Item::Assignment)
            .column(Item::Stage)
            .join(JoinType::LeftJoin, current_decision())
            .filter(Item::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(conn)
            .await?;
        for (
            id,
            item_campaign,
            principal_id,
            reviewer_id,
            current_decision_id,
            verdict,
            decided_at,
            justification,
            assignment,
            stage,
        ) in rows
        {
            if item_campaign != campaign_id {
                continue;
            }
            found.push(ItemForDecision {
                id,
                principal_id,
                reviewer_id,
                current_decision_id,
                verdict,
                justification,
                decided_at,
                assignment,
                stage,
            });
        }
    }
    Ok(found)
}

/// An item's row as [`items_for_decision`] reads it: id, campaign, holder, reviewer, current
/// decision, verdict, when it was given, the current decision's justification, the assignment
/// and the stage.
type ItemRow = (
    i64,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<Verdict>,
    Option<DateTime<Utc>>,
    Option<String>,
    Assignment,
    i32,
);

/// One person's decision on one item.
#[derive(Debug, Clone)]
pub struct NewDecision<'a> {
    pub item: &'a ItemForDecision,
    pub verdict: Verdict,
    pub reviewer_id: Option<i64>,
    pub acting_for_id: Option<i64>,
    pub justification: Option<&'a str>,
    pub channel: &'a str,
    pub client_addr: Option<&'a str>,
    /// Who recorded it when no reviewer did (an admin on a reviewer's behalf).
    pub actor: Option<&'a str>,
}

/// Appends decisions (each superseding the item's previous one) and points the items at them.
pub async fn record_decisions(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    decisions: &[NewDecision<'_>],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let backend = conn.get_database_backend();
    for chunk in decisions.chunks(500) {
        // hand-written: bulk path, a multi-row VALUES insert that returns the new ids, then one
        // CASE update that points each item at its decision.
        let mut sql = Sql::new(
            backend,
            "INSERT INTO decision (item_id, campaign_id, verdict, made_by, reviewer_id, acting_for_id, justification, \
             channel, client_addr, decided_at, supersedes_id, actor, stage) VALUES ",
        );
        sql.rows(chunk.iter().map(|d| {
            [
                d.item.id.into(),
                campaign_id.into(),
                d.verdict.into(),
                MadeBy::Human.into(),
                d.reviewer_id.into(),
                d.acting_for_id.into(),
                d.justification.map(str::to_string).into(),
                d.channel.into(),
                d.client_addr.map(str::to_string).into(),
                now.into(),
                d.item.current_decision_id.into(),
                d.actor.map(str::to_string).into(),
                d.item.stage.into(),
            ]
        }));
        sql.push(" RETURNING id, item_id, verdict");
        let rows = conn.query_all_raw(sql.build()).await?;
        let mut update = Sql::new(
            backend,
            "UPDATE review_item SET made_by = 'human', decided_at = ",
        );
        update.bind(now).push(", current_decision_id = CASE id");
        let mut verdicts = Vec::with_capacity(rows.len());
        let mut ids = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("", "id")?;
            let item: i64 = row.try_get("", "item_id")?;
            let verdict: String = row.try_get("", "verdict")?;
            update.push(" WHEN ").bind(item).push(" THEN ").bind(id);
            verdicts.push((item, verdict));
            ids.push(Value::from(item));
        }
        update.push(" END, verdict = CASE id");
        for (item, verdict) in verdicts {
            update
                .push(" WHEN ")
                .bind(item)
                .push(" THEN ")
                .bind(verdict);
        }
        update.push(" END WHERE id IN ");
        update.tuple(ids);
        conn.execute_raw(update.build()).await?;
    }
    Ok(())
}
