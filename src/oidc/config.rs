//! `[oidc]` of attest.toml: the provider, this client, how the role claim maps to console roles,
//! and whether the local password sign-in stays on. The client secret is never in the file:
//! `client_secret_env` names the environment variable that holds it.

use serde::{Deserialize, Serialize};

/// The path of the callback; `redirect_url` must end with it.
pub const CALLBACK_PATH: &str = "/auth/oidc/callback";
/// Where the sign-in button leads.
pub const START_PATH: &str = "/auth/oidc/start";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The issuer, exactly as the provider's discovery document says it (Entra:
    /// `https://login.microsoftonline.com/<tenant id>/v2.0`).
    pub issuer: String,
    /// This application's client ID at the provider; ID tokens must be for it (`aud`).
    pub client_id: String,
    /// The environment variable that holds the client secret.
    pub client_secret_env: String,
    /// Where the provider sends people back: this instance's base URL + `/auth/oidc/callback`.
    pub redirect_url: String,
    /// The name on the sign-in button ("Sign in with …").
    #[serde(default = "default_display_name")]
    pub display_name: String,
    /// The ID-token claim whose values give the console role (Entra: `groups` or `roles`).
    pub role_claim: String,
    /// Claim values that make an admin.
    #[serde(default)]
    pub admin_values: Vec<String>,
    /// Claim values that make an auditor (when none makes an admin).
    #[serde(default)]
    pub auditor_values: Vec<String>,
    /// Whether the email-and-password sign-in stays on (the break-glass path).
    #[serde(default = "yes")]
    pub local_login: bool,
}

fn default_display_name() -> String {
    "single sign-on".to_string()
}

fn yes() -> bool {
    true
}

/// Limits of the settings: keeps the sign-in page and the comparisons small.
const VALUE_MAX_CHARS: usize = 2_000;
const VALUES_MAX: usize = 100;

impl OidcSettings {
    /// Checks the settings; the message names the key that is wrong.
    pub fn check(&self) -> Result<(), String> {
        let url = |key: &str, value: &str| -> Result<url::Url, String> {
            let parsed = url::Url::parse(value)
                .map_err(|e| format!("[oidc] {key}: {value:?} is not a URL ({e})"))?;
            if !matches!(parsed.scheme(), "https" | "http") {
                return Err(format!(
                    "[oidc] {key}: {value:?} must be an https:// (or, for a test, http://) URL"
                ));
            }
            Ok(parsed)
        };
        url("issuer", &self.issuer)?;
        let redirect = url("redirect_url", &self.redirect_url)?;
        if redirect.path() != CALLBACK_PATH || redirect.query().is_some() {
            return Err(format!(
                "[oidc] redirect_url: {:?} must be this instance's base URL followed by {CALLBACK_PATH}",
                self.redirect_url
            ));
        }
        for (key, value) in [
            ("client_id", &self.client_id),
            ("role_claim", &self.role_claim),
            ("display_name", &self.display_name),
        ] {
            if value.trim().is_empty() || value.chars().count() > VALUE_MAX_CHARS {
                return Err(format!(
                    "[oidc] {key}: must be set, at most {VALUE_MAX_CHARS} characters"
                ));
            }
        }
        let env_ok = !self.client_secret_env.is_empty()
            && self
                .client_secret_env
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !env_ok {
            return Err(format!(
                "[oidc] client_secret_env: {:?} is not an environment variable name (letters, digits, '_'); the secret itself never goes in the file",
                self.client_secret_env
            ));
        }
        if self.admin_values.is_empty() && self.auditor_values.is_empty() {
            return Err(
                "[oidc] admin_values, auditor_values: at least one claim value must map to a role"
                    .into(),
            );
        }
        for (key, values) in [
            ("admin_values", &self.admin_values),
            ("auditor_values", &self.auditor_values),
        ] {
            if values.len() > VALUES_MAX
                || values.iter().any(|v| {
                    v.is_empty() || v.chars().count() > crate::domain::oidc::CLAIM_VALUE_MAX_CHARS
                })
            {
                return Err(format!(
                    "[oidc] {key}: at most {VALUES_MAX} values of 1 to {} characters",
                    crate::domain::oidc::CLAIM_VALUE_MAX_CHARS
                ));
            }
        }
        Ok(())
    }

    /// The client secret from the environment variable `client_secret_env`.
    pub fn client_secret(&self) -> Result<String, String> {
        match std::env::var(&self.client_secret_env) {
            Ok(secret) if !secret.is_empty() => Ok(secret),
            _ => Err(format!(
                "[oidc] client_secret_env: the environment variable {} is not set (it holds the client secret)",
                self.client_secret_env
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> OidcSettings {
        OidcSettings {
            issuer: "https://login.microsoftonline.com/tenant/v2.0".into(),
            client_id: "client".into(),
            client_secret_env: "ATTEST_OIDC_SECRET".into(),
            redirect_url: "https://attest.example.com/auth/oidc/callback".into(),
            display_name: "Entra ID".into(),
            role_claim: "groups".into(),
            admin_values: vec!["g1".into()],
            auditor_values: vec![],
            local_login: true,
        }
    }

    #[test]
    fn errors_name_the_key() {
        assert!(settings().check().is_ok());
        let mut s = settings();
        s.issuer = "login.example.com".into();
        assert!(s.check().unwrap_err().contains("[oidc] issuer"));
        let mut s = settings();
        s.redirect_url = "https://attest.example.com/callback".into();
        assert!(s.check().unwrap_err().contains("[oidc] redirect_url"));
        let mut s = settings();
        s.client_secret_env = "the secret".into();
        assert!(s.check().unwrap_err().contains("[oidc] client_secret_env"));
        let mut s = settings();
        s.admin_values.clear();
        assert!(s.check().unwrap_err().contains("admin_values"));
        let mut s = settings();
        s.role_claim = " ".into();
        assert!(s.check().unwrap_err().contains("[oidc] role_claim"));
    }
}
