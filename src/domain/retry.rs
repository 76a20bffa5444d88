//! When a failed mail or removal is tried again: exponential backoff, and a point where attest
//! stops trying and reports it as failed (never silently dropped). Mail takes its policy from
//! `[mail]` in attest.toml; removals keep the default.

use chrono::Duration;
use serde::{Deserialize, Serialize};

/// Attempts before a removal (or, by default, a mail) is reported failed.
pub const MAX_ATTEMPTS: i32 = 6;

/// Limits of a configured policy: enough attempts to ride out a day-long outage with the
/// longest waits, never so many or so long that a failure goes unreported for weeks.
pub const MAX_ATTEMPTS_LIMIT: i32 = 50;
pub const BASE_SECONDS_LIMIT: i64 = 24 * 60 * 60;
pub const MAX_SECONDS_LIMIT: i64 = 7 * 24 * 60 * 60;

/// How often something is tried and how long attest waits between tries: `base_seconds`
/// after the first failure, doubling each time, never more than `max_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    pub max_attempts: i32,
    pub base_seconds: i64,
    pub max_seconds: i64,
}

impl Default for RetryPolicy {
    /// 6 attempts; 1, 2, 4, 8, 16 minutes apart (at most 6 hours for longer policies).
    fn default() -> Self {
        Self {
            max_attempts: MAX_ATTEMPTS,
            base_seconds: 60,
            max_seconds: 6 * 60 * 60,
        }
    }
}

impl RetryPolicy {
    /// How long to wait after the `attempt`-th failure (1-based).
    pub fn backoff(&self, attempt: i32) -> Duration {
        let exponent = (attempt.clamp(1, 40) - 1) as u32;
        let seconds = self
            .base_seconds
            .max(1)
            .saturating_mul(1i64 << exponent.min(40));
        Duration::seconds(seconds.min(self.max_seconds.max(self.base_seconds)))
    }

    /// Whether to try again after `attempts` failures.
    pub fn should_retry(&self, attempts: i32) -> bool {
        attempts < self.max_attempts
    }

    /// Why the policy cannot be used, naming the attest.toml key (under `section`).
    pub fn check(&self, section: &str) -> Result<(), String> {
        if !(1..=MAX_ATTEMPTS_LIMIT).contains(&self.max_attempts) {
            return Err(format!(
                "[{section}] max_attempts = {}: must be from 1 to {MAX_ATTEMPTS_LIMIT}",
                self.max_attempts
            ));
        }
        if !(1..=BASE_SECONDS_LIMIT).contains(&self.base_seconds) {
            return Err(format!(
                "[{section}] retry_base_seconds = {}: must be from 1 to {BASE_SECONDS_LIMIT} (a day)",
                self.base_seconds
            ));
        }
        if !(self.base_seconds..=MAX_SECONDS_LIMIT).contains(&self.max_seconds) {
            return Err(format!(
                "[{section}] retry_max_seconds = {}: must be from retry_base_seconds ({}) to {MAX_SECONDS_LIMIT} (a week)",
                self.max_seconds, self.base_seconds
            ));
        }
        Ok(())
    }
}

/// How long to wait after the `attempt`-th failure of a removal: 1, 2, 4, 8, 16 minutes, …, at
/// most 6 hours.
pub fn backoff(attempt: i32) -> Duration {
    RetryPolicy::default().backoff(attempt)
}

/// Whether to try a removal again after `attempts` failures.
pub fn should_retry(attempts: i32) -> bool {
    RetryPolicy::default().should_retry(attempts)
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

    #[test]
    fn a_configured_policy_doubles_from_its_base_up_to_its_cap() {
        let policy = RetryPolicy {
            max_attempts: 3,
            base_seconds: 10,
            max_seconds: 25,
        };
        assert_eq!(policy.backoff(1), Duration::seconds(10));
        assert_eq!(policy.backoff(2), Duration::seconds(20));
        assert_eq!(policy.backoff(3), Duration::seconds(25));
        assert!(policy.should_retry(2));
        assert!(!policy.should_retry(3));
        assert!(policy.check("mail").is_ok());
        let bad = RetryPolicy {
            max_seconds: 5,
            ..policy
        };
        assert!(bad
            .check("mail")
            .unwrap_err()
            .contains("retry_max_seconds = 5"));
    }
}
