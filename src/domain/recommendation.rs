//! What attest suggests for an eligibility, from its activation history: an eligibility nobody
//! uses is standing risk with no benefit.

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recommendation {
    Keep,
    Revoke,
}

string_enum!(Recommendation, "recommendation", { Keep => "keep", Revoke => "revoke" });

/// Revoke when not activated for `inactive_days`, or never activated; but an eligibility
/// granted less than `inactive_days` ago has not had the chance, so it is kept.
pub fn recommend(
    since: Option<DateTime<Utc>>,
    last_activated_at: Option<DateTime<Utc>>,
    inactive_days: u32,
    now: DateTime<Utc>,
) -> (Recommendation, String) {
    let days_ago = |t: DateTime<Utc>| (now - t).num_days();
    match last_activated_at {
        Some(at) if days_ago(at) > i64::from(inactive_days) => (
            Recommendation::Revoke,
            format!(
                "not activated in {} days (last {})",
                days_ago(at),
                at.format("%Y-%m-%d")
            ),
        ),
        Some(at) => (
            Recommendation::Keep,
            format!("activated {} days ago", days_ago(at).max(0)),
        ),
        None => match since {
            Some(granted) if days_ago(granted) <= i64::from(inactive_days) => (
                Recommendation::Keep,
                format!(
                    "granted {} days ago, not activated yet",
                    days_ago(granted).max(0)
                ),
            ),
            _ => (Recommendation::Revoke, "never activated".to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn activation_history_drives_the_recommendation() {
        let now = DateTime::parse_from_rfc3339("2027-01-01T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let old = Some(now - Duration::days(400));
        assert_eq!(
            recommend(old, Some(now - Duration::days(10)), 90, now).0,
            Recommendation::Keep
        );
        let (rec, why) = recommend(old, Some(now - Duration::days(120)), 90, now);
        assert_eq!(
            (rec, why.as_str()),
            (
                Recommendation::Revoke,
                "not activated in 120 days (last 2026-09-03)"
            )
        );
        assert_eq!(
            recommend(old, None, 90, now),
            (Recommendation::Revoke, "never activated".to_string())
        );
        assert_eq!(recommend(None, None, 90, now).0, Recommendation::Revoke);
        assert_eq!(
            recommend(Some(now - Duration::days(5)), None, 90, now).0,
            Recommendation::Keep
        );
    }
}
