//! A close's settlement: the policy's decisions on undecided items, outcomes, the roles it
//! would empty, and the remediations planned; set-based, for a million items in seconds.

use crate::domain::closing::{Outcome, RemediationState, Verdict};
use crate::domain::recommendation::Recommendation;
use crate::store::backend::{is_postgres, postgres, sqlite};
use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

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
    let settling = PolicySettlement {
        campaign_id,
        class,
        verdict,
        outcome,
        justification,
        now,
    };
    let settled = if is_postgres(conn) {
        postgres::settlement::settle_undecided(conn, &settling).await?
    } else {
        sqlite::settlement::settle_undecided(conn, &settling).await?
    };
    Ok(settled)
}

/// The policy's decision on one class of undecided items, as the pieces of SQL both backends
/// build their statements from (`backend::postgres::settlement`, `backend::sqlite::settlement`).
pub(crate) struct PolicySettlement<'a> {
    campaign_id: i64,
    class: UndecidedClass,
    verdict: Verdict,
    outcome: Outcome,
    justification: &'a str,
    now: DateTime<Utc>,
}

impl PolicySettlement<'_> {
    /// ` WHERE …`: the class's undecided items.
    pub(crate) fn push_filter(&self, sql: &mut Sql) {
        sql.push(" WHERE");
        self.push_class(sql, "");
    }

    /// ` campaign_id = … AND …`: the class's undecided items, their columns named with
    /// `prefix` (`review_item.` where another table in the statement has such columns too).
    pub(crate) fn push_class(&self, sql: &mut Sql, prefix: &str) {
        sql.push(&format!(" {prefix}campaign_id = "))
            .bind(self.campaign_id)
            .push(&format!(
                " AND {prefix}verdict IS NULL AND {prefix}excluded = "
            ))
            .bind(self.class.excluded)
            .push(&format!(" AND {prefix}recommendation = "))
            .bind(self.class.recommendation.as_str());
    }

    /// `INSERT INTO decision … SELECT … FROM review_item WHERE …`: one policy decision per
    /// undecided item of the class.
    pub(crate) fn push_insert(&self, sql: &mut Sql) {
        sql.push(
            "INSERT INTO decision (item_id, campaign_id, verdict, made_by, justification, channel, decided_at, \
             supersedes_id, stage) SELECT id, campaign_id, ",
        )
        .bind(self.verdict.as_str())
        .push(", 'policy', ")
        .bind(self.justification)
        .push(", 'policy', ")
        .bind(self.now)
        .push(", current_decision_id, stage FROM review_item");
        self.push_filter(sql);
    }

    /// Completes `UPDATE review_item SET verdict = `: the verdict, who made it, when, and the
    /// outcome.
    pub(crate) fn push_settle(&self, sql: &mut Sql) {
        sql.bind(self.verdict.as_str())
            .push(", made_by = 'policy', decided_at = ")
            .bind(self.now)
            .push(", outcome = ")
            .bind(self.outcome.as_str());
    }
}

/// Sets the outcome of every item a person decided.
pub async fn settle_human(conn: &impl ConnectionTrait, campaign_id: i64) -> Result<(), StoreError> {
    // hand-written: close path over up to a million items, one CASE update.
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE review_item SET outcome = CASE verdict WHEN 'attest' THEN 'kept' \
         WHEN 'convert' THEN 'converted' ELSE 'revoked' END \
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
    // hand-written: report over three tables with nested EXISTS / NOT EXISTS.
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
/// policy's pending too unless a safety rail holds them for an admin; and one per item a
/// person chose to convert (standing access to eligible). `not_before`: the end of a challenge
/// period, before which no removal is attempted (`None`: at once).
pub async fn plan_remediation(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    hold_policy: bool,
    not_before: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let policy_state = if hold_policy {
        RemediationState::AwaitingConfirmation
    } else {
        RemediationState::Pending
    };
    // hand-written: close path, one INSERT … SELECT with CASE for up to a million items.
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO remediation (item_id, campaign_id, eligibility_id, kind, state, attempts, next_attempt_at, created_at, updated_at) \
         SELECT id, campaign_id, eligibility_id, CASE WHEN outcome = 'converted' THEN 'convert' ELSE 'remove' END, \
         CASE WHEN outcome IN ('revoked', 'converted') THEN 'pending' ELSE ",
    );
    // A conversion takes nothing away: no challenge period holds it.
    sql.bind(policy_state)
        .push(" END, 0, CASE WHEN outcome = 'converted' THEN ")
        .bind(now)
        .push(" ELSE ")
        .bind(not_before.unwrap_or(now))
        .push(" END, ")
        .bind(now)
        .push(", ")
        .bind(now)
        .push(" FROM review_item WHERE outcome IN ('revoked', 'removed_by_policy', 'converted') AND campaign_id = ")
        .bind(campaign_id)
        .push(" ON CONFLICT (item_id) DO NOTHING");
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}
