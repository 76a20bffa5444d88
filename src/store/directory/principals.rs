//! Reads of principals and roles: by external id or id, names, time zones, and the people
//! reviewer resolution walks.

use crate::store::sql::Sql;
use crate::store::StoreError;
use sea_orm::{ConnectionTrait, Value};
use std::collections::HashMap;

/// A principal as other rows refer to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrincipalRef {
    pub id: i64,
    pub manager_id: Option<i64>,
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
