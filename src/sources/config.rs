//! `[sources.NAME]` in attest.toml: where eligibility lives outside attest's own tables.
//!
//! Only the *names* of the environment variables that hold secrets are configured; the secrets
//! themselves are read from the environment when a connector is built, so `attest config` and
//! `attest source list` have nothing secret to print.

use serde::{Deserialize, Serialize};

/// The longest name a source may have (it appears in receipts, the console and the evidence).
pub const MAX_SOURCE_NAME: usize = 64;

/// One configured source, by its `kind`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SourceConfig {
    /// Microsoft Entra PIM through Microsoft Graph v1.0.
    Entra(EntraConfig),
    /// An LDAP directory: eligibility is membership of the listed groups.
    Ldap(LdapConfig),
    /// Removals only: one signed POST per removal; the population comes from imported files.
    Webhook(WebhookConfig),
}

/// What a sync does with an eligibility a campaign removed that the source lists again.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OnReappearance {
    /// Record it as a finding (admins and auditors see it); the eligibility is active again.
    #[default]
    Flag,
    /// Record it and remove it again through the source.
    Remove,
}

impl OnReappearance {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Flag => "flag",
            Self::Remove => "remove",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EntraConfig {
    /// The directory (tenant) id or a verified domain, e.g. `contoso.onmicrosoft.com`.
    pub tenant_id: String,
    /// The application (client) id of the app registration attest signs in as.
    pub client_id: String,
    /// The environment variable holding the client secret.
    pub client_secret_env: String,
    #[serde(default = "default_authority")]
    pub authority_url: String,
    #[serde(default = "default_graph")]
    pub graph_url: String,
    #[serde(default)]
    pub on_reappearance: OnReappearance,
    /// A schedule as definitions write them (`hourly` is the default); `serve` syncs on it.
    #[serde(default)]
    pub sync_schedule: Option<String>,
    /// Risk of the roles this source lists, by role name; unnamed roles are `high` (every
    /// Entra directory role is privileged).
    #[serde(default)]
    pub role_risk: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LdapConfig {
    /// `ldap://host:port` or `ldaps://host:port`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS before binding.
    #[serde(default)]
    pub starttls: bool,
    /// Accept a server certificate no trusted authority signed (test directories only).
    #[serde(default)]
    pub tls_insecure: bool,
    pub bind_dn: String,
    /// The environment variable holding the bind password.
    pub password_env: String,
    pub people_base: String,
    #[serde(default = "default_people_filter")]
    pub people_filter: String,
    /// `member` or `uniqueMember` (values are DNs) or `memberUid` (values are uids).
    #[serde(default = "default_member_attribute")]
    pub member_attribute: String,
    #[serde(default)]
    pub on_reappearance: OnReappearance,
    #[serde(default)]
    pub sync_schedule: Option<String>,
    #[serde(default)]
    pub groups: Vec<LdapGroup>,
}

/// One group whose members are eligible for `role` at `scope`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LdapGroup {
    pub dn: String,
    pub role: String,
    #[serde(default = "default_scope")]
    pub scope: String,
    #[serde(default = "default_risk")]
    pub risk: String,
    /// A person id (uid) who owns the role.
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// The environment variable holding the HMAC-SHA256 key for `X-Attest-Signature`.
    pub secret_env: String,
    #[serde(default)]
    pub on_reappearance: OnReappearance,
}

impl SourceConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Entra(_) => "entra",
            Self::Ldap(_) => "ldap",
            Self::Webhook(_) => "webhook",
        }
    }

    pub fn on_reappearance(&self) -> OnReappearance {
        match self {
            Self::Entra(c) => c.on_reappearance,
            Self::Ldap(c) => c.on_reappearance,
            Self::Webhook(c) => c.on_reappearance,
        }
    }

    /// Whether `attest source sync` can pull a population from it (a webhook only removes).
    pub fn syncs(&self) -> bool {
        !matches!(self, Self::Webhook(_))
    }

    /// The schedule `serve` syncs it on.
    pub fn sync_schedule(&self) -> Option<&str> {
        match self {
            Self::Entra(c) => Some(c.sync_schedule.as_deref().unwrap_or("hourly")),
            Self::Ldap(c) => Some(c.sync_schedule.as_deref().unwrap_or("hourly")),
            Self::Webhook(_) => None,
        }
    }

    /// The server it talks to, for lists and error messages (never a secret).
    pub fn endpoint(&self) -> &str {
        match self {
            Self::Entra(c) => &c.graph_url,
            Self::Ldap(c) => &c.url,
            Self::Webhook(c) => &c.url,
        }
    }

    /// The environment variable its secret comes from.
    pub fn secret_env(&self) -> &str {
        match self {
            Self::Entra(c) => &c.client_secret_env,
            Self::Ldap(c) => &c.password_env,
            Self::Webhook(c) => &c.secret_env,
        }
    }
}

/// Reads a secret from the environment, naming the variable (never the value) when it is unset.
pub fn secret_from_env(source: &str, variable: &str) -> Result<String, super::SourceError> {
    match std::env::var(variable) {
        Ok(value) if !value.is_empty() => Ok(value),
        _ => Err(super::SourceError(format!(
            "source {source}: the environment variable {variable} that holds its secret is not set"
        ))),
    }
}

fn default_authority() -> String {
    "https://login.microsoftonline.com".into()
}
fn default_graph() -> String {
    "https://graph.microsoft.com".into()
}
fn default_people_filter() -> String {
    "(objectClass=inetOrgPerson)".into()
}
fn default_member_attribute() -> String {
    "member".into()
}
fn default_scope() -> String {
    "/".into()
}
fn default_risk() -> String {
    "high".into()
}
