//! Activation history: writing imported activations (once each), moving eligibility's
//! `last_activated_at` forward, and the reads behind the weekly activation review.

use super::sql::Sql;
use super::StoreError;
use chrono::{DateTime, Utc};
use entity::{activation, activation_review, eligibility};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, Set};

/// One activation to record.
#[derive(Debug, Clone)]
pub struct ActivationWrite {
    pub principal_id: i64,
    pub role_id: i64,
    pub scope: String,
    pub activated_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub justification: Option<String>,
}

/// Records the activations not recorded yet (holder × role × scope × start); returns how many
/// were new.
pub async fn insert(
    conn: &impl ConnectionTrait,
    rows: &[ActivationWrite],
    via: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let models = rows.iter().map(|r| activation::ActiveModel {
        principal_id: Set(r.principal_id),
        role_id: Set(r.role_id),
        scope: Set(r.scope.clone()),
        activated_at: Set(r.activated_at),
        ended_at: Set(r.ended_at),
        justification: Set(r.justification.clone()),
        via: Set(via.to_string()),
        created_at: Set(now),
        ..Default::default()
    });
    Ok(activation::Entity::insert_many(models)
        .on_conflict(
            OnConflict::columns([
                activation::Column::PrincipalId,
                activation::Column::RoleId,
                activation::Column::Scope,
                activation::Column::ActivatedAt,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?)
}

/// Moves the eligibility's `last_activated_at` forward to `at` when it is earlier (or none);
/// returns whether it moved.
pub async fn advance_last_activated(
    conn: &impl ConnectionTrait,
    principal_id: i64,
    role_id: i64,
    scope: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let moved = eligibility::Entity::update_many()
        .col_expr(eligibility::Column::LastActivatedAt, Expr::value(at))
        .col_expr(eligibility::Column::UpdatedAt, Expr::value(now))
        .filter(eligibility::Column::PrincipalId.eq(principal_id))
        .filter(eligibility::Column::RoleId.eq(role_id))
        .filter(eligibility::Column::Scope.eq(scope))
        .filter(
            Condition::any()
                .add(eligibility::Column::LastActivatedAt.is_null())
                .add(eligibility::Column::LastActivatedAt.lt(at)),
        )
        .exec(conn)
        .await?;
    Ok(moved.rows_affected > 0)
}

/// An activation with its holder and role, as the review shows it.
#[derive(Debug, Clone)]
pub struct ActivationView {
    pub principal_id: i64,
    pub holder: String,
    pub holder_name: String,
    pub kind: String,
    pub timezone: Option<String>,
    pub role_id: i64,
    pub role: String,
    pub role_owner_id: Option<i64>,
    pub scope: String,
    pub activated_at: DateTime<Utc>,
    pub justification: Option<String>,
}

/// Every activation in `[from, to)`, oldest first.
pub async fn between(
    conn: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ActivationView>, StoreError> {
    // hand-written: a report's join of three tables, read once per report.
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT a.principal_id, p.external_id, p.display_name, p.kind, p.timezone, a.role_id, r.name AS role_name, \
         r.owner_id, a.scope, a.activated_at, a.justification FROM activation a \
         JOIN principal p ON p.id = a.principal_id JOIN \"role\" r ON r.id = a.role_id WHERE a.activated_at >= ",
    );
    sql.bind(from)
        .push(" AND a.activated_at < ")
        .bind(to)
        .push(" ORDER BY a.activated_at, p.external_id, r.name, a.scope");
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            Ok(ActivationView {
                principal_id: row.try_get("", "principal_id")?,
                holder: row.try_get("", "external_id")?,
                holder_name: row.try_get("", "display_name")?,
                kind: row.try_get("", "kind")?,
                timezone: row.try_get("", "timezone")?,
                role_id: row.try_get("", "role_id")?,
                role: row.try_get("", "role_name")?,
                role_owner_id: row.try_get("", "owner_id")?,
                scope: row.try_get("", "scope")?,
                activated_at: row.try_get("", "activated_at")?,
                justification: row.try_get("", "justification")?,
            })
        })
        .collect()
}

/// A holder of active eligibility for a role: `(role id, principal id, external id, name)`.
pub type Holder = (i64, i64, String, String);

/// The holders of active eligibility (any scope) of the roles activated in `[from, to)`.
pub async fn holders_of_activated_roles(
    conn: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Holder>, StoreError> {
    // hand-written: DISTINCT over a sub-select, a report's aggregate.
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT DISTINCT e.role_id, e.principal_id, p.external_id, p.display_name FROM eligibility e \
         JOIN principal p ON p.id = e.principal_id WHERE e.status = 'active' AND e.role_id IN \
         (SELECT a.role_id FROM activation a WHERE a.activated_at >= ",
    );
    sql.bind(from)
        .push(" AND a.activated_at < ")
        .bind(to)
        .push(")");
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.try_get("", "role_id")?,
                row.try_get("", "principal_id")?,
                row.try_get("", "external_id")?,
                row.try_get("", "display_name")?,
            ))
        })
        .collect()
}

/// Active eligibility a completed campaign reviewed, with its last activation known by `to`.
#[derive(Debug, Clone)]
pub struct Reviewed {
    pub holder: String,
    pub holder_name: String,
    pub role_id: i64,
    pub role: String,
    pub role_owner_id: Option<i64>,
    pub scope: String,
    pub last_activated_at: Option<DateTime<Utc>>,
    /// The latest activation recorded in the activation table before `to`.
    pub last_recorded: Option<DateTime<Utc>>,
    /// The launch of the latest campaign completed before `to` that reviewed it.
    pub reviewed_launch: DateTime<Utc>,
    pub campaign_id: i64,
}

/// Every active eligibility that a campaign completed before `to` reviewed, with the launch of
/// the latest such campaign (the one with the highest id: campaigns are created as they launch).
pub async fn reviewed_eligibility(
    conn: &impl ConnectionTrait,
    to: DateTime<Utc>,
) -> Result<Vec<Reviewed>, StoreError> {
    // hand-written: an aggregate over the items of completed campaigns (reached through
    // review_item's campaign index), joined to eligibility, with the latest recorded activation
    // read through activation's unique index.
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT p.external_id, p.display_name, e.role_id, r.name AS role_name, r.owner_id, e.scope, \
         e.last_activated_at, (SELECT MAX(a.activated_at) FROM activation a WHERE a.principal_id = e.principal_id \
         AND a.role_id = e.role_id AND a.scope = e.scope AND a.activated_at < ",
    );
    sql.bind(to)
        .push(
            ") AS last_recorded, lr.reviewed_launch, lr.campaign_id FROM (SELECT i.eligibility_id, \
             MAX(c.launched_at) AS reviewed_launch, MAX(c.id) AS campaign_id FROM review_item i \
             JOIN campaign c ON c.id = i.campaign_id WHERE c.state = 'completed' AND c.completed_at < ",
        )
        .bind(to)
        .push(
            " GROUP BY i.eligibility_id) lr JOIN eligibility e ON e.id = lr.eligibility_id \
             JOIN principal p ON p.id = e.principal_id JOIN \"role\" r ON r.id = e.role_id \
             WHERE e.status = 'active' AND lr.reviewed_launch IS NOT NULL \
             ORDER BY r.name, p.external_id, e.scope",
        );
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            Ok(Reviewed {
                holder: row.try_get("", "external_id")?,
                holder_name: row.try_get("", "display_name")?,
                role_id: row.try_get("", "role_id")?,
                role: row.try_get("", "role_name")?,
                role_owner_id: row.try_get("", "owner_id")?,
                scope: row.try_get("", "scope")?,
                last_activated_at: row.try_get("", "last_activated_at")?,
                last_recorded: row.try_get("", "last_recorded")?,
                reviewed_launch: row.try_get("", "reviewed_launch")?,
                campaign_id: row.try_get("", "campaign_id")?,
            })
        })
        .collect()
}

/// Whether the week's review was queued already.
pub async fn week_queued(conn: &impl ConnectionTrait, week: &str) -> Result<bool, StoreError> {
    Ok(activation_review::Entity::find_by_id(week.to_string())
        .one(conn)
        .await?
        .is_some())
}

/// Claims the week's review for this tick: true for the one caller that inserts the row, false
/// when another tick (or instance) already did.
pub async fn claim_week(
    conn: &impl ConnectionTrait,
    week: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let row = activation_review::ActiveModel {
        week: Set(week.to_string()),
        mails: Set(0),
        queued_at: Set(now),
    };
    let inserted = activation_review::Entity::insert(row)
        .on_conflict(
            OnConflict::column(activation_review::Column::Week)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(inserted == 1)
}

/// Records how many mails the week's review queued.
pub async fn set_week_mails(
    conn: &impl ConnectionTrait,
    week: &str,
    mails: i64,
) -> Result<(), StoreError> {
    activation_review::Entity::update_many()
        .col_expr(activation_review::Column::Mails, Expr::value(mails))
        .filter(activation_review::Column::Week.eq(week))
        .exec(conn)
        .await?;
    Ok(())
}

/// Whether any activation before `before` was recorded at all.
pub async fn any_recorded(
    conn: &impl ConnectionTrait,
    before: DateTime<Utc>,
) -> Result<bool, StoreError> {
    use sea_orm::{PaginatorTrait, QuerySelect};
    Ok(activation::Entity::find()
        .select_only()
        .column(activation::Column::Id)
        .filter(activation::Column::ActivatedAt.lt(before))
        .limit(1)
        .count(conn)
        .await?
        > 0)
}
