//! The credential lifecycle's queries: accounts and API tokens listed for admins, and the
//! statements that disable, re-role, re-password and revoke (sessions, API tokens, reviewer
//! links). Each revoking statement sets `revoked_at` only where it is still empty, so the first
//! revocation's time is the one kept.

use super::accounts::token_creator;
use super::sql::Sql;
use super::StoreError;
use crate::domain::access::Role;
use chrono::{DateTime, Utc};
use entity::{account, api_token, reviewer_token, session};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, JoinType, QueryFilter, QueryOrder,
    QuerySelect, Select,
};

/// A cleared time column.
const NO_TIME: Option<DateTime<Utc>> = None;

/// An account as the lifecycle pages and commands show it (never its password hash).
#[derive(Debug, Clone, FromQueryResult)]
pub struct AccountInfo {
    pub id: i64,
    pub email: String,
    pub role: String,
    pub enabled: bool,
    pub failed_logins: i32,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Accounts with the columns of [`AccountInfo`] (the password hash stays behind).
fn account_infos() -> Select<account::Entity> {
    account::Entity::find().select_only().columns([
        account::Column::Id,
        account::Column::Email,
        account::Column::Role,
        account::Column::Enabled,
        account::Column::FailedLogins,
        account::Column::LockedUntil,
        account::Column::LastLoginAt,
        account::Column::CreatedAt,
    ])
}

/// An account's email without case, as accounts are compared and ordered.
fn lower_email() -> Expr {
    Expr::expr(Func::lower(Expr::col(account::Column::Email)))
}

/// Every account, by email.
pub async fn accounts(conn: &impl ConnectionTrait) -> Result<Vec<AccountInfo>, StoreError> {
    Ok(account_infos()
        .order_by_asc(lower_email())
        .order_by_asc(account::Column::Id)
        .into_model()
        .all(conn)
        .await?)
}

/// Account changes queue up one behind the other on PostgreSQL (SQLite allows one writer
/// anyway): two admins disabling each other at once cannot both pass the last-admin check, and
/// the row locks below are never taken in opposite orders (no deadlock).
pub async fn serialize_account_changes(conn: &impl ConnectionTrait) -> Result<(), StoreError> {
    Ok(super::backend::serialize(conn, super::backend::ExclusiveChange::AccountChanges).await?)
}

/// One account, by id or (case-insensitive) email. On PostgreSQL the row is locked for the
/// rest of the transaction, so two admins changing the same account queue up (SQLite's query
/// builder writes no lock: its write transaction holds the whole database).
pub async fn account(
    conn: &impl ConnectionTrait,
    id: Option<i64>,
    email: &str,
) -> Result<Option<AccountInfo>, StoreError> {
    let found = match id {
        Some(id) => account_infos().filter(account::Column::Id.eq(id)),
        None => account_infos().filter(lower_email().eq(email.trim().to_lowercase())),
    };
    Ok(found.lock_exclusive().into_model().one(conn).await?)
}

/// How many enabled admins there are besides `except`. On PostgreSQL their rows are locked
/// until the transaction ends, so none of them changes before this transaction's check holds.
pub async fn other_enabled_admins(
    conn: &impl ConnectionTrait,
    except: i64,
) -> Result<u64, StoreError> {
    let ids: Vec<i64> = account::Entity::find()
        .select_only()
        .column(account::Column::Id)
        .filter(account::Column::Role.eq(Role::Admin))
        .filter(account::Column::Enabled.eq(true))
        .filter(account::Column::Id.ne(except))
        // FOR UPDATE on PostgreSQL; sea-query writes no lock clause for SQLite, whose write
        // transaction already excludes every other writer.
        .lock_exclusive()
        .into_tuple()
        .all(conn)
        .await?;
    Ok(ids.len() as u64)
}

pub async fn set_enabled(
    conn: &impl ConnectionTrait,
    id: i64,
    enabled: bool,
) -> Result<(), StoreError> {
    let mut update =
        account::Entity::update_many().col_expr(account::Column::Enabled, Expr::value(enabled));
    if enabled {
        // A fresh start: the lock-out of the old failures no longer stands in the way.
        update = update
            .col_expr(account::Column::FailedLogins, Expr::value(0i32))
            .col_expr(account::Column::LockedUntil, Expr::value(NO_TIME));
    }
    update.filter(account::Column::Id.eq(id)).exec(conn).await?;
    Ok(())
}

pub async fn set_role(conn: &impl ConnectionTrait, id: i64, role: &str) -> Result<(), StoreError> {
    account::Entity::update_many()
        .col_expr(account::Column::Role, Expr::value(role))
        .filter(account::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// A new password hash; it also lifts a lock-out, since the old failures were against the old
/// password.
pub async fn set_password_hash(
    conn: &impl ConnectionTrait,
    id: i64,
    hash: &str,
) -> Result<(), StoreError> {
    account::Entity::update_many()
        .col_expr(account::Column::PasswordHash, Expr::value(hash))
        .col_expr(account::Column::FailedLogins, Expr::value(0i32))
        .col_expr(account::Column::LockedUntil, Expr::value(NO_TIME))
        .filter(account::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Ends every live session of an account but `keep` (the caller's own, when they change their
/// own password); returns how many ended.
pub async fn revoke_sessions(
    conn: &impl ConnectionTrait,
    account_id: i64,
    keep: Option<i64>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut update = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(now))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::AccountId.eq(account_id))
        .filter(session::Column::ExpiresAt.gt(now));
    if let Some(keep) = keep {
        update = update.filter(session::Column::Id.ne(keep));
    }
    Ok(update.exec(conn).await?.rows_affected)
}

/// An API token as listed (never its hash).
#[derive(Debug, Clone, FromQueryResult)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// API tokens with the columns of [`TokenInfo`]: the creating account's email for its id.
fn token_infos() -> Select<api_token::Entity> {
    api_token::Entity::find()
        .select_only()
        .columns([
            api_token::Column::Id,
            api_token::Column::Name,
            api_token::Column::Role,
        ])
        .column_as(account::Column::Email, "created_by")
        .columns([
            api_token::Column::CreatedAt,
            api_token::Column::LastUsedAt,
            api_token::Column::RevokedAt,
        ])
        .join(JoinType::InnerJoin, token_creator())
}

/// Every API token, live ones first, newest first.
pub async fn tokens(conn: &impl ConnectionTrait) -> Result<Vec<TokenInfo>, StoreError> {
    Ok(token_infos()
        .order_by_asc(Expr::col((api_token::Entity, api_token::Column::RevokedAt)).is_not_null())
        .order_by_desc(api_token::Column::Id)
        .into_model()
        .all(conn)
        .await?)
}

/// Tokens with this id, or (when `id` is `None`) this name.
pub async fn tokens_named(
    conn: &impl ConnectionTrait,
    id: Option<i64>,
    name: &str,
) -> Result<Vec<TokenInfo>, StoreError> {
    let found = match id {
        Some(id) => token_infos().filter(api_token::Column::Id.eq(id)),
        None => token_infos().filter(api_token::Column::Name.eq(name.trim())),
    };
    Ok(found
        .order_by_asc(api_token::Column::Id)
        .into_model()
        .all(conn)
        .await?)
}

/// Revokes one token if it is still live; whether it was.
pub async fn revoke_token(
    conn: &impl ConnectionTrait,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let revoked = api_token::Entity::update_many()
        .col_expr(api_token::Column::RevokedAt, Expr::value(now))
        .filter(api_token::Column::RevokedAt.is_null())
        .filter(api_token::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(revoked.rows_affected == 1)
}

/// Revokes the live tokens an account created (only those with `role` when given); returns
/// their names.
pub async fn revoke_tokens_of(
    conn: &impl ConnectionTrait,
    account_id: i64,
    role: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    // hand-written: an update that returns the names it revoked (RETURNING).
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE api_token SET revoked_at = ",
    );
    sql.bind(now)
        .push(" WHERE revoked_at IS NULL AND created_by = ")
        .bind(account_id);
    if let Some(role) = role {
        sql.push(" AND role = ").bind(role);
    }
    sql.push(" RETURNING name");
    let mut names: Vec<String> = conn
        .query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| row.try_get("", "name"))
        .collect::<Result<_, _>>()?;
    names.sort();
    Ok(names)
}

/// Records a token's use. Only called when the stored value is old enough to be worth a write.
pub async fn touch_token(
    conn: &impl ConnectionTrait,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    api_token::Entity::update_many()
        .col_expr(api_token::Column::LastUsedAt, Expr::value(now))
        .filter(api_token::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Revokes every live link of a reviewer in a campaign; returns how many.
pub async fn revoke_reviewer_tokens(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    reviewer_id: i64,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    Ok(reviewer_token::Entity::update_many()
        .col_expr(reviewer_token::Column::RevokedAt, Expr::value(now))
        .filter(reviewer_token::Column::RevokedAt.is_null())
        .filter(reviewer_token::Column::CampaignId.eq(campaign_id))
        .filter(reviewer_token::Column::ReviewerId.eq(reviewer_id))
        .exec(conn)
        .await?
        .rows_affected)
}
