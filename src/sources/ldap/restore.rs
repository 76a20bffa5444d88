//! Puts one member value back into the group that grants a role: the restore of a suspension
//! (issue 19). The caller reads it back with [`LdapConnector::present_with`].

use super::connection::{describe, result_text, OPERATION_TIMEOUT};
use super::LdapConnector;
use crate::sources::{RemovalTarget, SourceError};
use ldap3::{Ldap, Mod};
use std::collections::HashSet;

impl LdapConnector {
    pub(super) async fn restore_with(
        &self,
        ldap: &mut Ldap,
        target: &RemovalTarget,
    ) -> Result<String, SourceError> {
        let group = self.group_for(target)?;
        let attr = self.attribute.as_str();
        let uid = &target.principal_external_id;
        let Some(value) = self.member_value(ldap, group, uid).await? else {
            return Err(self.error(format!(
                "cannot put {uid} back into {}: no entry under {} has uid {uid}",
                group.dn, self.people_base
            )));
        };
        let receipt = format!("ldap:{}:add {attr} {value} to {}", self.name, group.dn);
        if self.holds(ldap, group, &value).await? {
            return Ok(format!("{receipt} (already a member)"));
        }
        let result = ldap
            .with_timeout(OPERATION_TIMEOUT)
            .modify(
                &group.dn,
                vec![Mod::Add(attr, HashSet::from([value.as_str()]))],
            )
            .await
            .map_err(|e| {
                self.error(format!(
                    "adding {attr} {value} to {} failed: {}",
                    group.dn,
                    describe(&e)
                ))
            })?;
        match result.rc {
            0 => Ok(receipt),
            // attributeOrValueExists: someone put it back in the meantime.
            20 => Ok(format!("{receipt} (already a member)")),
            32 => Err(self.error(format!("group {} does not exist", group.dn))),
            50 => Err(self.error(format!(
                "{} may not write {attr} of {} (grant it write access to that attribute)",
                self.bind_dn, group.dn
            ))),
            _ => Err(self.error(format!(
                "the directory refused to add {attr} {value} to {}: {}",
                group.dn,
                result_text(&result)
            ))),
        }
    }
}
