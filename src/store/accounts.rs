//! Console accounts, their sessions and API tokens.

use super::sql::Sql;
use super::StoreError;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, SqlErr};

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
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO account (email, role, password_hash, enabled, failed_logins, created_at) VALUES ",
    );
    sql.tuple([
        email.into(),
        role.into(),
        password_hash.into(),
        true.into(),
        0i32.into(),
        now.into(),
    ])
    .push(" RETURNING id");
    match conn.query_one_raw(sql.build()).await {
        Ok(Some(row)) => Ok(Some(row.try_get("", "id")?)),
        Ok(None) => Err(StoreError::from(DbErr::RecordNotInserted)),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Ok(None),
        Err(e) => Err(StoreError::from(e)),
    }
}

pub async fn account_by_email(
    conn: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<AccountRow>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT id, email, role, password_hash, enabled, failed_logins, locked_until FROM account WHERE LOWER(email) = ",
    );
    sql.bind(email.trim().to_lowercase());
    conn.query_one_raw(sql.build())
        .await?
        .map(|row| {
            Ok(AccountRow {
                id: row.try_get("", "id")?,
                email: row.try_get("", "email")?,
                role: row.try_get("", "role")?,
                password_hash: row.try_get("", "password_hash")?,
                enabled: row.try_get("", "enabled")?,
                failed_logins: row.try_get("", "failed_logins")?,
                locked_until: row.try_get("", "locked_until")?,
            })
        })
        .transpose()
}

/// Counts a failed login in one statement and returns the new count: concurrent failures all
/// count (reading the count and writing it back + 1 lost all but two of 40). Every failure
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
/// failure set). Run in the transaction of [`count_failure`], whose row lock orders concurrent
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
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE account SET failed_logins = 0, locked_until = NULL, last_login_at = ",
    );
    sql.bind(now).push(" WHERE id = ").bind(id);
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_session(
    conn: &impl ConnectionTrait,
    token_hash: &str,
    account_id: i64,
    csrf: &str,
    client_addr: Option<&str>,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO session (token_hash, account_id, csrf, client_addr, created_at, expires_at) VALUES ",
    );
    sql.tuple([
        token_hash.into(),
        account_id.into(),
        csrf.into(),
        client_addr.map(str::to_string).into(),
        now.into(),
        expires_at.into(),
    ]);
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// A live session's account: (session id, account id, email, role, csrf).
pub async fn live_session(
    conn: &impl ConnectionTrait,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<(i64, i64, String, String, String)>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT s.id, s.account_id, a.email, a.role, s.csrf FROM session s JOIN account a ON a.id = s.account_id \
         WHERE s.revoked_at IS NULL AND a.enabled = ",
    );
    sql.bind(true)
        .push(" AND s.expires_at > ")
        .bind(now)
        .push(" AND s.token_hash = ")
        .bind(token_hash);
    conn.query_one_raw(sql.build())
        .await?
        .map(|row| {
            Ok((
                row.try_get("", "id")?,
                row.try_get("", "account_id")?,
                row.try_get("", "email")?,
                row.try_get("", "role")?,
                row.try_get("", "csrf")?,
            ))
        })
        .transpose()
}

pub async fn end_session(
    conn: &impl ConnectionTrait,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE session SET revoked_at = ",
    );
    sql.bind(now).push(" WHERE id = ").bind(id);
    conn.execute_raw(sql.build()).await?;
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
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO api_token (name, token_hash, role, created_by, created_at) VALUES ",
    );
    sql.tuple([
        name.into(),
        token_hash.into(),
        role.into(),
        created_by.into(),
        now.into(),
    ]);
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// A live API token: (id, name, role, last used). A token works only while the account that
/// created it is enabled, so disabling an account stops its tokens even in the moment before
/// they are revoked. Reading writes nothing: the caller records the use when it is due.
pub async fn live_api_token(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<(i64, String, String, Option<DateTime<Utc>>)>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT t.id, t.name, t.role, t.last_used_at FROM api_token t JOIN account a ON a.id = t.created_by \
         WHERE t.revoked_at IS NULL AND a.enabled = ",
    );
    sql.bind(true).push(" AND t.token_hash = ").bind(token_hash);
    conn.query_one_raw(sql.build())
        .await?
        .map(|row| {
            Ok((
                row.try_get("", "id")?,
                row.try_get("", "name")?,
                row.try_get("", "role")?,
                row.try_get("", "last_used_at")?,
            ))
        })
        .transpose()
}

/// The account behind a session token whatever became of the session, so a refused cookie can
/// be audited with a name: (email, expires_at, revoked_at, account enabled).
pub async fn session_account(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<(String, DateTime<Utc>, Option<DateTime<Utc>>, bool)>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT a.email, s.expires_at, s.revoked_at, a.enabled FROM session s JOIN account a ON a.id = s.account_id \
         WHERE s.token_hash = ",
    );
    sql.bind(token_hash);
    conn.query_one_raw(sql.build())
        .await?
        .map(|row| {
            Ok((
                row.try_get("", "email")?,
                row.try_get("", "expires_at")?,
                row.try_get("", "revoked_at")?,
                row.try_get("", "enabled")?,
            ))
        })
        .transpose()
}
