//! Suspensions on a signal (issue 19): a SIEM or SOAR playbook suspends a person, attest
//! removes their eligibility through its sources at once and records each item so that an
//! admin's approved restore puts back exactly what was removed. The states, the size of a
//! reason, and who may approve a restore.

/// The longest reason a suspension takes (a SOAR playbook's alert title and link).
pub const REASON_MAX_CHARS: usize = 1_000;

/// Where a suspension stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SuspensionState {
    /// Recorded; removals under way (a crash here is finished by the worker).
    Removing,
    /// Every item removed (or found gone) and read back.
    Suspended,
    /// Some removal failed; the worker retries it.
    Partial,
    /// Someone asked to restore; waits for an admin's approval.
    RestoreRequested,
    /// Every removed item put back and read back.
    Restored,
    /// Some item could not be put back; approving again retries it.
    RestoreFailed,
}

string_enum!(SuspensionState, "suspension state", {
    Removing => "removing",
    Suspended => "suspended",
    Partial => "partial",
    RestoreRequested => "restore_requested",
    Restored => "restored",
    RestoreFailed => "restore_failed",
});

impl SuspensionState {
    /// Whether removals are still owed (the worker's work).
    pub fn removing(self) -> bool {
        matches!(self, Self::Removing | Self::Partial)
    }
}

/// Where one item's removal stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ItemRemoval {
    Pending,
    Removed,
    /// It was not there any more: nothing to put back later.
    AlreadyGone,
    /// The last attempt failed; retried.
    Failed,
}

string_enum!(ItemRemoval, "removal state", {
    Pending => "pending",
    Removed => "removed",
    AlreadyGone => "already_gone",
    Failed => "failed",
});

impl ItemRemoval {
    pub fn done(self) -> bool {
        matches!(self, Self::Removed | Self::AlreadyGone)
    }
}

/// Where one item's restore stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ItemRestore {
    Pending,
    Restored,
    Failed,
    /// Not removed by the suspension (it was already gone), so not put back.
    NotRemoved,
}

string_enum!(ItemRestore, "restore state", {
    Pending => "pending",
    Restored => "restored",
    Failed => "failed",
    NotRemoved => "not_removed",
});

/// The state a suspension whose removals stand as `items` is in.
pub fn after_removals(items: &[ItemRemoval]) -> SuspensionState {
    if items.iter().all(|i| i.done()) {
        SuspensionState::Suspended
    } else if items.contains(&ItemRemoval::Failed) {
        SuspensionState::Partial
    } else {
        SuspensionState::Removing
    }
}

/// The state after a restore whose items stand as `items`.
pub fn after_restore(items: &[ItemRestore]) -> SuspensionState {
    if items
        .iter()
        .all(|i| matches!(i, ItemRestore::Restored | ItemRestore::NotRemoved))
    {
        SuspensionState::Restored
    } else {
        SuspensionState::RestoreFailed
    }
}

/// Why `approver` may not approve a restore requested by `requester`, if they may not: the
/// credential that asked is not the one that approves (four eyes between two credentials;
/// the audit log names both).
pub fn approval_problem(requester: Option<&str>, approver: &str) -> Option<String> {
    match requester {
        None => Some("no restore was requested for this suspension".into()),
        Some(r) if r == approver => Some(format!(
            "{approver} requested this restore and may not approve it too: another admin approves"
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suspension_is_complete_when_every_item_is_removed_or_gone() {
        use ItemRemoval::*;
        assert_eq!(
            after_removals(&[Removed, AlreadyGone]),
            SuspensionState::Suspended
        );
        assert_eq!(after_removals(&[Removed, Failed]), SuspensionState::Partial);
        assert_eq!(
            after_removals(&[Pending, Removed]),
            SuspensionState::Removing
        );
        assert_eq!(after_removals(&[]), SuspensionState::Suspended);
        assert_eq!(
            after_restore(&[ItemRestore::Restored, ItemRestore::NotRemoved]),
            SuspensionState::Restored
        );
        assert_eq!(
            after_restore(&[ItemRestore::Restored, ItemRestore::Failed]),
            SuspensionState::RestoreFailed
        );
    }

    #[test]
    fn the_requester_does_not_approve_their_own_restore() {
        assert!(approval_problem(Some("token:soar"), "account:a@x").is_none());
        assert!(approval_problem(Some("account:a@x"), "account:a@x").is_some());
        assert!(approval_problem(None, "account:a@x").is_some());
        assert_eq!(
            SuspensionState::RestoreRequested.as_str(),
            "restore_requested"
        );
        assert!(SuspensionState::Partial.removing());
    }
}
