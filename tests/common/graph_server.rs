//! A local server speaking the documented Microsoft Graph v1.0 and identity-platform token shapes,
//! for tests: paging, throttling, token expiry and failing removals on demand.
//!
//! Shapes follow Microsoft's reference (the same pages `src/sources/graph/mod.rs` cites): the
//! client credentials token answer and its OAuth errors (AADSTS codes), collections with
//! `@odata.context`, `value` and `@odata.nextLink`, the `{"error":{"code","message",
//! "innerError"}}` error body, `401 InvalidAuthenticationToken`, `404 Request_ResourceNotFound`
//! for a user without a manager, `429` with `Retry-After`, and the
//! unifiedRoleEligibilityScheduleRequest answered `201 Created` to an `adminRemove` and to an
//! `adminAssign` (with its `scheduleInfo`), and role definitions listed with `$filter` on
//! `displayName` (which needs `RoleManagement.Read.Directory` or a broader permission).
//! Active role assignments (standing and activated) are in `graph_assignments.rs`.
//!
//! Graph itself is unreachable from tests, so this is the only Graph they see; it checks what
//! the connector sends (token, `$filter` syntax, request body) as strictly as the real one.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

#[path = "graph_assignments.rs"]
mod assignments;
#[allow(unused_imports)] // not every test target uses them
pub use assignments::{AssignmentSchedule, ASSIGNMENTS_PATH, ASSIGNMENT_READ_WRITE};

pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
pub const PRIVILEGED_ROLE_ADMINISTRATOR: &str = "e8611ab8-c189-46e8-94e1-60213ab1f814";
pub const USER_ADMINISTRATOR: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";
pub const SECURITY_ADMINISTRATOR: &str = "194ae4cb-b126-40b2-bd5b-6091b380977d";

pub const ELIGIBILITY_PATH: &str = "/v1.0/roleManagement/directory/roleEligibilitySchedules";
pub const ACTIVATIONS_PATH: &str = "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances";
pub const REQUESTS_PATH: &str = "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests";
pub const ROLE_DEFINITIONS_PATH: &str = "/v1.0/roleManagement/directory/roleDefinitions";
pub const ACTIVATION_REQUESTS_PATH: &str =
    "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests";

/// The permission a connector needs to remove (what the default server grants).
pub const READ_WRITE: &str = "RoleEligibilitySchedule.ReadWrite.Directory";

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub display_name: String,
    pub mail: Option<String>,
    pub user_principal_name: String,
    pub account_enabled: bool,
    pub manager: Option<String>,
}

/// A non-user principal: `servicePrincipal` or `group`.
#[derive(Debug, Clone)]
pub struct OtherPrincipal {
    pub id: String,
    pub odata_type: &'static str,
    pub display_name: String,
}

#[derive(Debug, Clone)]
pub struct RoleDefinition {
    pub id: String,
    pub display_name: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub id: String,
    pub principal_id: String,
    pub role_definition_id: String,
    pub directory_scope_id: String,
    pub status: String,
    pub member_type: String,
    pub start: String,
    pub end: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Instance {
    pub id: String,
    pub principal_id: String,
    pub role_definition_id: String,
    pub directory_scope_id: String,
    pub assignment_type: &'static str,
    pub start: String,
}

/// A role assignment schedule request (`selfActivate` and the others PIM lists).
#[derive(Debug, Clone)]
pub struct AssignmentRequest {
    pub id: String,
    pub principal_id: String,
    pub role_definition_id: String,
    pub action: &'static str,
    pub status: &'static str,
    pub start: String,
    pub justification: Option<String>,
}

/// One request the server answered.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    /// Path and query, percent-decoded.
    pub target: String,
    pub status: u16,
}

#[derive(Default)]
pub struct State {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// The application permissions issued tokens carry in `roles`.
    pub roles: Vec<String>,
    pub page_size: usize,
    pub users: BTreeMap<String, User>,
    pub others: BTreeMap<String, OtherPrincipal>,
    pub role_definitions: BTreeMap<String, RoleDefinition>,
    pub schedules: Vec<Schedule>,
    pub instances: Vec<Instance>,
    pub assignment_requests: Vec<AssignmentRequest>,
    /// Role assignment schedules: standing (`Assigned`) and activated.
    pub assignment_schedules: Vec<AssignmentSchedule>,
    /// Every POST body of roleAssignmentScheduleRequests.
    pub assignment_requests_posted: Vec<Value>,
    /// Issued tokens and the roles each carries.
    pub tokens: HashMap<String, Vec<String>>,
    pub expired: HashSet<String>,
    pub tokens_issued: usize,
    /// After this many more Graph requests, every token issued so far expires.
    pub expire_after: Option<usize>,
    /// New tokens are born expired (a tenant that revokes everything).
    pub issue_expired: bool,
    /// Fragment of a decoded path+query → the statuses the next matching requests get.
    pub throttles: Vec<(String, VecDeque<u16>)>,
    /// Principal → the errors (status, code, message) its next removals get.
    pub removal_failures: HashMap<String, VecDeque<(u16, String, String)>>,
    /// Every POST body of roleEligibilityScheduleRequests.
    pub removal_requests: Vec<Value>,
    pub log: Vec<Logged>,
    pub counter: u64,
    pub base: String,
}

impl State {
    fn guid(&mut self) -> String {
        self.counter += 1;
        guid(self.counter.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }
}

/// A GUID-like id from a number (deterministic, so failures are reproducible).
pub fn guid(n: u64) -> String {
    let a = n ^ 0x5851_f42d_4c95_7f2d;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) & 0xffff,
        (a >> 4) & 0xfff,
        (n >> 8) & 0xfff,
        n & 0xffff_ffff_ffff
    )
}

pub struct GraphServer {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GraphServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What an org built by [`GraphServer::seed_org`] holds, for tests to compare a snapshot with.
#[derive(Debug, Clone)]
pub struct Org {
    /// Every user, managers first.
    pub users: Vec<User>,
    /// Users who hold an eligibility.
    pub eligible_users: Vec<String>,
    pub service_principal: String,
    pub group: String,
    /// (principal, role display name, scope) of every provisioned direct eligibility.
    pub eligibility: Vec<(String, String, String)>,
    /// (principal, role display name, scope) → the newest *activated* start.
    pub last_activated: BTreeMap<(String, String, String), String>,
}

impl GraphServer {
    /// A server for tenant `contoso-test`, app `client_id` with `secret`, granting
    /// RoleEligibilitySchedule.ReadWrite.Directory, User.Read.All and
    /// RoleAssignmentSchedule.Read.Directory, pages of 50.
    pub async fn start(client_id: &str, secret: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Graph test server");
        let addr = listener.local_addr().expect("address");
        let mut state = State {
            tenant_id: "contoso-test".into(),
            client_id: client_id.into(),
            client_secret: secret.into(),
            roles: vec![
                READ_WRITE.into(),
                "User.Read.All".into(),
                "RoleAssignmentSchedule.Read.Directory".into(),
            ],
            page_size: 50,
            base: format!("http://{addr}"),
            ..State::default()
        };
        for (id, name, description) in [
            (
                GLOBAL_ADMINISTRATOR,
                "Global Administrator",
                "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.",
            ),
            (
                PRIVILEGED_ROLE_ADMINISTRATOR,
                "Privileged Role Administrator",
                "Can manage role assignments in Microsoft Entra ID, and all aspects of Privileged Identity Management.",
            ),
            (
                USER_ADMINISTRATOR,
                "User Administrator",
                "Can manage all aspects of users and groups, including resetting passwords for limited admins.",
            ),
            (
                SECURITY_ADMINISTRATOR,
                "Security Administrator",
                "Can read security information and reports, and manage configuration in Microsoft Entra ID and Office 365.",
            ),
        ] {
            state.role_definitions.insert(
                id.into(),
                RoleDefinition {
                    id: id.into(),
                    display_name: name.into(),
                    description: description.into(),
                },
            );
        }
        let state = Arc::new(Mutex::new(state));
        let shared = state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move { handle(&state, method, uri, headers, body) }
            },
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("graph server state")
    }

    /// The `[sources.NAME]` of kind entra pointing at this server (authority and Graph).
    pub fn entra_config(&self, secret_env: &str) -> attest::sources::config::EntraConfig {
        let state = self.lock();
        attest::sources::config::EntraConfig {
            tenant_id: state.tenant_id.clone(),
            client_id: state.client_id.clone(),
            client_secret_env: secret_env.into(),
            authority_url: self.url(),
            graph_url: self.url(),
            on_reappearance: Default::default(),
            sync_schedule: None,
            role_risk: Default::default(),
        }
    }

    pub fn set_page_size(&self, size: usize) {
        self.lock().page_size = size;
    }

    pub fn set_roles(&self, roles: &[&str]) {
        self.lock().roles = roles.iter().map(|r| r.to_string()).collect();
    }

    /// The next `statuses.len()` requests whose decoded path+query contains `fragment` are
    /// answered with these statuses (429 or 503) and `Retry-After: 1`.
    pub fn throttle(&self, fragment: &str, statuses: &[u16]) {
        self.lock()
            .throttles
            .push((fragment.into(), statuses.iter().copied().collect()));
    }

    /// After `requests` more Graph requests, every token issued so far is expired.
    pub fn expire_tokens_after(&self, requests: usize) {
        self.lock().expire_after = Some(requests);
    }

    pub fn expire_tokens_now(&self) {
        let mut state = self.lock();
        let all: Vec<String> = state.tokens.keys().cloned().collect();
        state.expired.extend(all);
    }

    pub fn issue_expired_tokens(&self, yes: bool) {
        self.lock().issue_expired = yes;
    }

    /// The next removals of `principal` fail with `status` and the Graph error `code`.
    pub fn fail_removals(
        &self,
        principal: &str,
        status: u16,
        code: &str,
        message: &str,
        times: usize,
    ) {
        let mut state = self.lock();
        let queue = state.removal_failures.entry(principal.into()).or_default();
        for _ in 0..times {
            queue.push_back((status, code.into(), message.into()));
        }
    }

    pub fn log(&self) -> Vec<Logged> {
        self.lock().log.clone()
    }

    pub fn tokens_issued(&self) -> usize {
        self.lock().tokens_issued
    }

    pub fn removal_requests(&self) -> Vec<Value> {
        self.lock().removal_requests.clone()
    }

    /// The schedules the server holds now.
    pub fn schedules(&self) -> Vec<Schedule> {
        self.lock().schedules.clone()
    }

    pub fn add_user(&self, name: &str, manager: Option<&str>) -> String {
        let mut state = self.lock();
        let id = state.guid();
        let login = name.to_lowercase().replace(' ', ".");
        state.users.insert(
            id.clone(),
            User {
                id: id.clone(),
                display_name: name.into(),
                mail: Some(format!("{login}@contoso.example")),
                user_principal_name: format!("{login}@contoso.onmicrosoft.example"),
                account_enabled: true,
                manager: manager.map(str::to_string),
            },
        );
        id
    }

    pub fn add_other(&self, odata_type: &'static str, name: &str) -> String {
        let mut state = self.lock();
        let id = state.guid();
        state.others.insert(
            id.clone(),
            OtherPrincipal {
                id: id.clone(),
                odata_type,
                display_name: name.into(),
            },
        );
        id
    }

    /// A provisioned, direct, tenant-wide eligibility with no end.
    pub fn add_eligibility(&self, principal: &str, role: &str) -> String {
        self.add_schedule(principal, role, "/", "Provisioned", "Direct", None)
    }

    pub fn add_schedule(
        &self,
        principal: &str,
        role: &str,
        scope: &str,
        status: &str,
        member_type: &str,
        end: Option<&str>,
    ) -> String {
        let mut state = self.lock();
        let id = state.guid();
        state.schedules.push(Schedule {
            id: id.clone(),
            principal_id: principal.into(),
            role_definition_id: role.into(),
            directory_scope_id: scope.into(),
            status: status.into(),
            member_type: member_type.into(),
            start: "2025-01-15T09:00:00Z".into(),
            end: end.map(str::to_string),
        });
        id
    }

    /// A role assignment schedule request at the tenant root: `action` `selfActivate` is an
    /// activation, in `status` (`Provisioned`, `Denied`, …).
    pub fn add_assignment_request(
        &self,
        principal: &str,
        role: &str,
        action: &'static str,
        status: &'static str,
        start: &str,
        justification: Option<&str>,
    ) {
        let mut state = self.lock();
        let id = state.guid();
        state.assignment_requests.push(AssignmentRequest {
            id,
            principal_id: principal.into(),
            role_definition_id: role.into(),
            action,
            status,
            start: start.into(),
            justification: justification.map(str::to_string),
        });
    }

    pub fn add_instance(
        &self,
        principal: &str,
        role: &str,
        assignment_type: &'static str,
        start: &str,
    ) {
        let mut state = self.lock();
        let id = state.guid();
        state.instances.push(Instance {
            id,
            principal_id: principal.into(),
            role_definition_id: role.into(),
            directory_scope_id: "/".into(),
            assignment_type,
            start: start.into(),
        });
    }

    /// An org of `managers` people who hold nothing (a tree: the first is the top, each next
    /// one reports to an earlier one) and `eligible` people, each eligible for one of Global,
    /// Privileged Role or User Administrator (every seventh for a second role too) and
    /// reporting to one of the managers; plus an eligible service principal and group, a
    /// schedule that is not provisioned and one inherited through a group (neither counts),
    /// and activations (some eligibilities activated twice, some permanent `Assigned`
    /// instances with newer starts that must not count).
    pub fn seed_org(&self, managers: usize, eligible: usize) -> Org {
        assert!(managers >= 1);
        let roles = [
            (GLOBAL_ADMINISTRATOR, "Global Administrator"),
            (
                PRIVILEGED_ROLE_ADMINISTRATOR,
                "Privileged Role Administrator",
            ),
            (USER_ADMINISTRATOR, "User Administrator"),
        ];
        let mut org = Org {
            users: Vec::new(),
            eligible_users: Vec::new(),
            service_principal: String::new(),
            group: String::new(),
            eligibility: Vec::new(),
            last_activated: BTreeMap::new(),
        };
        let mut manager_ids: Vec<String> = Vec::new();
        for m in 0..managers {
            let boss = if m == 0 {
                None
            } else {
                Some(manager_ids[(m - 1) / 3].clone())
            };
            let id = self.add_user(&format!("Manager {m}"), boss.as_deref());
            manager_ids.push(id);
        }
        for e in 0..eligible {
            let boss = manager_ids[e % managers].clone();
            let id = self.add_user(&format!("Admin {e}"), Some(&boss));
            let (role, role_name) = roles[e % 3];
            self.add_eligibility(&id, role);
            org.eligibility
                .push((id.clone(), role_name.into(), "/".into()));
            if e % 7 == 0 {
                let (second, second_name) = roles[(e + 1) % 3];
                self.add_eligibility(&id, second);
                org.eligibility
                    .push((id.clone(), second_name.into(), "/".into()));
            }
            if e % 4 == 0 {
                let older = format!("2025-03-{:02}T08:00:00Z", 1 + e % 20);
                let newer = format!("2025-06-{:02}T10:30:00Z", 1 + e % 28);
                self.add_instance(&id, role, "Activated", &older);
                self.add_instance(&id, role, "Activated", &newer);
                org.last_activated
                    .insert((id.clone(), role_name.into(), "/".into()), newer);
            }
            if e % 5 == 0 {
                // A permanent assignment of the same role: an instance, but not an activation.
                self.add_instance(&id, role, "Assigned", "2025-09-01T00:00:00Z");
            }
            org.eligible_users.push(id);
        }
        let sp = self.add_other("#microsoft.graph.servicePrincipal", "Deployment Automation");
        self.add_eligibility(&sp, USER_ADMINISTRATOR);
        org.eligibility
            .push((sp.clone(), "User Administrator".into(), "/".into()));
        let group = self.add_other("#microsoft.graph.group", "Helpdesk Admins");
        self.add_eligibility(&group, PRIVILEGED_ROLE_ADMINISTRATOR);
        org.eligibility.push((
            group.clone(),
            "Privileged Role Administrator".into(),
            "/".into(),
        ));
        // Neither of these is an eligibility anyone holds.
        self.add_schedule(
            &manager_ids[0],
            GLOBAL_ADMINISTRATOR,
            "/",
            "PendingProvisioning",
            "Direct",
            None,
        );
        if let Some(first) = org.eligible_users.first() {
            self.add_schedule(
                first,
                SECURITY_ADMINISTRATOR,
                "/",
                "Provisioned",
                "Group",
                None,
            );
        }
        org.service_principal = sp;
        org.group = group;
        let state = self.lock();
        for id in manager_ids.iter().chain(org.eligible_users.iter()) {
            org.users.push(state.users[id].clone());
        }
        org
    }
}

fn graph_error(status: u16, code: &str, message: &str) -> Response {
    let body = json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": "2026-01-01T00:00:00",
                "request-id": "0f3c2a7e-0000-4000-8000-000000000000",
                "client-request-id": "0f3c2a7e-0000-4000-8000-000000000000"
            }
        }
    });
    (
        StatusCode::from_u16(status).expect("status"),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn ok_json(status: StatusCode, body: Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

fn handle(
    state: &Mutex<State>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().expect("graph server state");
    let path = decode(uri.path());
    let target = match uri.query() {
        Some(q) => format!("{path}?{}", decode(q)),
        None => path.clone(),
    };
    let response = answer(
        &mut state,
        &method,
        &path,
        &target,
        uri.query().unwrap_or(""),
        &headers,
        &body,
    );
    let status = response.status().as_u16();
    state.log.push(Logged {
        method: method.to_string(),
        target,
        status,
    });
    response
}

fn answer(
    state: &mut State,
    method: &Method,
    path: &str,
    target: &str,
    raw_query: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    // Throttling comes first, as Graph's gateway answers it before looking at the request.
    for (fragment, statuses) in state.throttles.iter_mut() {
        if target.contains(fragment.as_str()) {
            if let Some(status) = statuses.pop_front() {
                let (code, message) = if status == 429 {
                    ("TooManyRequests", "Too many requests.")
                } else {
                    (
                        "ServiceUnavailable",
                        "The service is temporarily unavailable.",
                    )
                };
                let mut response = graph_error(status, code, message);
                response
                    .headers_mut()
                    .insert("retry-after", "1".parse().expect("header"));
                return response;
            }
        }
    }
    let token_path = format!("/{}/oauth2/v2.0/token", state.tenant_id);
    if path.ends_with("/oauth2/v2.0/token") {
        if method != Method::POST {
            return graph_error(405, "MethodNotAllowed", "POST only");
        }
        if path != token_path {
            let tenant = path.trim_start_matches('/').split('/').next().unwrap_or("");
            return token_error(
                400,
                "invalid_request",
                90002,
                &format!("AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
            );
        }
        return token(state, body);
    }

    // Every Graph call needs a valid bearer token.
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_string();
    if bearer.is_empty() {
        return graph_error(401, "InvalidAuthenticationToken", "Access token is empty.");
    }
    if !state.tokens.contains_key(&bearer) {
        return graph_error(
            401,
            "InvalidAuthenticationToken",
            "IDX14100: JWT is not well formed.",
        );
    }
    if state.expired.contains(&bearer) {
        return graph_error(
            401,
            "InvalidAuthenticationToken",
            "Lifetime validation failed, the token is expired.",
        );
    }
    if let Some(left) = state.expire_after {
        if left <= 1 {
            state.expire_after = None;
            let all: Vec<String> = state.tokens.keys().cloned().collect();
            state.expired.extend(all);
        } else {
            state.expire_after = Some(left - 1);
        }
    }
    let roles = state.tokens[&bearer].clone();
    let has = |any: &[&str]| roles.iter().any(|r| any.contains(&r.as_str()));
    let query: HashMap<String, String> = url::form_urlencoded::parse(raw_query.as_bytes())
        .into_owned()
        .collect();

    if path == ELIGIBILITY_PATH && method == Method::GET {
        if !has(&[
            "RoleEligibilitySchedule.Read.Directory",
            READ_WRITE,
            "RoleManagement.Read.Directory",
            "RoleManagement.Read.All",
            "RoleManagement.ReadWrite.Directory",
        ]) {
            return denied();
        }
        return list_schedules(state, &query);
    }
    if path == ACTIVATIONS_PATH && method == Method::GET {
        if !has(&[
            "RoleAssignmentSchedule.Read.Directory",
            "RoleAssignmentSchedule.ReadWrite.Directory",
            "RoleManagement.Read.Directory",
            "RoleManagement.Read.All",
            "RoleManagement.ReadWrite.Directory",
        ]) {
            return denied();
        }
        return list_instances(state, &query);
    }
    if path == ACTIVATION_REQUESTS_PATH && method == Method::GET {
        if !has(&[
            "RoleAssignmentSchedule.Read.Directory",
            "RoleAssignmentSchedule.ReadWrite.Directory",
            "RoleManagement.Read.Directory",
            "RoleManagement.Read.All",
            "RoleManagement.ReadWrite.Directory",
        ]) {
            return denied();
        }
        return list_assignment_requests(state, &query);
    }
    if path == ROLE_DEFINITIONS_PATH && method == Method::GET {
        if !has(&[
            "RoleManagement.Read.Directory",
            "Directory.Read.All",
            "RoleManagement.ReadWrite.Directory",
            "Directory.ReadWrite.All",
        ]) {
            return denied();
        }
        let clauses = match query.get("$filter") {
            None => Vec::new(),
            Some(f) => match parse_filter(f, &["displayName"]) {
                Ok(c) => c,
                Err(e) => return graph_error(400, "BadRequest", &e),
            },
        };
        let items: Vec<Value> = state
            .role_definitions
            .values()
            .filter(|r| clauses.iter().all(|(_, v)| &r.display_name == v))
            .map(|r| {
                json!({
                    "id": r.id, "displayName": r.display_name, "description": r.description,
                    "isBuiltIn": true, "isEnabled": true, "templateId": r.id,
                })
            })
            .collect();
        return page(
            state,
            ROLE_DEFINITIONS_PATH,
            "roleDefinitions",
            &query,
            items,
        );
    }
    if let Some(response) = assignments::route(state, method, path, &query, body, &roles) {
        return response;
    }
    if path == REQUESTS_PATH && method == Method::POST {
        if !has(&[READ_WRITE, "RoleManagement.ReadWrite.Directory"]) {
            return denied();
        }
        return removal(state, body);
    }
    // List users: the connector asks for the disabled accounts only
    // (`$filter=accountEnabled eq false`, a default query `accountEnabled` supports).
    if path == "/v1.0/users" && method == Method::GET {
        if !has(&["User.Read.All", "User.ReadWrite.All", "Directory.Read.All"]) {
            return denied();
        }
        let enabled = match query.get("$filter").map(String::as_str) {
            None => None,
            Some("accountEnabled eq false") => Some(false),
            Some("accountEnabled eq true") => Some(true),
            Some(other) => {
                return graph_error(
                    400,
                    "Request_UnsupportedQuery",
                    &format!("Unsupported or invalid query filter clause specified for property 'accountEnabled' of resource 'User': {other}"),
                )
            }
        };
        let selected = query.get("$select").cloned().unwrap_or_default();
        let mut users: Vec<&User> = state
            .users
            .values()
            .filter(|u| enabled.is_none_or(|e| u.account_enabled == e))
            .collect();
        users.sort_by(|a, b| a.id.cmp(&b.id));
        let items = users
            .into_iter()
            .map(|u| {
                let mut object = user_json(u);
                if selected.contains("accountEnabled") {
                    object["accountEnabled"] = json!(u.account_enabled);
                }
                object
            })
            .collect();
        return page(state, "/v1.0/users", "users", &query, items);
    }
    if let Some(user) = path
        .strip_prefix("/v1.0/users/")
        .and_then(|rest| rest.strip_suffix("/manager"))
    {
        if method != Method::GET {
            return graph_error(405, "Request_BadRequest", "Unsupported method.");
        }
        if !has(&["User.Read.All", "User.ReadWrite.All", "Directory.Read.All"]) {
            return denied();
        }
        let Some(found) = state.users.get(user) else {
            return graph_error(
                404,
                "Request_ResourceNotFound",
                &format!("Resource '{user}' does not exist or one of its queried reference-property objects are not present."),
            );
        };
        let Some(manager) = found.manager.as_ref().and_then(|m| state.users.get(m)) else {
            return graph_error(
                404,
                "Request_ResourceNotFound",
                "Resource 'manager' does not exist or one of its queried reference-property objects are not present.",
            );
        };
        let mut object = user_json(manager);
        object["@odata.context"] =
            json!("https://graph.microsoft.com/v1.0/$metadata#directoryObjects/$entity");
        // $select=…accountEnabled returns it; the default properties leave it out.
        if query
            .get("$select")
            .is_some_and(|s| s.contains("accountEnabled"))
        {
            object["accountEnabled"] = json!(manager.account_enabled);
        }
        return ok_json(StatusCode::OK, object);
    }
    let segment = path.rsplit('/').next().unwrap_or("");
    graph_error(
        400,
        "BadRequest",
        &format!("Resource not found for the segment '{segment}'."),
    )
}

fn denied() -> Response {
    graph_error(
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
}

fn token_error(status: u16, error: &str, code: u64, description: &str) -> Response {
    let body = json!({
        "error": error,
        "error_description": format!(
            "{description}\r\nTrace ID: 2b6f1c3e-0000-4000-8000-000000000000\r\nCorrelation ID: 7c1d9a2b-0000-4000-8000-000000000000\r\nTimestamp: 2026-01-01 00:00:00Z"
        ),
        "error_codes": [code],
        "timestamp": "2026-01-01 00:00:00Z",
        "trace_id": "2b6f1c3e-0000-4000-8000-000000000000",
        "correlation_id": "7c1d9a2b-0000-4000-8000-000000000000",
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}")
    });
    ok_json(StatusCode::from_u16(status).expect("status"), body)
}

fn token(state: &mut State, body: &Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return token_error(
            400,
            "unsupported_grant_type",
            70003,
            "AADSTS70003: The app requested an unsupported grant type.",
        );
    }
    let client = form.get("client_id").cloned().unwrap_or_default();
    if client != state.client_id {
        return token_error(
            400,
            "unauthorized_client",
            700016,
            &format!("AADSTS700016: Application with identifier '{client}' was not found in the directory 'contoso-test'."),
        );
    }
    if form.get("client_secret") != Some(&state.client_secret) {
        return token_error(
            401,
            "invalid_client",
            7000215,
            &format!("AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client}'."),
        );
    }
    let wanted = format!("{}/.default", state.base);
    if form.get("scope") != Some(&wanted) {
        return token_error(
            400,
            "invalid_scope",
            1002012,
            "AADSTS1002012: The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
        );
    }
    state.tokens_issued += 1;
    let now = chrono::Utc::now().timestamp();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(json!({"typ": "JWT", "alg": "RS256", "kid": "test-key"}).to_string());
    let payload = b64.encode(
        json!({
            "aud": "https://graph.microsoft.com",
            "iss": format!("https://sts.windows.net/{}/", state.tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + 3599,
            "appid": state.client_id,
            "idtyp": "app",
            "roles": state.roles,
            "tid": state.tenant_id,
            "uti": format!("token-{}", state.tokens_issued),
            "ver": "1.0"
        })
        .to_string(),
    );
    let signature = b64.encode(format!("not-a-signature-{}", state.tokens_issued));
    let token = format!("{header}.{payload}.{signature}");
    state.tokens.insert(token.clone(), state.roles.clone());
    if state.issue_expired {
        state.expired.insert(token.clone());
    }
    ok_json(
        StatusCode::OK,
        json!({
            "token_type": "Bearer",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": token
        }),
    )
}

/// Parses the `$filter` forms the connector may send: `prop eq 'value'` joined by ` and `.
/// A clause it cannot parse is answered 400 BadRequest, as Graph does.
fn parse_filter(filter: &str, allowed: &[&str]) -> Result<Vec<(String, String)>, String> {
    let mut clauses = Vec::new();
    for clause in filter.split(" and ") {
        let bad = || format!("Invalid filter clause: '{clause}'.");
        let mut parts = clause.splitn(3, ' ');
        let (Some(prop), Some("eq"), Some(value)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if !allowed.contains(&prop)
            || !value.starts_with('\'')
            || !value.ends_with('\'')
            || value.len() < 2
        {
            return Err(bad());
        }
        clauses.push((
            prop.to_string(),
            value[1..value.len() - 1].replace("''", "'"),
        ));
    }
    Ok(clauses)
}

/// One page of `items` from `$skiptoken` (an offset prefixed by the collection's name), with
/// `@odata.nextLink` carrying the other query options.
fn page(
    state: &State,
    path: &str,
    collection: &str,
    query: &HashMap<String, String>,
    items: Vec<Value>,
) -> Response {
    let offset = match query.get("$skiptoken") {
        None => 0,
        Some(token) => match token
            .strip_prefix(&format!("{collection}."))
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(offset) => offset,
            None => return graph_error(400, "BadRequest", "Invalid $skiptoken."),
        },
    };
    let end = (offset + state.page_size).min(items.len());
    let value: Vec<Value> = items.get(offset..end).unwrap_or(&[]).to_vec();
    let mut body = json!({
        "@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#roleManagement/directory/{collection}"),
        "value": value,
    });
    if end < items.len() {
        let mut keep: Vec<(&String, &String)> = query
            .iter()
            .filter(|(k, _)| k.as_str() != "$skiptoken")
            .collect();
        keep.sort();
        let mut link = format!("{}{path}?", state.base);
        for (key, value) in keep {
            link.push_str(key);
            link.push('=');
            link.extend(percent_encoding::utf8_percent_encode(
                value,
                percent_encoding::NON_ALPHANUMERIC,
            ));
            link.push('&');
        }
        link.push_str(&format!("$skiptoken={collection}.{end}"));
        body["@odata.nextLink"] = json!(link);
    }
    ok_json(StatusCode::OK, body)
}

fn user_json(user: &User) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.user",
        "id": user.id,
        "businessPhones": [],
        "displayName": user.display_name,
        "givenName": null,
        "jobTitle": null,
        "mail": user.mail,
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": null,
        "surname": null,
        "userPrincipalName": user.user_principal_name
    })
}

fn principal_json(state: &State, id: &str) -> Value {
    if let Some(user) = state.users.get(id) {
        return user_json(user);
    }
    match state.others.get(id) {
        Some(other) if other.odata_type == "#microsoft.graph.group" => json!({
            "@odata.type": other.odata_type,
            "id": other.id,
            "displayName": other.display_name,
            "mail": null,
            "securityEnabled": true,
            "isAssignableToRole": true
        }),
        Some(other) => json!({
            "@odata.type": other.odata_type,
            "id": other.id,
            "displayName": other.display_name,
            "appId": guid(7),
            "servicePrincipalType": "Application",
            "accountEnabled": true
        }),
        None => Value::Null,
    }
}

fn list_schedules(state: &State, query: &HashMap<String, String>) -> Response {
    let filter = match query.get("$filter") {
        None => Vec::new(),
        Some(f) => match parse_filter(
            f,
            &[
                "principalId",
                "roleDefinitionId",
                "directoryScopeId",
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
    if let Some(bad) = expand
        .iter()
        .find(|e| !["principal", "roleDefinition", "directoryScope", "appScope"].contains(e))
    {
        return graph_error(
            400,
            "BadRequest",
            &format!("Could not find a property named '{bad}' on type 'microsoft.graph.unifiedRoleEligibilitySchedule'."),
        );
    }
    let items: Vec<Value> = state
        .schedules
        .iter()
        .filter(|s| {
            filter.iter().all(|(prop, value)| match prop.as_str() {
                "principalId" => &s.principal_id == value,
                "roleDefinitionId" => &s.role_definition_id == value,
                "directoryScopeId" => &s.directory_scope_id == value,
                _ => &s.status == value,
            })
        })
        .map(|s| {
            let mut item = json!({
                "id": s.id,
                "principalId": s.principal_id,
                "roleDefinitionId": s.role_definition_id,
                "directoryScopeId": s.directory_scope_id,
                "appScopeId": null,
                "createdUsing": s.id,
                "createdDateTime": s.start,
                "modifiedDateTime": "0001-01-01T08:00:00Z",
                "status": s.status,
                "memberType": s.member_type,
                "scheduleInfo": {
                    "startDateTime": s.start,
                    "recurrence": null,
                    "expiration": match &s.end {
                        Some(end) => json!({"type": "afterDateTime", "endDateTime": end, "duration": null}),
                        None => json!({"type": "noExpiration", "endDateTime": null, "duration": null}),
                    }
                }
            });
            if expand.contains(&"principal") {
                item["principal"] = principal_json(state, &s.principal_id);
            }
            if expand.contains(&"roleDefinition") {
                item["roleDefinition"] = match state.role_definitions.get(&s.role_definition_id) {
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
        ELIGIBILITY_PATH,
        "roleEligibilitySchedules",
        query,
        items,
    )
}

fn list_instances(state: &State, query: &HashMap<String, String>) -> Response {
    let filter = match query.get("$filter") {
        None => Vec::new(),
        Some(f) => match parse_filter(f, &["assignmentType", "principalId", "roleDefinitionId"]) {
            Ok(f) => f,
            Err(e) => return graph_error(400, "BadRequest", &e),
        },
    };
    let items: Vec<Value> = state
        .instances
        .iter()
        .filter(|i| {
            filter.iter().all(|(prop, value)| match prop.as_str() {
                "assignmentType" => i.assignment_type == value,
                "principalId" => &i.principal_id == value,
                _ => &i.role_definition_id == value,
            })
        })
        .map(|i| {
            json!({
                "id": i.id,
                "principalId": i.principal_id,
                "roleDefinitionId": i.role_definition_id,
                "directoryScopeId": i.directory_scope_id,
                "appScopeId": null,
                "startDateTime": i.start,
                "endDateTime": null,
                "assignmentType": i.assignment_type,
                "memberType": "Direct",
                "roleAssignmentOriginId": i.id,
                "roleAssignmentScheduleId": i.id
            })
        })
        .collect();
    page(
        state,
        ACTIVATIONS_PATH,
        "roleAssignmentScheduleInstances",
        query,
        items,
    )
}

fn list_assignment_requests(state: &State, query: &HashMap<String, String>) -> Response {
    let filter = match query.get("$filter") {
        None => Vec::new(),
        Some(f) => match parse_filter(f, &["action", "principalId"]) {
            Ok(f) => f,
            Err(e) => return graph_error(400, "BadRequest", &e),
        },
    };
    let items: Vec<Value> = state
        .assignment_requests
        .iter()
        .filter(|r| {
            filter.iter().all(|(prop, value)| match prop.as_str() {
                "action" => r.action == value,
                _ => &r.principal_id == value,
            })
        })
        .map(|r| {
            json!({
                "id": r.id,
                "action": r.action,
                "status": r.status,
                "principalId": r.principal_id,
                "roleDefinitionId": r.role_definition_id,
                "directoryScopeId": "/",
                "appScopeId": null,
                "isValidationOnly": false,
                "justification": r.justification,
                "createdDateTime": r.start,
                "scheduleInfo": {
                    "startDateTime": r.start,
                    "expiration": { "type": "afterDuration", "endDateTime": null, "duration": "PT1H" }
                }
            })
        })
        .collect();
    page(
        state,
        ACTIVATION_REQUESTS_PATH,
        "roleAssignmentScheduleRequests",
        query,
        items,
    )
}

fn removal(state: &mut State, body: &Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return graph_error(400, "BadRequest", "Unable to read JSON request payload.");
    };
    state.removal_requests.push(request.clone());
    let text = |key: &str| request.get(key).and_then(Value::as_str).map(str::to_string);
    let action = text("action").unwrap_or_default();
    if action == "adminAssign" {
        return assign(state, &request);
    }
    if action != "adminRemove" {
        return graph_error(
            400,
            "BadRequest",
            &format!("This test server handles actions adminRemove and adminAssign only, not '{action}'."),
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
    if let Some((status, code, message)) = state
        .removal_failures
        .get_mut(&principal)
        .and_then(VecDeque::pop_front)
    {
        return graph_error(status, &code, &message);
    }
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
    let before = state.schedules.len();
    state.schedules.retain(|s| {
        !(s.principal_id == principal
            && s.role_definition_id == role
            && s.directory_scope_id == scope
            && s.status == "Provisioned"
            && s.member_type == "Direct")
    });
    if state.schedules.len() == before {
        return graph_error(
            400,
            "RoleAssignmentDoesNotExist",
            "The Role assignment does not exist.",
        );
    }
    let id = state.guid();
    ok_json(
        StatusCode::CREATED,
        json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#roleManagement/directory/roleEligibilityScheduleRequests/$entity",
            "id": id,
            "status": "Revoked",
            "createdDateTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
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

/// `adminAssign`: a new provisioned, direct eligibility with the schedule the request gives.
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
    let start = info["startDateTime"].as_str().map(str::to_string);
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
    let Some(start) = start else {
        return graph_error(400, "BadRequest", "scheduleInfo.startDateTime is required.");
    };
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
    if state.schedules.iter().any(|s| {
        s.principal_id == principal
            && s.role_definition_id == role
            && s.directory_scope_id == scope
            && s.status == "Provisioned"
    }) {
        return graph_error(
            400,
            "RoleAssignmentExists",
            "The Role assignment already exists.",
        );
    }
    let id = state.guid();
    state.schedules.push(Schedule {
        id: id.clone(),
        principal_id: principal.clone(),
        role_definition_id: role.clone(),
        directory_scope_id: scope.clone(),
        status: "Provisioned".into(),
        member_type: "Direct".into(),
        start: start.clone(),
        end: end.clone(),
    });
    ok_json(
        StatusCode::CREATED,
        json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#roleManagement/directory/roleEligibilityScheduleRequests/$entity",
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
