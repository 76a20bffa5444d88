//! The credential lifecycle (issue 12): list accounts and API tokens; disable, re-enable,
//! re-role and re-password accounts; revoke API tokens and reviewers' links. Each change is one
//! transaction with its audit event (actor, target, what changed; never a secret), and takes
//! effect on the very next request: sessions, tokens and links are checked against the database
//! every time they are presented.
//!
//! What each change revokes, and why:
//! - disabling an account ends its sessions and revokes the API tokens it created (a token
//!   minted by a compromised account must not outlive the account); re-enabling restores
//!   neither, so a re-enabled account signs in afresh and makes new tokens;
//! - a new role ends the account's sessions, and a demotion to auditor revokes the admin tokens
//!   it created (an auditor could not have made them);
//! - a new password ends every other session of the account;
//! - the last enabled admin can be neither disabled nor demoted.

use super::accounts::{hash_password, Operator};
use super::{Engine, EngineError};
use crate::domain::access::Role;
use crate::domain::credentials::{
    last_admin_problem, last_use_due, password_problem, AccountChange, AccountState,
};
use crate::store::credentials::{self as cred, AccountInfo, TokenInfo};
use crate::store::{self as st, accounts};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A console account, as listed (never its password).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    pub id: i64,
    pub email: String,
    pub role: Role,
    /// A disabled account cannot sign in, and its sessions and API tokens are refused.
    pub enabled: bool,
    /// Failed sign-ins since the last successful one.
    pub failed_logins: i32,
    /// Locked out after repeated failures until then.
    pub locked_until: Option<DateTime<Utc>>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// An API token, as listed (never the token or its hash).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: i64,
    /// Names the token in the audit log: `token:NAME`.
    pub name: String,
    pub role: Role,
    /// The email of the admin account that created it; the token works only while that
    /// account is enabled.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// When it last authenticated a request (recorded to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; a revoked token is refused at once.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What a change to an account did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccountChangeReport {
    /// The account after the change.
    pub account: AccountView,
    /// Console sessions of the account that were ended.
    pub sessions_revoked: u64,
    /// The names of the API tokens the account created that were revoked.
    pub tokens_revoked: Vec<String>,
}

fn account_view(a: AccountInfo) -> Result<AccountView, EngineError> {
    Ok(AccountView {
        role: a.role.parse().map_err(EngineError::Io)?,
        id: a.id,
        email: a.email,
        enabled: a.enabled,
        failed_logins: a.failed_logins,
        locked_until: a.locked_until,
        last_login_at: a.last_login_at,
        created_at: a.created_at,
    })
}

fn token_view(t: TokenInfo) -> Result<TokenView, EngineError> {
    Ok(TokenView {
        role: t.role.parse().map_err(EngineError::Io)?,
        id: t.id,
        name: t.name,
        created_by: t.created_by,
        created_at: t.created_at,
        last_used_at: t.last_used_at,
        revoked_at: t.revoked_at,
    })
}

/// An account named by its id (digits, or `#` and digits) or its email.
fn account_key(key: &str) -> (Option<i64>, &str) {
    let key = key.trim();
    (key.trim_start_matches('#').parse().ok(), key)
}

impl Engine {
    /// Every console account, by email.
    pub async fn accounts(&self) -> Result<Vec<AccountView>, EngineError> {
        cred::accounts(self.store().conn())
            .await?
            .into_iter()
            .map(account_view)
            .collect()
    }

    /// Every API token, live ones first.
    pub async fn api_tokens(&self) -> Result<Vec<TokenView>, EngineError> {
        cred::tokens(self.store().conn())
            .await?
            .into_iter()
            .map(token_view)
            .collect()
    }

    /// Disables an account: it can no longer sign in, its sessions end and the API tokens it
    /// created are revoked. Refused for the last enabled admin.
    pub async fn disable_account(
        &self,
        account: &str,
        actor: &str,
    ) -> Result<AccountChangeReport, EngineError> {
        self.change_account(
            account,
            AccountChange::Disable,
            None,
            actor,
            serde_json::json!({}),
        )
        .await
    }

    /// Enables an account again (and lifts a lock-out). What disabling revoked stays revoked.
    pub async fn enable_account(
        &self,
        account: &str,
        actor: &str,
    ) -> Result<AccountChangeReport, EngineError> {
        self.change_account(
            account,
            AccountChange::Enable,
            None,
            actor,
            serde_json::json!({}),
        )
        .await
    }

    /// Gives an account another role, from its next request on. Refused when it would demote
    /// the last enabled admin.
    pub async fn set_account_role(
        &self,
        account: &str,
        role: Role,
        actor: &str,
    ) -> Result<AccountChangeReport, EngineError> {
        if !role.for_accounts() {
            return Err(EngineError::Invalid(format!(
                "role: {role} is for API tokens only (console accounts are admin or auditor)"
            )));
        }
        self.change_account(
            account,
            AccountChange::SetRole(role),
            None,
            actor,
            serde_json::json!({}),
        )
        .await
    }

    /// An admin sets an account's password (at least 12 characters). Every session of that
    /// account ends but `keep_session` (the admin's own, when they reset their own password).
    pub async fn set_account_password(
        &self,
        account: &str,
        password: &str,
        keep_session: Option<i64>,
        actor: &str,
    ) -> Result<AccountChangeReport, EngineError> {
        if let Some(problem) = password_problem(password) {
            return Err(EngineError::Invalid(problem));
        }
        let hash = hash_password(password)?;
        self.change_account(
            account,
            AccountChange::SetPassword,
            Some((hash, keep_session)),
            actor,
            serde_json::json!({ "by": "admin" }),
        )
        .await
    }

    /// A signed-in operator changes their own password, proving the current one; their other
    /// sessions end, the one they are using stays. A wrong current password is audited.
    pub async fn change_own_password(
        &self,
        operator: &Operator,
        current: &str,
        new: &str,
    ) -> Result<AccountChangeReport, EngineError> {
        let account_id = operator.account_id.ok_or_else(|| {
            EngineError::Forbidden("an API token has no password to change".into())
        })?;
        if let Some(problem) = password_problem(new) {
            return Err(EngineError::Invalid(problem));
        }
        let conn = self.store().conn();
        let account = cred::account(conn, Some(account_id), "")
            .await?
            .ok_or_else(|| EngineError::NotFound("your account no longer exists".into()))?;
        let stored = accounts::account_by_email(conn, &account.email)
            .await?
            .ok_or_else(|| EngineError::NotFound("your account no longer exists".into()))?;
        // Through the sign-in's bounded hashing: a password check costs the same memory here.
        let Some(matches) = self
            .login_guard()
            .check_password(current, Some(stored.password_hash))
            .await
        else {
            return Err(EngineError::Io(
                "the server is busy checking passwords; try again in a few seconds".into(),
            ));
        };
        if !matches {
            let txn = self.store().begin().await?;
            st::audit::append(
                &txn,
                self.now(),
                &operator.actor,
                "account.password_change_refused",
                Some(&format!("account:{}", account.email)),
                &serde_json::json!({ "reason": "wrong current password" }),
            )
            .await?;
            txn.commit().await?;
            return Err(EngineError::Invalid(
                "the current password is not right; nothing was changed".into(),
            ));
        }
        if current == new {
            return Err(EngineError::Invalid(
                "the new password is the current one".into(),
            ));
        }
        let hash = hash_password(new)?;
        self.change_account(
            &account_id.to_string(),
            AccountChange::SetPassword,
            Some((hash, operator.session_id)),
            &operator.actor,
            serde_json::json!({ "by": "self" }),
        )
        .await
    }

    /// One account change in one transaction: the last-admin rule, the change, what it
    /// revokes, and its audit event.
    async fn change_account(
        &self,
        key: &str,
        change: AccountChange,
        password: Option<(String, Option<i64>)>,
        actor: &str,
        mut details: serde_json::Value,
    ) -> Result<AccountChangeReport, EngineError> {
        let now = self.now();
        let (id, email) = account_key(key);
        let txn = self.store().begin().await?;
        cred::serialize_account_changes(&txn).await?;
        let before = cred::account(&txn, id, email).await?.ok_or_else(|| {
            EngineError::NotFound(format!("no account {key} (see attest user list)"))
        })?;
        let role: Role = before.role.parse().map_err(EngineError::Io)?;
        let state = AccountState {
            role,
            enabled: before.enabled,
        };
        let others = cred::other_enabled_admins(&txn, before.id).await?;
        if let Some(problem) = last_admin_problem(&before.email, state, change, others) {
            return Err(EngineError::Conflict(problem));
        }
        let mut sessions_revoked = 0;
        let mut tokens_revoked = Vec::new();
        let action = match change {
            AccountChange::Disable => {
                cred::set_enabled(&txn, before.id, false).await?;
                sessions_revoked = cred::revoke_sessions(&txn, before.id, None, now).await?;
                tokens_revoked = cred::revoke_tokens_of(&txn, before.id, None, now).await?;
                details["was_enabled"] = before.enabled.into();
                "account.disable"
            }
            AccountChange::Enable => {
                cred::set_enabled(&txn, before.id, true).await?;
                details["was_enabled"] = before.enabled.into();
                "account.enable"
            }
            AccountChange::SetRole(new_role) => {
                if new_role != role {
                    cred::set_role(&txn, before.id, new_role.as_str()).await?;
                    sessions_revoked = cred::revoke_sessions(&txn, before.id, None, now).await?;
                    if new_role == Role::Auditor {
                        // An auditor may not change anything: the admin and responder tokens
                        // the account created stop with its admin role.
                        for role in [Role::Admin, Role::Responder] {
                            tokens_revoked.extend(
                                cred::revoke_tokens_of(&txn, before.id, Some(role.as_str()), now)
                                    .await?,
                            );
                        }
                    }
                }
                details["from"] = role.as_str().into();
                details["to"] = new_role.as_str().into();
                "account.role"
            }
            AccountChange::SetPassword => {
                let (hash, keep) = password
                    .ok_or_else(|| EngineError::Invalid("no new password was given".into()))?;
                cred::set_password_hash(&txn, before.id, &hash).await?;
                sessions_revoked = cred::revoke_sessions(&txn, before.id, keep, now).await?;
                "account.password"
            }
        };
        details["sessions_revoked"] = sessions_revoked.into();
        details["tokens_revoked"] = serde_json::json!(tokens_revoked);
        st::audit::append(
            &txn,
            now,
            actor,
            action,
            Some(&format!("account:{}", before.email)),
            &details,
        )
        .await?;
        let after = cred::account(&txn, Some(before.id), "")
            .await?
            .ok_or_else(|| EngineError::Io("the account vanished".into()))?;
        txn.commit().await?;
        Ok(AccountChangeReport {
            account: account_view(after)?,
            sessions_revoked,
            tokens_revoked,
        })
    }

    /// Revokes an API token, named by its id or, when only one live token has it, its name.
    /// It is refused from the next request on.
    pub async fn revoke_api_token(
        &self,
        which: &str,
        actor: &str,
    ) -> Result<TokenView, EngineError> {
        let which = which.trim();
        let id: Option<i64> = which.trim_start_matches('#').parse().ok();
        let now = self.now();
        let txn = self.store().begin().await?;
        let found = cred::tokens_named(&txn, id, which).await?;
        let not_found =
            || EngineError::NotFound(format!("no API token {which} (see attest user tokens)"));
        let token = match id {
            Some(_) => found.into_iter().next().ok_or_else(not_found)?,
            None => {
                let live: Vec<TokenInfo> = found
                    .iter()
                    .filter(|t| t.revoked_at.is_none())
                    .cloned()
                    .collect();
                match live.len() {
                    0 => found.into_iter().next_back().ok_or_else(not_found)?,
                    1 => live.into_iter().next().ok_or_else(not_found)?,
                    _ => {
                        let ids: Vec<String> = live.iter().map(|t| format!("#{}", t.id)).collect();
                        return Err(EngineError::Invalid(format!(
                            "several live tokens are named {which} ({}): revoke one by its id",
                            ids.join(", ")
                        )));
                    }
                }
            }
        };
        if let Some(at) = token.revoked_at {
            return Err(EngineError::Conflict(format!(
                "token #{} ({}) was already revoked at {}",
                token.id,
                token.name,
                at.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        if !cred::revoke_token(&txn, token.id, now).await? {
            return Err(EngineError::Conflict(format!(
                "token #{} ({}) was revoked meanwhile",
                token.id, token.name
            )));
        }
        st::audit::append(
            &txn,
            now,
            actor,
            "api_token.revoke",
            Some(&format!("token:{}", token.name)),
            &serde_json::json!({ "id": token.id, "role": token.role, "created_by": token.created_by }),
        )
        .await?;
        txn.commit().await?;
        token_view(TokenInfo {
            revoked_at: Some(now),
            ..token
        })
    }

    /// Records that a token authenticated a request, at most once a minute per token, so
    /// listing tokens shows which are in use without a write per API call.
    pub(super) async fn record_token_use(
        &self,
        id: i64,
        last_used_at: Option<DateTime<Utc>>,
    ) -> Result<(), EngineError> {
        let now = self.now();
        if last_use_due(last_used_at, now) {
            // Bookkeeping only: a failed write (a busy database) must not turn a valid token
            // away, so it is logged and the request goes on.
            if let Err(e) = cred::touch_token(self.store().conn(), id, now).await {
                tracing::warn!("recording the use of API token #{id}: {e}");
            }
        }
        Ok(())
    }

    /// Revokes every link a reviewer (external id or email) holds for a campaign: each then
    /// opens only the "withdrawn" page and takes no decision. Returns how many were live.
    pub async fn revoke_reviewer_links(
        &self,
        campaign_id: i64,
        reviewer: &str,
        actor: &str,
    ) -> Result<u64, EngineError> {
        self.campaign_row(campaign_id).await?;
        let reviewer_id = self.reviewer_id(reviewer).await?;
        let now = self.now();
        let txn = self.store().begin().await?;
        let revoked = cred::revoke_reviewer_tokens(&txn, campaign_id, reviewer_id, now).await?;
        st::audit::append(
            &txn,
            now,
            actor,
            "campaign.revoke_links",
            Some(&format!("campaign:{campaign_id}")),
            &serde_json::json!({ "reviewer": reviewer.trim(), "links_revoked": revoked }),
        )
        .await?;
        txn.commit().await?;
        Ok(revoked)
    }

    /// The principal id of a reviewer named by external id.
    pub(super) async fn reviewer_id(&self, reviewer: &str) -> Result<i64, EngineError> {
        let reviewer = reviewer.trim();
        let found =
            crate::store::directory::principal_refs(self.store().conn(), &[reviewer]).await?;
        found.get(reviewer).map(|p| p.id).ok_or_else(|| {
            EngineError::NotFound(format!(
                "no principal {}",
                crate::domain::limits::quote(reviewer)
            ))
        })
    }
}
