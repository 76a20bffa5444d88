//! What attest suggests for an eligibility, from its activation history: an eligibility nobody
//! uses is standing risk with no benefit. Standing access (an active assignment) is a finding
//! of its own, whatever its use: it should be an eligibility, activated when needed.

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recommendation {
    Keep,
    Revoke,
    /// Standing access: make it an eligibility (the access stays, held only when activated).
    ConvertToEligible,
}

string_enum!(Recommendation, "recommendation", {
    Keep => "keep",
    Revoke => "revoke",
    ConvertToEligible => "convert_to_eligible",
});

impl Recommendation {
    /// How people read it, on the review page, in mail and on the console.
    pub fn label(self) -> &'static str {
        match self {
            Recommendation::Keep => "Keep",
            Recommendation::Revoke => "Revoke",
            Recommendation::ConvertToEligible => "Convert to eligible",
        }
    }
}

/// The finding every standing-access item carries (its flag), wherever items are shown.
pub const STANDING_ACCESS_FINDING: &str =
    "standing access: an active assignment, held without activation";

/// The recommendation for an item: standing access is to be converted to eligible (its
/// activation history does not matter, it needs none); an eligibility's follows
/// [`recommend`].
pub fn recommend_for(
    assignment: super::eligibility::Assignment,
    since: Option<DateTime<Utc>>,
    last_activated_at: Option<DateTime<Utc>>,
    inactive_days: u32,
    now: DateTime<Utc>,
) -> (Recommendation, String) {
    match assignment {
        super::eligibility::Assignment::Active => (
            Recommendation::ConvertToEligible,
            "standing access: as an eligibility it is held only while activated".to_string(),
        ),
        super::eligibility::Assignment::Eligible => {
            recommend(since, last_activated_at, inactive_days, now)
        }
    }
}

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

    #[test]
    fn standing_access_is_to_be_converted_whatever_its_use() {
        use crate::domain::eligibility::Assignment;
        let now = DateTime::parse_from_rfc3339("2027-01-01T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let recent = Some(now - Duration::days(1));
        assert_eq!(
            recommend_for(Assignment::Active, recent, recent, 90, now).0,
            Recommendation::ConvertToEligible
        );
        assert_eq!(
            recommend_for(Assignment::Eligible, recent, recent, 90, now).0,
            Recommendation::Keep
        );
    }
}
