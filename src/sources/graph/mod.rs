//! The Microsoft Entra PIM source through Microsoft Graph v1.0.
//!
//! attest signs in as an app registration with the OAuth 2.0 client credentials grant and reads
//! and removes *eligible* directory role assignments (PIM eligibility schedules) and *standing*
//! ones (active assignments of type `Assigned`, see `standing`), and converts standing access
//! to eligible. Every request and answer follows Microsoft's published reference; the shapes
//! used here come from:
//!
//! - token: <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>
//!   (`POST {authority}/{tenant}/oauth2/v2.0/token`, form `client_id`, `client_secret`,
//!   `grant_type=client_credentials`, `scope={graph}/.default`; answer `token_type`,
//!   `expires_in`, `access_token`; errors `error`, `error_description`, `error_codes`).
//! - the token's `roles` claim (application permissions), read but never verified:
//!   <https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference>
//! - eligibility: <https://learn.microsoft.com/en-us/graph/api/rbacapplication-list-roleeligibilityschedules?view=graph-rest-1.0>
//!   and the resource <https://learn.microsoft.com/en-us/graph/api/resources/unifiedroleeligibilityschedule?view=graph-rest-1.0>
//!   (`principal` and `roleDefinition` support `$expand`; `principalId` supports `$filter`
//!   `eq`; `status` is one of Canceled, Denied, Failed, Granted, PendingAdminDecision,
//!   PendingApproval, PendingProvisioning, PendingScheduleCreation, Provisioned, Revoked,
//!   ScheduleCreated — only `Provisioned` is an eligibility someone holds).
//! - activations: <https://learn.microsoft.com/en-us/graph/api/rbacapplication-list-roleassignmentscheduleinstances?view=graph-rest-1.0>
//!   and <https://learn.microsoft.com/en-us/graph/api/resources/unifiedroleassignmentscheduleinstance?view=graph-rest-1.0>
//!   (`assignmentType` is `Assigned` or `Activated` and supports `$filter` `eq`).
//! - activation history: <https://learn.microsoft.com/en-us/graph/api/rbacapplication-list-roleassignmentschedulerequests?view=graph-rest-1.0>
//!   and <https://learn.microsoft.com/en-us/graph/api/resources/unifiedroleassignmentschedulerequest?view=graph-rest-1.0>
//!   (`action eq 'selfActivate'`; `justification`, `scheduleInfo.startDateTime`, `status`).
//! - managers: <https://learn.microsoft.com/en-us/graph/api/user-list-manager?view=graph-rest-1.0>
//!   (`GET /users/{id}/manager` answers a directoryObject, 404 `Request_ResourceNotFound` when
//!   there is none).
//! - removal: <https://learn.microsoft.com/en-us/graph/api/rbacapplication-post-roleeligibilityschedulerequests?view=graph-rest-1.0>
//!   (`action: adminRemove` with `principalId`, `roleDefinitionId`, `directoryScopeId`,
//!   `justification`; `201 Created` with a unifiedRoleEligibilityScheduleRequest).
//! - restore (a suspension's): `action: adminAssign` on the same requests, see `restore`.
//! - paging: <https://learn.microsoft.com/en-us/graph/paging> (`@odata.nextLink` until absent).
//! - errors: <https://learn.microsoft.com/en-us/graph/errors> (`{"error":{"code","message"}}`).
//! - throttling: <https://learn.microsoft.com/en-us/graph/throttling> (429 with `Retry-After`
//!   seconds; 503/504 are transient and carry it too).
//!
//! Every error is one line that starts with `source NAME: ` and never contains the client
//! secret or an access token.
//!
//! `client` speaks HTTP to Entra and Graph (token, paging, throttling, errors); `resources`
//! are the Graph objects read; `eligibility` reads the population a sync copies;
//! `activations` the activation history it records; `removal`
//! removes one eligibility and reads it back; `standing` lists, removes and converts standing
//! access.

mod activations;
mod client;
mod eligibility;
mod removal;
mod resources;
mod restore;
mod standing;

use super::config::{secret_from_env, EntraConfig};
use super::connector::{Connector, Probe, Snapshot};
use super::{Removal, RemovalTarget, RestoreSchedule, SourceError};
use client::{one_line, CachedToken, DEFAULT_RETRY_CAP};
use resources::{Schedule, ELIGIBILITY_PATH};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

pub(crate) use client::describe;
pub use client::token_roles;
pub use standing::STANDING_PERMISSION;

/// The application permissions that allow `adminRemove` of an eligibility (the least
/// privileged first). Reading needs less, but a source that cannot remove is no use to a
/// review, so `test` insists on one of these.
pub const REMOVE_PERMISSIONS: [&str; 2] = [
    "RoleEligibilitySchedule.ReadWrite.Directory",
    "RoleManagement.ReadWrite.Directory",
];

/// The Microsoft Entra PIM connector of one `[sources.NAME]` of kind `entra`.
pub struct GraphConnector {
    name: String,
    tenant_id: String,
    client_id: String,
    secret: String,
    authority: String,
    graph: String,
    role_risk: BTreeMap<String, String>,
    http: reqwest::Client,
    token: tokio::sync::Mutex<Option<CachedToken>>,
    retry_cap: Duration,
}

impl std::fmt::Debug for GraphConnector {
    // By hand, so that the secret and the cached token can never be printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphConnector")
            .field("name", &self.name)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("graph", &self.graph)
            .finish_non_exhaustive()
    }
}

impl GraphConnector {
    /// Builds the connector of `[sources.NAME]`; reads the client secret from the environment
    /// variable the configuration names.
    pub fn new(name: &str, config: &EntraConfig) -> Result<Self, SourceError> {
        let secret = secret_from_env(name, &config.client_secret_env)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            // A redirect could carry the bearer token somewhere else; Graph does not redirect
            // these calls, so none is followed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("attest/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SourceError(format!("source {name}: cannot build an HTTP client: {e}")))?;
        Ok(Self {
            name: name.to_string(),
            tenant_id: config.tenant_id.clone(),
            client_id: config.client_id.clone(),
            secret,
            authority: config.authority_url.trim_end_matches('/').to_string(),
            graph: config.graph_url.trim_end_matches('/').to_string(),
            role_risk: config.role_risk.clone(),
            http,
            token: tokio::sync::Mutex::new(None),
            retry_cap: DEFAULT_RETRY_CAP,
        })
    }

    /// Caps each wait a throttled answer asks for (60 s by default; tests shorten it).
    pub fn with_retry_cap(mut self, cap: Duration) -> Self {
        self.retry_cap = cap;
        self
    }

    /// An error of this source: one line, prefixed with its name, the secret blanked out.
    fn err(&self, message: impl AsRef<str>) -> SourceError {
        let mut line = one_line(message.as_ref());
        if !self.secret.is_empty() {
            line = line.replace(&self.secret, "[secret]");
        }
        SourceError(format!("source {}: {line}", self.name))
    }
}

#[async_trait::async_trait]
impl Connector for GraphConnector {
    fn name(&self) -> &str {
        &self.name
    }

    async fn test(&self) -> Result<Probe, SourceError> {
        let token = self.access_token().await?;
        let mut checks = vec![format!(
            "signed in to Microsoft Entra tenant {} as app {} ({})",
            self.tenant_id,
            self.client_id,
            self.token_url()
        )];
        let roles = token_roles(&token).map_err(|e| {
            self.err(format!(
                "the access token Microsoft Entra issued is unreadable: {e}"
            ))
        })?;
        let Some(granted) = REMOVE_PERMISSIONS
            .iter()
            .find(|p| roles.iter().any(|r| r == *p))
        else {
            return Err(self.err(format!(
                "the app registration {} lacks the Microsoft Graph application permission {} \
                 (grant it and give admin consent)",
                self.client_id, REMOVE_PERMISSIONS[0]
            )));
        };
        checks.push(format!("application permission {granted} granted"));
        // Not needed to remove an eligibility, but a sync without them lacks standing access,
        // managers or last activations (it says so in its warnings); said here so that the
        // admin can grant them up front. Each is named with the broader ones that cover it.
        for (permission, purpose, also) in [
            (
                STANDING_PERMISSION,
                "standing access",
                &["RoleManagement.ReadWrite.Directory"][..],
            ),
            ("User.Read.All", "managers", &["Directory.Read.All"][..]),
            (
                "RoleAssignmentSchedule.Read.Directory",
                "last activations",
                &[STANDING_PERMISSION, "RoleManagement.ReadWrite.Directory"][..],
            ),
        ] {
            if roles
                .iter()
                .any(|r| r == permission || also.contains(&r.as_str()))
            {
                checks.push(format!(
                    "application permission {permission} granted ({purpose})"
                ));
            } else {
                checks.push(format!(
                    "application permission {permission} not granted: syncs will not know {purpose}"
                ));
            }
        }
        let url = self.url(
            ELIGIBILITY_PATH,
            &[(
                "$select",
                "id,principalId,roleDefinitionId,status,memberType",
            )],
        );
        let what = "the list of role eligibility schedules";
        let schedules: Vec<Schedule> = self
            .list_all(url, what, REMOVE_PERMISSIONS[0])
            .await?
            .map_err(|reply| self.refused(what, REMOVE_PERMISSIONS[0], &reply))?;
        let provisioned: Vec<&Schedule> = schedules
            .iter()
            .filter(|s| s.provisioned() && s.direct())
            .collect();
        let principals: BTreeSet<&str> = provisioned
            .iter()
            .map(|s| s.principal_id.as_str())
            .collect();
        checks.push(format!(
            "listed {} role eligibility schedules ({} provisioned, {} principals) at {}",
            schedules.len(),
            provisioned.len(),
            principals.len(),
            self.graph
        ));
        Ok(Probe {
            checks,
            people: Some(principals.len() as u64),
            eligibility: Some(provisioned.len() as u64),
        })
    }

    async fn snapshot(&self) -> Result<Snapshot, SourceError> {
        self.read_snapshot().await
    }

    async fn remove(&self, target: &RemovalTarget) -> Result<Removal, SourceError> {
        self.remove_access(target).await
    }

    async fn is_present(&self, target: &RemovalTarget) -> Result<Option<bool>, SourceError> {
        Ok(Some(self.holds(target).await?))
    }

    fn converts(&self) -> bool {
        true
    }

    async fn convert(&self, target: &RemovalTarget) -> Result<Removal, SourceError> {
        self.convert_standing(target).await
    }

    async fn is_standing(&self, target: &RemovalTarget) -> Result<bool, SourceError> {
        self.still_standing(target).await
    }

    async fn restore(
        &self,
        target: &RemovalTarget,
        schedule: &RestoreSchedule,
    ) -> Result<String, SourceError> {
        self.restore_eligibility(target, schedule).await
    }
}
