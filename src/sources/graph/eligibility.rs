//! Reads the population a sync copies: every provisioned eligibility schedule and standing
//! assignment schedule with its principal and role, the last activations, the activation
//! history, and the principals' management chains.

use super::resources::{
    ActivationInstance, DirectoryObject, Schedule, ACTIVATIONS_PATH, ELIGIBILITY_PATH, USERS_PATH,
};
use super::{GraphConnector, REMOVE_PERMISSIONS};
use crate::domain::directory::{PrincipalKind, Risk};
use crate::domain::eligibility::Assignment;
use crate::sources::connector::{Snapshot, SyncEligibility, SyncPerson, SyncRole};
use crate::sources::SourceError;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use reqwest::{Method, StatusCode};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Manager lookups in flight at once: enough to be quick, few enough not to be throttled.
const MANAGER_CONCURRENCY: usize = 4;
/// How far up a management chain a sync walks (a loop or a very deep chain stops here).
const MAX_MANAGER_DEPTH: usize = 32;

/// What a manager lookup found.
enum ManagerAnswer {
    Found(DirectoryObject),
    NoManager,
    Denied(String),
}

impl GraphConnector {
    /// Every eligibility schedule, with its principal and role definition.
    pub(super) async fn schedules(&self) -> Result<Vec<Schedule>, SourceError> {
        let url = self.url(ELIGIBILITY_PATH, &[("$expand", "principal,roleDefinition")]);
        self.list_all(
            url,
            "the list of role eligibility schedules",
            REMOVE_PERMISSIONS[0],
        )
        .await?
        .map_err(|reply| {
            self.refused(
                "the list of role eligibility schedules",
                REMOVE_PERMISSIONS[0],
                &reply,
            )
        })
    }

    /// The manager of one user: `Found`, `NoManager` (404), or `Denied` (403: the app lacks
    /// User.Read.All).
    async fn manager_of(&self, user: &str) -> Result<ManagerAnswer, SourceError> {
        let path = format!(
            "/v1.0/users/{}/manager",
            utf8_percent_encode(user, NON_ALPHANUMERIC)
        );
        let url = self.url(
            &path,
            &[(
                "$select",
                "id,displayName,mail,userPrincipalName,accountEnabled",
            )],
        );
        let what = format!("the manager of {user}");
        let reply = self.graph(Method::GET, &url, None, &what).await?;
        match reply.status {
            StatusCode::NOT_FOUND => Ok(ManagerAnswer::NoManager),
            StatusCode::FORBIDDEN => {
                let (code, message) = reply.error();
                Ok(ManagerAnswer::Denied(format!("{code}: {message}")))
            }
            status if status.is_success() => serde_json::from_slice::<DirectoryObject>(&reply.body)
                .map(ManagerAnswer::Found)
                .map_err(|e| self.err(format!("Microsoft Graph answered {what} unreadably: {e}"))),
            _ => Err(self.refused(&what, "User.Read.All", &reply)),
        }
    }

    /// The newest activation start per principal × role definition × scope. Activations come
    /// from roleAssignmentScheduleInstances (`assignmentType eq 'Activated'`) rather than the
    /// directory audit log: it needs only a permission of the same role-management family,
    /// where the audit log needs AuditLog.Read.All. What it misses: an activation that already
    /// ended is no longer an instance, so only activations still active at sync time are seen;
    /// that is why attest keeps the latest activation it has ever recorded.
    async fn activations(
        &self,
        warnings: &mut Vec<String>,
    ) -> Result<HashMap<(String, String, String), DateTime<Utc>>, SourceError> {
        let url = self.url(
            ACTIVATIONS_PATH,
            &[("$filter", "assignmentType eq 'Activated'")],
        );
        let what = "the list of activated role assignments";
        let instances: Vec<ActivationInstance> = match self
            .list_all(url, what, "RoleAssignmentSchedule.Read.Directory")
            .await?
        {
            Ok(instances) => instances,
            Err(reply) => {
                let (code, message) = reply.error();
                warnings.push(format!(
                        "last activations are unknown: the app registration {} lacks the \
                         Microsoft Graph application permission RoleAssignmentSchedule.Read.Directory \
                         ({code}: {message})",
                        self.client_id
                    ));
                return Ok(HashMap::new());
            }
        };
        let mut latest: HashMap<(String, String, String), DateTime<Utc>> = HashMap::new();
        for instance in instances {
            let Some(start) = instance.start_date_time.as_deref().and_then(parse_time) else {
                continue;
            };
            let key = (
                instance.principal_id,
                instance.role_definition_id,
                instance.directory_scope_id.unwrap_or_else(|| "/".into()),
            );
            let entry = latest.entry(key).or_insert(start);
            if start > *entry {
                *entry = start;
            }
        }
        Ok(latest)
    }

    /// Adds the managers of `users` to `people`, and theirs, until every chain ends or comes
    /// back to someone already known.
    async fn resolve_managers(
        &self,
        people: &mut BTreeMap<String, SyncPerson>,
        users: Vec<String>,
        warnings: &mut Vec<String>,
    ) -> Result<(), SourceError> {
        let mut frontier = users;
        for _ in 0..MAX_MANAGER_DEPTH {
            if frontier.is_empty() {
                return Ok(());
            }
            let answers: Vec<(String, Result<ManagerAnswer, SourceError>)> =
                stream::iter(frontier.into_iter().map(|user| async move {
                    let answer = self.manager_of(&user).await;
                    (user, answer)
                }))
                .buffer_unordered(MANAGER_CONCURRENCY)
                .collect()
                .await;
            let mut next = Vec::new();
            for (user, answer) in answers {
                match answer? {
                    ManagerAnswer::NoManager => {}
                    ManagerAnswer::Denied(detail) => {
                        warnings.push(format!(
                            "managers are unknown: the app registration {} lacks the Microsoft \
                             Graph application permission User.Read.All ({detail})",
                            self.client_id
                        ));
                        return Ok(());
                    }
                    ManagerAnswer::Found(manager) => {
                        if manager.id == user {
                            continue;
                        }
                        if let Some(person) = people.get_mut(&user) {
                            person.manager = Some(manager.id.clone());
                        }
                        if !people.contains_key(&manager.id) {
                            people.insert(manager.id.clone(), manager.person(PrincipalKind::User));
                            next.push(manager.id);
                        }
                    }
                }
            }
            next.sort();
            frontier = next;
        }
        if !frontier.is_empty() {
            warnings.push(format!(
                "management chains deeper than {MAX_MANAGER_DEPTH} were cut: the managers of {} \
                 people were not looked up",
                frontier.len()
            ));
        }
        Ok(())
    }

    /// The ids of the disabled user accounts. A schedule's expanded principal carries only
    /// the default properties, which leave `accountEnabled` out, so a holder disabled in the
    /// tenant (a leaver) is known from this list alone. Without User.Read.All: none, warned.
    async fn disabled_users(
        &self,
        warnings: &mut Vec<String>,
    ) -> Result<BTreeSet<String>, SourceError> {
        let url = self.url(
            USERS_PATH,
            &[("$filter", "accountEnabled eq false"), ("$select", "id")],
        );
        match self
            .list_all::<DirectoryObject>(url, "the list of disabled users", "User.Read.All")
            .await?
        {
            Ok(users) => Ok(users.into_iter().map(|u| u.id).collect()),
            Err(reply) => {
                let (code, message) = reply.error();
                warnings.push(format!(
                    "disabled accounts are unknown (leavers are not seen): the app registration \
                     {} lacks the Microsoft Graph application permission User.Read.All \
                     ({code}: {message})",
                    self.client_id
                ));
                Ok(BTreeSet::new())
            }
        }
    }

    fn risk_of(&self, role: &str, warnings: &mut Vec<String>) -> Risk {
        match self.role_risk.get(role) {
            None => Risk::High,
            Some(value) => value.parse::<Risk>().unwrap_or_else(|e| {
                warnings.push(format!("role_risk of {role}: {e}; it is reviewed as high"));
                Risk::High
            }),
        }
    }

    /// Every provisioned, direct eligibility with its principal (and their managers) and role.
    pub(super) async fn read_snapshot(&self) -> Result<Snapshot, SourceError> {
        let mut warnings = Vec::new();
        let schedules = self.schedules().await?;
        let standing = self.standing_schedules(&mut warnings).await?;
        let activations = self.activations(&mut warnings).await?;

        let mut people: BTreeMap<String, SyncPerson> = BTreeMap::new();
        let mut roles: BTreeMap<String, SyncRole> = BTreeMap::new();
        // Role definition id → the name attest knows the role by.
        let mut role_names: BTreeMap<String, String> = BTreeMap::new();
        let mut eligibility: BTreeMap<(String, String, String), SyncEligibility> = BTreeMap::new();
        let mut users = Vec::new();
        let mut groups_warned = BTreeSet::new();
        // Inherited through a group: (eligibilities, standing assignments).
        let mut inherited = (0usize, 0usize);

        // Eligibility, then standing access (one row per principal × role × scope: standing
        // when Entra lists it standing at all).
        let held = schedules
            .iter()
            .map(|s| (s, Assignment::Eligible))
            .chain(standing.iter().map(|s| (s, Assignment::Active)));
        for (schedule, assignment) in held.filter(|(s, _)| s.provisioned()) {
            let noun = match assignment {
                Assignment::Eligible => "eligibility schedule",
                Assignment::Active => "standing assignment schedule",
            };
            if !schedule.direct() {
                match assignment {
                    Assignment::Eligible => inherited.0 += 1,
                    Assignment::Active => inherited.1 += 1,
                }
                continue;
            }
            let Some(principal) = schedule.principal.as_ref() else {
                warnings.push(format!(
                    "{noun} {} names principal {} that Microsoft Graph did not return \
                     (deleted?); it is left out",
                    schedule.id.as_deref().unwrap_or("?"),
                    schedule.principal_id
                ));
                continue;
            };
            let Some(definition) = schedule.role_definition.as_ref() else {
                warnings.push(format!(
                    "{noun} {} names role definition {} that Microsoft Graph did not return; \
                     it is left out",
                    schedule.id.as_deref().unwrap_or("?"),
                    schedule.role_definition_id
                ));
                continue;
            };
            let role_name = match role_names.get(&definition.id) {
                Some(name) => name.clone(),
                None => {
                    // Two definitions with one display name would merge into one role; the
                    // second keeps its id in its name.
                    let name = if roles.contains_key(&definition.display_name) {
                        let name = disambiguated(&definition.display_name, &definition.id);
                        warnings.push(format!(
                            "two role definitions are named {}; {} is listed as {name}",
                            definition.display_name, definition.id
                        ));
                        name
                    } else {
                        definition.display_name.clone()
                    };
                    let risk = self.risk_of(&name, &mut warnings);
                    roles.insert(
                        name.clone(),
                        SyncRole {
                            name: name.clone(),
                            risk,
                            owner: None,
                            description: definition.description.clone().filter(|d| !d.is_empty()),
                        },
                    );
                    role_names.insert(definition.id.clone(), name.clone());
                    name
                }
            };
            let kind = match principal.odata_type.as_deref() {
                Some("#microsoft.graph.user") => PrincipalKind::User,
                Some("#microsoft.graph.servicePrincipal") => PrincipalKind::Service,
                Some("#microsoft.graph.group") => {
                    if groups_warned.insert(principal.id.clone()) {
                        warnings.push(format!(
                            "group {} ({}) is eligible itself: it is reviewed as one principal, \
                             not member by member",
                            principal.display_name.as_deref().unwrap_or("?"),
                            principal.id
                        ));
                    }
                    PrincipalKind::Service
                }
                other => {
                    warnings.push(format!(
                        "principal {} is a {}, reviewed as a service principal",
                        principal.id,
                        other.unwrap_or("directory object of no stated type")
                    ));
                    PrincipalKind::Service
                }
            };
            if !people.contains_key(&principal.id) {
                if kind == PrincipalKind::User {
                    users.push(principal.id.clone());
                }
                people.insert(principal.id.clone(), principal.person(kind));
            }
            let scope = schedule.scope().to_string();
            let info = schedule.schedule_info.clone().unwrap_or_default();
            let start = info.start_date_time.as_deref().and_then(parse_time);
            let end = info
                .expiration
                .filter(|e| e.kind.as_deref() != Some("noExpiration"))
                .and_then(|e| e.end_date_time)
                .as_deref()
                .and_then(parse_time);
            let last_activated_at = activations
                .get(&(principal.id.clone(), definition.id.clone(), scope.clone()))
                .copied();
            let key = (principal.id.clone(), role_name.clone(), scope.clone());
            match eligibility.get_mut(&key) {
                // Two schedules of one principal × role × scope: one eligibility spanning both.
                Some(existing) => {
                    existing.start = match (existing.start, start) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    existing.end = match (existing.end, end) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    };
                    if assignment == Assignment::Active {
                        existing.assignment = Assignment::Active;
                    }
                }
                None => {
                    eligibility.insert(
                        key,
                        SyncEligibility {
                            principal: principal.id.clone(),
                            role: role_name,
                            scope,
                            start,
                            end,
                            last_activated_at,
                            assignment,
                        },
                    );
                }
            }
        }
        if inherited.0 > 0 {
            warnings.push(format!(
                "{} eligibilities inherited through a group are left out: the group's own \
                 eligibility is reviewed",
                inherited.0
            ));
        }
        if inherited.1 > 0 {
            warnings.push(format!(
                "{} standing assignments inherited through a group are left out: the group's \
                 own assignment is reviewed",
                inherited.1
            ));
        }

        let activations = self
            .activation_requests(&people, &role_names, &mut warnings)
            .await?;
        self.resolve_managers(&mut people, users, &mut warnings)
            .await?;
        let disabled = self.disabled_users(&mut warnings).await?;
        for person in people.values_mut() {
            if disabled.contains(&person.external_id) {
                person.enabled = false;
            }
        }

        Ok(Snapshot {
            people: people.into_values().collect(),
            roles: roles.into_values().collect(),
            eligibility: eligibility.into_values().collect(),
            activations,
            warnings,
        })
    }
}

pub(super) fn disambiguated(name: &str, id: &str) -> String {
    format!("{name} ({id})")
}

pub(super) fn parse_time(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
