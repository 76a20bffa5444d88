//! The built-in source's reads and writes: attest's own eligibility table as a source. A
//! launch enumerates it in id order; a removal marks rows removed (in the transaction that
//! records the removal, see `engine::remediate`) and reads them back.

use super::backend::{is_postgres, sqlite};
use super::sql::Sql;
use super::StoreError;
use crate::domain::definition::ScopeFilter;
use crate::domain::eligibility::{builtin_receipt, RemovalTarget, SourceEligibility};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, QueryResult, Value};

/// Appends `AND column IN (…)` when `values` restricts anything.
fn restrict(sql: &mut Sql, column: &str, values: impl IntoIterator<Item = Value>) {
    let values: Vec<Value> = values.into_iter().collect();
    if !values.is_empty() {
        sql.push(&format!(" AND {column} IN "));
        sql.tuple(values);
    }
}

pub(crate) fn parse<T: std::str::FromStr<Err = String>>(
    column: &str,
    text: String,
) -> Result<T, DbErr> {
    text.parse()
        .map_err(|e: String| DbErr::Type(format!("{column}: {e}")))
}

fn eligibility_from_row(row: &QueryResult) -> Result<SourceEligibility, DbErr> {
    Ok(SourceEligibility {
        eligibility_id: row.try_get("", "id")?,
        principal_id: row.try_get("", "principal_id")?,
        principal_external_id: row.try_get("", "external_id")?,
        principal_name: row.try_get("", "display_name")?,
        principal_email: row.try_get("", "email")?,
        principal_kind: parse("kind", row.try_get("", "kind")?)?,
        role_id: row.try_get("", "role_id")?,
        role_name: row.try_get("", "role_name")?,
        role_risk: parse("risk", row.try_get("", "risk")?)?,
        role_owner_id: row.try_get("", "owner_id")?,
        scope: row.try_get("", "scope")?,
        since: row.try_get("", "start_at")?,
        last_activated_at: row.try_get("", "last_activated_at")?,
        assignment: parse("assignment", row.try_get("", "assignment")?)?,
    })
}

/// The next `limit` active eligibilities matching `filter` after `cursor`, in id order.
pub async fn enumerate(
    conn: &impl ConnectionTrait,
    filter: &ScopeFilter,
    cursor: Option<i64>,
    limit: u64,
) -> Result<Vec<SourceEligibility>, StoreError> {
    // hand-written: the launch's bulk read, a three-table join with a filter built to the
    // definition's scope, read on SQLite as one JSON array (backend::sqlite::enumeration).
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT e.id, e.principal_id, p.external_id, p.display_name, p.email, p.kind, e.role_id, \
         r.name AS role_name, r.risk, r.owner_id, e.scope, e.start_at, e.last_activated_at, \
         e.assignment FROM eligibility e JOIN principal p ON p.id = e.principal_id JOIN \"role\" r ON r.id = e.role_id \
         WHERE e.status = 'active' AND e.id > ",
    );
    sql.bind(cursor.unwrap_or(0));
    in_scope(&mut sql, filter);
    sql.push(" ORDER BY e.id LIMIT ").bind(limit as i64);
    if !is_postgres(conn) {
        return Ok(sqlite::enumeration::enumerate(conn, sql).await?);
    }
    let rows = conn.query_all_raw(sql.build()).await?;
    rows.iter()
        .map(eligibility_from_row)
        .collect::<Result<_, DbErr>>()
        .map_err(StoreError::from)
}

/// How many active eligibilities match `filter`: the total a launch's progress bar counts to.
pub async fn count_in_scope(
    conn: &impl ConnectionTrait,
    filter: &ScopeFilter,
) -> Result<u64, StoreError> {
    // hand-written: the same join and filter as `enumerate`, counted.
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT count(*) AS n \
         FROM eligibility e JOIN principal p ON p.id = e.principal_id JOIN \"role\" r ON r.id = e.role_id \
         WHERE e.status = 'active'",
    );
    in_scope(&mut sql, filter);
    let row = conn.query_one_raw(sql.build()).await?;
    let n: i64 = match row {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Appends the conditions of `filter` to a query over `eligibility e`, `principal p` and
/// `"role" r`.
fn in_scope(sql: &mut Sql, filter: &ScopeFilter) {
    // A campaign reviews one source's eligibility: a configured one's (what its syncs
    // wrote), or the built-in one's (imports; rows older than sources have none).
    match &filter.source {
        Some(name) => {
            sql.push(" AND e.source_id = (SELECT id FROM source WHERE name = ")
                .bind(name.as_str())
                .push(")");
        }
        None => {
            sql.push(
                " AND (e.source_id IS NULL OR e.source_id = (SELECT id FROM source WHERE name = ",
            )
            .bind(super::directory::BUILTIN_SOURCE)
            .push("))");
        }
    }
    restrict(
        sql,
        "r.name",
        filter.roles.iter().map(|r| Value::from(r.as_str())),
    );
    restrict(
        sql,
        "r.risk",
        filter.risk.iter().map(|r| Value::from(r.as_str())),
    );
    restrict(
        sql,
        "p.external_id",
        filter.holders.iter().map(|h| Value::from(h.as_str())),
    );
    restrict(
        sql,
        "p.kind",
        filter
            .principal_kinds
            .iter()
            .map(|k| Value::from(k.as_str())),
    );
    if !filter.scopes.is_empty() {
        // A scope covers itself and everything below it.
        sql.push(" AND (");
        for (i, scope) in filter.scopes.iter().enumerate() {
            if i > 0 {
                sql.push(" OR ");
            }
            let below = format!("{}/%", scope.trim_end_matches('/'));
            sql.push("e.scope = ")
                .bind(scope.as_str())
                .push(" OR e.scope LIKE ")
                .bind(below);
        }
        sql.push(")");
    }
}

/// Marks a batch of eligibilities removed in one statement per campaign (and chunk), with the
/// built-in receipt (`domain::eligibility::builtin_receipt`); returns the ids that were active (and so are removed now). Called with a
/// transaction by the remediation step, so the removal and its record commit together.
pub async fn remove_in_database(
    conn: &impl ConnectionTrait,
    targets: &[RemovalTarget],
    now: DateTime<Utc>,
) -> Result<std::collections::HashSet<i64>, StoreError> {
    let mut by_campaign: std::collections::BTreeMap<i64, Vec<i64>> =
        std::collections::BTreeMap::new();
    for t in targets {
        by_campaign
            .entry(t.campaign_id)
            .or_default()
            .push(t.eligibility_id);
    }
    let mut removed = std::collections::HashSet::new();
    let backend = conn.get_database_backend();
    // hand-written: the remediation's bulk write, a computed receipt per row and RETURNING.
    for (campaign_id, ids) in by_campaign {
        for chunk in ids.chunks(super::backend::ids_per_statement(backend)) {
            let mut sql = Sql::new(backend, "");
            push_remove(&mut sql, campaign_id, now);
            sql.push(" AND id");
            sql.one_of(chunk.iter().copied());
            sql.push(" RETURNING id");
            for row in conn.query_all_raw(sql.build()).await? {
                removed.insert(row.try_get::<i64>("", "id")?);
            }
        }
    }
    Ok(removed)
}

/// `UPDATE eligibility SET … WHERE status = 'active'`: the removal by `campaign_id` at `now`,
/// with its built-in receipt, of the active rows the caller goes on to name.
pub(crate) fn push_remove(sql: &mut Sql, campaign_id: i64, now: DateTime<Utc>) {
    sql.push("UPDATE eligibility SET status = 'removed', removed_at = ")
        .bind(now)
        .push(", removed_by_campaign_id = ")
        .bind(campaign_id)
        .push(", removal_reason = ")
        .bind(format!("access review campaign #{campaign_id}"))
        .push(", removal_receipt = ");
    push_removed_receipt(sql, "id", campaign_id, now);
    sql.push(", updated_at = ")
        .bind(now)
        .push(" WHERE status = 'active'");
}

/// The built-in receipt of the removal of eligibility `id_column` by `campaign_id` at `now`,
/// as an SQL expression (`builtin_receipt::removed`, computed by the database for a batch).
pub(crate) fn push_removed_receipt(
    sql: &mut Sql,
    id_column: &str,
    campaign_id: i64,
    now: DateTime<Utc>,
) {
    push_receipt(
        sql,
        id_column,
        builtin_receipt::removed_suffix(campaign_id, now),
    );
}

/// The built-in receipt of a removal that found eligibility `id_column` no longer active, as
/// an SQL expression (`builtin_receipt::not_active`).
pub(crate) fn push_not_active_receipt(sql: &mut Sql, id_column: &str) {
    push_receipt(
        sql,
        id_column,
        builtin_receipt::NOT_ACTIVE_SUFFIX.to_string(),
    );
}

/// `PREFIX || id || suffix`: a built-in receipt as `builtin_receipt` formats it, computed by
/// the database for the eligibility in `id_column`.
fn push_receipt(sql: &mut Sql, id_column: &str, suffix: String) {
    sql.bind(builtin_receipt::PREFIX)
        .push(&format!(" || CAST({id_column} AS TEXT) || "))
        .bind(suffix);
}

/// Converts a batch of standing assignments to eligible (standing access a reviewer chose to
/// convert); returns the ids that were standing and active (and so are converted now). Called
/// with the transaction that records the conversion, like [`remove_in_database`]; the receipt
/// is the remediation's (`domain::eligibility::builtin_receipt`).
pub async fn convert_in_database(
    conn: &impl ConnectionTrait,
    targets: &[RemovalTarget],
    now: DateTime<Utc>,
) -> Result<std::collections::HashSet<i64>, StoreError> {
    let mut converted = std::collections::HashSet::new();
    let backend = conn.get_database_backend();
    // hand-written: the remediation's bulk write with RETURNING, as `remove_in_database`.
    for chunk in targets.chunks(super::backend::ids_per_statement(backend)) {
        let mut sql = Sql::new(
            backend,
            "UPDATE eligibility SET assignment = 'eligible', updated_at = ",
        );
        sql.bind(now)
            .push(" WHERE status = 'active' AND assignment = 'active' AND id");
        sql.one_of(chunk.iter().map(|t| t.eligibility_id));
        sql.push(" RETURNING id");
        for row in conn.query_all_raw(sql.build()).await? {
            converted.insert(row.try_get::<i64>("", "id")?);
        }
    }
    Ok(converted)
}

/// Of `targets`, the ids still standing (active and assigned active), read on `conn`: the
/// proof a conversion took effect.
pub async fn still_standing(
    conn: &impl ConnectionTrait,
    targets: &[RemovalTarget],
) -> Result<std::collections::HashSet<i64>, StoreError> {
    ids_where(conn, targets, "status = 'active' AND assignment = 'active'").await
}

/// Of `targets`, the ids still active, read on `conn` (the proof a removal took effect).
pub async fn still_active(
    conn: &impl ConnectionTrait,
    targets: &[RemovalTarget],
) -> Result<std::collections::HashSet<i64>, StoreError> {
    ids_where(conn, targets, "status = 'active'").await
}

/// The eligibility ids of `targets` whose row matches `condition` (a fixed SQL condition, never
/// user input).
async fn ids_where(
    conn: &impl ConnectionTrait,
    targets: &[RemovalTarget],
    condition: &'static str,
) -> Result<std::collections::HashSet<i64>, StoreError> {
    let mut present = std::collections::HashSet::new();
    let backend = conn.get_database_backend();
    // hand-written: the remediation's bulk re-read, ids as one array on PostgreSQL (Sql::one_of).
    for chunk in targets.chunks(super::backend::ids_per_statement(backend)) {
        let mut sql = Sql::new(
            backend,
            &format!("SELECT id FROM eligibility WHERE {condition} AND id"),
        );
        sql.one_of(chunk.iter().map(|t| t.eligibility_id));
        for row in conn.query_all_raw(sql.build()).await? {
            present.insert(row.try_get::<i64>("", "id")?);
        }
    }
    Ok(present)
}
