//! Removes one member value from the group that grants a role, and reads it back with an LDAP
//! Compare so the directory's own matching rules decide.

use super::connection::{describe, result_text, OPERATION_TIMEOUT};
use super::eligibility::{normalize_dn, strip_unique_id};
use super::{Group, LdapConnector, MemberAttribute};
use crate::sources::{Removal, RemovalTarget, SourceError};
use ldap3::{ldap_escape, Ldap, Mod, Scope, SearchEntry};
use std::collections::HashSet;

impl LdapConnector {
    pub(super) fn group_for(&self, target: &RemovalTarget) -> Result<&Group, SourceError> {
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
    pub(super) async fn member_value(
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

    pub(super) async fn remove_with(
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
        tracing::info!(source = %self.name, %receipt, justification = %crate::sources::connector::justification(target), "ldap removal");
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

    pub(super) async fn present_with(
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
    pub(super) async fn holds(
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
}
