//! Credentials in the console: the admin's accounts page (disable, enable, role, new password)
//! with the API tokens (revoke), a reviewer's links revoked from the campaign page, and every
//! operator's own password. Each form carries the session's anti-forgery value; disabling,
//! revoking a token and revoking links also need their confirmation box.

use super::{datetime, done_url, forged, render, unconfirmed, Chrome};
use crate::domain::access::Role;
use crate::engine::credentials::{AccountView, TokenView};
use crate::engine::EngineError;
use crate::web::auth::{Admin, Reader};
use crate::web::error::console_failure;
use crate::web::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

/// Which change just happened, shown once. Only known codes are shown, so a crafted link
/// cannot put words on the page.
#[derive(serde::Deserialize, Default)]
pub(super) struct Done {
    done: Option<String>,
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "disabled" => "The account is disabled: its sessions ended and the API tokens it created are revoked.",
        "enabled" => "The account is enabled again.",
        "role" => "The role is changed: the account's sessions ended, the new role applies at its next sign-in.",
        "password" => "The password is set: the account's other sessions ended.",
        "revoked" => "The token is revoked: it is refused from now on.",
        "own-password" => "Your password is changed: your other sessions ended.",
        _ => return None,
    })
}

struct AccountLine {
    a: AccountView,
    last_login: String,
    locked_until: String,
}

struct TokenLine {
    t: TokenView,
    created: String,
    last_used: String,
    revoked: String,
}

#[derive(Template)]
#[template(path = "pages/console/accounts.html")]
struct AccountsPage<'a> {
    chrome: Chrome<'a>,
    notice: Option<&'static str>,
    accounts: Vec<AccountLine>,
    tokens: Vec<TokenLine>,
}

/// Accounts and API tokens, each with its actions.
pub(super) async fn accounts(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Query(q): Query<Done>,
) -> Response {
    let accounts = match state.engine.accounts().await {
        Ok(accounts) => accounts,
        Err(e) => return console_failure(e),
    };
    let tokens = match state.engine.api_tokens().await {
        Ok(tokens) => tokens,
        Err(e) => return console_failure(e),
    };
    render(AccountsPage {
        chrome: Chrome::new(&operator, true, "accounts"),
        notice: notice(q.done.as_deref()),
        accounts: accounts
            .into_iter()
            .map(|a| AccountLine {
                last_login: datetime(a.last_login_at),
                locked_until: datetime(a.locked_until),
                a,
            })
            .collect(),
        tokens: tokens
            .into_iter()
            .map(|t| TokenLine {
                created: datetime(Some(t.created_at)),
                last_used: datetime(t.last_used_at),
                revoked: datetime(t.revoked_at),
                t,
            })
            .collect(),
    })
}

#[derive(serde::Deserialize)]
pub(super) struct AccountForm {
    csrf: Option<String>,
    confirm: Option<String>,
    role: Option<String>,
    password: Option<String>,
}

/// Disable, enable, role or password, on one account.
pub(super) async fn account_action(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Path((id, action)): Path<(i64, String)>,
    Form(form): Form<AccountForm>,
) -> Response {
    if let Some(refused) = forged(&state, &operator, form.csrf.as_deref()).await {
        return refused;
    }
    let engine = &state.engine;
    let actor = &operator.actor;
    let key = id.to_string();
    let done = match action.as_str() {
        "disable" => {
            if let Some(refused) = unconfirmed(form.confirm.as_deref()) {
                return refused;
            }
            engine
                .disable_account(&key, actor)
                .await
                .map(|_| "disabled")
        }
        "enable" => engine.enable_account(&key, actor).await.map(|_| "enabled"),
        "role" => match form.role.as_deref().unwrap_or("").parse::<Role>() {
            Ok(role) => engine
                .set_account_role(&key, role, actor)
                .await
                .map(|_| "role"),
            Err(e) => Err(EngineError::Invalid(e)),
        },
        "password" => engine
            .set_account_password(
                &key,
                form.password.as_deref().unwrap_or(""),
                operator.session_id,
                actor,
            )
            .await
            .map(|_| "password"),
        _ => {
            return super::message_page(
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such action.",
            )
        }
    };
    match done {
        Ok(what) => Redirect::to(&done_url("/admin/accounts", &[("done", what)])).into_response(),
        Err(e) => console_failure(e),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct ConfirmForm {
    csrf: Option<String>,
    confirm: Option<String>,
}

pub(super) async fn revoke_token(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Path(id): Path<i64>,
    Form(form): Form<ConfirmForm>,
) -> Response {
    if let Some(refused) = forged(&state, &operator, form.csrf.as_deref()).await {
        return refused;
    }
    if let Some(refused) = unconfirmed(form.confirm.as_deref()) {
        return refused;
    }
    match state
        .engine
        .revoke_api_token(&id.to_string(), &operator.actor)
        .await
    {
        Ok(_) => Redirect::to(&done_url("/admin/accounts", &[("done", "revoked")])).into_response(),
        Err(e) => console_failure(e),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct RevokeLinksForm {
    csrf: Option<String>,
    confirm: Option<String>,
    reviewer: Option<String>,
}

/// Revokes every link a reviewer holds for the campaign.
pub(super) async fn revoke_links(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Path(id): Path<i64>,
    Form(form): Form<RevokeLinksForm>,
) -> Response {
    if let Some(refused) = forged(&state, &operator, form.csrf.as_deref()).await {
        return refused;
    }
    if let Some(refused) = unconfirmed(form.confirm.as_deref()) {
        return refused;
    }
    let Some(reviewer) = form
        .reviewer
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    else {
        return console_failure(EngineError::Invalid("say whose links to revoke".into()));
    };
    match state
        .engine
        .revoke_reviewer_links(id, reviewer, &operator.actor)
        .await
    {
        Ok(n) => Redirect::to(&done_url(
            &format!("/admin/campaigns/{id}"),
            &[
                ("done", "links-revoked"),
                ("to", reviewer),
                ("n", &n.to_string()),
            ],
        ))
        .into_response(),
        Err(e) => console_failure(e),
    }
}

#[derive(Template)]
#[template(path = "pages/console/password.html")]
struct PasswordPage<'a> {
    chrome: Chrome<'a>,
    notice: Option<&'static str>,
    error: Option<String>,
}

/// Any signed-in operator's own password: the form.
pub(super) async fn own_password_form(Reader(operator): Reader, Query(q): Query<Done>) -> Response {
    render(PasswordPage {
        chrome: Chrome::new(&operator, operator.role.may_change(), "password"),
        notice: notice(q.done.as_deref()),
        error: None,
    })
}

#[derive(serde::Deserialize)]
pub(super) struct OwnPasswordForm {
    csrf: Option<String>,
    current: Option<String>,
    new: Option<String>,
    again: Option<String>,
}

/// Changes the operator's own password, proving the current one.
pub(super) async fn own_password(
    State(state): State<AppState>,
    Reader(operator): Reader,
    Form(form): Form<OwnPasswordForm>,
) -> Response {
    if let Some(refused) = forged(&state, &operator, form.csrf.as_deref()).await {
        return refused;
    }
    let new = form.new.as_deref().unwrap_or("");
    let result = if form.again.as_deref() != Some(new) {
        Err(EngineError::Invalid(
            "the new password and its repetition differ".into(),
        ))
    } else {
        state
            .engine
            .change_own_password(&operator, form.current.as_deref().unwrap_or(""), new)
            .await
    };
    match result {
        Ok(_) => Redirect::to(&done_url("/account/password", &[("done", "own-password")]))
            .into_response(),
        Err(EngineError::Invalid(message)) => {
            let page = render(PasswordPage {
                chrome: Chrome::new(&operator, operator.role.may_change(), "password"),
                notice: None,
                error: Some(message),
            });
            (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
        }
        Err(e) => console_failure(e),
    }
}
