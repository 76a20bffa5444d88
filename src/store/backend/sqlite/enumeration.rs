//! The built-in source's enumeration on SQLite: a launch's batch read as one JSON array.

use super::time::sqlite_time;
use crate::domain::eligibility::SourceEligibility;
use crate::store::builtin_eligibility::parse;
use crate::store::sql::Sql;
use sea_orm::{ConnectionTrait, DbErr};

/// One eligibility of a SQLite batch, in the enumeration's column order.
type BatchRow = (
    i64,
    i64,
    String,
    String,
    Option<String>,
    String,
    i64,
    String,
    String,
    Option<i64>,
    String,
    Option<String>,
    Option<String>,
    String,
);

/// The batch `query` (the enumeration's SELECT, in its column order) selects, read as one
/// JSON array of rows. sqlx hands SQLite rows over
/// one at a time between threads, each value in an allocation of its own: a launch of a
/// million items spent 5.7 s reading its batches that way, where SQLite itself answers the
/// same queries in about 1 s.
pub(crate) async fn enumerate(
    conn: &impl ConnectionTrait,
    query: Sql,
) -> Result<Vec<SourceEligibility>, DbErr> {
    let mut statement = query.build();
    statement.sql = format!(
        "SELECT json_group_array(json_array(id, principal_id, external_id, display_name, email, kind, \
         role_id, role_name, risk, owner_id, scope, start_at, last_activated_at, assignment)) AS batch FROM ({})",
        statement.sql
    );
    let Some(row) = conn.query_one_raw(statement).await? else {
        return Ok(Vec::new());
    };
    let batch: String = row.try_get("", "batch")?;
    let rows: Vec<BatchRow> =
        serde_json::from_str(&batch).map_err(|e| DbErr::Type(format!("eligibility batch: {e}")))?;
    let mut eligibilities = rows
        .into_iter()
        .map(|r| {
            Ok(SourceEligibility {
                eligibility_id: r.0,
                principal_id: r.1,
                principal_external_id: r.2,
                principal_name: r.3,
                principal_email: r.4,
                principal_kind: parse("kind", r.5)?,
                role_id: r.6,
                role_name: r.7,
                role_risk: parse("risk", r.8)?,
                role_owner_id: r.9,
                scope: r.10,
                since: sqlite_time(r.11.as_deref())?,
                last_activated_at: sqlite_time(r.12.as_deref())?,
                assignment: parse("assignment", r.13)?,
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    // An aggregate keeps its subquery's order in practice, not by contract; the launch's
    // cursor depends on it (as in the export's batches, a check that costs one pass).
    eligibilities.sort_by_key(|e| e.eligibility_id);
    Ok(eligibilities)
}
