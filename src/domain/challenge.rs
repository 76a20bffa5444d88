//! Challenge periods (issue 17, SailPoint's "challenge"): with `challenge_days` in a
//! definition, every revocation whose removal is planned at close is held for that many days.
//! Its holder may give a reason once; the item's reviewer (or an admin) then keeps the
//! eligibility after all or upholds the revocation. Whatever nobody answered by the end of the
//! window stands, and its removal runs then.

use chrono::{DateTime, Duration, Utc};

/// The longest window a definition may set, in days.
pub const CHALLENGE_MAX_DAYS: u32 = 30;
/// The longest reason a holder may give, in characters.
pub const REASON_MAX_CHARS: usize = 2000;

/// Where one challenge stands (`challenge.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeState {
    /// Mailed to the holder; no reason given yet.
    Open,
    /// The holder gave a reason; the reviewer has not answered.
    Submitted,
    /// Kept after all: the removal was cancelled.
    Kept,
    /// The revocation stands; its removal runs at once.
    Upheld,
    /// A reason was given, nobody answered by the end of the window: the revocation stands.
    Expired,
    /// No reason was given by the end of the window: the revocation stands.
    Lapsed,
}

string_enum!(ChallengeState, "challenge state", {
    Open => "open",
    Submitted => "submitted",
    Kept => "kept",
    Upheld => "upheld",
    Expired => "expired",
    Lapsed => "lapsed",
});

/// A reviewer's or an admin's answer to a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// Keep the eligibility after all: the removal is cancelled.
    Keep,
    /// The revocation stands: the removal may run at once.
    Uphold,
}

string_enum!(Answer, "challenge answer", { Keep => "keep", Uphold => "uphold" });

impl Answer {
    pub fn state(self) -> ChallengeState {
        match self {
            Answer::Keep => ChallengeState::Kept,
            Answer::Uphold => ChallengeState::Upheld,
        }
    }
}

/// The end of the window of a campaign closed at `closed_at`.
pub fn window_end(closed_at: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    closed_at + Duration::days(i64::from(days))
}

/// The holder's reason, trimmed, or why it is refused.
pub fn check_reason(reason: &str) -> Result<String, String> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err("reason: give a reason why you still need this access".into());
    }
    let chars = reason.chars().count();
    if chars > REASON_MAX_CHARS {
        return Err(format!(
            "reason: {chars} characters, at most {REASON_MAX_CHARS} are taken"
        ));
    }
    Ok(reason.to_string())
}

/// Whether the holder may still give a reason: once, before the window ends.
pub fn may_submit(
    state: ChallengeState,
    closes_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), String> {
    match state {
        _ if now >= closes_at => Err(format!(
            "the challenge period ended at {}",
            closes_at.format("%Y-%m-%d %H:%M UTC")
        )),
        ChallengeState::Open => Ok(()),
        ChallengeState::Submitted => Err("a reason was already given".into()),
        other => Err(format!("the challenge is already {other}")),
    }
}

/// Whether a reviewer or an admin may still answer: a reason was given, nobody answered yet,
/// and the window has not ended (after it, the revocation stands and its removal runs).
pub fn may_answer(
    state: ChallengeState,
    closes_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), String> {
    match state {
        _ if now >= closes_at => Err(format!(
            "the challenge period ended at {}: the revocation stands",
            closes_at.format("%Y-%m-%d %H:%M UTC")
        )),
        ChallengeState::Submitted => Ok(()),
        ChallengeState::Open => Err("the holder has not given a reason".into()),
        other => Err(format!("the challenge was already answered ({other})")),
    }
}

/// State a challenge still open or submitted takes when its window ends.
pub fn at_window_end(state: ChallengeState) -> ChallengeState {
    match state {
        ChallengeState::Submitted => ChallengeState::Expired,
        ChallengeState::Open => ChallengeState::Lapsed,
        other => other,
    }
}

/// What became of the eligibility, in words for the evidence.
pub fn final_outcome(state: ChallengeState) -> &'static str {
    match state {
        ChallengeState::Kept => "kept after challenge",
        ChallengeState::Upheld => "revoked (challenge upheld)",
        ChallengeState::Expired => "revoked (challenge unanswered)",
        ChallengeState::Lapsed => "revoked (not challenged)",
        ChallengeState::Open | ChallengeState::Submitted => "undecided (window open)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_reason_is_given_once_and_answered_only_inside_the_window() {
        let closed = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let end = window_end(closed, 7);
        assert_eq!(end, Utc.with_ymd_and_hms(2026, 12, 8, 9, 0, 0).unwrap());
        let inside = end - Duration::seconds(1);
        assert!(may_submit(ChallengeState::Open, end, inside).is_ok());
        assert!(may_submit(ChallengeState::Submitted, end, inside).is_err());
        assert!(may_submit(ChallengeState::Open, end, end).is_err());
        assert!(may_answer(ChallengeState::Submitted, end, inside).is_ok());
        assert!(may_answer(ChallengeState::Open, end, inside).is_err());
        assert!(may_answer(ChallengeState::Kept, end, inside).is_err());
        assert!(may_answer(ChallengeState::Submitted, end, end).is_err());
        assert_eq!(
            at_window_end(ChallengeState::Submitted),
            ChallengeState::Expired
        );
        assert_eq!(at_window_end(ChallengeState::Open), ChallengeState::Lapsed);
        assert_eq!(at_window_end(ChallengeState::Kept), ChallengeState::Kept);
    }

    #[test]
    fn reasons_are_trimmed_and_bounded() {
        assert_eq!(check_reason("  I run payroll  ").unwrap(), "I run payroll");
        assert!(check_reason("   ").is_err());
        assert!(check_reason(&"x".repeat(REASON_MAX_CHARS)).is_ok());
        assert!(check_reason(&"x".repeat(REASON_MAX_CHARS + 1))
            .unwrap_err()
            .contains("2001"));
    }
}
