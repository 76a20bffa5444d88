//! Removes one eligibility with an `adminRemove` request, and reads it back to prove it gone.

use super::eligibility::disambiguated;
use super::resources::{Schedule, ELIGIBILITY_PATH, REQUESTS_PATH};
use super::{GraphConnector, REMOVE_PERMISSIONS};
use crate::sources::connector;
use crate::sources::{Removal, RemovalTarget, SourceError};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

impl Schedule {
    /// Whether this schedule is the one a removal target names: provisioned, of its principal,
    /// at its scope, of the role by name (as a sync named it).
    pub(super) fn names(&self, target: &RemovalTarget) -> bool {
        self.provisioned()
            && self.principal_id == target.principal_external_id
            && self.scope() == target.scope
            && self.role_definition.as_ref().is_some_and(|r| {
                r.display_name == target.role_name
                    || disambiguated(&r.display_name, &r.id) == target.role_name
            })
    }
}

impl GraphConnector {
    /// The URL listing one principal's schedules at `path` (eligibility or standing
    /// assignments), with their role definitions.
    pub(super) fn schedules_of(&self, path: &str, target: &RemovalTarget) -> String {
        let filter = format!(
            "principalId eq '{}'",
            target.principal_external_id.replace('\'', "''")
        );
        self.url(path, &[("$filter", &filter), ("$expand", "roleDefinition")])
    }

    /// The schedules of one principal that match a removal target (provisioned, the role by
    /// name, the scope).
    pub(super) async fn lookup(
        &self,
        target: &RemovalTarget,
    ) -> Result<Vec<Schedule>, SourceError> {
        let url = self.schedules_of(ELIGIBILITY_PATH, target);
        let what = format!(
            "the eligibility schedules of {}",
            target.principal_external_id
        );
        let schedules: Vec<Schedule> = self
            .list_all(url, &what, REMOVE_PERMISSIONS[0])
            .await?
            .map_err(|reply| self.refused(&what, REMOVE_PERMISSIONS[0], &reply))?;
        Ok(schedules.into_iter().filter(|s| s.names(target)).collect())
    }

    /// Asks Graph to remove the eligibility `target` names; one not listed any more is already gone.
    pub(super) async fn remove_eligibility(
        &self,
        target: &RemovalTarget,
    ) -> Result<Removal, SourceError> {
        let describe_target = format!(
            "{} as {} at {}",
            target.principal_external_id, target.role_name, target.scope
        );
        let found = self.lookup(target).await?;
        let Some(schedule) = found.first() else {
            return Ok(Removal::AlreadyGone {
                receipt: format!(
                    "entra:{}:not listed: Microsoft Entra lists no eligibility of {describe_target}",
                    self.name
                ),
            });
        };
        let body = json!({
            "action": "adminRemove",
            "principalId": schedule.principal_id,
            "roleDefinitionId": schedule.role_definition_id,
            "directoryScopeId": schedule.scope(),
            "justification": connector::justification(target),
        });
        let url = self.url(REQUESTS_PATH, &[]);
        let what = format!("the removal of {describe_target}");
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
            return Ok(Removal::Removed {
                receipt: format!(
                    "entra:{}:request {} {}",
                    self.name,
                    request.id,
                    request.status.as_deref().unwrap_or("(no status)")
                ),
            });
        }
        let (code, message) = reply.error();
        // Graph answers RoleAssignmentDoesNotExist to an adminRemove of an eligibility that is
        // not there (RoleEligibilityScheduleDoesNotExist is accepted too). It has been seen
        // answering so for a removal it did carry out, so the answer is trusted only once a
        // fresh read no longer lists the eligibility.
        if matches!(
            code.as_str(),
            "RoleAssignmentDoesNotExist" | "RoleEligibilityScheduleDoesNotExist"
        ) {
            if self.lookup(target).await?.is_empty() {
                return Ok(Removal::AlreadyGone {
                    receipt: format!(
                        "entra:{}:not listed: Microsoft Graph answered {code} to the removal of \
                         {describe_target} and no longer lists it",
                        self.name
                    ),
                });
            }
            return Err(self.err(format!(
                "Graph refused the removal of {describe_target}: {code}: {message} (yet it still \
                 lists the eligibility)"
            )));
        }
        if reply.status == StatusCode::FORBIDDEN {
            return Err(self.refused(&what, REMOVE_PERMISSIONS[0], &reply));
        }
        Err(self.err(format!(
            "Graph refused the removal of {describe_target}: {code}: {message}"
        )))
    }
}
