//! `manifest.json`: the SHA-256 of every file of a bundle, and its strict reading. The manifest
//! is signed (see `evidence::signing`) over its body without the signature field, serialised in
//! [`Unsigned`]'s field order.

use crate::domain::evidence::FORMAT;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
}

/// What is signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsigned {
    pub format: String,
    pub campaign_id: i64,
    pub generated_at: DateTime<Utc>,
    pub files: Vec<FileEntry>,
    /// Hex of the Ed25519 public key that signed it.
    pub public_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(flatten)]
    pub body: Unsigned,
    /// Hex of the Ed25519 signature over the canonical JSON of `body`.
    pub signature: String,
}

/// `manifest.json` as a verifier reads it: every field named, nothing else admitted. A field the
/// signature does not cover (anything outside [`Unsigned`]) could say anything, so a manifest
/// carrying one is refused rather than read. (`Manifest` flattens its body, and serde cannot
/// deny unknown fields through a flatten: hence this twin.)
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StrictManifest {
    format: String,
    campaign_id: i64,
    generated_at: DateTime<Utc>,
    files: Vec<FileEntry>,
    public_key: String,
    signature: String,
}

/// Parses a manifest strictly: unknown fields, an unknown format and file names that are not
/// plain names inside the bundle are refused, each with the reason.
pub fn parse_strict(text: &str) -> Result<Manifest, String> {
    let m: StrictManifest = serde_json::from_str(text)
        .map_err(|e| format!("manifest.json: not a valid manifest: {e}"))?;
    if m.format != FORMAT {
        return Err(format!(
            "manifest.json: format {} is not one this version of attest reads ({FORMAT})",
            crate::domain::limits::quote(&m.format)
        ));
    }
    for file in &m.files {
        let plain = !file.name.is_empty()
            && !file.name.starts_with('.')
            && file
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !plain || file.name == "manifest.json" {
            return Err(format!(
                "manifest.json: lists {}, which is not a file name a bundle holds",
                crate::domain::limits::quote(&file.name)
            ));
        }
    }
    Ok(Manifest {
        body: Unsigned {
            format: m.format,
            campaign_id: m.campaign_id,
            generated_at: m.generated_at,
            files: m.files,
            public_key: m.public_key,
        },
        signature: m.signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::signing::sign;
    use ed25519_dalek::SigningKey;

    #[test]
    fn a_strict_parse_refuses_what_the_signature_does_not_cover() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let files = vec![FileEntry {
            name: "items.csv".into(),
            sha256: "ab".repeat(32),
            bytes: 10,
        }];
        let manifest = sign(&key, 3, Utc::now(), files);
        let text = serde_json::to_string(&manifest).unwrap();
        assert_eq!(parse_strict(&text), Ok(manifest.clone()));
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["note"] = "unsigned".into();
        let err = parse_strict(&value.to_string()).unwrap_err();
        assert!(err.contains("unknown field `note`"), "{err}");
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["files"][0]["extra"] = 1.into();
        assert!(parse_strict(&value.to_string()).is_err());
        for name in ["../etc/passwd", "a/b.csv", ".hidden", "manifest.json", ""] {
            let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
            value["files"][0]["name"] = name.into();
            let err = parse_strict(&value.to_string()).unwrap_err();
            assert!(err.contains("not a file name"), "{name}: {err}");
        }
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["format"] = "attest-evidence/99".into();
        assert!(parse_strict(&value.to_string())
            .unwrap_err()
            .contains("format"));
    }
}
