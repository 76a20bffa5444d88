//! Puts one eligibility back with an `adminAssign` request (the restore of a suspension, issue
//! 19): <https://learn.microsoft.com/en-us/graph/api/rbacapplication-post-roleeligibilityschedulerequests?view=graph-rest-1.0>
//! (`action: adminAssign` with `principalId`, `roleDefinitionId`, `directoryScopeId`,
//! `justification` and `scheduleInfo` {`startDateTime`, `expiration` {`type`: `noExpiration`
//! or `afterDateTime` with `endDateTime`}}; `201 Created` with a
//! unifiedRoleEligibilityScheduleRequest). The role definition's id comes from
//! <https://learn.microsoft.com/en-us/graph/api/rbacapplication-list-roledefinitions?view=graph-rest-1.0>
//! (`$filter=displayName eq '…'`), or from a disambiguated name (`Name (id)`) as syncs write it
//! when two roles share a name. Standing access a suspension removed is put back standing
//! (`standing::restore_standing`).

use super::resources::{RoleDefinition, REQUESTS_PATH, ROLE_DEFINITIONS_PATH};
use super::{GraphConnector, REMOVE_PERMISSIONS};
use crate::domain::eligibility::Assignment;
use crate::sources::{RemovalTarget, RestoreSchedule, SourceError};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

/// The least privileged application permission that lists role definitions (a restore needs
/// the id of the role it puts back; `RoleManagement.ReadWrite.Directory` covers it too).
const READ_ROLES_PERMISSION: &str = "RoleManagement.Read.Directory";

impl GraphConnector {
    /// The id of the role definition `name` names.
    pub(super) async fn role_definition_id(&self, name: &str) -> Result<String, SourceError> {
        if let Some((_, id)) = name.strip_suffix(')').and_then(|n| n.rsplit_once(" (")) {
            if !id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
                return Ok(id.to_string());
            }
        }
        let filter = format!("displayName eq '{}'", name.replace('\'', "''"));
        let url = self.url(
            ROLE_DEFINITIONS_PATH,
            &[("$filter", &filter), ("$select", "id,displayName")],
        );
        let what = format!("the role definition {name:?}");
        let found: Vec<RoleDefinition> = self
            .list_all(url, &what, READ_ROLES_PERMISSION)
            .await?
            .map_err(|reply| self.refused(&what, READ_ROLES_PERMISSION, &reply))?;
        match found.as_slice() {
            [one] => Ok(one.id.clone()),
            [] => Err(self.err(format!("Microsoft Entra lists no role named {name:?}"))),
            _ => Err(self.err(format!(
                "Microsoft Entra lists {} roles named {name:?}; cannot tell which to restore",
                found.len()
            ))),
        }
    }

    /// Asks Graph to make `target` eligible again, as it was (its end, if it had one).
    pub(super) async fn restore_eligibility(
        &self,
        target: &RemovalTarget,
        schedule: &RestoreSchedule,
    ) -> Result<String, SourceError> {
        if target.assignment == Assignment::Active {
            return self.restore_standing(target, schedule).await;
        }
        let describe = format!(
            "{} as {} at {}",
            target.principal_external_id, target.role_name, target.scope
        );
        if !self.lookup(target).await?.is_empty() {
            return Ok(format!(
                "entra:{}:already listed: Microsoft Entra lists {describe} again",
                self.name
            ));
        }
        let role = self.role_definition_id(&target.role_name).await?;
        let expiration = match schedule.end {
            Some(end) => json!({
                "type": "afterDateTime",
                "endDateTime": end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }),
            None => json!({ "type": "noExpiration" }),
        };
        let body = json!({
            "action": "adminAssign",
            "principalId": target.principal_external_id,
            "roleDefinitionId": role,
            "directoryScopeId": target.scope,
            "justification": format!(
                "attest suspension item {}: restore of {describe} approved by an admin",
                target.item_id
            ),
            "scheduleInfo": {
                "startDateTime": schedule.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "expiration": expiration,
            },
        });
        let url = self.url(REQUESTS_PATH, &[]);
        let what = format!("the restore of {describe}");
        let reply = self.graph(Method::POST, &url, Some(&body), &what).await?;
        if reply.status.is_success() {
            #[derive(Deserialize)]
            struct Request {
                id: String,
                #[serde(default)]
                status: Option<String>,
            }
            let request: Request = serde_json::from_slice(&reply.body).map_err(|e| {
                self.err(format!(
                    "Microsoft Graph accepted {what} but its answer is unreadable: {e}"
                ))
            })?;
            return Ok(format!(
                "entra:{}:adminAssign request {} {}",
                self.name,
                request.id,
                request.status.as_deref().unwrap_or("(no status)")
            ));
        }
        if reply.status == StatusCode::FORBIDDEN {
            return Err(self.refused(&what, REMOVE_PERMISSIONS[0], &reply));
        }
        let (code, message) = reply.error();
        Err(self.err(format!(
            "Graph refused the restore of {describe}: {code}: {message}"
        )))
    }
}
