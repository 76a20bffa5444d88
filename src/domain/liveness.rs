//! When a process that holds leased work counts as gone. Every process that takes leases
//! renews its heartbeat every [`HEARTBEAT_EVERY`]; one whose heartbeat is older than
//! [`GONE_AFTER`] (or that said it stopped) has crashed, hung or lost the database, and its
//! leases are free at once rather than when they run out (2 minutes for a launch, 5 for mail
//! and removals).
//!
//! Five missed heartbeats leave room for a busy database or a paused process before work is
//! taken over; taking over work that is in fact still going costs at most a duplicate (a mail
//! with the same link, a removal found already done and recorded once), never a lost update.

use chrono::{DateTime, Duration, Utc};

/// How often a process renews its heartbeat.
pub const HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

/// How old a heartbeat may be before its process counts as gone.
pub const GONE_AFTER: Duration = Duration::seconds(15);

/// Heartbeats older than this (at `now`) belong to processes that are gone.
pub fn gone_before(now: DateTime<Utc>) -> DateTime<Utc> {
    now - GONE_AFTER
}

/// Processes that stopped this long ago are forgotten (their leases ran out long before).
pub const FORGOTTEN_AFTER: Duration = Duration::days(7);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_gone_after_five_missed_heartbeats() {
        let now = DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(gone_before(now), now - Duration::seconds(15));
        assert_eq!(
            GONE_AFTER.num_seconds() as u64,
            5 * HEARTBEAT_EVERY.as_secs()
        );
    }
}
