//! `oidc_login`: an OpenID Connect sign-in sent to the provider and not yet back. The state is
//! kept only as its hash; the row is taken (deleted) by the callback, so it works once.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oidc_login")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// SHA-256 (hex) of the `state` sent to the provider (and kept in the browser's cookie).
    pub state_hash: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier the code is exchanged with.
    pub pkce_verifier: String,
    /// Where the person goes after signing in (a same-site path, or empty for their console).
    pub next_path: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
