//! When reviewers are nudged and when their silence escalates.

use chrono::{DateTime, Duration, Utc};

/// The reminder due at `now`: the nearest configured offset (days before the deadline) whose
/// time has come. A scheduler that was down over two offsets sends one reminder, not two.
pub fn due_reminder(days_before: &[u32], due_at: DateTime<Utc>, now: DateTime<Utc>) -> Option<u32> {
    if now >= due_at {
        return None;
    }
    days_before
        .iter()
        .copied()
        .filter(|d| due_at - Duration::days(i64::from(*d)) <= now)
        .min()
}

/// Whether undecided items go to the fallback reviewer now.
pub fn escalation_due(
    launched_at: DateTime<Utc>,
    after_days: Option<u32>,
    now: DateTime<Utc>,
) -> bool {
    after_days.is_some_and(|days| now >= launched_at + Duration::days(i64::from(days)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reminders_fire_at_their_offsets_once_each() {
        let due = DateTime::parse_from_rfc3339("2027-01-15T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |days_before: i64| due - Duration::days(days_before);
        assert_eq!(due_reminder(&[7, 2], due, at(8)), None);
        assert_eq!(due_reminder(&[7, 2], due, at(7)), Some(7));
        assert_eq!(due_reminder(&[7, 2], due, at(3)), Some(7));
        assert_eq!(due_reminder(&[7, 2], due, at(1)), Some(2));
        assert_eq!(due_reminder(&[7, 2], due, due), None);
        let launched = at(14);
        assert!(!escalation_due(launched, Some(10), at(5)));
        assert!(escalation_due(launched, Some(10), at(4)));
        assert!(!escalation_due(launched, None, due));
    }
}
