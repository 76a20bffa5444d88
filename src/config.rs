//! Effective configuration: built-in defaults, then `attest.toml`, then `ATTEST_*` variables.
//!
//! Secrets (passwords inside URLs) never leave this module unmasked: [`Config::masked`] is what
//! `attest config` prints and what logs may show.

use crate::domain::retry::RetryPolicy;
use crate::sources::config::{SourceConfig, MAX_SOURCE_NAME};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The default database: a SQLite file in the working directory, created on first use.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://attest.db?mode=rwc";

/// The settings an `ATTEST_*` variable may set (other `ATTEST_*` variables belong to tests and tools).
const KEYS: [&str; 6] = [
    "database_url",
    "smtp_url",
    "base_url",
    "bind",
    "outbox_dir",
    "mail_from",
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// `smtp://host:port`, `smtps://…` or `smtp://…?tls=starttls`; unset = `.eml` files in `outbox_dir`.
    pub smtp_url: Option<String>,
    /// The address mail and links send people to.
    pub base_url: String,
    /// Where `attest serve` listens.
    pub bind: String,
    /// Where mail goes as `.eml` files when no SMTP server is configured.
    pub outbox_dir: PathBuf,
    /// The From: address of outgoing mail.
    pub mail_from: String,
    /// `[mail]`: how often a mail is tried before it is reported failed, and how long apart.
    #[serde(default)]
    pub mail: MailSettings,
    /// `[sources.NAME]`: where eligibility lives besides imported files (README, "Sources").
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    /// `[oidc]`: OpenID Connect sign-in for the console (docs/oidc.md); unset = passwords only.
    #[serde(default)]
    pub oidc: Option<crate::oidc::OidcSettings>,
    /// `[webhooks.NAME]`: signed outbound events (docs/webhooks.md); none by default.
    #[serde(default)]
    pub webhooks: BTreeMap<String, crate::webhooks::WebhookEndpoint>,
    /// `[lifecycle]`: what happens to a person's eligibility when they leave (README, "Leavers").
    #[serde(default)]
    pub lifecycle: crate::domain::leavers::LifecycleSettings,
}

/// `[mail]` of attest.toml: the retry policy of outgoing mail (README, "Configuration").
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MailSettings {
    /// Attempts before a mail is given up and reported failed (1 to 50).
    pub max_attempts: i32,
    /// The wait after the first failed attempt, doubled after each further one (1 s to a day).
    pub retry_base_seconds: i64,
    /// The longest wait between two attempts (retry_base_seconds to a week).
    pub retry_max_seconds: i64,
}

impl Default for MailSettings {
    fn default() -> Self {
        let policy = RetryPolicy::default();
        Self {
            max_attempts: policy.max_attempts,
            retry_base_seconds: policy.base_seconds,
            retry_max_seconds: policy.max_seconds,
        }
    }
}

impl MailSettings {
    pub fn retry(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts,
            base_seconds: self.retry_base_seconds,
            max_seconds: self.retry_max_seconds,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: DEFAULT_DATABASE_URL.to_string(),
            smtp_url: None,
            base_url: "http://127.0.0.1:8080".to_string(),
            bind: "127.0.0.1:8080".to_string(),
            outbox_dir: PathBuf::from("outbox"),
            mail_from: "attest <attest@localhost>".to_string(),
            mail: MailSettings::default(),
            sources: BTreeMap::new(),
            oidc: None,
            webhooks: BTreeMap::new(),
            lifecycle: Default::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Loads defaults, then `file` (which must exist when given explicitly; `attest.toml` in the
    /// working directory is read when present), then `ATTEST_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                if !path.exists() {
                    return Err(ConfigError(format!("{}: no such file", path.display())));
                }
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file("attest.toml")),
        }
        figment = figment.merge(Env::prefixed("ATTEST_").only(&KEYS));
        let config: Config = figment.extract().map_err(|e| ConfigError(e.to_string()))?;
        config.check_sources()?;
        let file_name = file.map_or_else(|| "attest.toml".into(), |p| p.display().to_string());
        crate::webhooks::config::check(&file_name, &config.webhooks).map_err(ConfigError)?;
        config.mail.retry().check("mail").map_err(ConfigError)?;
        config.lifecycle.check().map_err(ConfigError)?;
        if let Some(oidc) = &config.oidc {
            oidc.check().map_err(ConfigError)?;
        }
        Ok(config)
    }

    /// Source names are short identifiers ("builtin" is the database itself).
    fn check_sources(&self) -> Result<(), ConfigError> {
        for name in self.sources.keys() {
            let valid = !name.is_empty()
                && name.len() <= MAX_SOURCE_NAME
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                return Err(ConfigError(format!(
                    "[sources.{name}]: a source name is 1 to {MAX_SOURCE_NAME} letters, digits, '-' or '_'"
                )));
            }
            if name == "builtin" {
                return Err(ConfigError(
                    "[sources.builtin]: \"builtin\" is the database itself (what imports fill); choose another name".into(),
                ));
            }
        }
        Ok(())
    }

    /// The configuration with every password replaced by `****`, for printing.
    pub fn masked(&self) -> Self {
        Self {
            database_url: mask_url(&self.database_url),
            smtp_url: self.smtp_url.as_deref().map(mask_url),
            ..self.clone()
        }
    }
}

/// Hides the password of `scheme://user:password@host/…`; anything else is returned unchanged.
pub fn mask_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            // set_password only fails for URLs that cannot have one, which had none to hide.
            let _ = url.set_password(Some("****"));
            url.to_string()
        }
        _ => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            mask_url("postgres://attest:s3cret@db.example:5432/attest"),
            "postgres://attest:****@db.example:5432/attest"
        );
        assert_eq!(mask_url(DEFAULT_DATABASE_URL), DEFAULT_DATABASE_URL);
        assert_eq!(
            mask_url("smtp://mailer:pw@127.0.0.1:2525"),
            "smtp://mailer:****@127.0.0.1:2525"
        );
    }
}
