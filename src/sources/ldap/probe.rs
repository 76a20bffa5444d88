//! The connection test: reads everything once and checks, changing nothing, that the bound
//! account may write each group's member attribute.

use super::connection::{describe, result_text, OPERATION_TIMEOUT};
use super::{Group, LdapConnector};
use crate::sources::connector::Probe;
use crate::sources::SourceError;
use ldap3::controls::{Assertion, RawControl};
use ldap3::{ldap_escape, Ldap, LdapError, Mod};
use std::collections::{BTreeMap, HashSet};

impl LdapConnector {
    /// Whether the bound account may write the group's member attribute, changing nothing:
    /// deletes a value that is not there (see the module comment).
    pub(super) async fn check_write(
        &self,
        ldap: &mut Ldap,
        group: &Group,
    ) -> Result<String, SourceError> {
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

    pub(super) async fn test_with(&self, ldap: &mut Ldap) -> Result<Probe, SourceError> {
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
