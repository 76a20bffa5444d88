//! HTTP to Microsoft Entra and Graph: the cached access token, throttled retries, paging
//! through `@odata.nextLink`, and Graph's errors made into one-line messages.

use super::GraphConnector;
use crate::sources::SourceError;
use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How many retries a throttled (429) or unavailable (503/504) request gets.
pub(super) const MAX_RETRIES: u32 = 5;
/// The wait when a throttled answer names none (Graph's guidance: back off).
pub(super) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);
/// The longest single wait by default, whatever `Retry-After` asks for.
pub(super) const DEFAULT_RETRY_CAP: Duration = Duration::from_secs(60);
/// A page limit for one listing, so a server that keeps answering pages cannot hold a sync.
pub(super) const MAX_PAGES: usize = 100_000;
/// A cached token is renewed this long before it expires.
pub(super) const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// Characters left as they are in query values: OData needs `$ , ' ( )` literal-friendly and
/// spaces must be `%20` (not `+`).
pub(super) const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'$')
    .remove(b',')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

pub(super) struct CachedToken {
    pub(super) value: String,
    pub(super) renew_at: Instant,
}

/// One page of a Graph collection.
#[derive(Deserialize)]
pub(super) struct Page<T> {
    pub(super) value: Vec<T>,
    #[serde(rename = "@odata.nextLink")]
    pub(super) next_link: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct TokenAnswer {
    pub(super) access_token: String,
    #[serde(default)]
    pub(super) expires_in: Option<u64>,
}

#[derive(Deserialize, Default)]
pub(super) struct TokenError {
    #[serde(default)]
    pub(super) error: String,
    #[serde(default)]
    pub(super) error_description: String,
}

#[derive(Deserialize)]
pub(super) struct GraphErrorBody {
    pub(super) error: GraphErrorDetail,
}

#[derive(Deserialize)]
pub(super) struct GraphErrorDetail {
    #[serde(default)]
    pub(super) code: String,
    #[serde(default)]
    pub(super) message: String,
}

/// A Graph answer, read whole.
pub(super) struct Reply {
    pub(super) status: StatusCode,
    pub(super) body: Vec<u8>,
}

impl Reply {
    /// The `{"error":{"code","message"}}` of a Graph error, or the status and the start of the
    /// body when it is not one (a proxy's HTML page, an empty 500).
    pub(super) fn error(&self) -> (String, String) {
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

impl GraphConnector {
    pub(super) fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority, self.tenant_id)
    }

    /// Sends a request, waiting out throttling (429) and transient unavailability (503, 504)
    /// as `Retry-After` asks, up to [`MAX_RETRIES`] times. Transport failures are errors at once:
    /// the engine retries a failed removal and the next sync comes anyway.
    pub(super) async fn send_retrying(
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
    pub(super) async fn access_token(&self) -> Result<String, SourceError> {
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
    pub(super) async fn forget_token(&self, stale: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.value == stale) {
            *cached = None;
        }
    }

    pub(super) async fn fetch_token(&self) -> Result<CachedToken, SourceError> {
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
    pub(super) async fn graph(
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
    pub(super) fn refused(&self, what: &str, permission: &str, reply: &Reply) -> SourceError {
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
    pub(super) async fn list_all<T: DeserializeOwned>(
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

    pub(super) fn url(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut url = format!("{}{path}", self.graph);
        for (i, (key, value)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(key);
            url.push('=');
            url.extend(utf8_percent_encode(value, QUERY_VALUE));
        }
        url
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

pub(super) fn one_line(text: &str) -> String {
    text.split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// `scheme://host[:port]` of a URL, for "cannot reach" messages.
pub(super) fn origin(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => parsed.origin().ascii_serialization(),
        Err(_) => without_query(url).to_string(),
    }
}

/// A transport error with its causes (reqwest's own message alone says only "error sending
/// request"); the URL is left out, the caller names the server. Webhooks use it too.
pub(crate) fn describe(error: &reqwest::Error) -> String {
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
