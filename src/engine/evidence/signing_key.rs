//! The instance's signing key: created on first use, read back to sign every bundle, and read
//! as the pin when a bundle is verified on the instance's own machine.

use crate::engine::{Engine, EngineError};
use crate::evidence::signing::key_from_hex;
use crate::store::evidence as ev;
use ed25519_dalek::SigningKey;

/// The public keys of the instance whose database is at `url`, to pin the signer of a bundle
/// being verified on the instance's own machine: `None` when there is no such database (it is
/// opened read-only, never created or migrated), it cannot be reached, or it has no key yet.
pub async fn instance_pin(url: &str) -> Option<crate::evidence::verify::Pin> {
    let conn = crate::store::Store::open_existing(url).await.ok()??;
    let keys = ev::public_keys(&conn).await.ok()?;
    (!keys.is_empty()).then(|| crate::evidence::verify::Pin {
        keys,
        from: format!(
            "this instance's key (read from {})",
            crate::config::mask_url(url)
        ),
    })
}

impl Engine {
    /// The instance's signing key, created on first use.
    pub async fn signing_key(&self) -> Result<SigningKey, EngineError> {
        let conn = self.store().conn();
        if let Some((_, secret)) = ev::signing_key(conn).await? {
            return key_from_hex(&secret).map_err(EngineError::Io);
        }
        let secret = crate::engine::random_bytes::<32>()?;
        let key = SigningKey::from_bytes(&secret);
        let now = self.now();
        let txn = self.store().begin().await?;
        ev::insert_signing_key(
            &txn,
            &hex::encode(key.verifying_key().to_bytes()),
            &hex::encode(secret),
            now,
        )
        .await?;
        crate::store::audit::append(
            &txn,
            now,
            "engine",
            "evidence.key_created",
            None,
            &serde_json::json!({ "public_key": hex::encode(key.verifying_key().to_bytes()) }),
        )
        .await?;
        txn.commit().await?;
        // Two instances creating a key at once: both use the newest, so read it back.
        match ev::signing_key(conn).await? {
            Some((_, secret)) => key_from_hex(&secret).map_err(EngineError::Io),
            None => Ok(key),
        }
    }
}
