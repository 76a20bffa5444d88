//! Who may do what in the console and the API (design section 1): admins run campaigns;
//! auditors read everything and change nothing.

/// An account's (or API token's) role.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Auditor,
}

string_enum!(Role, "role", { Admin => "admin", Auditor => "auditor" });

impl Role {
    /// Launch, close, cancel, import, define, decide as an admin, create tokens.
    pub fn may_change(self) -> bool {
        self == Role::Admin
    }

    /// Campaigns, items, decisions, the audit log and evidence downloads.
    pub fn may_read(self) -> bool {
        matches!(self, Role::Admin | Role::Auditor)
    }
}

/// Consecutive failed logins after which an account is locked for [`LOCK_MINUTES`].
pub const MAX_FAILED_LOGINS: i32 = 5;
pub const LOCK_MINUTES: i64 = 15;
/// How long a console session lasts.
pub const SESSION_HOURS: i64 = 12;

/// What a failed login does to the account: `Some(minutes)` to lock it.
pub fn lock_after_failure(failed_logins_now: i32) -> Option<i64> {
    (failed_logins_now >= MAX_FAILED_LOGINS).then_some(LOCK_MINUTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auditors_read_and_never_change() {
        assert!(Role::Auditor.may_read() && !Role::Auditor.may_change());
        assert!(Role::Admin.may_read() && Role::Admin.may_change());
        assert_eq!(lock_after_failure(4), None);
        assert_eq!(lock_after_failure(5), Some(15));
    }
}
