//! People, roles and eligibility: the bulk writes of an import and the reads that check it.

use super::sql::Sql;
use super::StoreError;
use crate::domain::eligibility::EligibilityStatus;
use crate::domain::records::{PersonRow, RoleRow};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sea_orm::{ConnectionTrait, DbErr, StreamTrait, Value};
use std::collections::HashMap;

/// The name of the source that the database itself is: imports land here.
pub const BUILTIN_SOURCE: &str = "builtin";

/// A principal as other rows refer to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrincipalRef {
    pub id: i64,
    pub manager_id: Option<i64>,
}

/// An eligibility row whose principal and role have been resolved to ids.
#[derive(Debug, Clone)]
pub struct EligibilityWrite {
    pub principal_id: i64,
    pub role_id: i64,
    pub scope: String,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub last_activated_at: Option<DateTime<Utc>>,
}

/// The id of the named source, created on first use.
pub async fn ensure_source(
    conn: &impl ConnectionTrait,
    name: &str,
    kind: &str,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let backend = ConnectionTrait::get_database_backend(conn);
    let mut insert = Sql::new(
        backend,
        "INSERT INTO source (name, kind, created_at) VALUES ",
    );
    insert
        .tuple([name.into(), kind.into(), now.into()])
        .push(" ON CONFLICT (name) DO NOTHING");
    conn.execute_raw(insert.build()).await?;
    let mut select = Sql::new(backend, "SELECT id FROM source WHERE name = ");
    select.bind(name);
    let row = conn
        .query_one_raw(select.build())
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("source {name}")))?;
    row.try_get("", "id").map_err(StoreError::from)
}

/// Looks up principals by external id; ids that do not exist are absent from the map.
pub async fn principal_refs(
    conn: &impl ConnectionTrait,
    external_ids: &[&str],
) -> Result<HashMap<String, PrincipalRef>, StoreError> {
    let mut found = HashMap::with_capacity(external_ids.len());
    if external_ids.is_empty() {
        return Ok(found);
    }
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        "SELECT id, external_id, manager_id FROM principal WHERE external_id IN ",
    );
    sql.tuple(external_ids.iter().map(|id| Value::from(*id)));
    for row in conn.query_all_raw(sql.build()).await? {
        let external_id: String = row.try_get("", "external_id")?;
        found.insert(
            external_id,
            PrincipalRef {
                id: row.try_get("", "id")?,
                manager_id: row.try_get("", "manager_id")?,
            },
        );
    }
    Ok(found)
}

/// A principal's display name.
pub async fn display_name(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<String>, StoreError> {
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        "SELECT display_name FROM principal WHERE id = ",
    );
    sql.bind(id);
    match conn.query_one_raw(sql.build()).await? {
        Some(row) => Ok(Some(row.try_get("", "display_name")?)),
        None => Ok(None),
    }
}

/// Every role's id by name (roles number in the hundreds at most).
pub async fn role_ids(conn: &impl ConnectionTrait) -> Result<HashMap<String, i64>, StoreError> {
    let sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        "SELECT id, name FROM \"role\"",
    );
    conn.query_all_raw(sql.build())
        .await?
        .into_iter()
        .map(|row| Ok((row.try_get("", "name")?, row.try_get("", "id")?)))
        .collect()
}

/// Inserts or updates people by external id; returns how many rows were inserted or changed.
/// The manager link is set separately ([`set_managers`]) because a manager may come later in the file.
pub async fn upsert_people(
    conn: &impl ConnectionTrait,
    rows: &[PersonRow],
    source_id: i64,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        "INSERT INTO principal (external_id, display_name, email, kind, enabled, timezone, source_id, created_at, updated_at) VALUES ",
    );
    sql.rows(rows.iter().map(|p| {
        [
            p.external_id.as_str().into(),
            p.name.as_str().into(),
            p.email.clone().into(),
            p.kind.into(),
            p.enabled.into(),
            p.timezone.clone().into(),
            source_id.into(),
            now.into(),
            now.into(),
        ]
    }));
    sql.push(
        " ON CONFLICT (external_id) DO UPDATE SET display_name = excluded.display_name, email = excluded.email, \
         kind = excluded.kind, enabled = excluded.enabled, timezone = excluded.timezone, source_id = excluded.source_id, \
         updated_at = excluded.updated_at \
         WHERE principal.display_name IS DISTINCT FROM excluded.display_name OR principal.email IS DISTINCT FROM excluded.email \
         OR principal.kind IS DISTINCT FROM excluded.kind OR principal.enabled IS DISTINCT FROM excluded.enabled \
         OR principal.timezone IS DISTINCT FROM excluded.timezone OR principal.source_id IS DISTINCT FROM excluded.source_id",
    );
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}

/// Sets `manager_id` for each `(principal id, manager id)` pair.
pub async fn set_managers(
    conn: &impl ConnectionTrait,
    changes: &[(i64, Option<i64>)],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    if changes.is_empty() {
        return Ok(0);
    }
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        "UPDATE principal SET manager_id = CASE id",
    );
    for (id, manager) in changes {
        sql.push(" WHEN ").bind(*id).push(" THEN ").bind(*manager);
    }
    sql.push(" END, updated_at = ")
        .bind(now)
        .push(" WHERE id IN ");
    sql.tuple(changes.iter().map(|(id, _)| Value::from(*id)));
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}

/// Inserts or updates roles by name; returns how many rows were inserted or changed.
pub async fn upsert_roles(
    conn: &impl ConnectionTrait,
    rows: &[(RoleRow, Option<i64>)],
    source_id: i64,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        "INSERT INTO \"role\" (name, owner_id, risk, description, source_id, created_at, updated_at) VALUES ",
    );
    sql.rows(rows.iter().map(|(r, owner)| {
        [
            r.name.as_str().into(),
            (*owner).into(),
            r.risk.into(),
            r.description.clone().into(),
            source_id.into(),
            now.into(),
            now.into(),
        ]
    }));
    sql.push(
        " ON CONFLICT (name) DO UPDATE SET owner_id = excluded.owner_id, risk = excluded.risk, \
         description = excluded.description, source_id = excluded.source_id, updated_at = excluded.updated_at \
         WHERE \"role\".owner_id IS DISTINCT FROM excluded.owner_id OR \"role\".risk IS DISTINCT FROM excluded.risk \
         OR \"role\".description IS DISTINCT FROM excluded.description OR \"role\".source_id IS DISTINCT FROM excluded.source_id",
    );
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}

/// How an upsert treats a row's `last_activated_at` when the new one is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// The file says what is true: empty clears it.
    AsListed,
    /// The source only knows recent activations (Graph lists the ones still running): an empty
    /// one keeps what an earlier sync recorded, and an older one never replaces a later one.
    KeepLatest,
}

/// Inserts or updates eligibility by principal × role × scope; a removed one listed again becomes
/// active, and the writing source becomes its source. Returns how many rows were inserted or
/// changed.
pub async fn upsert_eligibility(
    conn: &impl ConnectionTrait,
    rows: &[EligibilityWrite],
    source_id: i64,
    granted_via: &str,
    activation: Activation,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        "INSERT INTO eligibility (principal_id, role_id, scope, start_at, end_at, last_activated_at, granted_via, status, source_id, created_at, updated_at) VALUES ",
    );
    sql.rows(rows.iter().map(|e| {
        [
            e.principal_id.into(),
            e.role_id.into(),
            e.scope.as_str().into(),
            e.start.into(),
            e.end.into(),
            e.last_activated_at.into(),
            granted_via.into(),
            EligibilityStatus::Active.into(),
            source_id.into(),
            now.into(),
            now.into(),
        ]
    }));
    // The activation the row ends with, the same expression in SET and in the change test.
    let activated = match activation {
        Activation::AsListed => "excluded.last_activated_at",
        Activation::KeepLatest => {
            "CASE WHEN excluded.last_activated_at IS NULL THEN eligibility.last_activated_at \
             WHEN eligibility.last_activated_at IS NULL THEN excluded.last_activated_at \
             WHEN excluded.last_activated_at > eligibility.last_activated_at THEN excluded.last_activated_at \
             ELSE eligibility.last_activated_at END"
        }
    };
    sql.push(&format!(
        " ON CONFLICT (principal_id, role_id, scope) DO UPDATE SET start_at = excluded.start_at, end_at = excluded.end_at, \
         last_activated_at = {activated}, status = 'active', removed_at = NULL, removed_by_campaign_id = NULL, \
         removal_reason = NULL, removal_receipt = NULL, source_id = excluded.source_id, updated_at = excluded.updated_at \
         WHERE eligibility.start_at IS DISTINCT FROM excluded.start_at OR eligibility.end_at IS DISTINCT FROM excluded.end_at \
         OR eligibility.last_activated_at IS DISTINCT FROM ({activated}) OR eligibility.status <> 'active' \
         OR eligibility.source_id IS DISTINCT FROM excluded.source_id"
    ));
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}

/// The number of rows in `table` (one of ours; never user input).
pub async fn count(conn: &impl ConnectionTrait, table: &'static str) -> Result<i64, StoreError> {
    let sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        &format!("SELECT COUNT(*) AS n FROM \"{table}\""),
    );
    let row = conn
        .query_one_raw(sql.build())
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(table.into()))?;
    row.try_get("", "n").map_err(StoreError::from)
}

/// How many active eligibilities `source_id` has.
pub async fn active_eligibility_count(
    conn: &impl ConnectionTrait,
    source_id: i64,
) -> Result<i64, StoreError> {
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        "SELECT COUNT(*) AS n FROM eligibility WHERE status = 'active' AND source_id = ",
    );
    sql.bind(source_id);
    match conn.query_one_raw(sql.build()).await? {
        Some(row) => row.try_get("", "n").map_err(StoreError::from),
        None => Ok(0),
    }
}

/// Ids of the active eligibilities of `source_id` for which `keep(principal, role, scope)` is false.
pub async fn active_eligibility_not_kept<C>(
    conn: &C,
    source_id: i64,
    keep: impl Fn(&str, &str, &str) -> bool,
) -> Result<Vec<i64>, StoreError>
where
    C: ConnectionTrait + StreamTrait,
{
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        "SELECT e.id, p.external_id, r.name, e.scope FROM eligibility e \
         JOIN principal p ON p.id = e.principal_id JOIN \"role\" r ON r.id = e.role_id \
         WHERE e.status = 'active' AND e.source_id = ",
    );
    sql.bind(source_id);
    ids_not_kept(conn, sql, |row| {
        let principal: String = row.try_get("", "external_id")?;
        let role: String = row.try_get("", "name")?;
        let scope: String = row.try_get("", "scope")?;
        Ok(keep(&principal, &role, &scope))
    })
    .await
    .map_err(StoreError::from)
}

/// Streams `sql` (which selects an `id`) and returns the ids of the rows `keep` rejects: what
/// a full-sync import no longer lists, found without holding the table in memory.
async fn ids_not_kept<C>(
    conn: &C,
    sql: Sql,
    keep: impl Fn(&sea_orm::QueryResult) -> Result<bool, DbErr>,
) -> Result<Vec<i64>, DbErr>
where
    C: ConnectionTrait + StreamTrait,
{
    let rows = conn.stream_raw(sql.build()).await?;
    let mut rows = std::pin::pin!(rows);
    let mut gone = Vec::new();
    while let Some(row) = rows.try_next().await? {
        if !keep(&row)? {
            gone.push(row.try_get("", "id")?);
        }
    }
    Ok(gone)
}

/// Marks eligibilities removed, with a reason (an import's prune, or a campaign).
pub async fn mark_eligibility_removed(
    conn: &impl ConnectionTrait,
    ids: &[i64],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut removed = 0;
    for chunk in ids.chunks(1000) {
        let mut sql = Sql::new(
            ConnectionTrait::get_database_backend(conn),
            "UPDATE eligibility SET status = 'removed', removed_at = ",
        );
        sql.bind(now)
            .push(", removal_reason = ")
            .bind(reason)
            .push(", updated_at = ")
            .bind(now)
            .push(" WHERE status = 'active' AND id IN ");
        sql.tuple(chunk.iter().map(|id| Value::from(*id)));
        removed += conn.execute_raw(sql.build()).await?.rows_affected();
    }
    Ok(removed)
}

/// Ids of the enabled principals of `source_id` whose external id `keep` rejects.
pub async fn enabled_principals_not_kept<C>(
    conn: &C,
    source_id: i64,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<i64>, StoreError>
where
    C: ConnectionTrait + StreamTrait,
{
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        "SELECT id, external_id FROM principal WHERE enabled = ",
    );
    sql.bind(true).push(" AND source_id = ").bind(source_id);
    ids_not_kept(conn, sql, |row| {
        Ok(keep(&row.try_get::<String>("", "external_id")?))
    })
    .await
    .map_err(StoreError::from)
}

/// Disables principals (a pruned people file): they keep their history but may no longer review.
pub async fn disable_principals(
    conn: &impl ConnectionTrait,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut changed = 0;
    for chunk in ids.chunks(1000) {
        let mut sql = Sql::new(
            ConnectionTrait::get_database_backend(conn),
            "UPDATE principal SET enabled = ",
        );
        sql.bind(false)
            .push(", updated_at = ")
            .bind(now)
            .push(" WHERE id IN ");
        sql.tuple(chunk.iter().map(|id| Value::from(*id)));
        changed += conn.execute_raw(sql.build()).await?.rows_affected();
    }
    Ok(changed)
}

/// One eligibility as people read it: names instead of ids.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct EligibilityView {
    pub principal: String,
    pub principal_name: String,
    pub role: String,
    pub risk: String,
    pub scope: String,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub last_activated_at: Option<DateTime<Utc>>,
    pub status: String,
    pub removal_reason: Option<String>,
}

/// Which eligibilities to list.
#[derive(Debug, Clone, Default)]
pub struct EligibilityFilter {
    pub principal: Option<String>,
    pub role: Option<String>,
    /// Include removed ones too.
    pub all: bool,
    /// Free-text search in the principal's id or name, the role or the scope.
    pub search: Option<String>,
    /// At most this many rows (all when `None`), after skipping `offset`.
    pub limit: Option<u64>,
    pub offset: u64,
}

const ELIGIBILITY_FROM: &str = " FROM eligibility e JOIN principal p ON p.id = e.principal_id \
     JOIN \"role\" r ON r.id = e.role_id WHERE 1 = 1";

/// Eligibilities matching `filter`, ordered by principal, role and scope.
pub async fn list_eligibility(
    conn: &impl ConnectionTrait,
    filter: &EligibilityFilter,
) -> Result<Vec<EligibilityView>, StoreError> {
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        &format!(
            "SELECT p.external_id, p.display_name, r.name, r.risk, e.scope, e.start_at, e.end_at, e.last_activated_at, \
             e.status, e.removal_reason{ELIGIBILITY_FROM}"
        ),
    );
    eligibility_where(&mut sql, filter);
    sql.push(" ORDER BY p.external_id, r.name, e.scope");
    if let Some(limit) = filter.limit {
        sql.push(" LIMIT ")
            .bind(limit as i64)
            .push(" OFFSET ")
            .bind(filter.offset as i64);
    }
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            Ok(EligibilityView {
                principal: row.try_get("", "external_id")?,
                principal_name: row.try_get("", "display_name")?,
                role: row.try_get("", "name")?,
                risk: row.try_get("", "risk")?,
                scope: row.try_get("", "scope")?,
                start: row.try_get("", "start_at")?,
                end: row.try_get("", "end_at")?,
                last_activated_at: row.try_get("", "last_activated_at")?,
                status: row.try_get("", "status")?,
                removal_reason: row.try_get("", "removal_reason")?,
            })
        })
        .collect()
}

/// How many eligibilities match `filter` in all (its `limit` and `offset` aside): the total of
/// a paged list.
pub async fn count_eligibility(
    conn: &impl ConnectionTrait,
    filter: &EligibilityFilter,
) -> Result<u64, StoreError> {
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        &format!("SELECT COUNT(*) AS n{ELIGIBILITY_FROM}"),
    );
    eligibility_where(&mut sql, filter);
    let n: i64 = match conn.query_one_raw(sql.build()).await? {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    Ok(n.max(0) as u64)
}

fn eligibility_where(sql: &mut Sql, filter: &EligibilityFilter) {
    if let Some(principal) = &filter.principal {
        sql.push(" AND p.external_id = ").bind(principal.as_str());
    }
    if let Some(role) = &filter.role {
        sql.push(" AND r.name = ").bind(role.as_str());
    }
    if !filter.all {
        sql.push(" AND e.status = 'active'");
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let like = format!("%{}%", search.to_lowercase());
        sql.push(" AND (LOWER(p.external_id) LIKE ")
            .bind(like.clone())
            .push(" OR LOWER(p.display_name) LIKE ")
            .bind(like.clone())
            .push(" OR LOWER(r.name) LIKE ")
            .bind(like.clone())
            .push(" OR LOWER(e.scope) LIKE ")
            .bind(like)
            .push(")");
    }
}

/// Every principal as reviewer resolution sees it. Bounded by the number of people (not of
/// eligibilities), which reviewer resolution needs at hand to walk manager chains.
pub async fn people(
    conn: &impl ConnectionTrait,
) -> Result<HashMap<i64, crate::domain::reviewers::Person>, StoreError> {
    let sql = Sql::new(
        conn.get_database_backend(),
        "SELECT id, manager_id, enabled, kind FROM principal",
    );
    let mut people = HashMap::new();
    for row in conn.query_all_raw(sql.build()).await? {
        people.insert(
            row.try_get("", "id")?,
            crate::domain::reviewers::Person {
                manager_id: row.try_get("", "manager_id")?,
                enabled: row.try_get("", "enabled")?,
                kind: row.try_get("", "kind")?,
            },
        );
    }
    Ok(people)
}

/// A principal's external id, name and email, by id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PrincipalName {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
}

pub async fn names_by_id(
    conn: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashMap<i64, PrincipalName>, StoreError> {
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        let mut sql = Sql::new(
            conn.get_database_backend(),
            "SELECT id, external_id, display_name, email FROM principal WHERE id IN ",
        );
        sql.tuple(chunk.iter().map(|id| Value::from(*id)));
        for row in conn.query_all_raw(sql.build()).await? {
            found.insert(
                row.try_get("", "id")?,
                PrincipalName {
                    id: row.try_get("", "external_id")?,
                    name: row.try_get("", "display_name")?,
                    email: row.try_get("", "email")?,
                },
            );
        }
    }
    Ok(found)
}

/// A principal's own time zone, if their record has one.
pub async fn timezone_of(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<String>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT timezone FROM principal WHERE id = ",
    );
    sql.bind(id);
    Ok(match conn.query_one_raw(sql.build()).await? {
        Some(row) => row.try_get("", "timezone")?,
        None => None,
    })
}

/// The id of the enabled user with this external id or email, who could be handed items.
pub async fn reviewer_candidate(
    conn: &impl ConnectionTrait,
    id_or_email: &str,
) -> Result<Option<i64>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT id FROM principal WHERE kind = 'user' AND enabled = ",
    );
    sql.bind(true)
        .push(" AND (external_id = ")
        .bind(id_or_email)
        .push(" OR LOWER(email) = ")
        .bind(id_or_email.to_lowercase())
        .push(") ORDER BY id LIMIT 1");
    Ok(match conn.query_one_raw(sql.build()).await? {
        Some(row) => Some(row.try_get("", "id")?),
        None => None,
    })
}
