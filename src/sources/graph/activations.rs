//! Reads PIM's activation history for the weekly activation review: the role assignment
//! schedule requests of action `selfActivate`, each one activation with its start and the
//! holder's justification. PIM keeps these requests after the activation ends, unlike the
//! schedule instances the last activation is read from.
//! <https://learn.microsoft.com/en-us/graph/api/rbacapplication-list-roleassignmentschedulerequests?view=graph-rest-1.0>

use super::eligibility::parse_time;
use super::resources::{AssignmentRequest, ACTIVATION_REQUESTS_PATH};
use super::GraphConnector;
use crate::sources::connector::{SyncActivation, SyncPerson};
use crate::sources::SourceError;
use std::collections::BTreeMap;

/// The request states in which the role did become active (others were cancelled, denied,
/// failed or still wait for approval). `Revoked`: active, then ended early.
const ACTIVATED: [&str; 4] = ["Provisioned", "Granted", "ScheduleCreated", "Revoked"];

impl GraphConnector {
    /// Every activation of an eligibility the snapshot lists a holder and role of (by
    /// principal id and role definition id → role name). Without the permission the sync goes
    /// on without them, with a warning.
    pub(super) async fn activation_requests(
        &self,
        people: &BTreeMap<String, SyncPerson>,
        role_names: &BTreeMap<String, String>,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<SyncActivation>, SourceError> {
        let url = self.url(
            ACTIVATION_REQUESTS_PATH,
            &[("$filter", "action eq 'selfActivate'")],
        );
        let what = "the list of role activation requests";
        let requests: Vec<AssignmentRequest> = match self
            .list_all(url, what, "RoleAssignmentSchedule.Read.Directory")
            .await?
        {
            Ok(requests) => requests,
            Err(reply) => {
                let (code, message) = reply.error();
                warnings.push(format!(
                    "activation history is unknown: the app registration {} lacks the \
                     Microsoft Graph application permission RoleAssignmentSchedule.Read.Directory \
                     ({code}: {message})",
                    self.client_id
                ));
                return Ok(Vec::new());
            }
        };
        let mut outside = 0usize;
        let mut activations = Vec::new();
        for request in requests {
            if request
                .status
                .as_deref()
                .is_some_and(|s| !ACTIVATED.contains(&s))
            {
                continue;
            }
            let info = request.schedule_info.clone().unwrap_or_default();
            let Some(activated_at) = info
                .start_date_time
                .as_deref()
                .or(request.created_date_time.as_deref())
                .and_then(parse_time)
            else {
                continue;
            };
            let (Some(_), Some(role)) = (
                people.get(&request.principal_id),
                role_names.get(&request.role_definition_id),
            ) else {
                outside += 1;
                continue;
            };
            activations.push(SyncActivation {
                principal: request.principal_id,
                role: role.clone(),
                scope: request.directory_scope_id.unwrap_or_else(|| "/".into()),
                activated_at,
                ended_at: info
                    .expiration
                    .and_then(|e| e.end_date_time)
                    .as_deref()
                    .and_then(parse_time),
                justification: request.justification.filter(|j| !j.is_empty()),
            });
        }
        if outside > 0 {
            warnings.push(format!(
                "{outside} activations of roles or by principals with no eligibility listed are \
                 left out"
            ));
        }
        Ok(activations)
    }
}
