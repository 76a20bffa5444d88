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

use super::config::{secret_from_env, LdapConfig};
use super::connector::{Connector, Probe, Snapshot, SyncEligibility, SyncPerson, SyncRole};
use super::{Removal, RemovalTarget, SourceError};
use crate::domain::directory::{PrincipalKind, Risk};
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::controls::{Assertion, RawControl};
use ldap3::{
    ldap_escape, Ldap, LdapConnAsync, LdapConnSettings, LdapError, Mod, Scope, SearchEntry,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// How long connecting (TCP, TLS, StartTLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one operation may wait for the server's next answer.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
/// Entries per page of the people search (below the 1000 that Active Directory allows).
const PAGE_SIZE: i32 = 500;

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

/// The people as one search found them.
struct People {
    persons: Vec<SyncPerson>,
    /// Normalised DN → uid.
    by_dn: HashMap<String, String>,
    /// Lowercased uid → uid (uids match case-insensitively).
    by_uid: HashMap<String, String>,
    warnings: Vec<String>,
}

/// One group's members that are people, and how many values were not.
struct Members {
    uids: Vec<String>,
    skipped: usize,
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

    /// Connects (TLS as configured) and binds.
    async fn connect(&self) -> Result<Ldap, SourceError> {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(CONNECT_TIMEOUT)
            .set_starttls(self.starttls)
            .set_no_tls_verify(self.tls_insecure);
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.url)
            .await
            .map_err(|e| {
                let reason = describe(&e);
                // rustls reports an untrusted certificate as an I/O error; say what it means.
                if reason.contains("certificate") {
                    self.error(format!(
                        "the TLS handshake with {} failed: {reason} (a certificate no trusted \
                         authority signed is accepted only with tls_insecure = true, for test \
                         directories)",
                        self.url
                    ))
                } else {
                    self.error(format!("cannot reach {}: {reason}", self.url))
                }
            })?;
        ldap3::drive!(conn);
        let bound = ldap
            .with_timeout(OPERATION_TIMEOUT)
            .simple_bind(&self.bind_dn, &self.password)
            .await;
        let failure = match bound {
            Ok(result) if result.rc == 0 => return Ok(ldap),
            Ok(result) if result.rc == 49 => format!(
                "the directory refused the bind as {}: invalid credentials (check the password in ${})",
                self.bind_dn, self.password_env
            ),
            Ok(result) => format!(
                "the directory refused the bind as {}: {}",
                self.bind_dn,
                result_text(&result)
            ),
            Err(e) => format!("binding as {} failed: {}", self.bind_dn, describe(&e)),
        };
        let _ = ldap.unbind().await;
        Err(self.error(failure))
    }

    /// Every person under the people base matching the filter, paged so that a directory's
    /// size limit does not cut the list short.
    async fn people(&self, ldap: &mut Ldap) -> Result<People, SourceError> {
        let entries = self
            .search_paged(
                ldap,
                &self.people_base,
                &self.people_filter,
                vec!["uid", "cn", "displayName", "mail", "manager"],
            )
            .await?;
        let mut warnings = Vec::new();
        let mut by_dn = HashMap::with_capacity(entries.len());
        let mut by_uid: HashMap<String, String> = HashMap::with_capacity(entries.len());
        let mut without_uid = 0usize;
        let mut duplicates = Vec::new();
        let mut found = Vec::with_capacity(entries.len());
        for entry in entries {
            let Some(uid) = first(&entry, "uid") else {
                without_uid += 1;
                continue;
            };
            if by_uid.contains_key(&uid.to_lowercase()) {
                duplicates.push(entry.dn.clone());
                continue;
            }
            by_uid.insert(uid.to_lowercase(), uid.clone());
            by_dn.insert(normalize_dn(&entry.dn), uid.clone());
            found.push((uid, entry));
        }
        if without_uid > 0 {
            warnings.push(format!(
                "{without_uid} entries under {} match {} but have no uid; skipped",
                self.people_base, self.people_filter
            ));
        }
        if !duplicates.is_empty() {
            warnings.push(format!(
                "{} entries repeat a uid another entry has; skipped (first: {})",
                duplicates.len(),
                duplicates[0]
            ));
        }
        let mut outside = Vec::new();
        let mut persons: Vec<SyncPerson> = found
            .into_iter()
            .map(|(uid, entry)| {
                let manager = first(&entry, "manager").and_then(|dn| {
                    let known = by_dn.get(&normalize_dn(&dn)).cloned();
                    if known.is_none() {
                        outside.push((uid.clone(), dn));
                    }
                    known
                });
                SyncPerson {
                    name: first(&entry, "cn")
                        .or_else(|| first(&entry, "displayName"))
                        .unwrap_or_else(|| uid.clone()),
                    email: first(&entry, "mail"),
                    manager,
                    kind: PrincipalKind::User,
                    enabled: true,
                    external_id: uid,
                }
            })
            .collect();
        if let Some((uid, dn)) = outside.first() {
            warnings.push(format!(
                "{} people name a manager who is not among the people; their manager is left \
                 empty (first: {uid}'s manager {dn})",
                outside.len()
            ));
        }
        persons.sort_by(|a, b| a.external_id.cmp(&b.external_id));
        Ok(People {
            persons,
            by_dn,
            by_uid,
            warnings,
        })
    }

    /// A subtree search through paged results (RFC 2696).
    async fn search_paged(
        &self,
        ldap: &mut Ldap,
        base: &str,
        filter: &str,
        attrs: Vec<&str>,
    ) -> Result<Vec<SearchEntry>, SourceError> {
        let failed = |e: LdapError| match &e {
            LdapError::LdapResult { result } if result.rc == 32 => {
                self.error(format!("the people base {base} does not exist"))
            }
            _ => self.error(format!(
                "searching {base} for {filter} failed: {}",
                describe(&e)
            )),
        };
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(PAGE_SIZE)),
        ];
        let mut stream = ldap
            .with_timeout(OPERATION_TIMEOUT)
            .streaming_search_with(adapters, base, Scope::Subtree, filter, attrs)
            .await
            .map_err(failed)?;
        let mut entries = Vec::new();
        while let Some(entry) = stream.next().await.map_err(failed)? {
            entries.push(SearchEntry::construct(entry));
        }
        stream.finish().await.success().map_err(failed)?;
        Ok(entries)
    }

    /// The raw values of a group's member attribute; a group that does not exist is an error,
    /// so a typo in a DN never reads as "everybody left".
    async fn group_values(
        &self,
        ldap: &mut Ldap,
        group: &Group,
    ) -> Result<Vec<String>, SourceError> {
        let attr = self.attribute.as_str();
        let result = ldap
            .with_timeout(OPERATION_TIMEOUT)
            .search(&group.dn, Scope::Base, "(objectClass=*)", vec![attr])
            .await
            .and_then(|r| r.success());
        match result {
            Ok((entries, _)) => {
                let Some(entry) = entries.into_iter().next() else {
                    return Err(self.error(format!("group {} does not exist", group.dn)));
                };
                let entry = SearchEntry::construct(entry);
                // Active Directory answers a group of more than 1500 members with
                // `member;range=0-1499` and expects range retrieval; reading that as the whole
                // group would report everyone past the range as removed.
                let ranged = format!("{};range=", attr.to_ascii_lowercase());
                if entry
                    .attrs
                    .keys()
                    .any(|name| name.to_ascii_lowercase().starts_with(&ranged))
                {
                    return Err(self.error(format!(
                        "group {} has more {attr} values than the directory returns at once \
                         (ranged retrieval is not supported)",
                        group.dn
                    )));
                }
                Ok(values(&entry, attr))
            }
            Err(LdapError::LdapResult { result }) if result.rc == 32 => {
                Err(self.error(format!("group {} does not exist", group.dn)))
            }
            Err(e) => Err(self.error(format!(
                "reading {attr} of group {} failed: {}",
                group.dn,
                describe(&e)
            ))),
        }
    }

    /// The group's members that are people (by uid, deduplicated, sorted).
    async fn members(
        &self,
        ldap: &mut Ldap,
        group: &Group,
        people: &People,
    ) -> Result<Members, SourceError> {
        let mut uids = Vec::new();
        let mut skipped = 0;
        for value in self.group_values(ldap, group).await? {
            let uid = if self.attribute.holds_dns() {
                people.by_dn.get(&normalize_dn(strip_unique_id(&value)))
            } else {
                people.by_uid.get(&value.trim().to_lowercase())
            };
            match uid {
                Some(uid) => uids.push(uid.clone()),
                None => skipped += 1,
            }
        }
        uids.sort();
        uids.dedup();
        Ok(Members { uids, skipped })
    }

    /// Everything the source lists, over one bound connection.
    async fn read(&self, ldap: &mut Ldap) -> Result<Snapshot, SourceError> {
        let people = self.people(ldap).await?;
        let mut warnings = people.warnings.clone();
        let mut roles = Vec::with_capacity(self.groups.len());
        let mut eligibility = Vec::new();
        for group in &self.groups {
            let owner = match &group.owner {
                Some(owner) => {
                    let known = people.by_uid.get(&owner.trim().to_lowercase()).cloned();
                    if known.is_none() {
                        warnings.push(format!(
                            "the owner {owner} of {} is not among the people; the role is listed \
                             without an owner",
                            group.role
                        ));
                    }
                    known
                }
                None => None,
            };
            roles.push(SyncRole {
                name: group.role.clone(),
                risk: group.risk,
                owner,
                description: group.description.clone(),
            });
            let members = self.members(ldap, group, &people).await?;
            if members.skipped > 0 {
                warnings.push(format!(
                    "group {}: {} {} values are not among the people under {} matching {}; \
                     skipped",
                    group.dn,
                    members.skipped,
                    self.attribute.as_str(),
                    self.people_base,
                    self.people_filter
                ));
            }
            eligibility.extend(members.uids.into_iter().map(|uid| SyncEligibility {
                principal: uid,
                role: group.role.clone(),
                scope: group.scope.clone(),
                start: None,
                end: None,
                last_activated_at: None,
            }));
        }
        Ok(Snapshot {
            people: people.persons,
            roles,
            eligibility,
            warnings,
        })
    }

    fn group_for(&self, target: &RemovalTarget) -> Result<&Group, SourceError> {
        self.groups
            .iter()
            .find(|g| g.role == target.role_name && g.scope == target.scope)
            .ok_or_else(|| {
                self.error(format!(
                    "no configured group grants {} at {}",
                    target.role_name, target.scope
                ))
            })
    }

    /// The value that names `uid` in the group: the uid itself for memberUid; otherwise the
    /// person's DN. Someone no longer under the people base may still be named by a stale DN
    /// whose first RDN is their uid; `None` when neither is found.
    async fn member_value(
        &self,
        ldap: &mut Ldap,
        group: &Group,
        uid: &str,
    ) -> Result<Option<String>, SourceError> {
        if !self.attribute.holds_dns() {
            return Ok(Some(uid.to_string()));
        }
        let filter = format!("(uid={})", ldap_escape(uid));
        let found = ldap
            .with_timeout(OPERATION_TIMEOUT)
            .search(&self.people_base, Scope::Subtree, &filter, vec!["1.1"])
            .await
            .and_then(|r| r.success())
            .map_err(|e| {
                self.error(format!(
                    "searching {} for {filter} failed: {}",
                    self.people_base,
                    describe(&e)
                ))
            })?
            .0;
        match found.len() {
            1 => {
                let entry = found.into_iter().next().map(SearchEntry::construct);
                return Ok(entry.map(|e| e.dn));
            }
            0 => {}
            n => {
                return Err(self.error(format!(
                    "{n} entries under {} have uid {uid}; cannot tell which to remove",
                    self.people_base
                )))
            }
        }
        let rdn = format!("uid={}", uid.to_lowercase());
        Ok(self.group_values(ldap, group).await?.into_iter().find(|v| {
            normalize_dn(strip_unique_id(v))
                .split(',')
                .next()
                .is_some_and(|first| first == rdn)
        }))
    }

    async fn remove_with(
        &self,
        ldap: &mut Ldap,
        target: &RemovalTarget,
    ) -> Result<Removal, SourceError> {
        let group = self.group_for(target)?;
        let attr = self.attribute.as_str();
        let uid = &target.principal_external_id;
        let Some(value) = self.member_value(ldap, group, uid).await? else {
            return Ok(Removal::AlreadyGone {
                receipt: format!(
                    "ldap:{}:no entry under {} has uid {uid} and {} names no member for it",
                    self.name, self.people_base, group.dn
                ),
            });
        };
        let receipt = format!("ldap:{}:delete {attr} {value} from {}", self.name, group.dn);
        // Asked first, because directories differ in how they refuse deleting a value that is
        // not there (OpenLDAP: noSuchAttribute; Active Directory: unwillingToPerform).
        if !self.holds(ldap, group, &value).await? {
            return Ok(Removal::AlreadyGone { receipt });
        }
        tracing::info!(source = %self.name, %receipt, justification = %super::connector::justification(target), "ldap removal");
        let result = ldap
            .with_timeout(OPERATION_TIMEOUT)
            .modify(
                &group.dn,
                vec![Mod::Delete(attr, HashSet::from([value.as_str()]))],
            )
            .await
            .map_err(|e| {
                self.error(format!(
                    "deleting {attr} {value} from {} failed: {}",
                    group.dn,
                    describe(&e)
                ))
            })?;
        match result.rc {
            0 => Ok(Removal::Removed { receipt }),
            16 => Ok(Removal::AlreadyGone { receipt }),
            32 => Err(self.error(format!("group {} does not exist", group.dn))),
            50 => Err(self.error(format!(
                "{} may not write {attr} of {} (grant it write access to that attribute)",
                self.bind_dn, group.dn
            ))),
            65 if self.attribute == MemberAttribute::Member => Err(self.error(format!(
                "cannot delete {value} from {}: the group would have no member left; \
                 groupOfNames needs one (add a placeholder member)",
                group.dn
            ))),
            _ => Err(self.error(format!(
                "the directory refused to delete {attr} {value} from {}: {}",
                group.dn,
                result_text(&result)
            ))),
        }
    }

    async fn present_with(
        &self,
        ldap: &mut Ldap,
        target: &RemovalTarget,
    ) -> Result<Option<bool>, SourceError> {
        let group = self.group_for(target)?;
        match self
            .member_value(ldap, group, &target.principal_external_id)
            .await?
        {
            Some(value) => Ok(Some(self.holds(ldap, group, &value).await?)),
            None => Ok(Some(false)),
        }
    }

    /// Whether the group holds `value`, by an LDAP Compare: the server's matching rule for the
    /// attribute decides (DN values match whatever their case and spacing).
    async fn holds(
        &self,
        ldap: &mut Ldap,
        group: &Group,
        value: &str,
    ) -> Result<bool, SourceError> {
        let attr = self.attribute.as_str();
        let result = ldap
            .with_timeout(OPERATION_TIMEOUT)
            .compare(&group.dn, attr, value.as_bytes())
            .await
            .map_err(|e| {
                self.error(format!(
                    "comparing {attr} of {} failed: {}",
                    group.dn,
                    describe(&e)
                ))
            })?
            .0;
        match result.rc {
            6 => Ok(true),
            // noSuchAttribute: the group has no value of the attribute at all.
            5 | 16 => Ok(false),
            32 => Err(self.error(format!("group {} does not exist", group.dn))),
            _ => Err(self.error(format!(
                "the directory refused to compare {attr} of {}: {}",
                group.dn,
                result_text(&result)
            ))),
        }
    }

    /// Whether the bound account may write the group's member attribute, changing nothing:
    /// deletes a value that is not there (see the module comment).
    async fn check_write(&self, ldap: &mut Ldap, group: &Group) -> Result<String, SourceError> {
        let attr = self.attribute.as_str();
        let marker = format!("attest-write-check-{:016x}", rand::random::<u64>());
        let value = if self.attribute.holds_dns() {
            format!("cn={marker},{}", group.dn)
        } else {
            marker
        };
        let assertion = format!("(!({attr}={}))", ldap_escape(value.as_str()));
        if ldap3::parse_filter(&assertion).is_err() {
            return Err(self.error(format!(
                "cannot check write permission on {attr} of {}: its DN does not make a valid filter",
                group.dn
            )));
        }
        let mut control: RawControl = Assertion::new(assertion.as_str());
        control.crit = true;
        let mods = || vec![Mod::Delete(attr, HashSet::from([value.as_str()]))];
        let failed = |e: LdapError| {
            self.error(format!(
                "checking write permission on {attr} of {} failed: {}",
                group.dn,
                describe(&e)
            ))
        };
        let mut result = ldap
            .with_timeout(OPERATION_TIMEOUT)
            .with_controls(control)
            .modify(&group.dn, mods())
            .await
            .map_err(failed)?;
        if result.rc == 12 {
            // unavailableCriticalExtension: no Assertion control here. The value is random and
            // under the group's own DN, so it is not a member; the delete alone still changes
            // nothing.
            result = ldap
                .with_timeout(OPERATION_TIMEOUT)
                .modify(&group.dn, mods())
                .await
                .map_err(failed)?;
        }
        match result.rc {
            16 => Ok(format!("{} may write {attr} of {}", self.bind_dn, group.dn)),
            50 => Err(self.error(format!(
                "{} may not write {attr} of {} (grant it write access to that attribute)",
                self.bind_dn, group.dn
            ))),
            32 => Err(self.error(format!("group {} does not exist", group.dn))),
            _ => Err(self.error(format!(
                "cannot tell whether {} may write {attr} of {}: the directory answered a delete \
                 of a value that is not there with {}",
                self.bind_dn,
                group.dn,
                result_text(&result)
            ))),
        }
    }

    async fn test_with(&self, ldap: &mut Ldap) -> Result<Probe, SourceError> {
        let tls = if self.url.to_ascii_lowercase().starts_with("ldaps://") {
            "TLS"
        } else if self.starttls {
            "StartTLS"
        } else {
            "no TLS"
        };
        let mut checks = vec![
            format!("connected to {} ({tls})", self.url),
            format!("authenticated as {}", self.bind_dn),
        ];
        let snapshot = self.read(ldap).await?;
        checks.push(format!(
            "{} people under {} match {}",
            snapshot.people.len(),
            self.people_base,
            self.people_filter
        ));
        let mut per_role: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for e in &snapshot.eligibility {
            *per_role.entry((&e.role, &e.scope)).or_default() += 1;
        }
        for group in &self.groups {
            let count = per_role
                .get(&(group.role.as_str(), group.scope.as_str()))
                .copied()
                .unwrap_or(0);
            checks.push(format!(
                "group {} exists: {count} of its members are people ({} at {})",
                group.dn, group.role, group.scope
            ));
        }
        for group in &self.groups {
            checks.push(self.check_write(ldap, group).await?);
        }
        Ok(Probe {
            checks,
            people: Some(snapshot.people.len() as u64),
            eligibility: Some(snapshot.eligibility.len() as u64),
        })
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

    async fn is_present(&self, target: &RemovalTarget) -> Result<Option<bool>, SourceError> {
        self.group_for(target)?;
        let mut ldap = self.connect().await?;
        let present = self.present_with(&mut ldap, target).await;
        let _ = ldap.unbind().await;
        present
    }
}

/// The first value of `attr` (matched case-insensitively: servers answer in their own case).
fn first(entry: &SearchEntry, attr: &str) -> Option<String> {
    values(entry, attr)
        .into_iter()
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
}

fn values(entry: &SearchEntry, attr: &str) -> Vec<String> {
    entry
        .attrs
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(attr))
        .flat_map(|(_, values)| values.iter().cloned())
        .collect()
}

/// A DN in a form two spellings of one entry share: lowercase, no spaces around the `,` and `=`
/// that separate RDNs and their parts. (Not a full RFC 4514 normaliser, but it matches what
/// directories and hand-edited values differ in.)
fn normalize_dn(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    let mut escaped = false;
    for c in dn.trim().chars() {
        if escaped {
            out.extend(c.to_lowercase());
            escaped = false;
            continue;
        }
        match c {
            '\\' => {
                out.push(c);
                escaped = true;
            }
            ',' | '=' | '+' => {
                while out.ends_with(' ') && !out.ends_with("\\ ") {
                    out.pop();
                }
                out.push(c);
            }
            ' ' if out.ends_with([',', '=', '+']) && !out.ends_with("\\,") => {}
            _ => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// A uniqueMember value without its optional `#'0101'B` unique identifier (RFC 4517 3.3.21).
fn strip_unique_id(value: &str) -> &str {
    let value = value.trim();
    if let Some((dn, id)) = value.rsplit_once('#') {
        if id.starts_with('\'') && id.ends_with("'B") && id.len() >= 3 {
            return dn;
        }
    }
    value
}

/// A result code with its name and the server's text, e.g. "insufficientAccessRights (50): …".
fn result_text(result: &ldap3::LdapResult) -> String {
    // ldap3 names the codes only in its Display ("rc=50 (insufficientAccessRights), dn: …").
    let shown = result.to_string();
    let name = shown
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map_or("unknown", |(name, _)| name);
    if result.text.trim().is_empty() {
        format!("{name} ({})", result.rc)
    } else {
        format!("{name} ({}): {}", result.rc, result.text.trim())
    }
}

/// An ldap3 error as one readable clause.
fn describe(error: &LdapError) -> String {
    match error {
        LdapError::LdapResult { result } => result_text(result),
        LdapError::Timeout { .. } => "no answer in time".into(),
        LdapError::Io { source } => source.to_string(),
        other => other.to_string(),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_normalise_case_and_spaces() {
        assert_eq!(
            normalize_dn("UID=U0001, OU=People ,DC=example, DC=com"),
            "uid=u0001,ou=people,dc=example,dc=com"
        );
        assert_eq!(
            normalize_dn("cn=Smith\\, John,dc=x"),
            "cn=smith\\, john,dc=x"
        );
    }

    #[test]
    fn unique_member_ids_are_stripped() {
        assert_eq!(strip_unique_id("uid=a,dc=x#'0101'B"), "uid=a,dc=x");
        assert_eq!(strip_unique_id("cn=a\\#b,dc=x"), "cn=a\\#b,dc=x");
    }
}
