//! Removals through the built-in source, carried out and settled inside the database by a few
//! set-based statements per step: the eligibility rows are marked removed, read back, and each
//! removal read back as gone is settled with its history line, in the caller's
//! transaction. Only the step's ids travel between the process and the database, and nothing
//! is leased: the transaction is the lease (SQLite's writer excludes every other; PostgreSQL
//! locks the picked rows, and a concurrent worker skips them).
//!
//! What it writes is what the general remediation step writes for the same removal (state,
//! receipt, attempt count, removal and verification time, and one history line, `removed` or
//! `already_gone` with the receipt), so nothing a user or auditor reads tells the two apart.

use super::builtin_eligibility::{push_not_active_receipt, push_remove, push_removed_receipt};
use super::process::push_lease_free;
use super::sql::Sql;
use super::StoreError;
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use std::collections::BTreeMap;

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InDatabaseStep {
    /// Removed now and read back as gone.
    pub removed: u64,
    /// Found no longer active, and read back as gone.
    pub already_gone: u64,
}

impl InDatabaseStep {
    pub fn settled(&self) -> u64 {
        self.removed + self.already_gone
    }
}

/// Picks up to `limit` due removals (kind `remove`) of `campaign_ids`, oldest first, that no
/// live lease holds, and carries them out. A removal whose eligibility still reads as active
/// after the update is left pending, for the general step to record as it does any removal
/// the source denies. Call it in a transaction of its own: on PostgreSQL it turns JIT
/// compilation off for the rest of the transaction.
pub async fn remove_due(
    conn: &impl ConnectionTrait,
    campaign_ids: &[i64],
    limit: u64,
    now: DateTime<Utc>,
) -> Result<InDatabaseStep, StoreError> {
    if campaign_ids.is_empty() {
        return Ok(InDatabaseStep::default());
    }
    super::backend::without_jit(conn).await?;
    let picked = pick_due(conn, campaign_ids, limit, now).await?;
    let mut step = InDatabaseStep::default();
    for (campaign_id, ids) in picked {
        let removed = remove(conn, campaign_id, &ids, now).await?;
        let lines = write_history(conn, campaign_id, &ids, now).await?;
        let settled = settle(conn, campaign_id, &ids, now).await?;
        // The history and the settlement name the same rows by the same test; if they ever
        // disagree, the transaction must not commit.
        if lines != settled || removed > settled {
            return Err(StoreError::Corrupt(format!(
                "campaign #{campaign_id}: {settled} removals settled in the database with {lines} history lines and {removed} rows removed"
            )));
        }
        step.removed += removed;
        step.already_gone += settled - removed;
    }
    Ok(step)
}

/// The due removals to carry out, by campaign. Ordered as the index on (state,
/// next_attempt_at) is, so a step reads only the rows it takes.
async fn pick_due(
    conn: &impl ConnectionTrait,
    campaign_ids: &[i64],
    limit: u64,
    now: DateTime<Utc>,
) -> Result<BTreeMap<i64, Vec<i64>>, StoreError> {
    let backend = conn.get_database_backend();
    // hand-written: the worker's pick, ordered by the index and locked on PostgreSQL.
    let mut sql = Sql::new(
        backend,
        "SELECT r.id, r.campaign_id FROM remediation r WHERE r.state = 'pending' AND r.kind = 'remove' \
         AND r.next_attempt_at <= ",
    );
    // The campaigns as a list, not a set to join: joined, PostgreSQL sorts every pending row.
    sql.bind(now).push(" AND r.campaign_id");
    sql.one_of(campaign_ids.iter().copied());
    sql.push(" AND");
    push_lease_free(&mut sql, "r", now);
    // In the index's order; not also by id, which PostgreSQL's index does not end in: that
    // would sort every pending row at each step.
    sql.push("ORDER BY r.next_attempt_at LIMIT ")
        .bind(limit as i64);
    sql.lock_rows_skipping_locked();
    let mut picked: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for row in conn.query_all_raw(sql.build()).await? {
        picked
            .entry(row.try_get::<i64>("", "campaign_id")?)
            .or_default()
            .push(row.try_get::<i64>("", "id")?);
    }
    Ok(picked)
}

/// Marks the active eligibilities of removals `ids` removed; returns how many were active.
async fn remove(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    // hand-written: a step's removal in one statement, the receipt computed per row.
    let mut sql = Sql::new(conn.get_database_backend(), "");
    push_remove(&mut sql, campaign_id, now);
    sql.push(" AND id IN (SELECT r.eligibility_id FROM remediation r WHERE r.id");
    sql.among(ids);
    sql.push(")");
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}

/// `(SELECT e.COLUMN …)`: a column of the eligibility of removal `alias`, looked up by its key.
/// A scalar subquery, so each removal's eligibility is one key lookup on either database:
/// joined instead, PostgreSQL (its statistics from before the close, where nothing was removed)
/// would hash the whole eligibility table in every step.
fn eligibility_column(alias: &str, column: &str) -> String {
    format!("(SELECT e.{column} FROM eligibility e WHERE e.id = {alias}.eligibility_id)")
}

/// ` WHEN <the eligibility of `alias` carries this removal's receipt> THEN `: removed by this
/// step.
fn push_went_through(sql: &mut Sql, alias: &str, campaign_id: i64, now: DateTime<Utc>) {
    sql.push(&format!(
        " WHEN {} = ",
        eligibility_column(alias, "removal_receipt")
    ));
    push_removed_receipt(sql, &format!("{alias}.eligibility_id"), campaign_id, now);
    sql.push(" THEN ");
}

/// `CASE … END`: the outcome of removal `alias`, read back as gone.
fn push_outcome(sql: &mut Sql, alias: &str, campaign_id: i64, now: DateTime<Utc>) {
    sql.push(" CASE");
    push_went_through(sql, alias, campaign_id, now);
    sql.push("'removed' ELSE 'already_gone' END");
}

/// `CASE … END`: the receipt of removal `alias`, read back as gone.
fn push_receipt(sql: &mut Sql, alias: &str, campaign_id: i64, now: DateTime<Utc>) {
    sql.push(" CASE");
    push_went_through(sql, alias, campaign_id, now);
    push_removed_receipt(sql, &format!("{alias}.eligibility_id"), campaign_id, now);
    sql.push(" ELSE ");
    push_not_active_receipt(sql, &format!("{alias}.eligibility_id"));
    sql.push(" END");
}

/// ` WHERE <removal `alias` is one of `ids`> AND <its eligibility no longer reads as active>`:
/// the rows the history and the settlement both name, the read-back admitting a removal to
/// settlement.
fn push_read_back_gone(sql: &mut Sql, alias: &str, ids: &[i64]) {
    sql.push(&format!(" WHERE {alias}.id"));
    sql.among(ids);
    sql.push(&format!(
        " AND {} <> 'active'",
        eligibility_column(alias, "status")
    ));
}

/// The history line of every removal read back as gone: how it went, `removed` with the
/// removal's receipt or `already_gone` with the receipt that says so. Returns the lines written.
///
/// This and [`settle`] name the same rows by the same test: the step's removals whose
/// eligibility no longer reads as active (the read-back). The removals named are pending by
/// construction (picked as pending in this transaction, which holds them): with a test of the
/// state, SQLite walks every pending removal through the state's index instead of looking up
/// the step's ids.
async fn write_history(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    // hand-written: a line a removal from one INSERT … SELECT.
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO remediation_attempt (remediation_id, attempt, at, outcome, receipt, error) \
         SELECT r.id, r.attempts + 1, ",
    );
    sql.bind(now).push(",");
    push_outcome(&mut sql, "r", campaign_id, now);
    sql.push(",");
    push_receipt(&mut sql, "r", campaign_id, now);
    sql.push(", NULL FROM remediation r");
    push_read_back_gone(&mut sql, "r", ids);
    sql.push(" ORDER BY r.id");
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}

/// Settles every removal read back as gone: removed or already gone, with its receipt,
/// removed and verified now. Returns how many.
async fn settle(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    // hand-written: a step's settlement in one UPDATE, the receipt computed per row.
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE remediation SET attempts = attempts + 1, state =",
    );
    push_outcome(&mut sql, "remediation", campaign_id, now);
    sql.push(", receipt =");
    push_receipt(&mut sql, "remediation", campaign_id, now);
    sql.push(", last_error = NULL, removed_at = ")
        .bind(now)
        .push(", verified_at = ")
        .bind(now)
        .push(", lease_until = NULL, updated_at = ")
        .bind(now);
    push_read_back_gone(&mut sql, "remediation", ids);
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}
