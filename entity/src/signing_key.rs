//! `signing_key`: the instance's Ed25519 key for signing evidence manifests.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_key")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub algorithm: String,
    /// Hex of the 32-byte public key, as `attest evidence key` prints it.
    pub public_key: String,
    /// Hex of the 32-byte secret key.
    pub secret_key: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
