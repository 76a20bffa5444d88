//! OpenID Connect sign-in rules: which console role the provider's claim gives, how long a
//! sign-in may stay at the provider, and how much of a claim is looked at (docs/oidc.md).

use super::access::Role;
use chrono::{DateTime, Duration, Utc};

/// How long a sign-in sent to the provider may take to come back: long enough for a person to
/// type a password and a second factor, short enough that a leaked state is soon worthless.
pub const LOGIN_MINUTES: i64 = 10;

/// The most sign-ins waiting for the provider at once (across instances). Starting one needs no
/// account, so this bounds what anonymous requests can add to the database; past it, new ones
/// are refused until older ones come back or expire.
pub const PENDING_MAX: u64 = 10_000;

/// The most values of the role claim looked at (Entra sends at most 200 groups in a token).
pub const CLAIM_VALUES_MAX: usize = 1_000;

/// The longest claim value compared; longer ones match nothing.
pub const CLAIM_VALUE_MAX_CHARS: usize = 256;

/// The longest `next` path a sign-in carries through the provider.
pub const NEXT_MAX_CHARS: usize = 1_000;

/// When a sign-in started at `now` stops being accepted.
pub fn login_expires_at(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::minutes(LOGIN_MINUTES)
}

/// The values of a role claim as the provider sent it: a string is one value, an array of
/// strings many; anything else (numbers, objects, a missing claim) is none.
pub fn claim_values(claim: Option<&serde_json::Value>) -> Vec<String> {
    match claim {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .take(CLAIM_VALUES_MAX)
            .filter_map(|v| v.as_str())
            .filter(|v| v.chars().count() <= CLAIM_VALUE_MAX_CHARS)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// The console role the claim's `values` give: admin when any is one of `admin_values`,
/// else auditor when any is one of `auditor_values`, else none. Compared exactly (group object
/// IDs and app-role values are case-sensitive in Entra).
pub fn mapped_role(
    values: &[String],
    admin_values: &[String],
    auditor_values: &[String],
) -> Option<Role> {
    let any_of = |wanted: &[String]| values.iter().any(|v| wanted.iter().any(|w| w == v));
    if any_of(admin_values) {
        Some(Role::Admin)
    } else if any_of(auditor_values) {
        Some(Role::Auditor)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn admin_wins_over_auditor_and_nothing_maps_to_none() {
        let admin = strings(&["g-admins"]);
        let auditor = strings(&["g-auditors"]);
        let both = strings(&["g-auditors", "g-admins"]);
        assert_eq!(mapped_role(&both, &admin, &auditor), Some(Role::Admin));
        assert_eq!(
            mapped_role(&strings(&["g-auditors"]), &admin, &auditor),
            Some(Role::Auditor)
        );
        assert_eq!(mapped_role(&strings(&["staff"]), &admin, &auditor), None);
        assert_eq!(mapped_role(&strings(&["G-ADMINS"]), &admin, &auditor), None);
        assert_eq!(mapped_role(&[], &admin, &auditor), None);
    }

    #[test]
    fn claim_values_take_a_string_or_strings_only() {
        assert_eq!(claim_values(Some(&json!("a"))), strings(&["a"]));
        assert_eq!(
            claim_values(Some(&json!(["a", 1, "b", {"c": 1}]))),
            strings(&["a", "b"])
        );
        assert!(claim_values(Some(&json!(7))).is_empty());
        assert!(claim_values(None).is_empty());
        let long = "x".repeat(CLAIM_VALUE_MAX_CHARS + 1);
        assert!(claim_values(Some(&json!([long]))).is_empty());
    }
}
