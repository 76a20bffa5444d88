//! The instance's Ed25519 signing keys: the newest signs bundles, all of them pin a bundle
//! being verified on the instance's own machine.

use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

/// The newest signing key: (public hex, secret hex).
pub async fn signing_key(
    conn: &impl ConnectionTrait,
) -> Result<Option<(String, String)>, StoreError> {
    let sql = Sql::new(
        conn.get_database_backend(),
        "SELECT public_key, secret_key FROM signing_key ORDER BY id DESC LIMIT 1",
    );
    match conn.query_one_raw(sql.build()).await? {
        Some(row) => Ok(Some((
            row.try_get("", "public_key")?,
            row.try_get("", "secret_key")?,
        ))),
        None => Ok(None),
    }
}

/// Every public key this instance has signed with, oldest first.
pub async fn public_keys(conn: &impl ConnectionTrait) -> Result<Vec<String>, StoreError> {
    let sql = Sql::new(
        conn.get_database_backend(),
        "SELECT public_key FROM signing_key ORDER BY id",
    );
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| row.try_get("", "public_key"))
        .collect::<Result<_, DbErr>>()
        .map_err(StoreError::from)
}

pub async fn insert_signing_key(
    conn: &impl ConnectionTrait,
    public: &str,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO signing_key (algorithm, public_key, secret_key, created_at) VALUES ",
    );
    sql.tuple(["ed25519".into(), public.into(), secret.into(), now.into()]);
    conn.execute_raw(sql.build()).await?;
    Ok(())
}
