//! Reads of principals and roles: by external id or id, names, time zones, and the people
//! reviewer resolution walks.

use crate::domain::directory::PrincipalKind;
use crate::domain::reviewers::Person;
use crate::store::StoreError;
use entity::{principal, role};
use futures::TryStreamExt;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    StreamTrait,
};
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
    if external_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, String, Option<i64>)> = principal::Entity::find()
        .select_only()
        .columns([
            principal::Column::Id,
            principal::Column::ExternalId,
            principal::Column::ManagerId,
        ])
        .filter(principal::Column::ExternalId.is_in(external_ids.iter().copied()))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, external_id, manager_id)| (external_id, PrincipalRef { id, manager_id }))
        .collect())
}

/// A principal's display name.
pub async fn display_name(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<String>, StoreError> {
    Ok(principal::Entity::find_by_id(id)
        .select_only()
        .column(principal::Column::DisplayName)
        .into_tuple()
        .one(conn)
        .await?)
}

/// Every role's id by name (roles number in the hundreds at most).
pub async fn role_ids(conn: &impl ConnectionTrait) -> Result<HashMap<String, i64>, StoreError> {
    let rows: Vec<(String, i64)> = role::Entity::find()
        .select_only()
        .column(role::Column::Name)
        .column(role::Column::Id)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Every principal as reviewer resolution sees it. Bounded by the number of people (not of
/// eligibilities), which reviewer resolution needs at hand to walk manager chains. Streamed:
/// read whole first, the rows of a million people held about 500 MiB before the map was built.
pub async fn people<C>(conn: &C) -> Result<HashMap<i64, Person>, StoreError>
where
    C: ConnectionTrait + StreamTrait,
{
    let rows = principal::Entity::find()
        .select_only()
        .columns([
            principal::Column::Id,
            principal::Column::ManagerId,
            principal::Column::Enabled,
            principal::Column::Kind,
        ])
        .into_tuple::<(i64, Option<i64>, bool, PrincipalKind)>()
        .stream(conn)
        .await?;
    Ok(rows
        .map_ok(|(id, manager_id, enabled, kind)| {
            let person = Person {
                manager_id,
                enabled,
                kind,
            };
            (id, person)
        })
        .try_collect()
        .await?)
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
    // A thousand ids a statement keeps SQLite well under its placeholder limit.
    for chunk in ids.chunks(1000) {
        let rows: Vec<(i64, String, String, Option<String>)> = principal::Entity::find()
            .select_only()
            .columns([
                principal::Column::Id,
                principal::Column::ExternalId,
                principal::Column::DisplayName,
                principal::Column::Email,
            ])
            .filter(principal::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(conn)
            .await?;
        found.extend(rows.into_iter().map(|(id, external_id, name, email)| {
            let name = PrincipalName {
                id: external_id,
                name,
                email,
            };
            (id, name)
        }));
    }
    Ok(found)
}

/// A principal's own time zone, if their record has one.
pub async fn timezone_of(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<String>, StoreError> {
    let timezone: Option<Option<String>> = principal::Entity::find_by_id(id)
        .select_only()
        .column(principal::Column::Timezone)
        .into_tuple()
        .one(conn)
        .await?;
    Ok(timezone.flatten())
}

/// The id of the enabled user with this external id or email, who could be handed items.
pub async fn reviewer_candidate(
    conn: &impl ConnectionTrait,
    id_or_email: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(principal::Entity::find()
        .select_only()
        .column(principal::Column::Id)
        .filter(principal::Column::Kind.eq(PrincipalKind::User))
        .filter(principal::Column::Enabled.eq(true))
        .filter(
            Condition::any()
                .add(principal::Column::ExternalId.eq(id_or_email))
                .add(
                    Expr::expr(Func::lower(Expr::col(principal::Column::Email)))
                        .eq(id_or_email.to_lowercase()),
                ),
        )
        .order_by_asc(principal::Column::Id)
        .into_tuple()
        .one(conn)
        .await?)
}
