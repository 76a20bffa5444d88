//! OpenID Connect sign-in for the console (docs/oidc.md): the `[oidc]` settings of attest.toml
//! and the provider adapter (discovery, the authorization-code flow with PKCE, ID-token
//! validation), both on the `openidconnect` crate. What a sign-in means for accounts and
//! sessions is the engine's (`engine::oidc`).

pub mod config;
pub mod provider;

pub use config::OidcSettings;
pub use provider::{Identity, OidcError, OidcProvider};
