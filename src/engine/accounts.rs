//! Console accounts (admin, auditor): passwords hashed with Argon2id, sessions with a random
//! token (only its hash stored) and an anti-forgery value, growing delays after repeated
//! failures (see [`super::login_guard`]), and API tokens for automation. Every login, failure and token is in the audit log.

use super::login_guard::Admission;
use super::{random_bytes, random_token, Engine, EngineError};
use crate::domain::access::{
    audit_email, normalise_email, Role, FORGET_FAILURES_AFTER_SECS, PER_ACCOUNT, SESSION_HOURS,
};
use crate::domain::limits;
use crate::engine::review::{same_secret, token_hash};
use crate::store::{self as st, accounts};
use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Duration, Utc};

/// Someone signed in to the console or calling the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub role: Role,
    /// How the audit log names them: `account:EMAIL` or `token:NAME`.
    pub actor: String,
    pub account_id: Option<i64>,
    pub session_id: Option<i64>,
    /// The anti-forgery value their forms carry (sessions only; API tokens need none).
    pub csrf: Option<String>,
}

/// A new session: the cookie value (shown once) and its expiry.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub role: Role,
}

/// Why a login was refused. The page says as little as needed: wrong credentials look alike,
/// and so does a throttled attempt, whether or not the email is an account's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginRefusal {
    WrongCredentials,
    /// Too many recent failures: try again after this many seconds. Decided before any
    /// password check.
    Throttled {
        retry_after_secs: i64,
    },
    /// Every password check is taken and none came free in time; not counted as a failure.
    Busy {
        retry_after_secs: i64,
    },
    /// `[oidc] local_login = false`: only OpenID Connect sign-in is open.
    LocalLoginOff,
}

/// A password of 20 random characters, for accounts created without one.
pub fn generate_password() -> Result<String, EngineError> {
    Ok(random_token()?.chars().take(20).collect())
}

pub(super) fn hash_password(password: &str) -> Result<String, EngineError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| EngineError::Io(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| EngineError::Io(format!("hashing the password: {e}")))
}

/// A hash that matches no password, checked when the email is unknown so that an unknown email
/// takes as long to refuse as a wrong password. Made on first use, on the blocking thread of
/// that first check.
pub(crate) fn decoy_hash() -> String {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY
        .get_or_init(|| {
            let password = random_token().unwrap_or_else(|_| "attest-decoy-password".into());
            hash_password(&password).unwrap_or_default()
        })
        .clone()
}

/// Opens a session for the account in `txn` (password and OpenID Connect sign-in alike): a
/// random token, only its hash stored, and an anti-forgery value; records the login. Returns
/// the token (the cookie value, shown once) and when the session ends.
pub(super) async fn open_session(
    txn: &sea_orm::DatabaseTransaction,
    account_id: i64,
    client_addr: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(String, DateTime<Utc>), EngineError> {
    let token = random_token()?;
    let csrf = hex::encode(random_token()?.as_bytes());
    let expires_at = now + Duration::hours(SESSION_HOURS);
    accounts::record_login(txn, account_id, now).await?;
    accounts::insert_session(
        txn,
        &token_hash(&token),
        account_id,
        &csrf,
        client_addr,
        now,
        expires_at,
    )
    .await?;
    Ok((token, expires_at))
}

/// Whole seconds from `now` until `until`, at least one (for `Retry-After`).
fn seconds_until(now: DateTime<Utc>, until: DateTime<Utc>) -> i64 {
    let millis = (until - now).num_milliseconds();
    ((millis + 999) / 1000).max(1)
}

impl Engine {
    /// Creates an account; the password must be at least 12 characters.
    pub async fn add_account(
        &self,
        email: &str,
        role: Role,
        password: &str,
        actor: &str,
    ) -> Result<i64, EngineError> {
        let email = email.trim();
        if let Err(problem) =
            limits::check_text(email, limits::EMAIL_MAX_CHARS, limits::Lines::Single)
        {
            return Err(EngineError::Invalid(format!("email: {problem}")));
        }
        if !email.contains('@') || email.contains(char::is_whitespace) {
            return Err(EngineError::Invalid(format!(
                "{} is not an email address",
                limits::quote(email)
            )));
        }
        if !role.for_accounts() {
            return Err(EngineError::Invalid(format!(
                "role: {role} is for API tokens only (console accounts are admin or auditor)"
            )));
        }
        if password.chars().count() < 12 {
            return Err(EngineError::Invalid(
                "the password must be at least 12 characters".into(),
            ));
        }
        let hash = hash_password(password)?;
        let now = self.now();
        let txn = self.store().begin().await?;
        let id = accounts::insert_account(&txn, email, role.as_str(), &hash, now)
            .await?
            .ok_or_else(|| {
                EngineError::Conflict(format!(
                    "an account for {} already exists",
                    limits::quote(email)
                ))
            })?;
        st::audit::append(
            &txn,
            now,
            actor,
            "account.create",
            Some(&format!("account:{email}")),
            &serde_json::json!({ "role": role }),
        )
        .await?;
        txn.commit().await?;
        Ok(id)
    }

    /// Checks credentials and opens a session. The throttle decides first, before any hash and
    /// the same way whether or not the email names an account; an admitted attempt waits for
    /// one of a bounded number of password checks. Failures for real accounts are counted in
    /// the database (one statement, so concurrent failures all count) and audited.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        client_addr: Option<&str>,
    ) -> Result<Result<IssuedSession, LoginRefusal>, EngineError> {
        if !self.local_login() {
            // Not audited: nobody is named, and anyone can send this as often as they like.
            return Ok(Err(LoginRefusal::LocalLoginOff));
        }
        let now = self.now();
        let email = normalise_email(email);
        let account = accounts::account_by_email(self.store().conn(), &email).await?;
        let db_hold = account.as_ref().and_then(|a| a.locked_until);
        let client = client_addr.unwrap_or("unknown");
        let ticket = match self.login_guard().admit(&email, client, db_hold, now) {
            Admission::Go(ticket) => ticket,
            Admission::Throttled {
                until,
                limit,
                audit,
            } => {
                let retry_after_secs = seconds_until(now, until);
                if audit {
                    let details = serde_json::json!({ "reason": "throttled", "limit": limit.as_str(), "retry_after_seconds": retry_after_secs, "client_addr": client_addr });
                    self.audit_login_failure(&email, &details).await?;
                }
                return Ok(Err(LoginRefusal::Throttled { retry_after_secs }));
            }
        };
        let hash = account.as_ref().map(|a| a.password_hash.clone());
        let Some(matches) = self.login_guard().check_password(password, hash).await else {
            self.login_guard().refund(&ticket);
            return Ok(Err(LoginRefusal::Busy {
                retry_after_secs: self.login_guard().busy_retry_secs(),
            }));
        };
        let Some(account) = account else {
            let details =
                serde_json::json!({ "reason": "unknown account", "client_addr": client_addr });
            self.audit_login_failure(&email, &details).await?;
            return Ok(Err(LoginRefusal::WrongCredentials));
        };
        if !matches || !account.enabled {
            let txn = self.store().begin().await?;
            let forget_before = now - Duration::seconds(FORGET_FAILURES_AFTER_SECS);
            let failed = accounts::count_failure(&txn, account.id, forget_before).await?;
            let hold_until = PER_ACCOUNT.next_attempt_at(u32::try_from(failed).unwrap_or(0), now);
            accounts::hold_until(&txn, account.id, hold_until).await?;
            let reason = if account.enabled {
                "wrong password"
            } else {
                "account disabled"
            };
            st::audit::append(
                &txn,
                now,
                &format!("account:{}", account.email),
                "auth.login_failed",
                Some(&format!("account:{}", account.email)),
                &serde_json::json!({ "reason": reason, "failed_logins": failed, "account_hold_until": hold_until, "client_addr": client_addr }),
            )
            .await?;
            txn.commit().await?;
            return Ok(Err(LoginRefusal::WrongCredentials));
        }
        self.login_guard().succeeded(&ticket);
        let role: Role = account.role.parse().map_err(EngineError::Io)?;
        let txn = self.store().begin().await?;
        let (token, expires_at) = open_session(&txn, account.id, client_addr, now).await?;
        st::audit::append(
            &txn,
            now,
            &format!("account:{}", account.email),
            "auth.login",
            Some(&format!("account:{}", account.email)),
            &serde_json::json!({ "client_addr": client_addr }),
        )
        .await?;
        txn.commit().await?;
        Ok(Ok(IssuedSession {
            token,
            expires_at,
            role,
        }))
    }

    /// Audits a refused login for a submitted email that need not be an account: named as
    /// submitted only when short (see [`audit_email`]), so no request writes a long string.
    async fn audit_login_failure(
        &self,
        email: &str,
        details: &serde_json::Value,
    ) -> Result<(), EngineError> {
        let name = format!("account:{}", audit_email(email));
        let txn = self.store().begin().await?;
        st::audit::append(
            &txn,
            self.now(),
            &name,
            "auth.login_failed",
            Some(&name),
            details,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// The operator behind a session cookie, if the session is live.
    pub async fn session_operator(&self, token: &str) -> Result<Option<Operator>, EngineError> {
        let hash = token_hash(token);
        let Some((session_id, account_id, email, role, csrf)) =
            accounts::live_session(self.store().conn(), &hash, self.now()).await?
        else {
            return Ok(None);
        };
        Ok(Some(Operator {
            role: role.parse().map_err(EngineError::Io)?,
            actor: format!("account:{email}"),
            account_id: Some(account_id),
            session_id: Some(session_id),
            csrf: Some(csrf),
        }))
    }

    /// The operator behind an API bearer token, if it is live.
    pub async fn token_operator(&self, token: &str) -> Result<Option<Operator>, EngineError> {
        let hash = token_hash(token);
        let Some((id, name, role, last_used_at)) =
            accounts::live_api_token(self.store().conn(), &hash).await?
        else {
            return Ok(None);
        };
        self.record_token_use(id, last_used_at).await?;
        Ok(Some(Operator {
            role: role.parse().map_err(EngineError::Io)?,
            actor: format!("token:{name}"),
            account_id: None,
            session_id: None,
            csrf: None,
        }))
    }

    pub async fn logout(&self, operator: &Operator) -> Result<(), EngineError> {
        let Some(session) = operator.session_id else {
            return Ok(());
        };
        let now = self.now();
        let txn = self.store().begin().await?;
        accounts::end_session(&txn, session, now).await?;
        st::audit::append(
            &txn,
            now,
            &operator.actor,
            "auth.logout",
            Some(&operator.actor),
            &serde_json::json!({}),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Creates an API token (admins only); returns it once, only its hash is kept.
    pub async fn create_api_token(
        &self,
        operator: &Operator,
        name: &str,
        role: Role,
    ) -> Result<String, EngineError> {
        if !operator.role.may_change() {
            return Err(EngineError::Forbidden(
                "only an admin may create API tokens".into(),
            ));
        }
        let created_by = operator.account_id.ok_or_else(|| {
            EngineError::Forbidden("API tokens are created by a signed-in admin".into())
        })?;
        let name = name.trim();
        if name.is_empty() {
            return Err(EngineError::Invalid(
                "name the token (what will use it)".into(),
            ));
        }
        // The audit log names the token's changes `token:NAME`: one bounded line.
        limits::check_text(name, limits::NAME_MAX_CHARS, limits::Lines::Single)
            .map_err(|reason| EngineError::Invalid(format!("name: {reason}")))?;
        let token = random_token()?;
        let now = self.now();
        let txn = self.store().begin().await?;
        accounts::insert_api_token(
            &txn,
            name,
            &token_hash(&token),
            role.as_str(),
            created_by,
            now,
        )
        .await?;
        st::audit::append(
            &txn,
            now,
            &operator.actor,
            "api_token.create",
            Some(&format!("token:{name}")),
            &serde_json::json!({ "role": role }),
        )
        .await?;
        txn.commit().await?;
        Ok(token)
    }

    /// The admin account named by `email`, acting from the command line.
    pub async fn account_operator(&self, email: &str) -> Result<Operator, EngineError> {
        let account = accounts::account_by_email(self.store().conn(), email)
            .await?
            .filter(|a| a.enabled)
            .ok_or_else(|| EngineError::NotFound(format!("no enabled account {email}")))?;
        Ok(Operator {
            role: account.role.parse().map_err(EngineError::Io)?,
            actor: format!("account:{}", account.email),
            account_id: Some(account.id),
            session_id: None,
            csrf: None,
        })
    }

    /// Whether a submitted anti-forgery value matches the operator's session.
    pub fn csrf_ok(operator: &Operator, submitted: Option<&str>) -> bool {
        match (&operator.csrf, submitted) {
            (Some(expected), Some(got)) => same_secret(expected, got),
            // API tokens are not cookies: no cross-site request can carry them.
            (None, _) => operator.session_id.is_none(),
            _ => false,
        }
    }
}

impl Engine {
    /// Audits a session cookie that no longer opens a session: `auth.session_expired` past its
    /// expiry, `auth.session_refused` after a sign-out or with the account disabled, naming the
    /// account. A value that never was a session is not recorded (anyone can make those up).
    /// Returns whether it was one.
    pub async fn refuse_session(
        &self,
        token: &str,
        client_addr: Option<&str>,
    ) -> Result<bool, EngineError> {
        let Some((email, expires_at, revoked_at, enabled)) =
            accounts::session_account(self.store().conn(), &token_hash(token)).await?
        else {
            return Ok(false);
        };
        let now = self.now();
        let (action, reason) = match (revoked_at, enabled) {
            (Some(_), _) => ("auth.session_refused", "signed out"),
            (None, false) => ("auth.session_refused", "account disabled"),
            (None, true) if expires_at <= now => ("auth.session_expired", "expired"),
            (None, true) => return Ok(false), // live: nothing to refuse
        };
        let txn = self.store().begin().await?;
        st::audit::append(
            &txn,
            now,
            &format!("account:{email}"),
            action,
            Some(&format!("account:{email}")),
            &serde_json::json!({ "reason": reason, "expired_at": expires_at, "client_addr": client_addr }),
        )
        .await?;
        txn.commit().await?;
        Ok(true)
    }
}
