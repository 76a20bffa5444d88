//! Reads what the directory lists: the people under the base matching the filter, and each
//! configured group's members among them as eligibility for the group's role.

use super::connection::{describe, first, values, OPERATION_TIMEOUT};
use super::{Group, LdapConnector};
use crate::domain::directory::PrincipalKind;
use crate::sources::connector::{Snapshot, SyncEligibility, SyncPerson, SyncRole};
use crate::sources::SourceError;
use ldap3::{Ldap, LdapError, Scope, SearchEntry};
use std::collections::HashMap;

/// The people as one search found them.
pub(super) struct People {
    pub(super) persons: Vec<SyncPerson>,
    /// Normalised DN → uid.
    pub(super) by_dn: HashMap<String, String>,
    /// Lowercased uid → uid (uids match case-insensitively).
    pub(super) by_uid: HashMap<String, String>,
    pub(super) warnings: Vec<String>,
}

/// One group's members that are people, and how many values were not.
pub(super) struct Members {
    pub(super) uids: Vec<String>,
    pub(super) skipped: usize,
}

impl LdapConnector {
    /// Every person under the people base matching the filter, paged so that a directory's
    /// size limit does not cut the list short.
    pub(super) async fn people(&self, ldap: &mut Ldap) -> Result<People, SourceError> {
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

    /// The raw values of a group's member attribute; a group that does not exist is an error,
    /// so a typo in a DN never reads as "everybody left".
    pub(super) async fn group_values(
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
    pub(super) async fn members(
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
    pub(super) async fn read(&self, ldap: &mut Ldap) -> Result<Snapshot, SourceError> {
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
                // Group membership has no standing/eligible distinction.
                assignment: Default::default(),
            }));
        }
        Ok(Snapshot {
            people: people.persons,
            roles,
            eligibility,
            // LDAP groups record no activations.
            activations: Vec::new(),
            warnings,
        })
    }
}

/// A DN in a form two spellings of one entry share: lowercase, no spaces around the `,` and `=`
/// that separate RDNs and their parts. (Not a full RFC 4514 normaliser, but it matches what
/// directories and hand-edited values differ in.)
pub(super) fn normalize_dn(dn: &str) -> String {
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
pub(super) fn strip_unique_id(value: &str) -> &str {
    let value = value.trim();
    if let Some((dn, id)) = value.rsplit_once('#') {
        if id.starts_with('\'') && id.ends_with("'B") && id.len() >= 3 {
            return dn;
        }
    }
    value
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
