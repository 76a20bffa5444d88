//! Review items and decisions: frozen at launch in batches, decided append-only, settled at close
//! with set-based statements (a close must handle a million items in seconds).

use super::copy::{copy_in, CopyRows};
use super::sql::Sql;
use super::StoreError;
use crate::domain::closing::{MadeBy, Outcome, RemediationState, Verdict};
use crate::domain::eligibility::SourceEligibility;
use crate::domain::recommendation::Recommendation;
use crate::domain::reviewers::ReviewerReason;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Value};

/// One review item to insert at launch.
#[derive(Debug, Clone)]
pub struct NewItem<'a> {
    pub eligibility: &'a SourceEligibility,
    pub reviewer_id: i64,
    pub reviewer_reason: ReviewerReason,
    pub flag: Option<String>,
    pub recommendation: Recommendation,
    pub recommendation_reason: String,
    pub excluded: bool,
}

/// The columns a launch fills, in the order both bulk paths write them.
pub const ITEM_COLUMNS: &str = "campaign_id, eligibility_id, principal_id, role_id, scope, holder_external_id, \
    holder_name, holder_email, holder_kind, role_name, role_risk, since, last_activated_at, reviewer_id, \
    reviewer_reason, flagged, flag_reason, recommendation, recommendation_reason, excluded, created_at";

impl NewItem<'_> {
    /// Why the item needs attention: its reviewer rule's flag, or its exclusion.
    fn flag_reason(&self) -> Option<&str> {
        self.flag
            .as_deref()
            .or_else(|| self.excluded.then_some(EXCLUDED_FLAG))
    }
}

/// Copies a batch of items in one COPY (PostgreSQL), all or none. Unlike [`insert_items`] it
/// cannot skip items already there: a launch copies only past its last item (see
/// `campaigns::reconcile_launch`), and the unique (campaign, eligibility) index refuses a
/// second copy of one.
pub async fn copy_items(
    pool: &sea_orm::sqlx::PgPool,
    campaign_id: i64,
    items: &[NewItem<'_>],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut rows = CopyRows::default();
    for i in items {
        let e = i.eligibility;
        rows.int(Some(campaign_id))
            .int(Some(e.eligibility_id))
            .int(Some(e.principal_id))
            .int(Some(e.role_id))
            .text(Some(&e.scope))
            .text(Some(&e.principal_external_id))
            .text(Some(&e.principal_name))
            .text(e.principal_email.as_deref())
            .text(Some(e.principal_kind.as_str()))
            .text(Some(&e.role_name))
            .text(Some(e.role_risk.as_str()))
            .time(e.since)
            .time(e.last_activated_at)
            .int(Some(i.reviewer_id))
            .text(Some(i.reviewer_reason.as_str()))
            .boolean(i.flag.is_some() || i.excluded)
            .text(i.flag_reason())
            .text(Some(i.recommendation.as_str()))
            .text(Some(&i.recommendation_reason))
            .boolean(i.excluded)
            .time(Some(now))
            .end_row();
    }
    copy_in(pool, "review_item", ITEM_COLUMNS, rows).await
}

/// Inserts a batch of items; an item already there (a resumed launch) is left alone.
/// Returns how many were new.
pub async fn insert_items(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    items: &[NewItem<'_>],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    if items.is_empty() {
        return Ok(0);
    }
    let mut sql = Sql::new(
        conn.get_database_backend(),
        &format!("INSERT INTO review_item ({ITEM_COLUMNS}) VALUES "),
    );
    sql.rows(items.iter().map(|i| {
        let e = i.eligibility;
        [
            campaign_id.into(),
            e.eligibility_id.into(),
            e.principal_id.into(),
            e.role_id.into(),
            e.scope.as_str().into(),
            e.principal_external_id.as_str().into(),
            e.principal_name.as_str().into(),
            e.principal_email.clone().into(),
            e.principal_kind.into(),
            e.role_name.as_str().into(),
            e.role_risk.into(),
            e.since.into(),
            e.last_activated_at.into(),
            i.reviewer_id.into(),
            i.reviewer_reason.as_str().into(),
            (i.flag.is_some() || i.excluded).into(),
            i.flag_reason().map(str::to_string).into(),
            i.recommendation.into(),
            i.recommendation_reason.as_str().into(),
            i.excluded.into(),
            now.into(),
        ]
    }));
    sql.push(" ON CONFLICT (campaign_id, eligibility_id) DO NOTHING");
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}

/// Why an excluded item is flagged.
pub const EXCLUDED_FLAG: &str =
    "excluded from automatic removal (break-glass account or listed exclusion)";

/// Each reviewer of a campaign and how many items they hold.
pub async fn reviewer_loads(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT reviewer_id, COUNT(*) AS n FROM review_item WHERE campaign_id = ",
    );
    sql.bind(campaign_id)
        .push(" GROUP BY reviewer_id ORDER BY reviewer_id");
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| Ok((row.try_get("", "reviewer_id")?, row.try_get("", "n")?)))
        .collect()
}

/// Records each reviewer of the campaign (once) with their item count.
pub async fn upsert_campaign_reviewers(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    loads: &[(i64, i64)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for chunk in loads.chunks(1000) {
        let mut sql = Sql::new(
            conn.get_database_backend(),
            "INSERT INTO campaign_reviewer (campaign_id, reviewer_id, items_assigned, created_at) VALUES ",
        );
        sql.rows(chunk.iter().map(|(reviewer, n)| {
            [
                campaign_id.into(),
                (*reviewer).into(),
                (*n).into(),
                now.into(),
            ]
        }));
        sql.push(" ON CONFLICT (campaign_id, reviewer_id) DO UPDATE SET items_assigned = excluded.items_assigned");
        conn.execute_raw(sql.build()).await?;
    }
    Ok(())
}

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
}

pub async fn items_for_decision(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    ids: &[i64],
) -> Result<Vec<ItemForDecision>, StoreError> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        // By id alone, with the campaign checked here: given `campaign_id = ? AND id IN (…)`,
        // SQLite (without statistics) prefers an index on campaign_id and walks every item of
        // the campaign — a million rows per decision.
        let mut sql = Sql::new(
            conn.get_database_backend(),
            "SELECT i.id, i.campaign_id, i.principal_id, i.reviewer_id, i.current_decision_id, i.verdict, d.justification \
             FROM review_item i LEFT JOIN decision d ON d.id = i.current_decision_id WHERE i.id IN ",
        );
        sql.tuple(chunk.iter().map(|id| Value::from(*id)));
        for row in conn.query_all_raw(sql.build()).await? {
            if row.try_get::<i64>("", "campaign_id")? != campaign_id {
                continue;
            }
            found.push(ItemForDecision {
                id: row.try_get("", "id")?,
                principal_id: row.try_get("", "principal_id")?,
                reviewer_id: row.try_get("", "reviewer_id")?,
                current_decision_id: row.try_get("", "current_decision_id")?,
                verdict: row.try_get("", "verdict")?,
                justification: row.try_get("", "justification")?,
            });
        }
    }
    Ok(found)
}

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
        let mut sql = Sql::new(
            backend,
            "INSERT INTO decision (item_id, campaign_id, verdict, made_by, reviewer_id, acting_for_id, justification, \
             channel, client_addr, decided_at, supersedes_id, actor) VALUES ",
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

/// Which undecided items a closing rule applies to.
#[derive(Debug, Clone, Copy)]
pub struct UndecidedClass {
    pub excluded: bool,
    pub recommendation: Recommendation,
}

/// Records the policy's decision for every undecided item of one class: a `decision` row made
/// by the policy, and the item's verdict and outcome. Returns how many items it settled.
pub async fn settle_undecided(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    class: UndecidedClass,
    outcome: Outcome,
    justification: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let Some(verdict) = outcome.policy_verdict() else {
        return Ok(0);
    };
    let backend = conn.get_database_backend();
    let filter = |sql: &mut Sql| {
        sql.push(" WHERE campaign_id = ")
            .bind(campaign_id)
            .push(" AND verdict IS NULL AND excluded = ")
            .bind(class.excluded)
            .push(" AND recommendation = ")
            .bind(class.recommendation.as_str());
    };
    let insert = |sql: &mut Sql| {
        sql.push(
            "INSERT INTO decision (item_id, campaign_id, verdict, made_by, justification, channel, decided_at, \
             supersedes_id) SELECT id, campaign_id, ",
        )
        .bind(verdict.as_str())
        .push(", 'policy', ")
        .bind(justification)
        .push(", 'policy', ")
        .bind(now)
        .push(", current_decision_id FROM review_item");
        filter(sql);
    };
    let settle = |sql: &mut Sql| {
        sql.bind(verdict.as_str())
            .push(", made_by = 'policy', decided_at = ")
            .bind(now)
            .push(", outcome = ")
            .bind(outcome.as_str());
    };
    if backend == DbBackend::Postgres {
        // One statement: each item takes the id its decision's insert returns, instead of
        // looking it up again a million times.
        let mut sql = Sql::new(backend, "WITH d AS (");
        insert(&mut sql);
        sql.push(" RETURNING id, item_id) UPDATE review_item SET verdict = ");
        settle(&mut sql);
        sql.push(", current_decision_id = d.id FROM d WHERE review_item.id = d.item_id");
        return Ok(conn.execute_raw(sql.build()).await?.rows_affected());
    }
    let mut sql = Sql::new(backend, "");
    insert(&mut sql);
    conn.execute_raw(sql.build()).await?;
    let mut update = Sql::new(backend, "UPDATE review_item SET verdict = ");
    settle(&mut update);
    update.push(
        ", current_decision_id = (SELECT MAX(d.id) FROM decision d WHERE d.item_id = review_item.id AND d.made_by = 'policy')",
    );
    filter(&mut update);
    Ok(conn.execute_raw(update.build()).await?.rows_affected())
}

/// Sets the outcome of every item a person decided.
pub async fn settle_human(conn: &impl ConnectionTrait, campaign_id: i64) -> Result<(), StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE review_item SET outcome = CASE verdict WHEN 'attest' THEN 'kept' ELSE 'revoked' END \
         WHERE made_by = 'human' AND campaign_id = ",
    );
    sql.bind(campaign_id);
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// Roles that would have no active holder left once this campaign's removals are done, among
/// roles where the policy (not only people) removes something.
pub async fn roles_emptied_by_policy(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Vec<String>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT r.name FROM \"role\" r WHERE EXISTS (SELECT 1 FROM review_item i WHERE i.role_id = r.id \
         AND i.outcome = 'removed_by_policy' AND i.campaign_id = ",
    );
    sql.bind(campaign_id)
        .push(
            ") AND NOT EXISTS (SELECT 1 FROM eligibility e WHERE e.role_id = r.id AND e.status = 'active' \
             AND NOT EXISTS (SELECT 1 FROM review_item j WHERE j.eligibility_id = e.id \
             AND j.outcome IN ('revoked', 'removed_by_policy') AND j.campaign_id = ",
        )
        .bind(campaign_id)
        .push(")) ORDER BY r.name");
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| row.try_get("", "name"))
        .collect::<Result<_, DbErr>>()
        .map_err(StoreError::from)
}

/// Creates one remediation per item to remove: people's revocations pending at once, the
/// policy's pending too unless a safety rail holds them for an admin.
pub async fn plan_remediation(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    hold_policy: bool,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let policy_state = if hold_policy {
        RemediationState::AwaitingConfirmation
    } else {
        RemediationState::Pending
    };
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO remediation (item_id, campaign_id, eligibility_id, state, attempts, next_attempt_at, created_at, updated_at) \
         SELECT id, campaign_id, eligibility_id, CASE WHEN outcome = 'revoked' THEN 'pending' ELSE ",
    );
    sql.bind(policy_state)
        .push(" END, 0, ")
        .bind(now)
        .push(", ")
        .bind(now)
        .push(", ")
        .bind(now)
        .push(" FROM review_item WHERE outcome IN ('revoked', 'removed_by_policy') AND campaign_id = ")
        .bind(campaign_id)
        .push(" ON CONFLICT (item_id) DO NOTHING");
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}

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
    /// `undecided`, `decided`, `revoked` (by a person or the policy), `flagged`, or all when unset.
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
    pub removal_state: Option<String>,
}

/// A page of a campaign's items (ordered by id) and how many match in all.
pub async fn list_items(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    filter: &ItemFilter,
    limit: u64,
    offset: u64,
) -> Result<(Vec<ItemView>, u64), StoreError> {
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
            _ => {}
        }
    };
    let from = " FROM review_item i LEFT JOIN principal rv ON rv.id = i.reviewer_id \
                LEFT JOIN decision d ON d.id = i.current_decision_id LEFT JOIN principal dr ON dr.id = d.reviewer_id \
                LEFT JOIN remediation r ON r.item_id = i.id";
    let mut count = Sql::new(backend, &format!("SELECT COUNT(*) AS n{from}"));
    where_clause(&mut count);
    let total = super::sql::count(conn, count).await?;
    let mut sql = Sql::new(
        backend,
        &format!(
            "SELECT i.id, i.holder_external_id, i.holder_name, i.role_name, i.role_risk, i.scope, rv.external_id AS reviewer, \
             rv.display_name AS reviewer_name, dr.display_name AS decider_name, dr.external_id AS decider_id, d.actor AS decision_actor, \
             i.recommendation, i.verdict, i.made_by, d.justification, i.decided_at, i.outcome, i.flagged, i.flag_reason, \
             r.state AS removal_state{from}"
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
                removal_state: row.try_get("", "removal_state")?,
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    Ok((items, total.max(0) as u64))
}

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
    let total = super::sql::count(
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

/// Hands a campaign's undecided, not yet escalated items to `fallback` (remembering who had
/// them); returns how many moved. The fallback never receives an item they hold themselves:
/// those stay where they are.
pub async fn escalate_undecided(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    fallback: i64,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE review_item SET escalated_from_id = reviewer_id, reviewer_id = ",
    );
    sql.bind(fallback)
        .push(", escalated_at = ")
        .bind(now)
        .push(" WHERE verdict IS NULL AND escalated_at IS NULL AND reviewer_id <> ")
        .bind(fallback)
        .push(" AND principal_id <> ")
        .bind(fallback)
        .push(" AND campaign_id = ")
        .bind(campaign_id);
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}
