//! OpenID Connect sign-in (docs/oidc.md): starting one (state, nonce and PKCE verifier kept in
//! the database, so any instance behind a proxy can finish it) and finishing it (the state
//! taken once, the code exchanged, the ID token validated, the role claim mapped, then the same
//! session a password sign-in opens). Every finished attempt is audited, signed in or refused;
//! a callback whose state opens nothing is not (anyone can send one, and it names nobody).

use super::accounts::{open_session, IssuedSession};
use super::{random_token, Engine, EngineError};
use crate::domain::access::{audit_email, normalise_email, Role};
use crate::domain::limits;
use crate::domain::oidc as rules;
use crate::engine::review::token_hash;
use crate::oidc::OidcError;
use crate::store::{self as st, credentials as cred, oidc as store};

/// The password hash of accounts that OpenID Connect sign-in created: not a hash, so no
/// password matches it.
pub const NO_PASSWORD: &str = "!oidc";

/// A sign-in sent to the provider: the state (also the browser's cookie) and where to go.
#[derive(Debug, Clone)]
pub struct OidcStart {
    pub state: String,
    pub redirect: url::Url,
}

/// A finished sign-in: the session and where the person goes next (empty: their console).
#[derive(Debug, Clone)]
pub struct OidcSignIn {
    pub session: IssuedSession,
    pub next: String,
}

/// Why an OpenID Connect sign-in did not open a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OidcRefusal {
    /// No sign-in waits with this state: unknown, already used, or from another browser.
    UnknownState,
    /// The provider refused, or its answer did not validate (audited with the reason).
    Refused(String),
    /// Signed in at the provider, but no claim value maps to a console role.
    NoRole,
    /// The account may not sign in this way: disabled, or its email is a local account's.
    AccountRefused(String),
    /// The provider could not be reached, or too many sign-ins are waiting.
    Unavailable(String),
}

impl Engine {
    fn provider(&self) -> Result<&crate::oidc::OidcProvider, EngineError> {
        self.oidc().ok_or_else(|| {
            EngineError::NotFound(
                "OpenID Connect sign-in is not configured ([oidc] in attest.toml)".into(),
            )
        })
    }

    /// Starts a sign-in: makes state, nonce and PKCE verifier, keeps them for
    /// [`rules::LOGIN_MINUTES`], and returns where to send the browser. `next` must already be
    /// a safe same-site path (or empty).
    pub async fn oidc_start(
        &self,
        next: &str,
    ) -> Result<Result<OidcStart, OidcRefusal>, EngineError> {
        let provider = self.provider()?;
        let now = self.now();
        let next: String = next.chars().take(rules::NEXT_MAX_CHARS).collect();
        store::purge_expired(self.store().conn(), now).await?;
        if store::count_pending(self.store().conn()).await? >= rules::PENDING_MAX {
            tracing::warn!(
                "OpenID Connect sign-in refused: {} sign-ins are already waiting for the provider",
                rules::PENDING_MAX
            );
            return Ok(Err(OidcRefusal::Unavailable(
                "too many sign-ins are in progress".into(),
            )));
        }
        let state = random_token()?;
        let nonce = random_token()?;
        let verifier = random_token()?;
        let redirect = match provider.authorization_url(&state, &nonce, &verifier).await {
            Ok(url) => url,
            Err(e) => {
                tracing::error!("OpenID Connect sign-in could not start: {e}");
                return Ok(Err(OidcRefusal::Unavailable(e.to_string())));
            }
        };
        store::insert_pending(
            self.store().conn(),
            &token_hash(&state),
            &nonce,
            &verifier,
            &next,
            now,
            rules::login_expires_at(now),
        )
        .await?;
        Ok(Ok(OidcStart { state, redirect }))
    }

    /// Finishes a sign-in coming back from the provider with `state` and either `code` or the
    /// provider's `error`. The state is taken first, so it works once whatever follows.
    pub async fn oidc_callback(
        &self,
        state: &str,
        code: Option<&str>,
        provider_error: Option<&str>,
        client_addr: Option<&str>,
    ) -> Result<Result<OidcSignIn, OidcRefusal>, EngineError> {
        let provider = self.provider()?;
        let Some(pending) = store::take_pending(self.store().conn(), &token_hash(state)).await?
        else {
            return Ok(Err(OidcRefusal::UnknownState));
        };
        let now = self.now();
        let refused = |reason: String| async move {
            let details = serde_json::json!({ "method": "oidc", "reason": reason, "client_addr": client_addr });
            self.audit_oidc_failure("oidc:unknown", &details).await?;
            Ok::<_, EngineError>(Err(OidcRefusal::Refused(reason)))
        };
        if pending.expires_at <= now {
            return refused(format!(
                "the sign-in took longer than {} minutes",
                rules::LOGIN_MINUTES
            ))
            .await;
        }
        if let Some(error) = provider_error {
            let error: String = error.chars().take(limits::WORD_MAX_CHARS).collect();
            return refused(format!("the provider answered {}", limits::quote(&error))).await;
        }
        let Some(code) = code.filter(|c| !c.is_empty()) else {
            return refused("the provider sent no code".into()).await;
        };
        let identity = match provider
            .redeem(code, &pending.pkce_verifier, &pending.nonce, now)
            .await
        {
            Ok(identity) => identity,
            Err(OidcError::Refused(reason)) => return refused(reason).await,
            Err(OidcError::Unavailable(reason)) => {
                tracing::error!("OpenID Connect sign-in: {reason}");
                let details = serde_json::json!({ "method": "oidc", "reason": "the provider is unavailable", "client_addr": client_addr });
                self.audit_oidc_failure("oidc:unknown", &details).await?;
                return Ok(Err(OidcRefusal::Unavailable(reason)));
            }
        };
        let email = identity
            .email
            .as_deref()
            .map(normalise_email)
            .unwrap_or_default();
        let email_ok = email.contains('@')
            && limits::check_text(&email, limits::EMAIL_MAX_CHARS, limits::Lines::Single).is_ok();
        if !email_ok {
            return refused(
                "the ID token has no email or preferred_username claim that is an email address"
                    .into(),
            )
            .await;
        }
        let name = format!("account:{}", audit_email(&email));
        let settings = provider.settings();
        let role = rules::mapped_role(
            &identity.role_values,
            &settings.admin_values,
            &settings.auditor_values,
        );
        let txn = self.store().begin().await?;
        cred::serialize_account_changes(&txn).await?;
        let linked = store::account_by_subject(&txn, &identity.subject).await?;
        let Some(role) = role else {
            // A linked account the claim no longer maps keeps no way in.
            let mut details = serde_json::json!({ "method": "oidc", "reason": "no mapped role", "role_claim": settings.role_claim, "claim_values": identity.role_values.len(), "client_addr": client_addr });
            if let Some(account) = &linked {
                details["sessions_revoked"] = cred::revoke_sessions(&txn, account.id, None, now)
                    .await?
                    .into();
                details["tokens_revoked"] =
                    serde_json::json!(cred::revoke_tokens_of(&txn, account.id, None, now).await?);
            }
            st::audit::append(&txn, now, &name, "auth.login_failed", Some(&name), &details).await?;
            txn.commit().await?;
            return Ok(Err(OidcRefusal::NoRole));
        };
        let account_id = match linked {
            Some(account) if !account.enabled => {
                let reason = "account disabled".to_string();
                let details = serde_json::json!({ "method": "oidc", "reason": reason, "client_addr": client_addr });
                let name = format!("account:{}", account.email);
                st::audit::append(&txn, now, &name, "auth.login_failed", Some(&name), &details)
                    .await?;
                txn.commit().await?;
                return Ok(Err(OidcRefusal::AccountRefused(reason)));
            }
            Some(account) => {
                if account.role != role.as_str() {
                    cred::set_role(&txn, account.id, role.as_str()).await?;
                    let mut details = serde_json::json!({ "from": account.role, "to": role, "by": "oidc claim", "role_claim": settings.role_claim });
                    details["sessions_revoked"] =
                        cred::revoke_sessions(&txn, account.id, None, now)
                            .await?
                            .into();
                    if role == Role::Auditor {
                        details["tokens_revoked"] = serde_json::json!(
                            cred::revoke_tokens_of(
                                &txn,
                                account.id,
                                Some(Role::Admin.as_str()),
                                now
                            )
                            .await?
                        );
                    }
                    let target = format!("account:{}", account.email);
                    st::audit::append(&txn, now, "oidc", "account.role", Some(&target), &details)
                        .await?;
                }
                account.id
            }
            None => {
                if store::account_by_email(&txn, &email).await?.is_some() {
                    let reason = "another account already has this email (a local account, or one linked to another subject)".to_string();
                    let details = serde_json::json!({ "method": "oidc", "reason": reason, "client_addr": client_addr });
                    st::audit::append(&txn, now, &name, "auth.login_failed", Some(&name), &details)
                        .await?;
                    txn.commit().await?;
                    return Ok(Err(OidcRefusal::AccountRefused(reason)));
                }
                let Some(id) = store::insert_linked_account(
                    &txn,
                    &email,
                    role.as_str(),
                    &identity.subject,
                    NO_PASSWORD,
                    now,
                )
                .await?
                else {
                    return Err(EngineError::Conflict("the account was created by another sign-in at the same moment; please sign in again".into()));
                };
                st::audit::append(
                    &txn,
                    now,
                    "oidc",
                    "account.create",
                    Some(&name),
                    &serde_json::json!({ "role": role, "method": "oidc" }),
                )
                .await?;
                id
            }
        };
        let (token, expires_at) = open_session(&txn, account_id, client_addr, now).await?;
        st::audit::append(
            &txn,
            now,
            &name,
            "auth.login",
            Some(&name),
            &serde_json::json!({ "method": "oidc", "role": role, "client_addr": client_addr }),
        )
        .await?;
        txn.commit().await?;
        Ok(Ok(OidcSignIn {
            session: IssuedSession {
                token,
                expires_at,
                role,
            },
            next: pending.next_path,
        }))
    }

    async fn audit_oidc_failure(
        &self,
        name: &str,
        details: &serde_json::Value,
    ) -> Result<(), EngineError> {
        let txn = self.store().begin().await?;
        st::audit::append(
            &txn,
            self.now(),
            name,
            "auth.login_failed",
            Some(name),
            details,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}
