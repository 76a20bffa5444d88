//! The credential lifecycle's queries: accounts and API tokens listed for admins, and the
//! statements that disable, re-role, re-password and revoke (sessions, API tokens, reviewer
//! links). Each revoking statement sets `revoked_at` only where it is still empty, so the first
//! revocation's time is the one kept.

use super::backend::RowLock;
use super::sql::Sql;
use super::StoreError;
use chrono::{DateTime, Utc};
use entity::{account, api_token, reviewer_token, session};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryResult};

/// A cleared time column.
const NO_TIME: Option<DateTime<Utc>> = None;

/// An account as the lifecycle pages and commands show it (never its password hash).
#[derive(Debug, Clone)]
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

const ACCOUNT_COLUMNS: &str =
    "SELECT id, email, role, enabled, failed_logins, locked_until, last_login_at, created_at FROM account";

fn account_from_row(row: &QueryResult) -> Result<AccountInfo, DbErr> {
    Ok(AccountInfo {
        id: row.try_get("", "id")?,
        email: row.try_get("", "email")?,
        role: row.try_get("", "role")?,
        enabled: row.try_get("", "enabled")?,
        failed_logins: row.try_get("", "failed_logins")?,
        locked_until: row.try_get("", "locked_until")?,
        last_login_at: row.try_get("", "last_login_at")?,
        created_at: row.try_get("", "created_at")?,
    })
}

/// Every account, by email.
pub async fn accounts(conn: &impl ConnectionTrait) -> Result<Vec<AccountInfo>, StoreError> {
    let sql = Sql::new(
        conn.get_database_backend(),
        &format!("{ACCOUNT_COLUMNS} ORDER BY LOWER(email), id"),
    );
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(account_from_row)
        .collect::<Result<_, DbErr>>()
        .map_err(StoreError::from)
}

/// Account changes queue up one behind the other on PostgreSQL (SQLite allows one writer
/// anyway): two admins disabling each other at once cannot both pass the last-admin check, and
/// the row locks below are never taken in opposite orders (no deadlock).
pub async fn serialize_account_changes(conn: &impl ConnectionTrait) -> Result<(), StoreError> {
    Ok(super::backend::serialize(conn, super::backend::ExclusiveChange::AccountChanges).await?)
}

/// One account, by id or (case-insensitive) email. On PostgreSQL the row is locked for the
/// rest of the transaction, so two admins changing the same account queue up.
pub async fn account(
    conn: &impl ConnectionTrait,
    id: Option<i64>,
    email: &str,
) -> Result<Option<AccountInfo>, StoreError> {
    let backend = conn.get_database_backend();
    let mut sql = Sql::new(backend, ACCOUNT_COLUMNS);
    match id {
        Some(id) => sql.push(" WHERE id = ").bind(id),
        None => sql
            .push(" WHERE LOWER(email) = ")
            .bind(email.trim().to_lowercase()),
    };
    sql.lock_rows(RowLock::Update);
    conn.query_one_raw(sql.build())
        .await?
        .map(|row| account_from_row(&row))
        .transpose()
        .map_err(StoreError::from)
}

/// How many enabled admins there are besides `except`. On PostgreSQL their rows are locked
/// until the transaction ends, so none of them changes before this transaction's check holds.
pub async fn other_enabled_admins(
    conn: &impl ConnectionTrait,
    except: i64,
) -> Result<u64, StoreError> {
    let backend = conn.get_database_backend();
    let mut sql = Sql::new(
        backend,
        "SELECT id FROM account WHERE role = 'admin' AND enabled = ",
    );
    sql.bind(true).push(" AND id <> ").bind(except);
    sql.lock_rows(RowLock::Update);
    Ok(conn.query_all_raw(sql.build()).await?.len() as u64)
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
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const TOKEN_COLUMNS: &str = "SELECT t.id, t.name, t.role, a.email AS created_by, t.created_at, t.last_used_at, t.revoked_at \
     FROM api_token t JOIN account a ON a.id = t.created_by";

fn token_from_row(row: &QueryResult) -> Result<TokenInfo, DbErr> {
    Ok(TokenInfo {
        id: row.try_get("", "id")?,
        name: row.try_get("", "name")?,
        role: row.try_get("", "role")?,
        created_by: row.try_get("", "created_by")?,
        created_at: row.try_get("", "created_at")?,
        last_used_at: row.try_get("", "last_used_at")?,
        revoked_at: row.try_get("", "revoked_at")?,
    })
}

/// Every API token, live ones first, newest first.
pub async fn tokens(conn: &impl ConnectionTrait) -> Result<Vec<TokenInfo>, StoreError> {
    let sql = Sql::new(
        conn.get_database_backend(),
        &format!(
            "{TOKEN_COLUMNS} ORDER BY CASE WHEN t.revoked_at IS NULL THEN 0 ELSE 1 END, t.id DESC"
        ),
    );
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(token_from_row)
        .collect::<Result<_, DbErr>>()
        .map_err(StoreError::from)
}

/// Tokens with this id, or (when `id` is `None`) this name.
pub async fn tokens_named(
    conn: &impl ConnectionTrait,
    id: Option<i64>,
    name: &str,
) -> Result<Vec<TokenInfo>, StoreError> {
    let mut sql = Sql::new(conn.get_database_backend(), TOKEN_COLUMNS);
    match id {
        Some(id) => sql.push(" WHERE t.id = ").bind(id),
        None => sql.push(" WHERE t.name = ").bind(name.trim()),
    };
    sql.push(" ORDER BY t.id");
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(token_from_row)
        .collect::<Result<_, DbErr>>()
        .map_err(StoreError::from)
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
/// their names (hand-written: the update returns them).
pub async fn revoke_tokens_of(
    conn: &impl ConnectionTrait,
    account_id: i64,
    role: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
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
