//! Console accounts, their sessions and API tokens. Plain inserts, reads and updates go
//! through the entities; the few statements the query builder cannot say are hand-written and
//! say why.

use super::sql::Sql;
use super::StoreError;
use chrono::{DateTime, Utc};
use entity::{account, api_token, session};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, JoinType, QueryFilter, QuerySelect,
    RelationDef, Set,
};

/// `session.account_id = account.id` (the entities declare no relations of their own).
fn session_account_join() -> RelationDef {
    session::Entity::belongs_to(account::Entity)
        .from(session::Column::AccountId)
        .to(account::Column::Id)
        .into()
}

/// `api_token.created_by = account.id`: the account that created a token.
pub(super) fn token_creator() -> RelationDef {
    api_token::Entity::belongs_to(account::Entity)
        .from(api_token::Column::CreatedBy)
        .to(account::Column::Id)
        .into()
}

#[derive(Debug, Clone)]
pub struct AccountRow {
    pub id: i64,
    pub email: String,
    pub role: String,
    pub password_hash: String,
    pub enabled: bool,
    pub failed_logins: i32,
    pub locked_until: Option<DateTime<Utc>>,
}

/// Inserts an account; `Ok(None)` when the email is taken.
pub async fn insert_account(
    conn: &impl ConnectionTrait,
    email: &str,
    role: &str,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    let row = account::ActiveModel {
        email: Set(email.to_string()),
        role: Set(role.to_string()),
        password_hash: Set(password_hash.to_string()),
        enabled: Set(true),
        failed_logins: Set(0),
        created_at: Set(now),
        ..Default::default()
    };
    match account::Entity::insert(row)
        .exec(conn)
        .await
        .map_err(StoreError::from)
    {
        Ok(inserted) => Ok(Some(inserted.last_insert_id)),
        Err(StoreError::Conflict(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The account whose email is `email`, compared without case.
pub async fn account_by_email(
    conn: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<AccountRow>, StoreError> {
    Ok(account::Entity::find()
        .filter(
            Expr::expr(Func::lower(Expr::col(account::Column::Email)))
                .eq(email.trim().to_lowercase()),
        )
        .one(conn)
        .await?
        .map(|a| AccountRow {
            id: a.id,
            email: a.email,
            role: a.role,
            password_hash: a.password_hash,
            enabled: a.enabled,
            failed_logins: a.failed_logins,
            locked_until: a.locked_until,
        }))
}

/// Counts a failed login in one statement and returns the new count (hand-written: an update
/// that reads its own result with RETURNING): concurrent failures all count (reading the count and writing it back + 1 lost all but two of 40). Every failure
/// moves `locked_until` (see [`hold_until`]), so a count whose `locked_until` is before
/// `forget_before` is old and starts again at one.
pub async fn count_failure(
    conn: &impl ConnectionTrait,
    id: i64,
    forget_before: DateTime<Utc>,
) -> Result<i32, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE account SET failed_logins = CASE WHEN locked_until IS NOT NULL AND locked_until < ",
    );
    sql.bind(forget_before)
        .push(" THEN 1 ELSE failed_logins + 1 END WHERE id = ")
        .bind(id)
        .push(" RETURNING failed_logins");
    let row = conn
        .query_one_raw(sql.build())
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("account #{id}")))?;
    row.try_get("", "failed_logins").map_err(StoreError::from)
}

/// Holds further attempts for the account until `until` (never shortening a later hold another
/// failure set; hand-written for its CASE). Run in the transaction of [`count_failure`], whose row lock orders concurrent
/// failures.
pub async fn hold_until(
    conn: &impl ConnectionTrait,
    id: i64,
    until: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE account SET locked_until = CASE WHEN locked_until IS NOT NULL AND locked_until > ",
    );
    sql.bind(until)
        .push(" THEN locked_until ELSE ")
        .bind(until)
        .push(" END WHERE id = ")
        .bind(id);
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

pub async fn record_login(
    conn: &impl ConnectionTrait,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    account::Entity::update_many()
        .col_expr(account::Column::FailedLogins, Expr::value(0i32))
        .col_expr(
            account::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(account::Column::LastLoginAt, Expr::value(now))
        .filter(account::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn insert_session(
    conn: &impl ConnectionTrait,
    token_hash: &str,
    account_id: i64,
    csrf: &str,
    client_addr: Option<&str>,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = session::ActiveModel {
        token_hash: Set(token_hash.to_string()),
        account_id: Set(account_id),
        csrf: Set(csrf.to_string()),
        client_addr: Set(client_addr.map(str::to_string)),
        created_at: Set(now),
        expires_at: Set(expires_at),
        ..Default::default()
    };
    session::Entity::insert(row).exec(conn).await?;
    Ok(())
}

/// A live session's account: (session id, account id, email, role, csrf).
pub async fn live_session(
    conn: &impl ConnectionTrait,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<(i64, i64, String, String, String)>, StoreError> {
    Ok(session::Entity::find()
        .select_only()
        .column(session::Column::Id)
        .column(session::Column::AccountId)
        .column(account::Column::Email)
        .column(account::Column::Role)
        .column(session::Column::Csrf)
        .join(JoinType::InnerJoin, session_account_join())
        .filter(session::Column::RevokedAt.is_null())
        .filter(account::Column::Enabled.eq(true))
        .filter(session::Column::ExpiresAt.gt(now))
        .filter(session::Column::TokenHash.eq(token_hash))
        .into_tuple()
        .one(conn)
        .await?)
}

pub async fn end_session(
    conn: &impl ConnectionTrait,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(now))
        .filter(session::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn insert_api_token(
    conn: &impl ConnectionTrait,
    name: &str,
    token_hash: &str,
    role: &str,
    created_by: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = api_token::ActiveModel {
        name: Set(name.to_string()),
        token_hash: Set(token_hash.to_string()),
        role: Set(role.to_string()),
        created_by: Set(created_by),
        created_at: Set(now),
        ..Default::default()
    };
    api_token::Entity::insert(row).exec(conn).await?;
    Ok(())
}

/// A live API token: (id, name, role, last used). A token works only while the account that
/// created it is enabled, so disabling an account stops its tokens even in the moment before
/// they are revoked. Reading writes nothing: the caller records the use when it is due.
pub async fn live_api_token(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<(i64, String, String, Option<DateTime<Utc>>)>, StoreError> {
    Ok(api_token::Entity::find()
        .select_only()
        .columns([
            api_token::Column::Id,
            api_token::Column::Name,
            api_token::Column::Role,
            api_token::Column::LastUsedAt,
        ])
        .join(JoinType::InnerJoin, token_creator())
        .filter(api_token::Column::RevokedAt.is_null())
        .filter(account::Column::Enabled.eq(true))
        .filter(api_token::Column::TokenHash.eq(token_hash))
        .into_tuple()
        .one(conn)
        .await?)
}

/// The account behind a session token whatever became of the session, so a refused cookie can
/// be audited with a name: (email, expires_at, revoked_at, account enabled).
pub async fn session_account(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<(String, DateTime<Utc>, Option<DateTime<Utc>>, bool)>, StoreError> {
    Ok(session::Entity::find()
        .select_only()
        .column(account::Column::Email)
        .column(session::Column::ExpiresAt)
        .column(session::Column::RevokedAt)
        .column(account::Column::Enabled)
        .join(JoinType::InnerJoin, session_account_join())
        .filter(session::Column::TokenHash.eq(token_hash))
        .into_tuple()
        .one(conn)
        .await?)
}
