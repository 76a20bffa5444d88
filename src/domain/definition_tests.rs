//! The definition parser's own tests, beside it to keep `definition.rs` within its size.

use super::*;

const SAMPLE: &str = r#"
name = "high-risk-quarterly"
owner = "u000"
schedule = "quarterly"
timezone = "Europe/Berlin"
duration_days = 14
reviewers = "manager"
fallback_reviewer = "u000"
on_no_response = "remove"
reminders_days_before = [2, 7]
escalate_after_days = 10
require_justification = ["revoke"]
recommend_revoke_after_inactive_days = 90

[scope]
risk = ["high"]
"#;

#[test]
fn the_sample_definition_parses() {
    let spec = CampaignSpec::from_toml(SAMPLE).unwrap();
    assert_eq!(spec.reminders_days_before, vec![7, 2]);
    assert_eq!(spec.scope.risk, vec![Risk::High]);
    assert!(spec.requires_justification(Verdict::Revoke));
    assert!(!spec.requires_justification(Verdict::Attest));
    assert_eq!(spec.max_auto_remove_percent, 50);
}

#[test]
fn each_bad_key_is_named() {
    let bad = SAMPLE
        .replace("duration_days = 14", "duration_days = 0")
        .replace("\"quarterly\"", "\"every tuesday\"")
        .replace("\"remove\"", "\"delete\"")
        .replace("\"Europe/Berlin\"", "\"Mars/Olympus\"");
    let keys: Vec<String> = CampaignSpec::from_toml(&bad)
        .unwrap_err()
        .into_iter()
        .map(|e| e.key)
        .collect();
    for key in ["duration_days", "schedule", "on_no_response", "timezone"] {
        assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
    }
}

#[test]
fn unknown_keys_and_syntax_errors_name_the_line() {
    let err = CampaignSpec::from_toml(&format!("{SAMPLE}\nfrequency = 3\n")).unwrap_err();
    assert!(err[0].reason.contains("frequency"), "{err:?}");
    let err = CampaignSpec::from_toml("name = \"x\"\nowner = \n").unwrap_err();
    assert_eq!(err[0].key, "line 2");
}
