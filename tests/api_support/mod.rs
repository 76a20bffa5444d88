//! Helpers for the REST API tests: the real server on a fresh database (SQLite or PostgreSQL as
//! the run selected) with an admin and an auditor, each with an API token and a console session;
//! an HTTP client that sends those credentials; and [`Contract`], which checks every answer
//! against the OpenAPI document the server itself serves.
#![allow(dead_code)]

use crate::common::app::START;
use crate::common::{at, TestDb};
use attest::clock::ManualClock;
use attest::domain::access::Role;
use attest::engine::Engine;
use attest::web::{self, AppState};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const ADMIN_EMAIL: &str = "admin@org.test";
pub const AUDITOR_EMAIL: &str = "auditor@org.test";
pub const PASSWORD: &str = "correct horse battery staple";
/// The admin token's name: the audit log names its changes `token:ci-admin`.
pub const ADMIN_TOKEN_NAME: &str = "ci-admin";
pub const AUDITOR_TOKEN_NAME: &str = "ci-auditor";

/// How a request proves who sends it.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    /// `Authorization: Bearer …`.
    Bearer(String),
    /// A console session cookie, with its anti-forgery header when `csrf` is set.
    Session {
        cookie: String,
        csrf: Option<String>,
    },
}

/// One answer, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub method: Method,
    pub path: String,
    pub status: StatusCode,
    /// The media type, without parameters.
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (panics, showing it, when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {} answered {} with a body that is not JSON ({e}):\n{}",
                self.method,
                self.path,
                self.status,
                self.text()
            )
        })
    }

    /// Asserts the status, showing the body when it differs.
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{} {}: expected {status}, got {}:\n{}",
            self.method,
            self.path,
            self.status,
            self.text()
        );
        self
    }

    /// The `error` object of an error answer, after checking its shape: `code` and `message`
    /// strings and a `field` that is a string or null.
    pub fn error(&self) -> Value {
        let body = self.json();
        let error = body
            .get("error")
            .unwrap_or_else(|| panic!("{} {}: no `error` in {body}", self.method, self.path))
            .clone();
        assert!(error["code"].is_string(), "error.code: {error}");
        assert!(error["message"].is_string(), "error.message: {error}");
        assert!(
            error
                .get("field")
                .is_some_and(|f| f.is_string() || f.is_null()),
            "error.field is present, a string or null: {error}"
        );
        error
    }

    pub fn error_code(&self) -> String {
        self.error()["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// A request body.
pub enum Body {
    Empty,
    Json(Value),
    Text(&'static str, String),
}

/// The application under test, with its accounts.
pub struct ApiApp {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub base_url: String,
    pub http: reqwest::Client,
    pub engine: Engine,
    pub clock: Arc<ManualClock>,
    pub admin_token: Auth,
    pub auditor_token: Auth,
    /// An admin's console session with its anti-forgery header.
    pub admin_session: Auth,
    pub auditor_session: Auth,
    pub db: TestDb,
}

impl ApiApp {
    /// The server on a fresh database, its clock at [`START`], with an admin and an auditor.
    pub async fn spawn() -> Self {
        Self::spawn_with_sources(Default::default()).await
    }

    /// The same, with the sources an attest.toml would configure.
    pub async fn spawn_with_sources(
        sources: std::collections::BTreeMap<String, attest::sources::config::SourceConfig>,
    ) -> Self {
        let db = TestDb::new().await;
        let clock = Arc::new(ManualClock::new(at(START)));
        let engine = db.engine_at(clock.clone()).await.with_sources(sources);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let base_url = format!("http://127.0.0.1:{port}");
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(web::serve(
            listener,
            AppState {
                engine: engine.clone(),
                base_url: base_url.clone(),
            },
            async move {
                let _ = stop.await;
            },
        ));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .expect("HTTP client");

        for (email, role) in [(ADMIN_EMAIL, Role::Admin), (AUDITOR_EMAIL, Role::Auditor)] {
            engine
                .add_account(email, role, PASSWORD, "test")
                .await
                .unwrap_or_else(|e| panic!("add account {email}: {e}"));
        }
        let admin = engine
            .account_operator(ADMIN_EMAIL)
            .await
            .expect("admin operator");
        let admin_token = engine
            .create_api_token(&admin, ADMIN_TOKEN_NAME, Role::Admin)
            .await
            .expect("admin token");
        let auditor_token = engine
            .create_api_token(&admin, AUDITOR_TOKEN_NAME, Role::Auditor)
            .await
            .expect("auditor token");
        let mut app = Self {
            shutdown: Some(shutdown),
            server: Some(server),
            base_url,
            http,
            engine,
            clock,
            admin_token: Auth::Bearer(admin_token),
            auditor_token: Auth::Bearer(auditor_token),
            admin_session: Auth::None,
            auditor_session: Auth::None,
            db,
        };
        app.admin_session = app.session(ADMIN_EMAIL).await;
        app.auditor_session = app.session(AUDITOR_EMAIL).await;
        app
    }

    /// Signs `email` in (as the login form does) and reads the session's anti-forgery value
    /// from `GET /api/v1/me`.
    async fn session(&self, email: &str) -> Auth {
        let issued = self
            .engine
            .login(email, PASSWORD, Some("127.0.0.1"))
            .await
            .expect("login")
            .unwrap_or_else(|refused| panic!("login {email} refused: {refused:?}"));
        let cookie = issued.token;
        let me = self
            .call(
                Method::GET,
                "/api/v1/me",
                &Auth::Session {
                    cookie: cookie.clone(),
                    csrf: None,
                },
                Body::Empty,
            )
            .await;
        me.expect(200);
        let csrf = me.json()["csrf"]
            .as_str()
            .unwrap_or_else(|| panic!("a session's /me shows its csrf: {}", me.text()))
            .to_string();
        Auth::Session {
            cookie,
            csrf: Some(csrf),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends one request and reads the answer whole.
    pub async fn call(&self, method: Method, path: &str, auth: &Auth, body: Body) -> Reply {
        let mut request = self.http.request(method.clone(), self.url(path));
        match auth {
            Auth::None => {}
            Auth::Bearer(token) => {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            Auth::Session { cookie, csrf } => {
                request = request.header(
                    "cookie",
                    format!("{}={cookie}", attest::web::auth::SESSION_COOKIE),
                );
                if let Some(csrf) = csrf {
                    request = request.header("x-csrf-token", csrf);
                }
            }
        }
        request = match body {
            Body::Empty => request,
            Body::Json(value) => request
                .header("content-type", "application/json")
                .body(value.to_string()),
            Body::Text(content_type, text) => {
                request.header("content-type", content_type).body(text)
            }
        };
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        let body = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("read the answer to {method} {path}: {e}"))
            .to_vec();
        Reply {
            method,
            path: path.to_string(),
            status,
            content_type,
            body,
        }
    }

    /// The OpenAPI document as the server serves it, ready to check answers against.
    pub async fn contract(&self) -> Contract {
        let reply = self
            .call(
                Method::GET,
                "/api/v1/openapi.json",
                &self.auditor_token,
                Body::Empty,
            )
            .await;
        reply.expect(200);
        assert_eq!(reply.content_type, "application/json");
        Contract::new(reply.json())
    }

    /// Every audit event, oldest first, read from the database.
    pub async fn audit_events(&self) -> Vec<attest::domain::audit_chain::ChainedEvent> {
        let mut events = attest::store::audit::recent(self.engine.store().conn(), 1_000_000)
            .await
            .expect("read the audit log");
        events.reverse();
        events
    }
}

impl Drop for ApiApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// The served OpenAPI document, and JSON Schema validators for its answers.
pub struct Contract {
    pub doc: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl Contract {
    pub fn new(doc: Value) -> Self {
        assert!(
            doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
            "an OpenAPI 3 document: {}",
            doc["openapi"]
        );
        Self {
            doc,
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// The documented path template that `path` (without its query) matches.
    pub fn template_of(&self, path: &str) -> String {
        let path = path.split('?').next().unwrap_or(path);
        let segments: Vec<&str> = path.split('/').collect();
        let paths = self.doc["paths"].as_object().expect("paths");
        let mut matches: Vec<&String> = paths
            .keys()
            .filter(|template| {
                let parts: Vec<&str> = template.split('/').collect();
                parts.len() == segments.len()
                    && parts
                        .iter()
                        .zip(&segments)
                        .all(|(t, s)| t == s || (t.starts_with('{') && t.ends_with('}')))
            })
            .collect();
        // A literal segment beats a parameter.
        matches.sort_by_key(|t| t.matches('{').count());
        matches
            .first()
            .unwrap_or_else(|| panic!("{path} is not in the OpenAPI document"))
            .to_string()
    }

    /// Every operation: (method, path template, operation).
    pub fn operations(&self) -> Vec<(Method, String, Value)> {
        let mut all = Vec::new();
        for (template, item) in self.doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("path item") {
                let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                    .unwrap_or_else(|_| panic!("a method: {method}"));
                all.push((method, template.clone(), operation.clone()));
            }
        }
        all
    }

    fn validator(&self, key: &str, schema: &Value) -> Arc<jsonschema::Validator> {
        let mut cache = self.validators.lock().expect("validator cache");
        if let Some(v) = cache.get(key) {
            return v.clone();
        }
        // The response's schema, with the document's components beside it so that its
        // `#/components/schemas/…` references resolve in place.
        let root = serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.doc["components"],
            "allOf": [schema],
        });
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("the schema of {key} compiles: {e}"));
        let validator = Arc::new(validator);
        cache.insert(key.to_string(), validator.clone());
        validator
    }

    /// Asserts that `reply` is what the document promises for its operation and status: the
    /// status is documented, the content type is one the response lists, and a JSON body
    /// validates against that response's schema.
    pub fn check(&self, reply: &Reply) {
        let template = self.template_of(&reply.path);
        let method = reply.method.as_str().to_ascii_lowercase();
        let operation = &self.doc["paths"][&template][&method];
        assert!(
            operation.is_object(),
            "{} {template} is not in the OpenAPI document",
            reply.method
        );
        let status = reply.status.as_str();
        let response = operation["responses"]
            .get(status)
            .or_else(|| operation["responses"].get("default"))
            .unwrap_or_else(|| {
                panic!(
                    "{} {template}: status {status} is not documented (body: {})",
                    reply.method,
                    reply.text()
                )
            });
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            assert!(
                reply.body.is_empty(),
                "{} {template} {status}: documented without a body, but sent one",
                reply.method
            );
            return;
        };
        let media = content.get(&reply.content_type).unwrap_or_else(|| {
            panic!(
                "{} {template} {status}: content type {:?} is not documented (documented: {:?})",
                reply.method,
                reply.content_type,
                content.keys().collect::<Vec<_>>()
            )
        });
        let Some(schema) = media.get("schema") else {
            return;
        };
        if reply.content_type != "application/json" {
            return;
        }
        let key = format!("{} {template} {status}", reply.method);
        let validator = self.validator(&key, schema);
        let instance = reply.json();
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{key}: the body does not match the documented schema:\n{}\nbody: {instance:#}",
            errors.join("\n")
        );
    }

    /// Compiles the schema of every documented JSON response, so that every reference in the
    /// document resolves.
    pub fn compile_all(&self) -> usize {
        let mut n = 0;
        for (method, template, operation) in self.operations() {
            for (status, response) in operation["responses"].as_object().expect("responses") {
                if let Some(schema) = response["content"]["application/json"].get("schema") {
                    self.validator(&format!("{method} {template} {status}"), schema);
                    n += 1;
                }
            }
        }
        n
    }
}

/// An app and its contract, checking every answer.
pub struct Checked<'a> {
    pub app: &'a ApiApp,
    pub contract: &'a Contract,
}

impl Checked<'_> {
    pub async fn call(&self, method: Method, path: &str, auth: &Auth, body: Body) -> Reply {
        let reply = self.app.call(method, path, auth, body).await;
        self.contract.check(&reply);
        reply
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> Reply {
        self.call(Method::GET, path, auth, Body::Empty).await
    }

    pub async fn post(&self, path: &str, auth: &Auth, body: Body) -> Reply {
        self.call(Method::POST, path, auth, body).await
    }
}
