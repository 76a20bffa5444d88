//! When a failed removal is tried again: exponential backoff, and a point where attest stops
//! trying and reports the removal as failed (never silently dropped).

use chrono::Duration;

/// Attempts before a removal is reported failed.
pub const MAX_ATTEMPTS: i32 = 6;

/// How long to wait after the `attempt`-th failure (1-based): 1, 2, 4, 8, 16 minutes, …, at most 6 hours.
pub fn backoff(attempt: i32) -> Duration {
    let exponent = attempt.clamp(1, 20) - 1;
    let minutes = 1i64 << exponent;
    Duration::minutes(minutes.min(6 * 60))
}

/// Whether to try again after `attempts` failures.
pub fn should_retry(attempts: i32) -> bool {
    attempts < MAX_ATTEMPTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::minutes(1));
        assert_eq!(backoff(3), Duration::minutes(4));
        assert_eq!(backoff(30), Duration::hours(6));
        assert!(should_retry(MAX_ATTEMPTS - 1));
        assert!(!should_retry(MAX_ATTEMPTS));
    }
}
