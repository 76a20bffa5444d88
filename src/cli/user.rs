//! `attest user …`: console accounts and API tokens, and their lifecycle (list, disable,
//! enable, a new password or role, revoke a token). Acting from the command line needs access
//! to the database, so the CLI user is trusted as an admin and audited as `cli:USER`.

use super::output::{self, say};
use super::Failure;
use crate::domain::access::Role;
use crate::engine::accounts::generate_password;
use crate::engine::credentials::AccountChangeReport;
use crate::engine::Engine;
use clap::Subcommand;
use std::io::{IsTerminal, Read};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an admin or auditor account. The password is read from standard input when it is
    /// piped (`echo … | attest user add …`); otherwise one is generated and printed once.
    Add {
        email: String,
        /// admin (runs campaigns) or auditor (reads and downloads, changes nothing).
        #[arg(long)]
        role: String,
    },
    /// Create an API token for automation, on behalf of an admin account; printed once (only
    /// its hash is kept). Send it as `Authorization: Bearer <token>`.
    Token {
        /// What will use it (shown in the audit log as token:NAME).
        name: String,
        /// The admin account creating it.
        #[arg(long, value_name = "EMAIL")]
        admin: String,
        /// admin, auditor (default: read-only) or responder (a SIEM/SOAR playbook: may only
        /// suspend people, see `POST /api/v1/principals/{id}/suspend`).
        #[arg(long, default_value = "auditor")]
        role: String,
    },
    /// List console accounts: role, enabled, last sign-in, failed sign-ins.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable an account: it can no longer sign in, its sessions end at once and the API
    /// tokens it created are revoked. The last enabled admin cannot be disabled.
    Disable {
        /// The account's email (or id).
        email: String,
    },
    /// Enable an account again (and lift a lock-out). What disabling revoked stays revoked.
    Enable {
        /// The account's email (or id).
        email: String,
    },
    /// Set an account's password: read from standard input when it is piped, otherwise
    /// generated and printed once. Every session of the account ends.
    Password {
        /// The account's email (or id).
        email: String,
    },
    /// Give an account another role; its sessions end so the new role applies at once. A
    /// demotion to auditor revokes the admin and responder tokens it created; the last admin cannot be demoted.
    Role {
        /// The account's email (or id).
        email: String,
        /// admin or auditor.
        #[arg(long)]
        role: String,
    },
    /// List API tokens: role, who created them, when, last use, revocation.
    Tokens {
        #[arg(long)]
        json: bool,
    },
    /// Revoke an API token (by id, or by name when one live token has it): refused at once.
    RevokeToken {
        /// The token's id (see `attest user tokens`) or name.
        id: String,
    },
}

/// The password from standard input when it is piped (its first line), else a generated one;
/// and whether it was generated (then it is printed once).
fn password_from_stdin() -> Result<(String, bool), Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok((generate_password()?, true));
    }
    let mut text = String::new();
    stdin
        .lock()
        .read_to_string(&mut text)
        .map_err(|e| Failure::usage(format!("reading the password from standard input: {e}")))?;
    let password = text.lines().next().unwrap_or("").to_string();
    Ok(if password.is_empty() {
        (generate_password()?, true)
    } else {
        (password, false)
    })
}

fn when(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map_or_else(|| "-".into(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

fn say_change(what: &str, report: &AccountChangeReport) {
    say!(
        "{} {what} ({}, {})",
        report.account.email,
        report.account.role,
        if report.account.enabled {
            "enabled"
        } else {
            "disabled"
        }
    );
    if report.sessions_revoked > 0 {
        say!("  sessions ended: {}", report.sessions_revoked);
    }
    if !report.tokens_revoked.is_empty() {
        say!("  API tokens revoked: {}", report.tokens_revoked.join(", "));
    }
}

pub async fn run(engine: &Engine, command: UserCommand, actor: &str) -> Result<(), Failure> {
    match command {
        UserCommand::Add { email, role } => {
            let role: Role = role.parse().map_err(Failure::usage)?;
            let (password, generated) = password_from_stdin()?;
            engine.add_account(&email, role, &password, actor).await?;
            say!("account {email} created ({role})");
            if generated {
                say!("password (shown once): {password}");
            }
            Ok(())
        }
        UserCommand::Token { name, admin, role } => {
            let role: Role = role.parse().map_err(Failure::usage)?;
            let operator = engine.account_operator(&admin).await?;
            let token = engine.create_api_token(&operator, &name, role).await?;
            say!("API token {name} ({role}) created; shown once:");
            say!("{token}");
            Ok(())
        }
        UserCommand::List { json } => {
            let accounts = engine.accounts().await?;
            if json {
                return output::print_json(&accounts);
            }
            say!(
                "{:<5} {:<32} {:<8} {:<9} {:<17} {:>6}",
                "ID",
                "EMAIL",
                "ROLE",
                "STATE",
                "LAST SIGN-IN",
                "FAILED"
            );
            for a in &accounts {
                let state = if a.enabled { "enabled" } else { "disabled" };
                say!(
                    "{:<5} {:<32} {:<8} {:<9} {:<17} {:>6}",
                    a.id,
                    a.email,
                    a.role,
                    state,
                    when(a.last_login_at),
                    a.failed_logins
                );
            }
            Ok(())
        }
        UserCommand::Disable { email } => {
            say_change("disabled", &engine.disable_account(&email, actor).await?);
            Ok(())
        }
        UserCommand::Enable { email } => {
            say_change("enabled", &engine.enable_account(&email, actor).await?);
            Ok(())
        }
        UserCommand::Password { email } => {
            let (password, generated) = password_from_stdin()?;
            let report = engine
                .set_account_password(&email, &password, None, actor)
                .await?;
            say_change("has a new password", &report);
            if generated {
                say!("password (shown once): {password}");
            }
            Ok(())
        }
        UserCommand::Role { email, role } => {
            let role: Role = role
                .parse()
                .map_err(|e| Failure::usage(format!("--role: {e}")))?;
            say_change(
                "has a new role",
                &engine.set_account_role(&email, role, actor).await?,
            );
            Ok(())
        }
        UserCommand::Tokens { json } => {
            let tokens = engine.api_tokens().await?;
            if json {
                return output::print_json(&tokens);
            }
            say!(
                "{:<5} {:<24} {:<8} {:<28} {:<17} {:<17} {:<17}",
                "ID",
                "NAME",
                "ROLE",
                "CREATED BY",
                "CREATED",
                "LAST USED",
                "REVOKED"
            );
            for t in &tokens {
                say!(
                    "{:<5} {:<24} {:<8} {:<28} {:<17} {:<17} {:<17}",
                    t.id,
                    t.name,
                    t.role,
                    t.created_by,
                    when(Some(t.created_at)),
                    when(t.last_used_at),
                    when(t.revoked_at)
                );
            }
            Ok(())
        }
        UserCommand::RevokeToken { id } => {
            let token = engine.revoke_api_token(&id, actor).await?;
            say!(
                "API token #{} ({}) revoked: it is refused from now on",
                token.id,
                token.name
            );
            Ok(())
        }
    }
}
