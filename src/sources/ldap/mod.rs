//! The LDAP source: people from a base and filter, eligibility as group membership.
//!
//! Each configured group grants one role at one scope; its members (`member` or `uniqueMember`
//! DNs, or `memberUid` uids) that are among the people are eligible. A removal deletes the one
//! member value from the group; before that, and for the read-back, it asks the directory
//! whether the group holds the value with an LDAP Compare, so the server's own matching rules
//! decide (DNs differ in case and spacing), not string equality.
//!
//! Every operation batch opens its own connection (StartTLS or `ldaps://` as configured), binds
//! as the service account and unbinds at the end; syncs and removals are rare enough that a
//! pool would only add state to get wrong.
//!
//! `test` changes nothing. It checks write permission on each group's member attribute by
//! deleting a value that is not there: the directory checks access before it looks for the
//! value, so "no such attribute" (16) means the delete was allowed and "insufficient access"
//! (50) means it was not, and a failed modify changes nothing. The modify also carries a
//! critical Assertion control (RFC 4528) asserting the value is absent, so even a directory that
//! somehow held it would refuse the modify instead of deleting it. (An assertion that is simply
//! false cannot be used as the probe: slapd evaluates it before access control and answers
//! assertionFailed to everyone.)
//!
//! `connection` connects, binds and searches; `eligibility` reads people and group members
//! into a snapshot; `removal` deletes a member value and reads it back; `probe` is `test`.

mod connection;
mod eligibility;
mod probe;
mod removal;
mod restore;

use super::config::{secret_from_env, LdapConfig};
use super::connector::{Connector, Probe, Snapshot};
use super::{Removal, RemovalTarget, SourceError};
use crate::domain::directory::Risk;
use connection::one_line;

/// The attribute that lists a group's members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MemberAttribute {
    Member,
    UniqueMember,
    MemberUid,
}

impl MemberAttribute {
    fn parse(text: &str) -> Option<Self> {
        // Attribute names are case-insensitive in LDAP.
        match text.trim().to_ascii_lowercase().as_str() {
            "member" => Some(Self::Member),
            "uniquemember" => Some(Self::UniqueMember),
            "memberuid" => Some(Self::MemberUid),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::UniqueMember => "uniqueMember",
            Self::MemberUid => "memberUid",
        }
    }

    /// Whether values are DNs (otherwise uids).
    fn holds_dns(self) -> bool {
        !matches!(self, Self::MemberUid)
    }
}

/// One configured group, validated.
#[derive(Debug, Clone)]
struct Group {
    dn: String,
    role: String,
    scope: String,
    risk: Risk,
    owner: Option<String>,
    description: Option<String>,
}

/// A connector to one LDAP directory (`[sources.NAME]` with `kind = "ldap"`).
pub struct LdapConnector {
    name: String,
    url: String,
    starttls: bool,
    tls_insecure: bool,
    bind_dn: String,
    password: String,
    password_env: String,
    people_base: String,
    people_filter: String,
    attribute: MemberAttribute,
    groups: Vec<Group>,
}

impl std::fmt::Debug for LdapConnector {
    // By hand: the password must never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapConnector")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("bind_dn", &self.bind_dn)
            .field("password_env", &self.password_env)
            .finish_non_exhaustive()
    }
}

impl LdapConnector {
    /// Validates the configuration and reads the bind password from its environment variable.
    pub fn new(name: &str, config: &LdapConfig) -> Result<Self, SourceError> {
        let bad = |field: &str, why: String| {
            SourceError(format!("source {name}: [sources.{name}] {field}: {why}"))
        };
        let url = config.url.trim();
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("ldap://") || lower.starts_with("ldaps://")) {
            return Err(bad(
                "url",
                format!("{url:?} is not an ldap:// or ldaps:// URL"),
            ));
        }
        if config.starttls && lower.starts_with("ldaps://") {
            return Err(bad(
                "starttls",
                "StartTLS upgrades an ldap:// connection; ldaps:// is TLS already".into(),
            ));
        }
        let attribute = MemberAttribute::parse(&config.member_attribute).ok_or_else(|| {
            bad(
                "member_attribute",
                format!(
                    "{:?} is not one of member, uniqueMember, memberUid",
                    config.member_attribute
                ),
            )
        })?;
        if ldap3::parse_filter(&config.people_filter).is_err() {
            return Err(bad(
                "people_filter",
                format!("{:?} is not a valid LDAP filter", config.people_filter),
            ));
        }
        if config.people_base.trim().is_empty() {
            return Err(bad("people_base", "is empty".into()));
        }
        let mut groups: Vec<Group> = Vec::with_capacity(config.groups.len());
        for (i, group) in config.groups.iter().enumerate() {
            let field = |f: &str| format!("groups[{i}].{f}");
            let risk: Risk = group.risk.parse().map_err(|e| bad(&field("risk"), e))?;
            if group.dn.trim().is_empty() {
                return Err(bad(&field("dn"), "is empty".into()));
            }
            if group.role.trim().is_empty() {
                return Err(bad(&field("role"), "is empty".into()));
            }
            // A removal finds its group by role and scope; two groups for one pair would make
            // that ambiguous.
            if let Some(j) = groups
                .iter()
                .position(|g| g.role == group.role && g.scope == group.scope)
            {
                return Err(bad(
                    &field("role"),
                    format!(
                        "groups[{j}] already grants {} at {}",
                        group.role, group.scope
                    ),
                ));
            }
            groups.push(Group {
                dn: group.dn.trim().to_string(),
                role: group.role.clone(),
                scope: group.scope.clone(),
                risk,
                owner: group.owner.clone(),
                description: group.description.clone(),
            });
        }
        let password = secret_from_env(name, &config.password_env)?;
        Ok(Self {
            name: name.to_string(),
            url: url.to_string(),
            starttls: config.starttls,
            tls_insecure: config.tls_insecure,
            bind_dn: config.bind_dn.clone(),
            password,
            password_env: config.password_env.clone(),
            people_base: config.people_base.clone(),
            people_filter: config.people_filter.clone(),
            attribute,
            groups,
        })
    }

    /// An error of this source: one line, starting with its name.
    fn error(&self, message: impl std::fmt::Display) -> SourceError {
        let line = one_line(&message.to_string());
        // Belt and braces: no server text may echo the password back into a log.
        let line = if self.password.len() >= 4 {
            line.replace(&self.password, "********")
        } else {
            line
        };
        SourceError(format!("source {}: {line}", self.name))
    }
}

#[async_trait::async_trait]
impl Connector for LdapConnector {
    fn name(&self) -> &str {
        &self.name
    }

    async fn test(&self) -> Result<Probe, SourceError> {
        let mut ldap = self.connect().await?;
        let probe = self.test_with(&mut ldap).await;
        let _ = ldap.unbind().await;
        probe
    }

    async fn snapshot(&self) -> Result<Snapshot, SourceError> {
        let mut ldap = self.connect().await?;
        let snapshot = self.read(&mut ldap).await;
        let _ = ldap.unbind().await;
        snapshot
    }

    async fn remove(&self, target: &RemovalTarget) -> Result<Removal, SourceError> {
        // Before connecting: a role this source does not grant needs no server to say so.
        self.group_for(target)?;
        let mut ldap = self.connect().await?;
        let removal = self.remove_with(&mut ldap, target).await;
        let _ = ldap.unbind().await;
        removal
    }

    async fn restore(
        &self,
        target: &RemovalTarget,
        _schedule: &crate::sources::RestoreSchedule,
    ) -> Result<String, SourceError> {
        self.group_for(target)?;
        let mut ldap = self.connect().await?;
        let restored = self.restore_with(&mut ldap, target).await;
        let _ = ldap.unbind().await;
        restored
    }

    async fn is_present(&self, target: &RemovalTarget) -> Result<Option<bool>, SourceError> {
        self.group_for(target)?;
        let mut ldap = self.connect().await?;
        let present = self.present_with(&mut ldap, target).await;
        let _ = ldap.unbind().await;
        present
    }
}
