//! Leavers (issue 17): a person an import, a prune or a sync disables loses their eligibility
//! through its sources once the `[lifecycle]` grace period has passed (default: at once). The
//! removal is a suspension (issue 19's machinery) whose reason names the leaver event, so an
//! admin can restore it like any other; a person enabled again within the grace period keeps
//! everything. What a handled event came to, the grace period's limits, and the reason text.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// The longest grace period `[lifecycle] leaver_grace_days` takes.
pub const MAX_GRACE_DAYS: u32 = 365;

/// Leaver events one scheduler tick handles (the rest wait for the next tick).
pub const EVENTS_PER_TICK: u64 = 200;

/// `[lifecycle]` of attest.toml.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifecycleSettings {
    /// Days between a person's disabling and the removal of their eligibility (0: at once).
    pub leaver_grace_days: u32,
}

impl LifecycleSettings {
    /// The settings' problem, naming the key.
    pub fn check(&self) -> Result<(), String> {
        if self.leaver_grace_days > MAX_GRACE_DAYS {
            return Err(format!(
                "[lifecycle] leaver_grace_days: {} is more than {MAX_GRACE_DAYS} days",
                self.leaver_grace_days
            ));
        }
        Ok(())
    }

    /// The grace period.
    pub fn grace(&self) -> Duration {
        Duration::days(i64::from(self.leaver_grace_days))
    }

    /// When the eligibility of a person disabled at `detected_at` is removed.
    pub fn due_at(&self, detected_at: DateTime<Utc>) -> DateTime<Utc> {
        detected_at + self.grace()
    }
}

/// What a handled leaver event came to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LeaverOutcome {
    /// Their eligibility was removed by the suspension the event names.
    Suspended,
    /// They held no eligibility: nothing to remove.
    NothingHeld,
    /// They were enabled again within the grace period: nothing removed.
    Reenabled,
}

string_enum!(LeaverOutcome, "leaver outcome", {
    Suspended => "suspended",
    NothingHeld => "nothing_held",
    Reenabled => "reenabled",
});

/// The reason the suspension of a leaver gives (shown in suspensions.csv and the audit log).
pub fn suspension_reason(event: i64, via: &str, detected_at: DateTime<Utc>) -> String {
    format!(
        "leaver event #{event}: disabled by {via} at {}",
        detected_at.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

/// What a handled event came to, given whether the person is enabled now and how many
/// eligibilities they hold (`None`: a suspension is needed).
pub fn settle(enabled_now: bool, held: usize) -> Option<LeaverOutcome> {
    if enabled_now {
        Some(LeaverOutcome::Reenabled)
    } else if held == 0 {
        Some(LeaverOutcome::NothingHeld)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_grace_period_is_bounded_and_moves_the_due_time() {
        let at = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
        let none = LifecycleSettings::default();
        assert_eq!(none.due_at(at), at, "default: at once");
        let week = LifecycleSettings {
            leaver_grace_days: 7,
        };
        assert!(week.check().is_ok());
        assert_eq!(week.due_at(at), at + Duration::days(7));
        let too_long = LifecycleSettings {
            leaver_grace_days: MAX_GRACE_DAYS + 1,
        };
        let err = too_long.check().unwrap_err();
        assert!(err.contains("leaver_grace_days"), "{err}");
    }

    #[test]
    fn a_person_enabled_again_or_holding_nothing_is_not_suspended() {
        assert_eq!(settle(true, 3), Some(LeaverOutcome::Reenabled));
        assert_eq!(settle(false, 0), Some(LeaverOutcome::NothingHeld));
        assert_eq!(settle(false, 2), None);
    }
}
