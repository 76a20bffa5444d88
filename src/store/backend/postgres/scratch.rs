//! Scratch databases for `attest bench` on PostgreSQL: one created beside the database the
//! user named, and dropped afterwards (SQLite needs none: the bench uses a new file).

use crate::store::StoreError;
use sea_orm::{ConnectionTrait, Database};

/// Creates (after dropping any left by an earlier run of this name) the database `name` on the
/// server of `admin_url`; returns its URL.
pub async fn create_postgres(admin_url: &str, name: &str) -> Result<String, StoreError> {
    let admin = Database::connect(admin_url).await?;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
        .await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    admin.close().await?;
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url, |(base, _)| base);
    Ok(format!("{base}/{name}"))
}

/// Drops the database `name` on the server of `admin_url`, cutting its connections.
pub async fn drop_postgres(admin_url: &str, name: &str) -> Result<(), StoreError> {
    let admin = Database::connect(admin_url).await?;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    admin.close().await.map_err(StoreError::from)
}
