//! `attest user …`: console accounts.

use super::output::say;
use super::Failure;
use crate::domain::access::Role;
use crate::engine::accounts::generate_password;
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
        /// admin or auditor (default auditor: read-only).
        #[arg(long, default_value = "auditor")]
        role: String,
    },
}

pub async fn run(engine: &Engine, command: UserCommand, actor: &str) -> Result<(), Failure> {
    match command {
        UserCommand::Add { email, role } => {
            let role: Role = role.parse().map_err(Failure::usage)?;
            let stdin = std::io::stdin();
            let (password, generated) = if stdin.is_terminal() {
                (generate_password()?, true)
            } else {
                let mut text = String::new();
                stdin.lock().read_to_string(&mut text).map_err(|e| {
                    Failure::usage(format!("reading the password from standard input: {e}"))
                })?;
                let password = text.lines().next().unwrap_or("").to_string();
                if password.is_empty() {
                    (generate_password()?, true)
                } else {
                    (password, false)
                }
            };
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
    }
}
