//! The instance's Ed25519 signing keys: the newest signs bundles, all of them pin a bundle
//! being verified on the instance's own machine.

use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::signing_key;
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder, QuerySelect, Set};

/// The newest signing key: (public hex, secret hex).
pub async fn signing_key(
    conn: &impl ConnectionTrait,
) -> Result<Option<(String, String)>, StoreError> {
    Ok(signing_key::Entity::find()
        .select_only()
        .column(signing_key::Column::PublicKey)
        .column(signing_key::Column::SecretKey)
        .order_by_desc(signing_key::Column::Id)
        .into_tuple()
        .one(conn)
        .await?)
}

/// Every public key this instance has signed with, oldest first.
pub async fn public_keys(conn: &impl ConnectionTrait) -> Result<Vec<String>, StoreError> {
    Ok(signing_key::Entity::find()
        .select_only()
        .column(signing_key::Column::PublicKey)
        .order_by_asc(signing_key::Column::Id)
        .into_tuple()
        .all(conn)
        .await?)
}

pub async fn insert_signing_key(
    conn: &impl ConnectionTrait,
    public: &str,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = signing_key::ActiveModel {
        algorithm: Set("ed25519".to_string()),
        public_key: Set(public.to_string()),
        secret_key: Set(secret.to_string()),
        created_at: Set(now),
        ..Default::default()
    };
    signing_key::Entity::insert(row).exec(conn).await?;
    Ok(())
}
