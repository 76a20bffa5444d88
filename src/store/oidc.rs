//! OpenID Connect sign-in: the sign-ins waiting for the provider (`oidc_login`) and the accounts
//! that sign-in created (`account.oidc_subject`).

use super::sql::Sql;
use super::StoreError;
use chrono::{DateTime, Utc};
use entity::{account, oidc_login};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};

/// A sign-in taken back from `oidc_login` by its state.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    pub nonce: String,
    pub pkce_verifier: String,
    pub next_path: String,
    pub expires_at: DateTime<Utc>,
}

/// Records a sign-in sent to the provider.
pub async fn insert_pending(
    conn: &impl ConnectionTrait,
    state_hash: &str,
    nonce: &str,
    pkce_verifier: &str,
    next_path: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = oidc_login::ActiveModel {
        state_hash: Set(state_hash.to_string()),
        nonce: Set(nonce.to_string()),
        pkce_verifier: Set(pkce_verifier.to_string()),
        next_path: Set(next_path.to_string()),
        created_at: Set(now),
        expires_at: Set(expires_at),
        ..Default::default()
    };
    oidc_login::Entity::insert(row).exec(conn).await?;
    Ok(())
}

/// Deletes the sign-ins that expired before `now`; returns how many.
pub async fn purge_expired(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    Ok(oidc_login::Entity::delete_many()
        .filter(oidc_login::Column::ExpiresAt.lt(now))
        .exec(conn)
        .await?
        .rows_affected)
}

/// How many sign-ins are waiting for the provider.
pub async fn count_pending(conn: &impl ConnectionTrait) -> Result<u64, StoreError> {
    Ok(oidc_login::Entity::find().count(conn).await?)
}

/// Takes the sign-in with this state hash: deletes it and returns what it held, so of two
/// callbacks with one state (a replay, or two instances at once) only one gets it.
/// Hand-written: a DELETE that returns the row it deleted.
pub async fn take_pending(
    conn: &impl ConnectionTrait,
    state_hash: &str,
) -> Result<Option<PendingLogin>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "DELETE FROM oidc_login WHERE state_hash = ",
    );
    sql.bind(state_hash)
        .push(" RETURNING nonce, pkce_verifier, next_path, expires_at");
    let Some(row) = conn.query_one_raw(sql.build()).await? else {
        return Ok(None);
    };
    Ok(Some(PendingLogin {
        nonce: row.try_get("", "nonce")?,
        pkce_verifier: row.try_get("", "pkce_verifier")?,
        next_path: row.try_get("", "next_path")?,
        expires_at: row.try_get("", "expires_at")?,
    }))
}

/// An account as OpenID Connect sign-in sees it.
#[derive(Debug, Clone)]
pub struct LinkedAccount {
    pub id: i64,
    pub email: String,
    pub role: String,
    pub enabled: bool,
    pub oidc_subject: Option<String>,
}

fn linked(a: account::Model) -> LinkedAccount {
    LinkedAccount {
        id: a.id,
        email: a.email,
        role: a.role,
        enabled: a.enabled,
        oidc_subject: a.oidc_subject,
    }
}

/// The account the provider's `sub` signed in before.
pub async fn account_by_subject(
    conn: &impl ConnectionTrait,
    subject: &str,
) -> Result<Option<LinkedAccount>, StoreError> {
    Ok(account::Entity::find()
        .filter(account::Column::OidcSubject.eq(subject))
        .one(conn)
        .await?
        .map(linked))
}

/// The account with this email (compared without case), local or not.
pub async fn account_by_email(
    conn: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<LinkedAccount>, StoreError> {
    let Some(row) = super::accounts::account_by_email(conn, email).await? else {
        return Ok(None);
    };
    Ok(account::Entity::find_by_id(row.id)
        .one(conn)
        .await?
        .map(linked))
}

/// Creates the account of a first OpenID Connect sign-in; `Ok(None)` when the email or the
/// subject is taken (by a concurrent first sign-in, or a local account). `password_hash` is a
/// value no password matches.
pub async fn insert_linked_account(
    conn: &impl ConnectionTrait,
    email: &str,
    role: &str,
    subject: &str,
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
        oidc_subject: Set(Some(subject.to_string())),
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
