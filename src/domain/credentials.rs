//! The rules of the credential lifecycle: how strong a password must be, when a token's last use
//! is worth writing down, and which account changes would leave no admin to undo them.

use super::access::Role;
use chrono::{DateTime, Duration, Utc};

/// The shortest password an account may have (the same rule as `attest user add`).
pub const MIN_PASSWORD_CHARS: usize = 12;

/// A token's `last_used_at` is written at most this often: an hourly script shows as used,
/// and a busy one does not turn every API call into a write.
pub const LAST_USE_RESOLUTION_SECONDS: i64 = 60;

/// Why a password is refused, if it is.
pub fn password_problem(password: &str) -> Option<String> {
    (password.chars().count() < MIN_PASSWORD_CHARS)
        .then(|| format!("the password must be at least {MIN_PASSWORD_CHARS} characters"))
}

/// Whether a token used at `now` should have its last use written, given the one stored.
pub fn last_use_due(stored: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    stored.is_none_or(|at| now - at >= Duration::seconds(LAST_USE_RESOLUTION_SECONDS))
}

/// What an admin does to an account, as far as the last-admin rule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChange {
    Disable,
    Enable,
    SetRole(Role),
    SetPassword,
}

/// An account as the last-admin rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountState {
    pub role: Role,
    pub enabled: bool,
}

impl AccountChange {
    /// The account after the change.
    pub fn apply(self, before: AccountState) -> AccountState {
        match self {
            AccountChange::Disable => AccountState {
                enabled: false,
                ..before
            },
            AccountChange::Enable => AccountState {
                enabled: true,
                ..before
            },
            AccountChange::SetRole(role) => AccountState { role, ..before },
            AccountChange::SetPassword => before,
        }
    }
}

fn counts_as_admin(state: AccountState) -> bool {
    state.enabled && state.role == Role::Admin
}

/// Refuses a change that would leave no enabled admin: nobody could then undo it from the
/// console or the API (only the command line on the database's host could).
/// `other_enabled_admins` counts the enabled admins besides this account.
pub fn last_admin_problem(
    email: &str,
    before: AccountState,
    change: AccountChange,
    other_enabled_admins: u64,
) -> Option<String> {
    let loses_admin = counts_as_admin(before) && !counts_as_admin(change.apply(before));
    (loses_admin && other_enabled_admins == 0).then(|| {
        format!(
            "{email} is the last enabled admin: add or enable another admin first, or nobody could manage accounts"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN: AccountState = AccountState {
        role: Role::Admin,
        enabled: true,
    };

    #[test]
    fn the_last_admin_is_neither_disabled_nor_demoted() {
        for change in [
            AccountChange::Disable,
            AccountChange::SetRole(Role::Auditor),
        ] {
            assert!(last_admin_problem("a@x", ADMIN, change, 0).is_some());
            assert!(last_admin_problem("a@x", ADMIN, change, 1).is_none());
        }
        assert!(last_admin_problem("a@x", ADMIN, AccountChange::SetPassword, 0).is_none());
        assert!(last_admin_problem("a@x", ADMIN, AccountChange::SetRole(Role::Admin), 0).is_none());
        let auditor = AccountState {
            role: Role::Auditor,
            enabled: true,
        };
        assert!(last_admin_problem("a@x", auditor, AccountChange::Disable, 0).is_none());
    }

    #[test]
    fn last_use_is_written_once_a_minute() {
        let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        assert!(last_use_due(None, now));
        assert!(!last_use_due(Some(now - Duration::seconds(59)), now));
        assert!(last_use_due(Some(now - Duration::seconds(60)), now));
    }

    #[test]
    fn passwords_have_twelve_characters_at_least() {
        assert!(password_problem("eleven-char").is_some());
        assert!(password_problem("twelve-chars").is_none());
    }
}
