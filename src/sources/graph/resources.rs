//! The Microsoft Graph objects a sync and a removal read: eligibility and assignment schedules,
//! directory objects, role definitions and activated assignments, and where Graph lists them.

use crate::domain::directory::PrincipalKind;
use crate::sources::connector::SyncPerson;
use serde::Deserialize;

pub(super) const ELIGIBILITY_PATH: &str = "/v1.0/roleManagement/directory/roleEligibilitySchedules";
/// Users, listed for the disabled accounts only.
pub(super) const USERS_PATH: &str = "/v1.0/users";
pub(super) const ACTIVATIONS_PATH: &str =
    "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances";
/// Activation requests (`action eq 'selfActivate'`): every activation PIM still lists, ended
/// or not, with its justification.
pub(super) const ACTIVATION_REQUESTS_PATH: &str =
    "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests";
pub(super) const ROLE_DEFINITIONS_PATH: &str = "/v1.0/roleManagement/directory/roleDefinitions";
pub(super) const REQUESTS_PATH: &str =
    "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests";
/// Active role assignment schedules: standing access (`assignmentType` `Assigned`) and PIM
/// activations (`Activated`), the same shape as an eligibility schedule plus `assignmentType`.
pub(super) const ASSIGNMENTS_PATH: &str = "/v1.0/roleManagement/directory/roleAssignmentSchedules";
/// Where a standing assignment is removed (`action: adminRemove`).
pub(super) const ASSIGNMENT_REQUESTS_PATH: &str = ACTIVATION_REQUESTS_PATH;

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub(super) struct Schedule {
    #[serde(default)]
    pub(super) id: Option<String>,
    pub(super) principal_id: String,
    pub(super) role_definition_id: String,
    #[serde(default)]
    pub(super) directory_scope_id: Option<String>,
    #[serde(default)]
    pub(super) member_type: Option<String>,
    #[serde(default)]
    pub(super) status: Option<String>,
    #[serde(default)]
    pub(super) schedule_info: Option<ScheduleInfo>,
    #[serde(default)]
    pub(super) principal: Option<DirectoryObject>,
    #[serde(default)]
    pub(super) role_definition: Option<RoleDefinition>,
    /// Assignment schedules only: `Assigned` (standing access) or `Activated` (a PIM
    /// activation of an eligibility, which is not standing access).
    #[serde(default)]
    pub(super) assignment_type: Option<String>,
}

impl Schedule {
    /// An assignment schedule of standing access: assigned, not activated.
    pub(super) fn standing(&self) -> bool {
        self.assignment_type.as_deref() == Some("Assigned")
    }
    pub(super) fn provisioned(&self) -> bool {
        self.status.as_deref() == Some("Provisioned")
    }
    /// Eligibility inherited through a group is held (and removed) as the group's own.
    pub(super) fn direct(&self) -> bool {
        matches!(self.member_type.as_deref(), None | Some("Direct"))
    }
    pub(super) fn scope(&self) -> &str {
        self.directory_scope_id.as_deref().unwrap_or("/")
    }
}

#[derive(Deserialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct ScheduleInfo {
    #[serde(default)]
    pub(super) start_date_time: Option<String>,
    #[serde(default)]
    pub(super) expiration: Option<Expiration>,
}

#[derive(Deserialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct Expiration {
    #[serde(default)]
    pub(super) end_date_time: Option<String>,
    #[serde(default, rename = "type")]
    pub(super) kind: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub(super) struct DirectoryObject {
    #[serde(default, rename = "@odata.type")]
    pub(super) odata_type: Option<String>,
    pub(super) id: String,
    #[serde(default)]
    pub(super) display_name: Option<String>,
    #[serde(default)]
    pub(super) mail: Option<String>,
    #[serde(default)]
    pub(super) user_principal_name: Option<String>,
    #[serde(default)]
    pub(super) account_enabled: Option<bool>,
}

impl DirectoryObject {
    pub(super) fn person(&self, kind: PrincipalKind) -> SyncPerson {
        let email = match kind {
            PrincipalKind::User | PrincipalKind::BreakGlass => self
                .mail
                .clone()
                .filter(|m| !m.is_empty())
                .or_else(|| self.user_principal_name.clone()),
            PrincipalKind::Service => self.mail.clone().filter(|m| !m.is_empty()),
        };
        SyncPerson {
            external_id: self.id.clone(),
            name: self
                .display_name
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| self.id.clone()),
            email,
            manager: None,
            kind,
            // The expanded principal of a schedule carries only the default properties, which
            // leave accountEnabled out; absent means enabled until the sync's list of disabled
            // accounts says otherwise (`disabled_users`).
            enabled: self.account_enabled.unwrap_or(true),
        }
    }
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub(super) struct RoleDefinition {
    pub(super) id: String,
    pub(super) display_name: String,
    #[serde(default)]
    pub(super) description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ActivationInstance {
    pub(super) principal_id: String,
    pub(super) role_definition_id: String,
    #[serde(default)]
    pub(super) directory_scope_id: Option<String>,
    #[serde(default)]
    pub(super) start_date_time: Option<String>,
}

/// A role assignment schedule request; a sync reads those of action `selfActivate`.
#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub(super) struct AssignmentRequest {
    pub(super) principal_id: String,
    pub(super) role_definition_id: String,
    #[serde(default)]
    pub(super) directory_scope_id: Option<String>,
    #[serde(default)]
    pub(super) status: Option<String>,
    #[serde(default)]
    pub(super) justification: Option<String>,
    #[serde(default)]
    pub(super) created_date_time: Option<String>,
    #[serde(default)]
    pub(super) schedule_info: Option<ScheduleInfo>,
}
