//! The bulk writes of an import: the source, people, their managers, roles and eligibility.
//! The multi-row writes are hand-written: upserts that update only rows that changed, and one
//! CASE update for the managers, which sea-orm's builder cannot express.

use crate::domain::eligibility::{Assignment, EligibilityStatus};
use crate::domain::records::{PersonRow, RoleRow};
use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::source;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, Set, Value,
};

/// The name of the source that the database itself is: imports land here.
pub const BUILTIN_SOURCE: &str = "builtin";

/// An eligibility row whose principal and role have been resolved to ids.
#[derive(Debug, Clone)]
pub struct EligibilityWrite {
    pub principal_id: i64,
    pub role_id: i64,
    pub scope: String,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub last_activated_at: Option<DateTime<Utc>>,
    /// Eligible, or active (standing access).
    pub assignment: Assignment,
}

/// The id of the named source, created on first use.
pub async fn ensure_source(
    conn: &impl ConnectionTrait,
    name: &str,
    kind: &str,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let row = source::ActiveModel {
        name: Set(name.to_string()),
        kind: Set(kind.to_string()),
        created_at: Set(now),
        ..Default::default()
    };
    source::Entity::insert(row)
        .on_conflict(
            OnConflict::column(source::Column::Name)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    source::Entity::find()
        .select_only()
        .column(source::Column::Id)
        .filter(source::Column::Name.eq(name))
        .into_tuple()
        .one(conn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("source {name}")).into())
}

/// Inserts or updates people by external id; returns how many rows were inserted or changed.
/// The manager link is set separately ([`set_managers`]) because a manager may come later in the file.
/// With `attributes`, each person's attributes become the row's (a people import: the file is
/// their truth); without, they are left as they are (a source's sync carries none).
pub async fn upsert_people(
    conn: &impl ConnectionTrait,
    rows: &[PersonRow],
    source_id: i64,
    now: DateTime<Utc>,
    attributes: bool,
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    // hand-written: multi-row upsert with a conditional update, which sea-orm's builder cannot express.
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        if attributes {
            "INSERT INTO principal (external_id, display_name, email, kind, enabled, timezone, source_id, created_at, updated_at, attributes) VALUES "
        } else {
            "INSERT INTO principal (external_id, display_name, email, kind, enabled, timezone, source_id, created_at, updated_at) VALUES "
        },
    );
    sql.rows(rows.iter().map(|p| {
        let mut row: Vec<sea_orm::Value> = vec![
            p.external_id.as_str().into(),
            p.name.as_str().into(),
            p.email.clone().into(),
            p.kind.into(),
            p.enabled.into(),
            p.timezone.clone().into(),
            source_id.into(),
            now.into(),
            now.into(),
        ];
        if attributes {
            row.push(p.attributes.clone().into());
        }
        row
    }));
    let mut columns = vec![
        "display_name",
        "email",
        "kind",
        "enabled",
        "timezone",
        "source_id",
    ];
    if attributes {
        columns.push("attributes");
    }
    update_when_changed(&mut sql, "principal", "external_id", &columns);
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}

/// Completes a multi-row insert into `table` as an upsert on `key`: a row already there takes
/// the listed `columns` (and `updated_at`) from the new one, but only when one of them changed,
/// so an unchanged row is neither written nor counted. Hand-written because sea-orm's builder
/// has no conditional `DO UPDATE … WHERE`.
fn update_when_changed(sql: &mut Sql, table: &str, key: &str, columns: &[&str]) {
    let set: Vec<String> = columns
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let changed: Vec<String> = columns
        .iter()
        .map(|c| format!("{table}.{c} IS DISTINCT FROM excluded.{c}"))
        .collect();
    sql.push(&format!(
        " ON CONFLICT ({key}) DO UPDATE SET {}, updated_at = excluded.updated_at WHERE {}",
        set.join(", "),
        changed.join(" OR ")
    ));
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
    // hand-written: one CASE update for every pair, which sea-orm's builder cannot express.
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
    // hand-written: multi-row upsert with a conditional update, which sea-orm's builder cannot express.
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
    update_when_changed(
        &mut sql,
        "\"role\"",
        "name",
        &["owner_id", "risk", "description", "source_id"],
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
    // hand-written: multi-row upsert with a conditional update, which sea-orm's builder cannot express.
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        "INSERT INTO eligibility (principal_id, role_id, scope, start_at, end_at, last_activated_at, granted_via, status, source_id, created_at, updated_at, assignment) VALUES ",
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
            e.assignment.into(),
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
         removal_reason = NULL, removal_receipt = NULL, source_id = excluded.source_id, updated_at = excluded.updated_at, \
         assignment = excluded.assignment \
         WHERE eligibility.start_at IS DISTINCT FROM excluded.start_at OR eligibility.end_at IS DISTINCT FROM excluded.end_at \
         OR eligibility.last_activated_at IS DISTINCT FROM ({activated}) OR eligibility.status <> 'active' \
         OR eligibility.source_id IS DISTINCT FROM excluded.source_id OR eligibility.assignment <> excluded.assignment"
    ));
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}
