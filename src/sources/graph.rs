//! The Microsoft Entra PIM source through Microsoft Graph v1.0.
//!
//! attest signs in as an app registration with the OAuth 2.0 client credentials grant and reads
//! and removes *eligible* directory role assignments (PIM eligibility schedules). Every request
//! and answer follows Microsoft's published reference; the shapes used here come from:
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
//! - managers: <https://learn.microsoft.com/en-us/graph/api/user-list-manager?view=graph-rest-1.0>
//!   (`GET /users/{id}/manager` answers a directoryObject, 404 `Request_ResourceNotFound` when
//!   there is none).
//! - removal: <https://learn.microsoft.com/en-us/graph/api/rbacapplication-post-roleeligibilityschedulerequests?view=graph-rest-1.0>
//!   (`action: adminRemove` with `principalId`, `roleDefinitionId`, `directoryScopeId`,
//!   `justification`; `201 Created` with a unifiedRoleEligibilityScheduleRequest).
//! - paging: <https://learn.microsoft.com/en-us/graph/paging> (`@odata.nextLink` until absent).
//! - errors: <https://learn.microsoft.com/en-us/graph/errors> (`{"error":{"code","message"}}`).
//! - throttling: <https://learn.microsoft.com/en-us/graph/throttling> (429 with `Retry-After`
//!   seconds; 503/504 are transient and carry it too).
//!
//! Every error is one line that starts with `source NAME: ` and never contains the client
//! secret or an access token.

use super::config::{secret_from_env, EntraConfig};
use super::connector::{self, Connector, Probe, Snapshot, SyncEligibility, SyncPerson, SyncRole};
use super::{Removal, RemovalTarget, SourceError};
use crate::domain::directory::{PrincipalKind, Risk};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// The application permissions that allow `adminRemove` of an eligibility (the least
/// privileged first). Reading needs less, but a source that cannot remove is no use to a
/// review, so `test` insists on one of these.
pub const REMOVE_PERMISSIONS: [&str; 2] = [
    "RoleEligibilitySchedule.ReadWrite.Directory",
    "RoleManagement.ReadWrite.Directory",
];

/// How many retries a throttled (429) or unavailable (503/504) request gets.
const MAX_RETRIES: u32 = 5;
/// The wait when a throttled answer names none (Graph's guidance: back off).
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);
/// The longest single wait by default, whatever `Retry-After` asks for.
const DEFAULT_RETRY_CAP: Duration = Duration::from_secs(60);
/// Manager lookups in flight at once: enough to be quick, few enough not to be throttled.
const MANAGER_CONCURRENCY: usize = 4;
/// How far up a management chain a sync walks (a loop or a very deep chain stops here).
const MAX_MANAGER_DEPTH: usize = 32;
/// A page limit for one listing, so a server that keeps answering pages cannot hold a sync.
const MAX_PAGES: usize = 100_000;
/// A cached token is renewed this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// Characters left as they are in query values: OData needs `$ , ' ( )` literal-friendly and
/// spaces must be `%20` (not `+`).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'$')
    .remove(b',')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

const ELIGIBILITY_PATH: &str = "/v1.0/roleManagement/directory/roleEligibilitySchedules";
const ACTIVATIONS_PATH: &str = "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances";
const REQUESTS_PATH: &str = "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests";

struct CachedToken {
    value: String,
    renew_at: Instant,
}

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

/// One page of a Graph collection.
#[derive(Deserialize)]
struct Page<T> {
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Schedule {
    #[serde(default)]
    id: Option<String>,
    principal_id: String,
    role_definition_id: String,
    #[serde(default)]
    directory_scope_id: Option<String>,
    #[serde(default)]
    member_type: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    schedule_info: Option<ScheduleInfo>,
    #[serde(default)]
    principal: Option<DirectoryObject>,
    #[serde(default)]
    role_definition: Option<RoleDefinition>,
}

impl Schedule {
    fn provisioned(&self) -> bool {
        self.status.as_deref() == Some("Provisioned")
    }
    /// Eligibility inherited through a group is held (and removed) as the group's own.
    fn direct(&self) -> bool {
        matches!(self.member_type.as_deref(), None | Some("Direct"))
    }
    fn scope(&self) -> &str {
        self.directory_scope_id.as_deref().unwrap_or("/")
    }
}

#[derive(Deserialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
struct ScheduleInfo {
    #[serde(default)]
    start_date_time: Option<String>,
    #[serde(default)]
    expiration: Option<Expiration>,
}

#[derive(Deserialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
struct Expiration {
    #[serde(default)]
    end_date_time: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct DirectoryObject {
    #[serde(default, rename = "@odata.type")]
    odata_type: Option<String>,
    id: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    mail: Option<String>,
    #[serde(default)]
    user_principal_name: Option<String>,
    #[serde(default)]
    account_enabled: Option<bool>,
}

impl DirectoryObject {
    fn person(&self, kind: PrincipalKind) -> SyncPerson {
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
            // leave accountEnabled out; absent means enabled, as it is for most accounts.
            enabled: self.account_enabled.unwrap_or(true),
        }
    }
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct RoleDefinition {
    id: String,
    display_name: String,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActivationInstance {
    principal_id: String,
    role_definition_id: String,
    #[serde(default)]
    directory_scope_id: Option<String>,
    #[serde(default)]
    start_date_time: Option<String>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize, Default)]
struct TokenError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

#[derive(Deserialize)]
struct GraphErrorBody {
    error: GraphErrorDetail,
}

#[derive(Deserialize)]
struct GraphErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// A Graph answer, read whole.
struct Reply {
    status: StatusCode,
    body: Vec<u8>,
}

impl Reply {
    /// The `{"error":{"code","message"}}` of a Graph error, or the status and the start of the
    /// body when it is not one (a proxy's HTML page, an empty 500).
    fn error(&self) -> (String, String) {
        match serde_json::from_slice::<GraphErrorBody>(&self.body) {
            Ok(e) if !e.error.code.is_empty() => (e.error.code, one_line(&e.error.message)),
            _ => (
                format!("HTTP {}", self.status.as_u16()),
                one_line(
                    &String::from_utf8_lossy(&self.body)
                        .chars()
                        .take(200)
                        .collect::<String>(),
                ),
            ),
        }
    }
}

/// What a manager lookup found.
enum ManagerAnswer {
    Found(DirectoryObject),
    NoManager,
    Denied(String),
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

    fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority, self.tenant_id)
    }

    /// Sends a request, waiting out throttling (429) and transient unavailability (503, 504)
    /// as `Retry-After` asks, up to [`MAX_RETRIES`] times. Transport failures are errors at once:
    /// the engine retries a failed removal and the next sync comes anyway.
    async fn send_retrying(
        &self,
        what: &str,
        url: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SourceError> {
        let mut retries = 0;
        loop {
            let response = build()
                .send()
                .await
                .map_err(|e| self.err(format!("cannot reach {}: {}", origin(url), describe(&e))))?;
            let status = response.status();
            let transient = status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::SERVICE_UNAVAILABLE
                || status == StatusCode::GATEWAY_TIMEOUT;
            if !transient {
                return Ok(response);
            }
            if retries >= MAX_RETRIES {
                return Err(self.err(format!(
                    "{what} was throttled: {} answered {status} to {} tries in a row at {}; \
                     it is retried later",
                    origin(url),
                    retries + 1,
                    without_query(url)
                )));
            }
            let wait = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_RETRY_AFTER)
                .min(self.retry_cap);
            tracing::debug!(source = %self.name, %status, ?wait, "Microsoft Graph asked to wait");
            drop(response);
            tokio::time::sleep(wait).await;
            retries += 1;
        }
    }

    /// A token for Graph: the cached one, or a new one from the token endpoint. The lock is
    /// held while fetching so that concurrent requests wait for one fetch instead of each
    /// asking for their own.
    async fn access_token(&self) -> Result<String, SourceError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref() {
            if Instant::now() < token.renew_at {
                return Ok(token.value.clone());
            }
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.clone();
        *cached = Some(fresh);
        Ok(value)
    }

    /// Forgets `stale` (Graph said it is expired or revoked), unless another request already
    /// replaced it.
    async fn forget_token(&self, stale: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.value == stale) {
            *cached = None;
        }
    }

    async fn fetch_token(&self) -> Result<CachedToken, SourceError> {
        let url = self.token_url();
        let scope = format!("{}/.default", self.graph);
        let form = [
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.secret.as_str()),
            ("grant_type", "client_credentials"),
            ("scope", scope.as_str()),
        ];
        let response = self
            .send_retrying("the token request", &url, || {
                self.http.post(&url).form(&form)
            })
            .await?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| self.err(format!("cannot reach {}: {}", origin(&url), describe(&e))))?;
        if status.is_success() {
            let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
                self.err(format!(
                    "the token endpoint {} answered something that is not a token: {e}",
                    without_query(&url)
                ))
            })?;
            let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
            return Ok(CachedToken {
                value: answer.access_token,
                renew_at: Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN),
            });
        }
        let error: TokenError = serde_json::from_slice(&body).unwrap_or_default();
        // AADSTS descriptions go on with Trace ID, Correlation ID and Timestamp lines; the first
        // line is the one that says what is wrong.
        let description = error.error_description.lines().next().unwrap_or("").trim();
        Err(match error.error.as_str() {
            "invalid_client" | "unauthorized_client" => self.err(format!(
                "Microsoft Entra refused the client credentials of {}: {description}",
                self.client_id
            )),
            "" => self.err(format!(
                "the token endpoint {} answered {status} without an OAuth error",
                without_query(&url)
            )),
            code => self.err(format!(
                "Microsoft Entra refused the token request of {} in tenant {}: {code}: {description}",
                self.client_id, self.tenant_id
            )),
        })
    }

    /// Sends one Graph request with a token; a 401 `InvalidAuthenticationToken` (expired or
    /// revoked) drops the cached token and tries once more with a new one.
    async fn graph(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Reply, SourceError> {
        let mut renewed = false;
        loop {
            let token = self.access_token().await?;
            let response = self
                .send_retrying(what, url, || {
                    let request = self.http.request(method.clone(), url).bearer_auth(&token);
                    match body {
                        Some(body) => request.json(body),
                        None => request,
                    }
                })
                .await?;
            let status = response.status();
            let bytes = response
                .bytes()
                .await
                .map_err(|e| self.err(format!("cannot reach {}: {}", origin(url), describe(&e))))?;
            let reply = Reply {
                status,
                body: bytes.to_vec(),
            };
            if status == StatusCode::UNAUTHORIZED {
                let (code, message) = reply.error();
                if code == "InvalidAuthenticationToken" && !renewed {
                    self.forget_token(&token).await;
                    renewed = true;
                    continue;
                }
                return Err(self.err(format!(
                    "Microsoft Graph refused the access token for {what}: {code}: {message}"
                )));
            }
            return Ok(reply);
        }
    }

    /// The error for an answer that is not what `what` expected; a 403 names the permission.
    fn refused(&self, what: &str, permission: &str, reply: &Reply) -> SourceError {
        let (code, message) = reply.error();
        if reply.status == StatusCode::FORBIDDEN {
            return self.err(format!(
                "the app registration {} lacks the Microsoft Graph application permission \
                 {permission} (grant it and give admin consent): {what} was answered 403 \
                 {code}: {message}",
                self.client_id
            ));
        }
        self.err(format!(
            "Microsoft Graph refused {what} ({}): {code}: {message}",
            reply.status.as_u16()
        ))
    }

    /// Every item of a collection, following `@odata.nextLink` to the end.
    async fn list_all<T: DeserializeOwned>(
        &self,
        first: String,
        what: &str,
        permission: &str,
    ) -> Result<Result<Vec<T>, Reply>, SourceError> {
        let mut items = Vec::new();
        let mut next = Some(first);
        let mut seen = BTreeSet::new();
        while let Some(url) = next.take() {
            if seen.len() >= MAX_PAGES || !seen.insert(url.clone()) {
                return Err(self.err(format!(
                    "Microsoft Graph kept answering pages of {what} (a repeated @odata.nextLink)"
                )));
            }
            // The token goes to Graph only: a next link elsewhere is refused.
            if !url.starts_with(&format!("{}/", self.graph)) {
                return Err(self.err(format!(
                    "Microsoft Graph answered a next page of {what} outside {}: {}",
                    self.graph,
                    without_query(&url)
                )));
            }
            let reply = self.graph(Method::GET, &url, None, what).await?;
            if reply.status == StatusCode::FORBIDDEN {
                return Ok(Err(reply));
            }
            if !reply.status.is_success() {
                return Err(self.refused(what, permission, &reply));
            }
            let page: Page<T> = serde_json::from_slice(&reply.body).map_err(|e| {
                self.err(format!(
                    "Microsoft Graph answered a page of {what} this connector cannot read: {e}"
                ))
            })?;
            items.extend(page.value);
            next = page.next_link;
        }
        Ok(Ok(items))
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut url = format!("{}{path}", self.graph);
        for (i, (key, value)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(key);
            url.push('=');
            url.extend(utf8_percent_encode(value, QUERY_VALUE));
        }
        url
    }

    /// Every eligibility schedule, with its principal and role definition.
    async fn schedules(&self) -> Result<Vec<Schedule>, SourceError> {
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

    /// The schedules of one principal that match a removal target (provisioned, the role by
    /// name, the scope).
    async fn lookup(&self, target: &RemovalTarget) -> Result<Vec<Schedule>, SourceError> {
        let filter = format!(
            "principalId eq '{}'",
            target.principal_external_id.replace('\'', "''")
        );
        let url = self.url(
            ELIGIBILITY_PATH,
            &[("$filter", &filter), ("$expand", "roleDefinition")],
        );
        let what = format!(
            "the eligibility schedules of {}",
            target.principal_external_id
        );
        let schedules: Vec<Schedule> = self
            .list_all(url, &what, REMOVE_PERMISSIONS[0])
            .await?
            .map_err(|reply| self.refused(&what, REMOVE_PERMISSIONS[0], &reply))?;
        Ok(schedules
            .into_iter()
            .filter(|s| {
                s.provisioned()
                    && s.principal_id == target.principal_external_id
                    && s.scope() == target.scope
                    && s.role_definition.as_ref().is_some_and(|r| {
                        r.display_name == target.role_name
                            || disambiguated(&r.display_name, &r.id) == target.role_name
                    })
            })
            .collect())
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

    fn risk_of(&self, role: &str, warnings: &mut Vec<String>) -> Risk {
        match self.role_risk.get(role) {
            None => Risk::High,
            Some(value) => value.parse::<Risk>().unwrap_or_else(|e| {
                warnings.push(format!("role_risk of {role}: {e}; it is reviewed as high"));
                Risk::High
            }),
        }
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
        // Not needed to remove, but a sync without them lacks managers or last activations
        // (it says so in its warnings); said here so that the admin can grant them up front.
        for (permission, purpose, also) in [
            ("User.Read.All", "managers", "Directory.Read.All"),
            (
                "RoleAssignmentSchedule.Read.Directory",
                "last activations",
                "RoleManagement.ReadWrite.Directory",
            ),
        ] {
            if roles.iter().any(|r| r == permission || r == also) {
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
        let mut warnings = Vec::new();
        let schedules = self.schedules().await?;
        let activations = self.activations(&mut warnings).await?;

        let mut people: BTreeMap<String, SyncPerson> = BTreeMap::new();
        let mut roles: BTreeMap<String, SyncRole> = BTreeMap::new();
        // Role definition id → the name attest knows the role by.
        let mut role_names: BTreeMap<String, String> = BTreeMap::new();
        let mut eligibility: BTreeMap<(String, String, String), SyncEligibility> = BTreeMap::new();
        let mut users = Vec::new();
        let mut groups_warned = BTreeSet::new();
        let mut inherited = 0usize;

        for schedule in schedules.iter().filter(|s| s.provisioned()) {
            if !schedule.direct() {
                inherited += 1;
                continue;
            }
            let Some(principal) = schedule.principal.as_ref() else {
                warnings.push(format!(
                    "eligibility schedule {} names principal {} that Microsoft Graph did not \
                     return (deleted?); it is left out",
                    schedule.id.as_deref().unwrap_or("?"),
                    schedule.principal_id
                ));
                continue;
            };
            let Some(definition) = schedule.role_definition.as_ref() else {
                warnings.push(format!(
                    "eligibility schedule {} names role definition {} that Microsoft Graph did \
                     not return; it is left out",
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
                        },
                    );
                }
            }
        }
        if inherited > 0 {
            warnings.push(format!(
                "{inherited} eligibilities inherited through a group are left out: the group's \
                 own eligibility is reviewed"
            ));
        }

        self.resolve_managers(&mut people, users, &mut warnings)
            .await?;

        Ok(Snapshot {
            people: people.into_values().collect(),
            roles: roles.into_values().collect(),
            eligibility: eligibility.into_values().collect(),
            warnings,
        })
    }

    async fn remove(&self, target: &RemovalTarget) -> Result<Removal, SourceError> {
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

    async fn is_present(&self, target: &RemovalTarget) -> Result<Option<bool>, SourceError> {
        Ok(Some(!self.lookup(target).await?.is_empty()))
    }
}

/// The application permissions in an access token's `roles` claim. The token is a JWT whose
/// middle part is base64url JSON; it is read to tell the user what is missing before a
/// removal is refused, not trusted for anything, so the signature is not checked.
pub fn token_roles(token: &str) -> Result<Vec<String>, String> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| "it is not a JWT (no payload part)".to_string())?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| format!("its payload is not base64url: {e}"))?;
    let claims: Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("its payload is not JSON: {e}"))?;
    // A token granting no application permission has no roles claim at all.
    Ok(claims
        .get("roles")
        .and_then(Value::as_array)
        .map(|roles| {
            roles
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default())
}

fn disambiguated(name: &str, id: &str) -> String {
    format!("{name} ({id})")
}

fn parse_time(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn one_line(text: &str) -> String {
    text.split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// `scheme://host[:port]` of a URL, for "cannot reach" messages.
fn origin(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => parsed.origin().ascii_serialization(),
        Err(_) => without_query(url).to_string(),
    }
}

/// A transport error with its causes (reqwest's own message alone says only "error sending
/// request"); the URL is left out, the caller names the server. Webhooks use it too.
pub(super) fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(error);
    let mut last = String::new();
    while let Some(cause) = source {
        let line = cause.to_string();
        if line != last {
            text.push_str(": ");
            text.push_str(&line);
            last = line;
        }
        source = cause.source();
    }
    one_line(&text)
}
