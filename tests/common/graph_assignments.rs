//! The Graph test server's active role assignments: `roleAssignmentSchedules` listed (standing
//! `Assigned` ones and PIM `Activated` ones, as Graph lists both) and `adminRemove` requests on
//! `roleAssignmentScheduleRequests` (and `adminAssign`, a suspension's restore), with state, so that a removal reads back for real.
//!
//! Shapes from Microsoft's reference:
//! <https://learn.microsoft.com/en-us/graph/api/resources/unifiedroleassignmentschedule?view=graph-rest-1.0>
//! (unifiedRoleScheduleBase's fields plus `assignmentType` and `memberType`, both `$filter`
//! `eq`; `principal`, `roleDefinition`, `activatedUsing` expandable),
//! <https://learn.microsoft.com/en-us/graph/api/rbacapplication-list-roleassignmentschedules?view=graph-rest-1.0>
//! (RoleAssignmentSchedule.Read.Directory or broader) and
//! <https://learn.microsoft.com/en-us/graph/api/rbacapplication-post-roleassignmentschedulerequests?view=graph-rest-1.0>
//! (RoleAssignmentSchedule.ReadWrite.Directory or RoleManagement.ReadWrite.Directory; `201
//! Created` with the unifiedRoleAssignmentScheduleRequest).

use super::{
    denied, graph_error, ok_json, page, parse_filter, principal_json, AssignmentRequest,
    GraphServer, State, ACTIVATION_REQUESTS_PATH,
};
use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::collections::HashMap;

pub const ASSIGNMENTS_PATH: &str = "/v1.0/roleManagement/directory/roleAssignmentSchedules";
/// The permission that removes a standing assignment.
pub const ASSIGNMENT_READ_WRITE: &str = "RoleAssignmentSchedule.ReadWrite.Directory";

/// One role assignment schedule: standing (`Assigned`) or a PIM activation (`Activated`).
#[derive(Debug, Clone, PartialEq)]
pub struct AssignmentSchedule {
    pub id: String,
    pub principal_id: String,
    pub role_definition_id: String,
    pub directory_scope_id: String,
    pub assignment_type: String,
    pub member_type: String,
    pub status: String,
    pub start: String,
    pub end: Option<String>,
}

impl GraphServer {
    /// A provisioned role assignment schedule: `assignment_type` `Assigned` (standing access)
    /// or `Activated` (a PIM activation); `member_type` `Direct`, `Group` or `Inherited`.
    pub fn add_assignment(
        &self,
        principal: &str,
        role: &str,
        scope: &str,
        assignment_type: &str,
        member_type: &str,
        end: Option<&str>,
    ) -> String {
        let mut state = self.lock();
        let id = state.guid();
        state.assignment_schedules.push(AssignmentSchedule {
            id: id.clone(),
            principal_id: principal.into(),
            role_definition_id: role.into(),
            directory_scope_id: scope.into(),
            assignment_type: assignment_type.into(),
            member_type: member_type.into(),
            status: "Provisioned".into(),
            start: "2024-06-01T08:00:00Z".into(),
            end: end.map(str::to_string),
        });
        id
    }

    /// The role assignment schedules the server holds now.
    pub fn assignment_schedules(&self) -> Vec<AssignmentSchedule> {
        self.lock().assignment_schedules.clone()
    }

    /// Every POST body of roleAssignmentScheduleRequests.
    pub fn assignment_requests_posted(&self) -> Vec<Value> {
        self.lock().assignment_requests_posted.clone()
    }
}

/// The answer to a request on these routes, or `None` when it is not one of them.
pub(super) fn route(
    state: &mut State,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
    body: &Bytes,
    roles: &[String],
) -> Option<Response> {
    let has = |any: &[&str]| roles.iter().any(|r| any.contains(&r.as_str()));
    if path == ASSIGNMENTS_PATH && method == Method::GET {
        if !has(&[
            "RoleAssignmentSchedule.Read.Directory",
            ASSIGNMENT_READ_WRITE,
            "RoleManagement.Read.Directory",
            "RoleManagement.Read.All",
            "RoleManagement.ReadWrite.Directory",
        ]) {
            return Some(denied());
        }
        return Some(list(state, query));
    }
    if path == ACTIVATION_REQUESTS_PATH && method == Method::POST {
        if !has(&[ASSIGNMENT_READ_WRITE, "RoleManagement.ReadWrite.Directory"]) {
            return Some(denied());
        }
        return Some(request(state, body));
    }
    None
}

fn list(state: &State, query: &HashMap<String, String>) -> Response {
    let filter = match query.get("$filter") {
        None => Vec::new(),
        Some(f) => match parse_filter(
            f,
            &[
                "principalId",
                "roleDefinitionId",
                "directoryScopeId",
                "assignmentType",
                "memberType",
                "status",
            ],
        ) {
            Ok(f) => f,
            Err(e) => return graph_error(400, "BadRequest", &e),
        },
    };
    let expand: Vec<&str> = query
        .get("$expand")
        .map(|e| e.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let known = [
        "principal",
        "roleDefinition",
        "directoryScope",
        "appScope",
        "activatedUsing",
    ];
    if let Some(bad) = expand.iter().find(|e| !known.contains(e)) {
        return graph_error(
            400,
            "BadRequest",
            &format!("Could not find a property named '{bad}' on type 'microsoft.graph.unifiedRoleAssignmentSchedule'."),
        );
    }
    let items: Vec<Value> = state
        .assignment_schedules
        .iter()
        .filter(|a| {
            filter.iter().all(|(prop, value)| match prop.as_str() {
                "principalId" => &a.principal_id == value,
                "roleDefinitionId" => &a.role_definition_id == value,
                "directoryScopeId" => &a.directory_scope_id == value,
                "assignmentType" => &a.assignment_type == value,
                "memberType" => &a.member_type == value,
                _ => &a.status == value,
            })
        })
        .map(|a| {
            let mut item = json!({
                "id": a.id,
                "principalId": a.principal_id,
                "roleDefinitionId": a.role_definition_id,
                "directoryScopeId": a.directory_scope_id,
                "appScopeId": null,
                "createdUsing": a.id,
                "createdDateTime": a.start,
                "modifiedDateTime": null,
                "status": a.status,
                "assignmentType": a.assignment_type,
                "memberType": a.member_type,
                "scheduleInfo": {
                    "startDateTime": a.start,
                    "recurrence": null,
                    "expiration": match &a.end {
                        Some(end) => json!({"type": "afterDateTime", "endDateTime": end, "duration": null}),
                        None => json!({"type": "noExpiration", "endDateTime": null, "duration": null}),
                    }
                }
            });
            if expand.contains(&"principal") {
                item["principal"] = principal_json(state, &a.principal_id);
            }
            if expand.contains(&"roleDefinition") {
                item["roleDefinition"] = match state.role_definitions.get(&a.role_definition_id) {
                    Some(r) => json!({
                        "id": r.id,
                        "description": r.description,
                        "displayName": r.display_name,
                        "isBuiltIn": true,
                        "isEnabled": true,
                        "templateId": r.id,
                        "version": "1"
                    }),
                    None => Value::Null,
                };
            }
            item
        })
        .collect();
    page(
        state,
        ASSIGNMENTS_PATH,
        "roleAssignmentSchedules",
        query,
        items,
    )
}

/// `adminRemove` of a direct standing assignment, or `adminAssign` of one; other actions are
/// not served here.
fn request(state: &mut State, body: &Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return graph_error(400, "BadRequest", "Unable to read JSON request payload.");
    };
    state.assignment_requests_posted.push(request.clone());
    let text = |key: &str| request.get(key).and_then(Value::as_str).map(str::to_string);
    let action = text("action").unwrap_or_default();
    if action == "adminAssign" {
        return assign(state, &request);
    }
    if action != "adminRemove" {
        return graph_error(
            400,
            "BadRequest",
            &format!(
                "This test server handles actions adminRemove and adminAssign of role assignment schedule requests only, not '{action}'."
            ),
        );
    }
    let (Some(principal), Some(role), Some(scope)) = (
        text("principalId"),
        text("roleDefinitionId"),
        text("directoryScopeId"),
    ) else {
        return graph_error(
            400,
            "BadRequest",
            "principalId, roleDefinitionId and directoryScopeId are required.",
        );
    };
    // The role settings of this tenant require a justification for every change.
    if text("justification").is_none_or(|j| j.trim().is_empty()) {
        return graph_error(
            400,
            "RoleAssignmentRequestPolicyValidationFailed",
            "The following policy rules failed: [\"JustificationRule\"]",
        );
    }
    if !state.role_definitions.contains_key(&role) {
        return graph_error(
            404,
            "Request_ResourceNotFound",
            &format!("Resource '{role}' does not exist or one of its queried reference-property objects are not present."),
        );
    }
    if !state.users.contains_key(&principal) && !state.others.contains_key(&principal) {
        return graph_error(
            404,
            "Request_ResourceNotFound",
            &format!("Resource '{principal}' does not exist or one of its queried reference-property objects are not present."),
        );
    }
    let before = state.assignment_schedules.len();
    state.assignment_schedules.retain(|a| {
        !(a.principal_id == principal
            && a.role_definition_id == role
            && a.directory_scope_id == scope
            && a.status == "Provisioned"
            && a.member_type == "Direct"
            && a.assignment_type == "Assigned")
    });
    if state.assignment_schedules.len() == before {
        return graph_error(
            400,
            "RoleAssignmentDoesNotExist",
            "The Role assignment does not exist.",
        );
    }
    let id = state.guid();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    // Graph lists the request among the role assignment schedule requests too.
    state.assignment_requests.push(AssignmentRequest {
        id: id.clone(),
        principal_id: principal.clone(),
        role_definition_id: role.clone(),
        action: "adminRemove",
        status: "Revoked",
        start: now.clone(),
        justification: text("justification"),
    });
    ok_json(
        StatusCode::CREATED,
        json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#roleManagement/directory/roleAssignmentScheduleRequests/$entity",
            "id": id,
            "status": "Revoked",
            "createdDateTime": now,
            "completedDateTime": null,
            "approvalId": null,
            "customData": null,
            "action": "adminRemove",
            "principalId": principal,
            "roleDefinitionId": role,
            "directoryScopeId": scope,
            "appScopeId": null,
            "isValidationOnly": false,
            "targetScheduleId": null,
            "justification": text("justification"),
            "scheduleInfo": null,
            "createdBy": {
                "application": {"displayName": null, "id": state.client_id},
                "device": null,
                "user": null
            },
            "ticketInfo": {"ticketNumber": null, "ticketSystem": null}
        }),
    )
}

/// `adminAssign`: a new provisioned, direct standing assignment with the schedule the request
/// gives; `RoleAssignmentExists` when one is there.
fn assign(state: &mut State, request: &Value) -> Response {
    let text = |key: &str| request.get(key).and_then(Value::as_str).map(str::to_string);
    let (Some(principal), Some(role), Some(scope)) = (
        text("principalId"),
        text("roleDefinitionId"),
        text("directoryScopeId"),
    ) else {
        return graph_error(
            400,
            "BadRequest",
            "principalId, roleDefinitionId and directoryScopeId are required.",
        );
    };
    if text("justification").is_none_or(|j| j.trim().is_empty()) {
        return graph_error(
            400,
            "RoleAssignmentRequestPolicyValidationFailed",
            "The following policy rules failed: [\"JustificationRule\"]",
        );
    }
    let info = &request["scheduleInfo"];
    let Some(start) = info["startDateTime"].as_str().map(str::to_string) else {
        return graph_error(400, "BadRequest", "scheduleInfo.startDateTime is required.");
    };
    let end = match info["expiration"]["type"].as_str() {
        Some("noExpiration") => None,
        Some("afterDateTime") => match info["expiration"]["endDateTime"].as_str() {
            Some(end) => Some(end.to_string()),
            None => return graph_error(400, "BadRequest", "expiration.endDateTime is required."),
        },
        _ => {
            return graph_error(
                400,
                "BadRequest",
                "scheduleInfo.expiration.type is required.",
            )
        }
    };
    if !state.role_definitions.contains_key(&role)
        || (!state.users.contains_key(&principal) && !state.others.contains_key(&principal))
    {
        return graph_error(
            404,
            "Request_ResourceNotFound",
            "Resource does not exist or one of its queried reference-property objects are not present.",
        );
    }
    if state.assignment_schedules.iter().any(|a| {
        a.principal_id == principal
            && a.role_definition_id == role
            && a.directory_scope_id == scope
            && a.assignment_type == "Assigned"
    }) {
        return graph_error(
            400,
            "RoleAssignmentExists",
            "The Role assignment already exists.",
        );
    }
    let id = state.guid();
    state.assignment_schedules.push(AssignmentSchedule {
        id: id.clone(),
        principal_id: principal.clone(),
        role_definition_id: role.clone(),
        directory_scope_id: scope.clone(),
        assignment_type: "Assigned".into(),
        member_type: "Direct".into(),
        status: "Provisioned".into(),
        start: start.clone(),
        end: end.clone(),
    });
    ok_json(
        StatusCode::CREATED,
        json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#roleManagement/directory/roleAssignmentScheduleRequests/$entity",
            "id": id,
            "status": "Provisioned",
            "createdDateTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "completedDateTime": null,
            "approvalId": null,
            "customData": null,
            "action": "adminAssign",
            "principalId": principal,
            "roleDefinitionId": role,
            "directoryScopeId": scope,
            "appScopeId": null,
            "isValidationOnly": false,
            "targetScheduleId": id,
            "justification": text("justification"),
            "scheduleInfo": {
                "startDateTime": start,
                "recurrence": null,
                "expiration": match &end {
                    Some(end) => json!({"type": "afterDateTime", "endDateTime": end, "duration": null}),
                    None => json!({"type": "noExpiration", "endDateTime": null, "duration": null}),
                },
            },
            "createdBy": {
                "application": {"displayName": null, "id": state.client_id},
                "device": null,
                "user": null
            },
            "ticketInfo": {"ticketNumber": null, "ticketSystem": null}
        }),
    )
}
