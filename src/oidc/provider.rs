//! The OpenID provider, through the `openidconnect` crate: discovery and the provider's keys
//! (cached, refetched at most once a minute, so anonymous callbacks cannot make attest call the
//! provider without bound), the authorization URL with state, nonce and a PKCE challenge, and
//! the code exchange whose ID token is validated (signature from the JWKS, iss, aud, exp,
//! nonce) at the engine's `now`.

use super::OidcSettings;
use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreClient, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreResponseType,
};
use openidconnect::{
    AdditionalClaims, AuthenticationFlow, AuthorizationCode, ClaimsVerificationError, ClientId,
    ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdToken, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// How long discovery and the keys are used before they are fetched again.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// The least time between two fetches, whatever asks (an expired cache, an unknown signing key
/// after a key rotation, a failed fetch).
const REFETCH_MIN: Duration = Duration::from_secs(60);
/// The longest wait for the provider on one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a sign-in at the provider did not give an identity.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached or answered nonsense: try again later.
    #[error("the OpenID provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the code, or the ID token is not valid for this client.
    #[error("{0}")]
    Refused(String),
}

/// Who the provider says signed in.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The provider's `sub`.
    pub subject: String,
    /// `email`, else `preferred_username` (Entra's UPN), if the token has either.
    pub email: Option<String>,
    /// The values of the configured role claim.
    pub role_values: Vec<String>,
}

/// Every claim of the ID token besides the standard ones, to find the configured role claim.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct OtherClaims {
    #[serde(flatten)]
    all: serde_json::Map<String, serde_json::Value>,
}

impl AdditionalClaims for OtherClaims {}

type RoleIdToken = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

#[derive(Default)]
struct Cached {
    metadata: Option<CoreProviderMetadata>,
    fetched_at: Option<Instant>,
    tried_at: Option<Instant>,
}

/// The configured provider. One per process, shared by the engine's clones.
pub struct OidcProvider {
    settings: OidcSettings,
    secret: ClientSecret,
    http: reqwest::Client,
    cache: tokio::sync::Mutex<Cached>,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("OidcProvider")
            .field("issuer", &self.settings.issuer)
            .field("client_id", &self.settings.client_id)
            .finish_non_exhaustive()
    }
}

impl OidcProvider {
    /// The provider of `settings`, with the client secret read from the environment.
    pub fn new(settings: OidcSettings, secret: String) -> Result<Self, String> {
        settings.check()?;
        // No redirects: discovery and the token endpoint answer directly (the crate's advice
        // against request forgery).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| format!("[oidc]: cannot build the HTTP client: {e}"))?;
        Ok(Self {
            settings,
            secret: ClientSecret::new(secret),
            http,
            cache: tokio::sync::Mutex::new(Cached::default()),
        })
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// Discovery and keys: cached; fetched when missing or older than [`METADATA_TTL`], or
    /// when `refresh` asks, but never twice within [`REFETCH_MIN`]. Concurrent callers wait for
    /// one fetch. A failed fetch keeps what was cached.
    async fn metadata(&self, refresh: bool) -> Result<CoreProviderMetadata, OidcError> {
        let mut cache = self.cache.lock().await;
        let stale = refresh || cache.fetched_at.is_none_or(|t| t.elapsed() > METADATA_TTL);
        let may_fetch = cache.tried_at.is_none_or(|t| t.elapsed() >= REFETCH_MIN);
        if stale && may_fetch {
            cache.tried_at = Some(Instant::now());
            match self.discover().await {
                Ok(metadata) => {
                    cache.metadata = Some(metadata);
                    cache.fetched_at = Some(Instant::now());
                }
                Err(e) if cache.metadata.is_some() => {
                    tracing::warn!("OpenID provider discovery failed, the cached one is used: {e}");
                }
                Err(e) => return Err(e),
            }
        }
        cache.metadata.clone().ok_or_else(|| {
            OidcError::Unavailable(format!(
                "its discovery failed less than {} s ago; it is tried again after that",
                REFETCH_MIN.as_secs()
            ))
        })
    }

    async fn discover(&self) -> Result<CoreProviderMetadata, OidcError> {
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| OidcError::Unavailable(format!("[oidc] issuer: {e}")))?;
        CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| {
                OidcError::Unavailable(format!(
                    "discovery at {}: {}",
                    self.settings.issuer,
                    chain(&e)
                ))
            })
    }

    fn client(&self, metadata: CoreProviderMetadata) -> Result<Client, OidcError> {
        let redirect = RedirectUrl::new(self.settings.redirect_url.clone())
            .map_err(|e| OidcError::Unavailable(format!("[oidc] redirect_url: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(self.secret.clone()),
        )
        .set_redirect_uri(redirect))
    }

    /// Where to send the browser: the provider's authorization endpoint with this `state`,
    /// `nonce` and the S256 challenge of `pkce_verifier`.
    pub async fn authorization_url(
        &self,
        state: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<url::Url, OidcError> {
        let client = self.client(self.metadata(false).await?)?;
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            pkce_verifier.to_string(),
        ));
        let (state, nonce) = (state.to_string(), nonce.to_string());
        let (url, _, _) = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(url)
    }

    /// Exchanges `code` with the PKCE verifier and validates the ID token at `now`. A token
    /// signed with a key attest does not know yet refetches the keys (at most once a minute)
    /// and is checked again.
    pub async fn redeem(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<Identity, OidcError> {
        let client = self.client(self.metadata(false).await?)?;
        let request = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| {
                OidcError::Unavailable(format!("the provider has no token endpoint: {e}"))
            })?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()));
        let response = request
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(answer) => OidcError::Refused(format!(
                    "the provider refused the code: {}",
                    answer.error().as_ref()
                )),
                other => OidcError::Unavailable(format!("the token endpoint: {}", chain(&other))),
            })?;
        let Some(id_token) = response.extra_fields().id_token() else {
            return Err(OidcError::Refused("the provider sent no ID token".into()));
        };
        let id_token = RoleIdToken::from_str(&id_token.to_string())
            .map_err(|e| OidcError::Refused(format!("the ID token cannot be read: {e}")))?;
        let nonce = Nonce::new(nonce.to_string());
        let first = self.verify(&client, &id_token, &nonce, now);
        let identity = match first {
            Err(ClaimsVerificationError::SignatureVerification(_)) => {
                let client = self.client(self.metadata(true).await?)?;
                self.verify(&client, &id_token, &nonce, now)
            }
            other => other,
        };
        identity.map_err(|e| OidcError::Refused(refusal(&e)))
    }

    fn verify(
        &self,
        client: &Client,
        id_token: &RoleIdToken,
        nonce: &Nonce,
        now: DateTime<Utc>,
    ) -> Result<Identity, ClaimsVerificationError> {
        let verifier = client.id_token_verifier().set_time_fn(move || now);
        let claims = id_token.claims(&verifier, nonce)?;
        let email = claims
            .email()
            .map(|e| e.as_str().to_string())
            .or_else(|| claims.preferred_username().map(|u| u.as_str().to_string()));
        Ok(Identity {
            subject: claims.subject().as_str().to_string(),
            email,
            role_values: crate::domain::oidc::claim_values(
                claims
                    .additional_claims()
                    .all
                    .get(&self.settings.role_claim),
            ),
        })
    }
}

/// The audit log's reason for an ID token that did not validate.
fn refusal(e: &ClaimsVerificationError) -> String {
    match e {
        ClaimsVerificationError::Expired(_) => "the ID token has expired".into(),
        ClaimsVerificationError::InvalidAudience(_) => {
            "the ID token is for another audience (client_id)".into()
        }
        ClaimsVerificationError::InvalidIssuer(_) => "the ID token is from another issuer".into(),
        ClaimsVerificationError::InvalidNonce(_) => "the ID token's nonce does not match".into(),
        ClaimsVerificationError::SignatureVerification(_) => {
            "the ID token's signature does not verify with the provider's keys".into()
        }
        other => format!("the ID token is not valid: {other}"),
    }
}

/// An error with its causes, for the log.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
