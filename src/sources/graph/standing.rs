//! Standing access in Microsoft Entra (issue 17): active role assignments held without
//! activation. Listed, removed and converted to eligible through Microsoft Graph v1.0:
//!
//! - list: <https://learn.microsoft.com/en-us/graph/api/rbacapplication-list-roleassignmentschedules?view=graph-rest-1.0>
//!   and the resource <https://learn.microsoft.com/en-us/graph/api/resources/unifiedroleassignmentschedule?view=graph-rest-1.0>
//!   (the eligibility schedule's fields plus `assignmentType`, `Assigned` or `Activated`,
//!   `$filter` `eq`; `memberType` `Direct`, `Group` or `Inherited`; `principal` and
//!   `roleDefinition` support `$expand`; application permission
//!   RoleAssignmentSchedule.Read.Directory to read, RoleAssignmentSchedule.ReadWrite.Directory
//!   to change).
//! - removal: <https://learn.microsoft.com/en-us/graph/api/rbacapplication-post-roleassignmentschedulerequests?view=graph-rest-1.0>
//!   (`action: adminRemove` with `principalId`, `roleDefinitionId`, `directoryScopeId`,
//!   `justification`; `201 Created` with a unifiedRoleAssignmentScheduleRequest).
//! - conversion: an `adminAssign` on roleEligibilityScheduleRequests (as a suspension's
//!   restore), then the `adminRemove` above.
//! - a suspension's restore of standing access: `action: adminAssign` on the same
//!   roleAssignmentScheduleRequests, with `scheduleInfo` as an eligibility's restore.
//!
//! Only `Assigned` schedules are standing access: a PIM activation is listed in the same
//! collection as `Activated` and ends by itself; reviewing it would review the eligibility
//! twice. Only `Direct` ones are reviewed, as with eligibility: one inherited through a
//! role-assignable group is the group's own assignment, removable only from the group, and
//! the group is reviewed as one principal.
//!
//! Attest keeps one row per principal × role × scope. When Entra lists both an eligibility and
//! a standing assignment there, the row is standing access, and a revocation removes both: the
//! reviewer revoked the access, not one of its two forms.

use super::resources::{Schedule, ASSIGNMENTS_PATH, ASSIGNMENT_REQUESTS_PATH, REQUESTS_PATH};
use super::{GraphConnector, REMOVE_PERMISSIONS};
use crate::domain::eligibility::Assignment;
use crate::sources::{Removal, RemovalTarget, RestoreSchedule, SourceError};
use chrono::SecondsFormat;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

/// The application permission that removes a standing assignment (RoleManagement.ReadWrite.Directory
/// covers it too).
pub const STANDING_PERMISSION: &str = "RoleAssignmentSchedule.ReadWrite.Directory";

/// The request object Graph answers `201 Created` with (either kind of request).
#[derive(Deserialize)]
struct Request {
    id: String,
    #[serde(default)]
    status: Option<String>,
}

impl GraphConnector {
    /// Every direct, provisioned standing assignment, with its principal and role definition,
    /// for a sync. An app that may not read them gets none, and the sync says so.
    pub(super) async fn standing_schedules(
        &self,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<Schedule>, SourceError> {
        let url = self.url(
            ASSIGNMENTS_PATH,
            &[
                ("$filter", "assignmentType eq 'Assigned'"),
                ("$expand", "principal,roleDefinition"),
            ],
        );
        let what = "the list of standing role assignments";
        match self
            .list_all::<Schedule>(url, what, STANDING_PERMISSION)
            .await?
        {
            // Filtered again here: an activation must never become standing access.
            Ok(schedules) => Ok(schedules.into_iter().filter(|s| s.standing()).collect()),
            Err(reply) => {
                let (code, message) = reply.error();
                warnings.push(format!(
                    "standing access (active role assignments) is not reviewed: the app \
                     registration {} lacks the Microsoft Graph application permission \
                     {STANDING_PERMISSION} ({code}: {message})",
                    self.client_id
                ));
                Ok(Vec::new())
            }
        }
    }

    /// The standing assignments that match a removal target. `None`: the app may not read
    /// them and `strict` is false (an eligible target: attest never listed standing access of
    /// this app, so there is none it could have reviewed); strict, that is an error.
    pub(super) async fn lookup_standing(
        &self,
        target: &RemovalTarget,
        strict: bool,
    ) -> Result<Option<Vec<Schedule>>, SourceError> {
        let url = self.schedules_of(ASSIGNMENTS_PATH, target);
        let what = format!(
            "the standing role assignments of {}",
            target.principal_external_id
        );
        match self
            .list_all::<Schedule>(url, &what, STANDING_PERMISSION)
            .await?
        {
            Ok(schedules) => Ok(Some(
                schedules
                    .into_iter()
                    .filter(|s| s.standing() && s.direct() && s.names(target))
                    .collect(),
            )),
            Err(reply) if strict => Err(self.refused(&what, STANDING_PERMISSION, &reply)),
            Err(_) => Ok(None),
        }
    }

    /// Removes the access a target names in every form Entra holds it (see the module
    /// header): the kind the item was reviewed as first, then the other. Removed when either
    /// was removed; already gone when neither was listed.
    pub(super) async fn remove_access(
        &self,
        target: &RemovalTarget,
    ) -> Result<Removal, SourceError> {
        if target.assignment == Assignment::Active {
            let standing = self.remove_standing(target, true).await?;
            let eligibility = self.remove_eligibility(target).await?;
            return Ok(match standing {
                Some(standing) => combine(standing, eligibility),
                None => eligibility,
            });
        }
        let eligibility = self.remove_eligibility(target).await?;
        Ok(match self.remove_standing(target, false).await? {
            Some(standing) => combine(eligibility, standing),
            None => eligibility,
        })
    }

    /// Reads a removal back: is the access still held, as an eligibility or standing?
    pub(super) async fn holds(&self, target: &RemovalTarget) -> Result<bool, SourceError> {
        if !self.lookup(target).await?.is_empty() {
            return Ok(true);
        }
        let strict = target.assignment == Assignment::Active;
        Ok(self
            .lookup_standing(target, strict)
            .await?
            .is_some_and(|found| !found.is_empty()))
    }

    /// Asks Graph to remove the standing assignment `target` names; `None` as in
    /// [`Self::lookup_standing`].
    async fn remove_standing(
        &self,
        target: &RemovalTarget,
        strict: bool,
    ) -> Result<Option<Removal>, SourceError> {
        let describe = describe(target);
        let Some(found) = self.lookup_standing(target, strict).await? else {
            return Ok(None);
        };
        let Some(schedule) = found.first() else {
            return Ok(Some(Removal::AlreadyGone {
                receipt: format!(
                    "entra:{}:not listed: Microsoft Entra lists no standing assignment of {describe}",
                    self.name
                ),
            }));
        };
        let body = json!({
            "action": "adminRemove",
            "principalId": schedule.principal_id,
            "roleDefinitionId": schedule.role_definition_id,
            "directoryScopeId": schedule.scope(),
            "justification": crate::sources::connector::justification(target),
        });
        let url = self.url(ASSIGNMENT_REQUESTS_PATH, &[]);
        let what = format!("the removal of the standing assignment of {describe}");
        let reply = self.graph(Method::POST, &url, Some(&body), &what).await?;
        if reply.status.is_success() {
            let request = self.request(&reply.body, &what)?;
            return Ok(Some(Removal::Removed {
                receipt: format!(
                    "entra:{}:assignment removal request {} {}",
                    self.name,
                    request.id,
                    request.status.as_deref().unwrap_or("(no status)")
                ),
            }));
        }
        let (code, message) = reply.error();
        // As with eligibility: "does not exist" is trusted only once a fresh read agrees.
        if code == "RoleAssignmentDoesNotExist" {
            let again = self
                .lookup_standing(target, true)
                .await?
                .unwrap_or_default();
            if again.is_empty() {
                return Ok(Some(Removal::AlreadyGone {
                    receipt: format!(
                        "entra:{}:not listed: Microsoft Graph answered {code} to {what} and no \
                         longer lists it",
                        self.name
                    ),
                }));
            }
            return Err(self.err(format!(
                "Graph refused {what}: {code}: {message} (yet it still lists the assignment)"
            )));
        }
        if reply.status == StatusCode::FORBIDDEN {
            return Err(self.refused(&what, STANDING_PERMISSION, &reply));
        }
        Err(self.err(format!("Graph refused {what}: {code}: {message}")))
    }

    /// Converts standing access to eligible: makes the eligibility (unless Entra lists it
    /// already: a retry after a crash between the two steps), then removes the standing
    /// assignment. No standing assignment listed: already gone, which is what a conversion
    /// wants.
    pub(super) async fn convert_standing(
        &self,
        target: &RemovalTarget,
    ) -> Result<Removal, SourceError> {
        let describe = describe(target);
        let found = self
            .lookup_standing(target, true)
            .await?
            .unwrap_or_default();
        let Some(assignment) = found.first() else {
            return Ok(Removal::AlreadyGone {
                receipt: format!(
                    "entra:{}:not standing: Microsoft Entra lists no standing assignment of {describe}",
                    self.name
                ),
            });
        };
        let made = if self.lookup(target).await?.is_empty() {
            self.assign_eligible(target, assignment).await?
        } else {
            format!("entra:{}:eligibility already listed", self.name)
        };
        let receipt = match self.remove_standing(target, true).await? {
            Some(Removal::Removed { receipt } | Removal::AlreadyGone { receipt }) => receipt,
            None => String::new(),
        };
        Ok(Removal::Removed {
            receipt: format!("{made}; {receipt}"),
        })
    }

    /// Reads a conversion back: is the standing assignment still listed?
    pub(super) async fn still_standing(&self, target: &RemovalTarget) -> Result<bool, SourceError> {
        Ok(!self
            .lookup_standing(target, true)
            .await?
            .unwrap_or_default()
            .is_empty())
    }

    /// The `adminAssign` of the eligibility a conversion makes: from now, and ending when the
    /// standing assignment would have (never, when it was permanent).
    async fn assign_eligible(
        &self,
        target: &RemovalTarget,
        assignment: &Schedule,
    ) -> Result<String, SourceError> {
        let describe = describe(target);
        let expiration = assignment
            .schedule_info
            .as_ref()
            .and_then(|i| i.expiration.clone())
            .unwrap_or_default();
        let expiration = match (expiration.end_date_time, expiration.kind.as_deref()) {
            (Some(end), _) => json!({ "type": "afterDateTime", "endDateTime": end }),
            (None, None | Some("noExpiration")) => json!({ "type": "noExpiration" }),
            (None, Some(other)) => {
                return Err(self.err(format!(
                    "the standing assignment of {describe} expires {other} without an end \
                     date; convert it in Microsoft Entra by hand"
                )))
            }
        };
        let body = json!({
            "action": "adminAssign",
            "principalId": assignment.principal_id,
            "roleDefinitionId": assignment.role_definition_id,
            "directoryScopeId": assignment.scope(),
            "justification": format!(
                "attest campaign {} item {}: access review conversion of {describe} from standing \
                 access to eligible",
                target.campaign_id, target.item_id
            ),
            "scheduleInfo": {
                "startDateTime": chrono::Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
                "expiration": expiration,
            },
        });
        let url = self.url(REQUESTS_PATH, &[]);
        let what = format!("the eligibility that replaces the standing access of {describe}");
        let reply = self.graph(Method::POST, &url, Some(&body), &what).await?;
        if reply.status.is_success() {
            let request = self.request(&reply.body, &what)?;
            return Ok(format!(
                "entra:{}:eligibility request {} {}",
                self.name,
                request.id,
                request.status.as_deref().unwrap_or("(no status)")
            ));
        }
        let (code, message) = reply.error();
        // Made by an earlier try whose answer was lost: what the conversion wanted.
        if code == "RoleAssignmentExists" && !self.lookup(target).await?.is_empty() {
            return Ok(format!("entra:{}:eligibility already listed", self.name));
        }
        if reply.status == StatusCode::FORBIDDEN {
            return Err(self.refused(&what, REMOVE_PERMISSIONS[0], &reply));
        }
        Err(self.err(format!("Graph refused {what}: {code}: {message}")))
    }

    /// Puts back standing access a suspension removed, as it was (its end, if it had one):
    /// standing again, not eligible.
    pub(super) async fn restore_standing(
        &self,
        target: &RemovalTarget,
        schedule: &RestoreSchedule,
    ) -> Result<String, SourceError> {
        let describe = describe(target);
        if !self
            .lookup_standing(target, true)
            .await?
            .unwrap_or_default()
            .is_empty()
        {
            return Ok(format!(
                "entra:{}:already listed: Microsoft Entra lists the standing assignment of \
                 {describe} again",
                self.name
            ));
        }
        let role = self.role_definition_id(&target.role_name).await?;
        let expiration = match schedule.end {
            Some(end) => json!({
                "type": "afterDateTime",
                "endDateTime": end.to_rfc3339_opts(SecondsFormat::Secs, true),
            }),
            None => json!({ "type": "noExpiration" }),
        };
        let body = json!({
            "action": "adminAssign",
            "principalId": target.principal_external_id,
            "roleDefinitionId": role,
            "directoryScopeId": target.scope,
            "justification": format!(
                "attest suspension item {}: restore of the standing assignment of {describe} \
                 approved by an admin",
                target.item_id
            ),
            "scheduleInfo": {
                "startDateTime": schedule.start.to_rfc3339_opts(SecondsFormat::Secs, true),
                "expiration": expiration,
            },
        });
        let url = self.url(ASSIGNMENT_REQUESTS_PATH, &[]);
        let what = format!("the restore of the standing assignment of {describe}");
        let reply = self.graph(Method::POST, &url, Some(&body), &what).await?;
        if reply.status.is_success() {
            let request = self.request(&reply.body, &what)?;
            return Ok(format!(
                "entra:{}:assignment adminAssign request {} {}",
                self.name,
                request.id,
                request.status.as_deref().unwrap_or("(no status)")
            ));
        }
        if reply.status == StatusCode::FORBIDDEN {
            return Err(self.refused(&what, STANDING_PERMISSION, &reply));
        }
        let (code, message) = reply.error();
        Err(self.err(format!("Graph refused {what}: {code}: {message}")))
    }

    fn request(&self, body: &[u8], what: &str) -> Result<Request, SourceError> {
        serde_json::from_slice(body).map_err(|e| {
            self.err(format!(
                "Microsoft Graph accepted {what} but its answer is unreadable: {e}"
            ))
        })
    }
}

fn describe(target: &RemovalTarget) -> String {
    format!(
        "{} as {} at {}",
        target.principal_external_id, target.role_name, target.scope
    )
}

/// One answer for the two forms of one access: removed when either was, with the receipts of
/// what was removed; the first's receipt when neither was listed.
fn combine(first: Removal, second: Removal) -> Removal {
    match (first, second) {
        (Removal::Removed { receipt: a }, Removal::Removed { receipt: b }) => Removal::Removed {
            receipt: format!("{a}; {b}"),
        },
        (removed @ Removal::Removed { .. }, _) => removed,
        (Removal::AlreadyGone { .. }, removed @ Removal::Removed { .. }) => removed,
        (gone, Removal::AlreadyGone { .. }) => gone,
    }
}
