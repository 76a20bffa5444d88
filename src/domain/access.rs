//! Who may do what in the console and the API (docs/security.md, "Who can reach what"):
//! admins run campaigns; auditors read everything and change nothing; responders (API tokens
//! of a SIEM or SOAR playbook) only suspend people; how sign-in failures slow
//! further attempts; where a sign-in may lead.

use chrono::{DateTime, Duration, Utc};

/// An account's (or API token's) role.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Auditor,
    /// An API token of a SIEM or SOAR playbook: may suspend a person and read suspensions,
    /// nothing else (no campaigns, no restore, no approval).
    Responder,
}

string_enum!(Role, "role", { Admin => "admin", Auditor => "auditor", Responder => "responder" });

impl Role {
    /// Launch, close, cancel, import, define, decide as an admin, create tokens.
    pub fn may_change(self) -> bool {
        self == Role::Admin
    }

    /// Campaigns, items, decisions, the audit log and evidence downloads.
    pub fn may_read(self) -> bool {
        matches!(self, Role::Admin | Role::Auditor)
    }

    /// Suspend a person on a signal and request the restore of a suspension.
    pub fn may_suspend(self) -> bool {
        matches!(self, Role::Admin | Role::Responder)
    }

    /// Read suspensions (a responder reads back what it did).
    pub fn may_read_suspensions(self) -> bool {
        matches!(self, Role::Admin | Role::Auditor | Role::Responder)
    }

    /// Whether a console account may have this role: a responder is a token role only.
    pub fn for_accounts(self) -> bool {
        matches!(self, Role::Admin | Role::Auditor)
    }
}

/// How long a console session lasts.
pub const SESSION_HOURS: i64 = 12;

/// Growing delays after failed sign-ins, instead of a hard lock an attacker could renew forever:
/// the first `free` failures cost nothing, then each failure makes the next attempt wait
/// `base_secs * 2^(failures - free)`, never more than `cap_secs`. A success clears the count;
/// so does [`FORGET_FAILURES_AFTER_SECS`] without an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    pub free: u32,
    pub base_secs: i64,
    pub cap_secs: i64,
}

/// One account from one client address: the limit a guesser meets first. The cap keeps a user
/// who shares an address with a guesser waiting minutes, not hours.
pub const PER_ACCOUNT_AND_CLIENT: ThrottlePolicy = ThrottlePolicy {
    free: 5,
    base_secs: 1,
    cap_secs: 300,
};

/// One client address, whatever the email: slows spraying many accounts from one address. More
/// lenient, because an office behind one NAT shares it.
pub const PER_CLIENT: ThrottlePolicy = ThrottlePolicy {
    free: 30,
    base_secs: 1,
    cap_secs: 60,
};

/// One account (the submitted email), across client addresses: slows guessing from many
/// addresses. Lenient and short-capped, and a client with no failure of its own for the account
/// is not held by it (see [`held_by_account_limit`]), so guessing elsewhere cannot keep the
/// owner out.
pub const PER_ACCOUNT: ThrottlePolicy = ThrottlePolicy {
    free: 10,
    base_secs: 1,
    cap_secs: 60,
};

/// Failures older than this, with no attempt since, are forgotten.
pub const FORGET_FAILURES_AFTER_SECS: i64 = 3600;

impl ThrottlePolicy {
    /// How long the next attempt waits after the latest of `failures` failures.
    pub fn delay(self, failures: u32) -> Duration {
        let Some(over) = failures.checked_sub(self.free) else {
            return Duration::zero();
        };
        // 2^over overflows long before the cap matters; stop doubling at 2^20.
        let factor = 1i64 << over.min(20);
        Duration::seconds(self.base_secs.saturating_mul(factor).min(self.cap_secs))
    }

    /// The earliest time of the next attempt after `failures` failures, the latest at `last`.
    pub fn next_attempt_at(self, failures: u32, last: DateTime<Utc>) -> DateTime<Utc> {
        last + self.delay(failures)
    }
}

/// Whether failures whose latest was at `last` are forgotten by `now`.
pub fn failures_forgotten(last: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - last >= Duration::seconds(FORGET_FAILURES_AFTER_SECS)
}

/// Whether the per-account limit (across clients) applies to a client that has had
/// `own_failures` failures for that account. A client without any is let through to the
/// password check: otherwise anyone could keep an admin out by failing for them from elsewhere.
pub fn held_by_account_limit(own_failures: u32) -> bool {
    own_failures > 0
}

/// The longest email address (RFC 5321 path limit) the audit log names as it is; a longer
/// submission is named by its digest.
pub const MAX_EMAIL_LEN: usize = 254;

/// A submitted email as the throttle and the lookup see it: trimmed, lower case.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// How the audit log names a submitted email: itself when it is short and printable, else
/// `sha256:<hex>` of it, so an anonymous request cannot write a long or odd string.
pub fn audit_email(normalised: &str) -> String {
    let printable = !normalised.chars().any(char::is_control);
    if normalised.len() <= MAX_EMAIL_LEN && printable {
        normalised.to_string()
    } else {
        use sha2::Digest;
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(normalised)))
    }
}

/// Whether `next` (where to go after signing in) is a path on this site a browser will keep
/// on this site. Browsers drop tabs and newlines from URLs, treat `\` as `/`, and read `//host`
/// as another host, so `/\t/evil.example` or `/\\evil.example` lead off-site; the rule is
/// strict rather than clever: printable ASCII only, one leading `/`, no backslash, and no
/// percent-encoded slash, backslash or control character a proxy or browser might decode.
pub fn is_safe_next(next: &str) -> bool {
    const MAX_LEN: usize = 2048;
    let bytes = next.as_bytes();
    if next.len() > MAX_LEN || bytes.first() != Some(&b'/') || bytes.get(1) == Some(&b'/') {
        return false;
    }
    if !bytes.iter().all(|b| b.is_ascii_graphic()) || next.contains('\\') {
        return false;
    }
    // Percent-escapes: none that decodes to a slash, a backslash or a control character.
    let mut rest = next;
    while let Some(at) = rest.find('%') {
        let hex = rest.get(at + 1..at + 3).unwrap_or("");
        match u8::from_str_radix(hex, 16) {
            Ok(b) if b == b'/' || b == b'\\' || !(0x20..0x7f).contains(&b) => return false,
            Ok(_) => {}
            Err(_) => return false,
        }
        rest = &rest[at + 1..];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auditors_read_and_never_change() {
        assert!(Role::Auditor.may_read() && !Role::Auditor.may_change());
        assert!(Role::Admin.may_read() && Role::Admin.may_change());
    }

    #[test]
    fn responders_suspend_and_nothing_else() {
        let r = Role::Responder;
        assert!(r.may_suspend() && r.may_read_suspensions());
        assert!(!r.may_read() && !r.may_change() && !r.for_accounts());
        assert!(!Role::Auditor.may_suspend() && Role::Auditor.may_read_suspensions());
    }

    #[test]
    fn delays_start_after_the_free_failures_double_and_stop_at_the_cap() {
        let p = PER_ACCOUNT_AND_CLIENT;
        let secs = |n| p.delay(n).num_seconds();
        assert_eq!((secs(0), secs(4)), (0, 0));
        assert_eq!((secs(5), secs(6), secs(7)), (1, 2, 4));
        assert_eq!((secs(13), secs(14), secs(1000)), (256, 300, 300));
        assert_eq!(PER_CLIENT.delay(u32::MAX).num_seconds(), 60);
        let t = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(p.next_attempt_at(6, t), t + Duration::seconds(2));
        assert!(!failures_forgotten(t, t + Duration::seconds(3599)));
        assert!(failures_forgotten(t, t + Duration::hours(1)));
    }

    #[test]
    fn only_clients_with_failures_of_their_own_meet_the_account_limit() {
        assert!(!held_by_account_limit(0));
        assert!(held_by_account_limit(1));
    }

    #[test]
    fn the_audit_log_names_short_emails_and_digests_the_rest() {
        assert_eq!(normalise_email("  Ada@Attest.TEST "), "ada@attest.test");
        assert_eq!(audit_email("ada@attest.test"), "ada@attest.test");
        let long = "a".repeat(300);
        let named = audit_email(&long);
        assert!(
            named.starts_with("sha256:") && named.len() == 7 + 64,
            "{named}"
        );
        assert!(audit_email("a\u{7}b@x").starts_with("sha256:"));
    }

    #[test]
    fn next_is_a_same_site_path_or_nothing() {
        for ok in [
            "/admin",
            "/audit/log?page=2",
            "/admin/campaigns/3?done=a%20b",
            "/",
        ] {
            assert!(is_safe_next(ok), "{ok}");
        }
        for bad in [
            "",
            "admin",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example/x",
            "/\r\n/evil",
            "/ /evil",
            "/\u{7f}",
            "https://evil.example",
            "/%2F/evil.example",
            "/%2f%2fevil",
            "/%5cevil",
            "/%09/evil",
            "/%0d%0a",
            "/%zz",
            "/%",
            "/caf\u{e9}",
        ] {
            assert!(!is_safe_next(bad), "{bad:?}");
        }
        assert!(!is_safe_next(&format!("/{}", "a".repeat(3000))));
    }
}
