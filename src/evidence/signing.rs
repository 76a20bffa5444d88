//! The bundle's signature: the manifest's body signed with the instance's Ed25519 key, and the
//! check of that signature against the key the manifest names. The signature covers the body
//! without its signature field, serialised in [`Unsigned`]'s field order.

use super::manifest::{FileEntry, Manifest, Unsigned};
use crate::domain::evidence::FORMAT;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

fn canonical(body: &Unsigned) -> Vec<u8> {
    // A struct of strings, integers and a timestamp always serialises.
    serde_json::to_vec(body).unwrap_or_default()
}

/// Signs a manifest body.
pub fn sign(
    key: &SigningKey,
    campaign_id: i64,
    generated_at: DateTime<Utc>,
    files: Vec<FileEntry>,
) -> Manifest {
    let body = Unsigned {
        format: FORMAT.to_string(),
        campaign_id,
        generated_at,
        files,
        public_key: hex::encode(key.verifying_key().to_bytes()),
    };
    let signature = key.sign(&canonical(&body));
    Manifest {
        body,
        signature: hex::encode(signature.to_bytes()),
    }
}

/// Checks the signature with the key named in the manifest; `Err` says what is wrong.
pub fn check_signature(manifest: &Manifest) -> Result<(), String> {
    let key_bytes: [u8; 32] = hex::decode(&manifest.body.public_key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("manifest.json: public_key is not a 32-byte hex Ed25519 key")?;
    let key = VerifyingKey::from_bytes(&key_bytes)
        .map_err(|e| format!("manifest.json: public_key: {e}"))?;
    let signature_bytes: [u8; 64] = hex::decode(&manifest.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("manifest.json: signature is not a 64-byte hex Ed25519 signature")?;
    key.verify(
        &canonical(&manifest.body),
        &Signature::from_bytes(&signature_bytes),
    )
    .map_err(|_| {
        "manifest.json: the signature does not match its contents (the manifest was altered)"
            .to_string()
    })
}

/// A signing key from its hex secret.
pub fn key_from_hex(secret: &str) -> Result<SigningKey, String> {
    let bytes: [u8; 32] = hex::decode(secret)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("the stored signing key is not 32 bytes of hex")?;
    Ok(SigningKey::from_bytes(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_manifest_verifies_and_any_change_breaks_it() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let files = vec![FileEntry {
            name: "items.csv".into(),
            sha256: "ab".repeat(32),
            bytes: 10,
        }];
        let manifest = sign(&key, 3, Utc::now(), files);
        assert_eq!(check_signature(&manifest), Ok(()));
        let text = serde_json::to_string(&manifest).unwrap();
        let back: Manifest = serde_json::from_str(&text).unwrap();
        assert_eq!(check_signature(&back), Ok(()));
        let mut altered = manifest.clone();
        altered.body.files[0].bytes = 11;
        assert!(check_signature(&altered).is_err());
        let mut resigned = sign(
            &SigningKey::from_bytes(&[8u8; 32]),
            3,
            manifest.body.generated_at,
            manifest.body.files.clone(),
        );
        resigned.body.public_key = manifest.body.public_key.clone();
        assert!(check_signature(&resigned).is_err());
    }
}
