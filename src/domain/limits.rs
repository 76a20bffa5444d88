//! Every size limit on what enters attest, defined once (README "Limits" lists them), and the
//! checks and quoting that go with them.
//!
//! Limits are on characters (Unicode scalar values) for text a person types and on bytes for
//! what is read whole (request bodies, file lines). Error messages never echo a value whole:
//! they go through [`quote`] or [`clip`], which keep a short prefix.

use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// A reviewer's justification for a decision.
pub const JUSTIFICATION_MAX_CHARS: usize = 2_000;
/// A person's display name, a role's name.
pub const NAME_MAX_CHARS: usize = 256;
/// A role's or a campaign definition's description.
pub const DESCRIPTION_MAX_CHARS: usize = 1_000;
/// A scope such as `/subscriptions/prod/resourceGroups/…`.
pub const SCOPE_MAX_CHARS: usize = 512;
/// An email address (RFC 5321's limit on a forward path).
pub const EMAIL_MAX_CHARS: usize = 254;
/// A principal's external id, a definition's name.
pub const ID_MAX_CHARS: usize = 128;
/// A word from a closed set or a short structured value: a kind, a risk, true/false, a time
/// zone, a date, a schedule.
pub const WORD_MAX_CHARS: usize = 64;

/// One record of an import file: a CSV record (which may span lines inside quotes), or one JSON
/// object.
pub const IMPORT_RECORD_MAX_BYTES: usize = 64 * 1024;
/// Columns of a CSV header or fields of a row.
pub const IMPORT_COLUMNS_MAX: usize = 64;
/// The header line of a CSV file.
pub const CSV_HEADER_MAX_BYTES: usize = 8 * 1024;
/// Warnings (unknown columns or fields) an import lists; the rest are counted.
pub const IMPORT_WARNINGS_MAX: usize = 20;
/// An import file sent to the REST API (the CLI reads files of any size, streaming).
pub const IMPORT_UPLOAD_MAX_BYTES: u64 = 512 * 1024 * 1024;

/// A campaign definition (TOML), from a file, the console or the API.
pub const DEFINITION_MAX_BYTES: usize = 64 * 1024;

/// A form posted to the console or the sign-in page.
pub const FORM_BODY_MAX_BYTES: usize = 64 * 1024;
/// A form posted from a reviewer's page. Its largest legitimate post is a page of many items,
/// each sent with its answer and justification box: 1,004 items each with a 200-character
/// justification measured 231,821 bytes (tests/security/inputs.rs posts it), so 1 MiB leaves
/// room for longer justifications on a large page.
pub const REVIEW_FORM_BODY_MAX_BYTES: usize = 1024 * 1024;
/// The console's definition upload: the TOML box, URL-encoded (at most three bytes a byte),
/// plus the form's other fields. The definition itself is then held to
/// [`DEFINITION_MAX_BYTES`].
pub const DEFINITION_FORM_BODY_MAX_BYTES: usize = 3 * DEFINITION_MAX_BYTES + 4 * 1024;
/// A JSON request body of the REST API (1,000 decisions with 900-character justifications fit).
pub const API_BODY_MAX_BYTES: usize = 1024 * 1024;

/// Requests of one kind of route (review pages, API, console, sign-in, the rest) the web server
/// works on at once (`web::in_flight`); more wait in line, holding only their connection. Each
/// holds up to its route's body limit and waits on the database, which works on a transaction
/// at a time on SQLite and a pool's worth on PostgreSQL.
pub const REQUESTS_IN_FLIGHT_MAX: usize = 64;
/// How long a request waits in that line before it is answered 503 (busy, nothing changed).
pub const REQUEST_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// An audit event's text (actor, target, each string in its details) longer than this is
/// stored as a digest. It is the longest text a person may legitimately enter (a
/// justification), so what was allowed in is kept whole.
pub const AUDIT_TEXT_MAX_CHARS: usize = JUSTIFICATION_MAX_CHARS;
/// How much of a digested audit text is kept readable.
pub const AUDIT_PREFIX_CHARS: usize = 32;

/// How many of the latest completed campaigns are searched for an item's previous decision
/// (its eligibility's last review): each item costs at most this many index probes, so a page
/// and an export stay bounded however many campaigns have run. At four campaigns a quarter for
/// each of a dozen definitions that is two years of history.
pub const PREVIOUS_CAMPAIGNS_SEARCHED: u64 = 100;

/// How many extra columns of a people import are kept as the person's attributes (title,
/// department, …; the first ones in the file's order); more are warned about and ignored.
pub const PERSON_ATTRIBUTES_MAX: usize = 16;
/// The longest attribute value kept (characters); a longer one is a bad row.
pub const ATTRIBUTE_VALUE_MAX_CHARS: usize = 256;

/// How much of a bad value an error message quotes.
pub const QUOTE_PREFIX_CHARS: usize = 40;
/// The longest message made from another library's error text (which may quote input).
pub const MESSAGE_MAX_CHARS: usize = 240;

/// The first `max` characters of `text` with control characters escaped, and "…" when
/// something was cut: safe to put in a message, a page or a terminal.
pub fn clip_to(text: &str, max: usize) -> Cow<'_, str> {
    let cut = text.char_indices().nth(max).map(|(i, _)| i);
    let head = &text[..cut.unwrap_or(text.len())];
    if cut.is_none() && !head.chars().any(char::is_control) {
        return Cow::Borrowed(head);
    }
    let mut out = String::with_capacity(head.len() + 4);
    for c in head.chars() {
        if c.is_control() {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    if cut.is_some() {
        out.push('…');
    }
    Cow::Owned(out)
}

/// A bad value as an error message shows it: at most [`QUOTE_PREFIX_CHARS`] characters.
pub fn clip(text: &str) -> Cow<'_, str> {
    clip_to(text, QUOTE_PREFIX_CHARS)
}

/// The first `max` characters of `text`: a refused form shown again keeps what fits.
pub fn truncate_chars(text: &str, max: usize) -> &str {
    text.char_indices()
        .nth(max)
        .map_or(text, |(cut, _)| &text[..cut])
}

/// [`clip`] in double quotes: `"AAAA…"`.
pub fn quote(text: &str) -> String {
    format!("\"{}\"", clip(text))
}

/// Another library's error message, which may quote the input whole, cut to
/// [`MESSAGE_MAX_CHARS`].
pub fn clip_message(message: &str) -> Cow<'_, str> {
    clip_to(message, MESSAGE_MAX_CHARS)
}

/// What text may contain besides printable characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// One line: no control character at all (names, ids, scopes, emails).
    Single,
    /// Free text: tabs and line breaks allowed, no other control character (descriptions,
    /// justifications).
    Multi,
}

/// Checks `text` against a limit of `max` characters and the control characters `lines`
/// allows; the error is a reason to put after the field's name.
pub fn check_text(text: &str, max: usize, lines: Lines) -> Result<(), String> {
    // A character is at least a byte: only count characters when the bytes exceed the limit.
    if text.len() > max && text.chars().count() > max {
        return Err(format!("longer than {max} characters ({})", quote(text)));
    }
    match first_control(text, lines) {
        Some(c) => Err(format!(
            "contains a control character (U+{:04X})",
            u32::from(c)
        )),
        None => Ok(()),
    }
}

/// The first control character (C0, DEL or C1) that `lines` does not allow. A byte scan: C0
/// and DEL are single bytes, C1 is 0xC2 followed by 0x80–0x9F.
fn first_control(text: &str, lines: Lines) -> Option<char> {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let control = match b {
            b'\t' | b'\n' | b'\r' => lines == Lines::Single,
            0x00..=0x1f | 0x7f => true,
            0xc2 => bytes.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)),
            _ => false,
        };
        if control {
            return text[i..].chars().next();
        }
    }
    None
}

/// An audit text kept whole when short and free of control characters; otherwise a readable
/// prefix and the SHA-256 of the whole, `prefix…sha256:HEX` (so it can still be matched to
/// the value it stands for).
pub fn bounded_name(text: &str) -> Cow<'_, str> {
    if !too_long(text) && first_control(text, Lines::Single).is_none() {
        return Cow::Borrowed(text);
    }
    let prefix = clip_to(text, AUDIT_PREFIX_CHARS);
    let prefix = prefix.trim_end_matches('…');
    Cow::Owned(format!("{prefix}…sha256:{}", sha256_hex(text)))
}

/// An audit event's details with every string (and key) longer than
/// [`AUDIT_TEXT_MAX_CHARS`] replaced by `{"sha256", "prefix", "chars"}`.
pub fn bounded_details(details: &serde_json::Value) -> Cow<'_, serde_json::Value> {
    use serde_json::Value;
    if within_bounds(details) {
        return Cow::Borrowed(details);
    }
    let bounded = match details {
        Value::String(s) if too_long(s) => digest(s),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| bounded_details(v).into_owned())
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = if too_long(k) {
                        bounded_name(k).into_owned()
                    } else {
                        k.clone()
                    };
                    (key, bounded_details(v).into_owned())
                })
                .collect(),
        ),
        other => other.clone(),
    };
    Cow::Owned(bounded)
}

fn too_long(text: &str) -> bool {
    text.len() > AUDIT_TEXT_MAX_CHARS && text.chars().count() > AUDIT_TEXT_MAX_CHARS
}

fn within_bounds(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(s) => !too_long(s),
        Value::Array(items) => items.iter().all(within_bounds),
        Value::Object(map) => map.iter().all(|(k, v)| !too_long(k) && within_bounds(v)),
        _ => true,
    }
}

fn digest(text: &str) -> serde_json::Value {
    serde_json::json!({
        "sha256": sha256_hex(text),
        "prefix": clip_to(text, AUDIT_PREFIX_CHARS).trim_end_matches('…'),
        "chars": text.chars().count(),
    })
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A byte count as the README and messages write it: "64 KiB", "1 MiB".
pub fn bytes_text(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes % KIB == 0 {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quotes_keep_a_short_prefix_and_escape_controls() {
        assert_eq!(quote("ghost"), "\"ghost\"");
        let long = "A".repeat(10_000);
        assert_eq!(quote(&long), format!("\"{}…\"", "A".repeat(40)));
        assert_eq!(quote("a\0b"), "\"a\\u{0}b\"");
        // Cuts on characters, not bytes.
        assert_eq!(clip_to("ééé", 2), "éé…");
        assert_eq!(truncate_chars("ééé", 2), "éé");
        assert_eq!(truncate_chars("é", 2), "é");
    }

    #[test]
    fn text_checks_name_the_limit_and_the_control_character() {
        assert_eq!(check_text("Ana", 256, Lines::Single), Ok(()));
        let err = check_text(&"A".repeat(257), 256, Lines::Single).unwrap_err();
        assert!(
            err.starts_with("longer than 256 characters (\"AAAA"),
            "{err}"
        );
        assert!(err.len() < 80, "{err}");
        // 256 two-byte characters are within a 256-character limit.
        assert_eq!(check_text(&"é".repeat(256), 256, Lines::Single), Ok(()));
        assert_eq!(
            check_text("a\0", 10, Lines::Single).unwrap_err(),
            "contains a control character (U+0000)"
        );
        assert_eq!(
            check_text("x\u{7f}", 10, Lines::Multi).unwrap_err(),
            "contains a control character (U+007F)"
        );
        assert_eq!(
            check_text("x\u{85}", 10, Lines::Multi).unwrap_err(),
            "contains a control character (U+0085)"
        );
        assert_eq!(check_text("two\r\nlines\t", 20, Lines::Multi), Ok(()));
        assert!(check_text("two\nlines", 20, Lines::Single).is_err());
    }

    #[test]
    fn long_audit_texts_become_digests() {
        let huge = "x".repeat(1_000_000);
        let details = json!({"email": huge, "n": 1, "list": ["short", huge]});
        let bounded = bounded_details(&details).into_owned();
        assert_eq!(bounded["n"], json!(1));
        assert_eq!(bounded["list"][0], json!("short"));
        assert_eq!(bounded["email"]["chars"], json!(1_000_000));
        assert_eq!(bounded["email"]["prefix"], json!("x".repeat(32)));
        assert_eq!(
            bounded["email"]["sha256"],
            json!(sha256_hex(&"x".repeat(1_000_000)))
        );
        assert!(bounded.to_string().len() < 400, "{bounded}");
        let short = json!({"a": "b"});
        assert!(matches!(bounded_details(&short), Cow::Borrowed(_)));

        assert_eq!(bounded_name("account:ana@x.test"), "account:ana@x.test");
        let name = bounded_name(&huge);
        assert!(name.starts_with(&"x".repeat(32)) && name.contains("…sha256:"));
        assert!(name.len() < 120);
        assert!(bounded_name("a\0b").contains("sha256:"));
    }

    #[test]
    fn byte_counts_read_naturally() {
        assert_eq!(bytes_text(64 * 1024), "64 KiB");
        assert_eq!(bytes_text(1024 * 1024), "1 MiB");
        assert_eq!(bytes_text(1000), "1000 bytes");
    }
}
