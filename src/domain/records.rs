//! The rows of the three import files (people, roles, eligibility) and the rules each row must
//! follow on its own. Rules that need the database (does this manager exist?) live in the engine.

use super::directory::{PrincipalKind, Risk};
use super::eligibility::Assignment;
use super::limits::{
    check_text, quote, Lines, DESCRIPTION_MAX_CHARS, EMAIL_MAX_CHARS, ID_MAX_CHARS,
    JUSTIFICATION_MAX_CHARS, NAME_MAX_CHARS, SCOPE_MAX_CHARS, WORD_MAX_CHARS,
};
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use std::fmt;

/// Which file is being imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    People,
    Roles,
    Eligibility,
    /// Activation history (PIM activations), for the weekly activation review.
    Activations,
}

/// One column of an import file.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    /// A required column must be in the header (CSV) or in every record (JSON).
    pub required: bool,
    /// The most characters a value may have.
    pub max_chars: usize,
    /// Whether a value may hold line breaks and tabs (descriptions only).
    pub lines: Lines,
    /// Whether JSON may give the value as `true`/`false` (else it must be a string).
    pub boolean: bool,
}

const fn col(name: &'static str, required: bool, max_chars: usize) -> Column {
    Column {
        name,
        required,
        max_chars,
        lines: Lines::Single,
        boolean: false,
    }
}

const PEOPLE: &[Column] = &[
    col("id", true, ID_MAX_CHARS),
    col("name", true, NAME_MAX_CHARS),
    col("email", true, EMAIL_MAX_CHARS),
    col("manager_id", true, ID_MAX_CHARS),
    col("kind", false, WORD_MAX_CHARS),
    Column {
        boolean: true,
        ..col("enabled", false, WORD_MAX_CHARS)
    },
    col("timezone", false, WORD_MAX_CHARS),
];
const ROLES: &[Column] = &[
    col("name", true, NAME_MAX_CHARS),
    col("owner_id", true, ID_MAX_CHARS),
    col("risk", true, WORD_MAX_CHARS),
    Column {
        lines: Lines::Multi,
        ..col("description", false, DESCRIPTION_MAX_CHARS)
    },
];
const ELIGIBILITY: &[Column] = &[
    col("principal_id", true, ID_MAX_CHARS),
    col("role", true, NAME_MAX_CHARS),
    col("scope", true, SCOPE_MAX_CHARS),
    col("start", false, WORD_MAX_CHARS),
    col("end", false, WORD_MAX_CHARS),
    col("last_activated_at", false, WORD_MAX_CHARS),
    // `eligible` (the default) or `active`: standing access, reviewed as a finding.
    col("assignment", false, WORD_MAX_CHARS),
];
const ACTIVATIONS: &[Column] = &[
    col("principal_id", true, ID_MAX_CHARS),
    col("role", true, NAME_MAX_CHARS),
    col("scope", true, SCOPE_MAX_CHARS),
    col("activated_at", true, WORD_MAX_CHARS),
    col("ended_at", false, WORD_MAX_CHARS),
    Column {
        lines: Lines::Multi,
        ..col("justification", false, JUSTIFICATION_MAX_CHARS)
    },
];

impl ImportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::People => "people",
            ImportKind::Roles => "roles",
            ImportKind::Eligibility => "eligibility",
            ImportKind::Activations => "activations",
        }
    }

    /// How many extra columns (or JSON fields) a record keeps as attributes: people keep up to
    /// [`PERSON_ATTRIBUTES_MAX`](super::limits::PERSON_ATTRIBUTES_MAX), the rest none.
    pub fn attributes_kept(self) -> usize {
        match self {
            ImportKind::People => super::limits::PERSON_ATTRIBUTES_MAX,
            ImportKind::Roles | ImportKind::Eligibility | ImportKind::Activations => 0,
        }
    }

    /// The columns of this kind of file, in the order [`Record::values`] holds them.
    pub fn columns(self) -> &'static [Column] {
        match self {
            ImportKind::People => PEOPLE,
            ImportKind::Roles => ROLES,
            ImportKind::Eligibility => ELIGIBILITY,
            ImportKind::Activations => ACTIVATIONS,
        }
    }
}

/// One data row as read from a file, before validation. `values` follows
/// [`ImportKind::columns`]; `None` is an empty cell, a JSON `null` or an absent optional column.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// 1-based line in the file (the CSV header is line 1).
    pub line: u64,
    pub values: Vec<Option<String>>,
    /// The extra columns kept (people only): (column, value) for each one not empty.
    pub attributes: Vec<(String, String)>,
}

/// What is wrong with one row: where, which field and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RowError {
    pub line: u64,
    pub field: Option<String>,
    pub reason: String,
}

impl RowError {
    pub fn new(line: u64, field: Option<&str>, reason: impl Into<String>) -> Self {
        Self {
            line,
            field: field.map(str::to_string),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "line {}: {}: {}", self.line, field, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// A person or service account as the people file describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonRow {
    pub line: u64,
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    pub manager: Option<String>,
    pub kind: PrincipalKind,
    pub enabled: bool,
    pub timezone: Option<String>,
    /// The extra columns kept as attributes, as a JSON object of text (none when the file has
    /// no extra columns, or this person none filled in).
    pub attributes: Option<String>,
}

/// A privileged role as the roles file describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleRow {
    pub line: u64,
    pub name: String,
    pub owner: Option<String>,
    pub risk: Risk,
    pub description: Option<String>,
}

/// One principal × role × scope eligibility as the eligibility file describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct EligibilityRow {
    pub line: u64,
    pub principal: String,
    pub role: String,
    pub scope: String,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub last_activated_at: Option<DateTime<Utc>>,
    /// Eligible (the default, an empty cell too) or active: standing access.
    pub assignment: Assignment,
}

/// Reads the fields of a record by column name, turning each problem into a [`RowError`].
pub(super) struct Fields<'a> {
    kind: ImportKind,
    record: &'a Record,
}

impl<'a> Fields<'a> {
    /// Checks every value against its column's length limit and refuses control characters
    /// (a NUL would also fail PostgreSQL's insert), before any value is used.
    pub(super) fn new(kind: ImportKind, record: &'a Record) -> Result<Self, RowError> {
        for (column, value) in kind.columns().iter().zip(&record.values) {
            if let Some(value) = value {
                check_text(value, column.max_chars, column.lines)
                    .map_err(|reason| RowError::new(record.line, Some(column.name), reason))?;
            }
        }
        Ok(Self { kind, record })
    }

    pub(super) fn optional(&self, name: &str) -> Option<&'a str> {
        let index = self.kind.columns().iter().position(|c| c.name == name)?;
        self.record.values.get(index)?.as_deref()
    }

    pub(super) fn required(&self, name: &str) -> Result<&'a str, RowError> {
        self.optional(name)
            .ok_or_else(|| self.error(name, "is required and empty"))
    }

    pub(super) fn parse<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, RowError> {
        self.optional(name)
            .map(|text| parse(text).map_err(|reason| self.error(name, reason)))
            .transpose()
    }

    pub(super) fn error(&self, field: &str, reason: impl Into<String>) -> RowError {
        RowError::new(self.record.line, Some(field), reason)
    }
}

impl PersonRow {
    pub fn parse(record: &Record) -> Result<Self, RowError> {
        let f = Fields::new(ImportKind::People, record)?;
        let external_id = f.required("id")?.to_string();
        let manager = f.optional("manager_id").map(str::to_string);
        if manager.as_deref() == Some(external_id.as_str()) {
            return Err(f.error("manager_id", "a person cannot be their own manager"));
        }
        Ok(Self {
            line: record.line,
            name: f.required("name")?.to_string(),
            email: f.parse("email", parse_email)?,
            manager,
            kind: f
                .parse("kind", |s| s.parse())?
                .unwrap_or(PrincipalKind::User),
            enabled: f.parse("enabled", parse_bool)?.unwrap_or(true),
            timezone: f.parse("timezone", parse_timezone)?,
            attributes: attributes_json(record)?,
            external_id,
        })
    }
}

/// A person's kept extra columns as a JSON object (sorted by name); each value at most
/// [`ATTRIBUTE_VALUE_MAX_CHARS`](super::limits::ATTRIBUTE_VALUE_MAX_CHARS), one line.
fn attributes_json(record: &Record) -> Result<Option<String>, RowError> {
    use super::limits::{check_text, Lines, ATTRIBUTE_VALUE_MAX_CHARS};
    if record.attributes.is_empty() {
        return Ok(None);
    }
    let mut map = std::collections::BTreeMap::new();
    for (name, value) in &record.attributes {
        check_text(value, ATTRIBUTE_VALUE_MAX_CHARS, Lines::Single)
            .map_err(|reason| RowError::new(record.line, Some(name), reason))?;
        map.insert(name.as_str(), value.as_str());
    }
    serde_json::to_string(&map)
        .map(Some)
        .map_err(|e| RowError::new(record.line, None, e.to_string()))
}

impl RoleRow {
    pub fn parse(record: &Record) -> Result<Self, RowError> {
        let f = Fields::new(ImportKind::Roles, record)?;
        Ok(Self {
            line: record.line,
            name: f.required("name")?.to_string(),
            owner: f.optional("owner_id").map(str::to_string),
            risk: f
                .required("risk")?
                .parse()
                .map_err(|e: String| f.error("risk", e))?,
            description: f.optional("description").map(str::to_string),
        })
    }
}

impl EligibilityRow {
    pub fn parse(record: &Record) -> Result<Self, RowError> {
        let f = Fields::new(ImportKind::Eligibility, record)?;
        let start = f.parse("start", parse_timestamp)?;
        let end = f.parse("end", parse_timestamp)?;
        if let (Some(start), Some(end)) = (start, end) {
            if end < start {
                return Err(f.error("end", "is before start"));
            }
        }
        Ok(Self {
            line: record.line,
            principal: f.required("principal_id")?.to_string(),
            role: f.required("role")?.to_string(),
            scope: f.required("scope")?.to_string(),
            start,
            end,
            last_activated_at: f.parse("last_activated_at", parse_timestamp)?,
            assignment: f.parse("assignment", |s| s.parse())?.unwrap_or_default(),
        })
    }
}

/// A 128-bit fingerprint of a natural key, so duplicate detection over a million rows holds
/// 16 bytes a row instead of the rows themselves.
pub fn key_of(parts: &[&str]) -> u128 {
    let mut buf = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for part in parts {
        buf.extend_from_slice(part.as_bytes());
        buf.push(0x1f);
    }
    xxhash_rust::xxh3::xxh3_128(&buf)
}

/// RFC 3339, or a bare `YYYY-MM-DD` meaning midnight UTC; kept to microseconds, the precision
/// both databases store.
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc).trunc_subsecs(6));
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        if let Some(midnight) = day.and_hms_opt(0, 0, 0) {
            return Ok(midnight.and_utc());
        }
    }
    Err(format!(
        "{} is not a date (expected YYYY-MM-DD or RFC 3339 like 2026-01-31T09:00:00Z)",
        quote(text)
    ))
}

fn parse_bool(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(format!("{} is not true or false", quote(text))),
    }
}

fn parse_email(text: &str) -> Result<String, String> {
    let valid = text.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !text.chars().any(char::is_whitespace)
    });
    if valid {
        Ok(text.to_string())
    } else {
        Err(format!("{} is not an email address", quote(text)))
    }
}

fn parse_timezone(text: &str) -> Result<String, String> {
    text.parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_string())
        .map_err(|_| {
            format!(
                "{} is not an IANA time zone (like Europe/Berlin)",
                quote(text)
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: ImportKind, pairs: &[(&str, &str)]) -> Record {
        let values = kind
            .columns()
            .iter()
            .map(|c| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == c.name)
                    .map(|(_, v)| v.to_string())
                    .filter(|v| !v.is_empty())
            })
            .collect();
        Record {
            line: 7,
            values,
            attributes: Vec::new(),
        }
    }

    #[test]
    fn person_defaults_and_checks() {
        let rec = record(
            ImportKind::People,
            &[("id", "u1"), ("name", "Ana"), ("email", "a@x.test")],
        );
        let person = PersonRow::parse(&rec).unwrap();
        assert_eq!(person.kind, PrincipalKind::User);
        assert!(person.enabled);

        let rec = record(
            ImportKind::People,
            &[("id", "u1"), ("name", "Ana"), ("manager_id", "u1")],
        );
        let err = PersonRow::parse(&rec).unwrap_err();
        assert_eq!((err.line, err.field.as_deref()), (7, Some("manager_id")));

        let rec = record(
            ImportKind::People,
            &[("id", "u1"), ("name", "A"), ("timezone", "Mars/Base")],
        );
        assert_eq!(
            PersonRow::parse(&rec).unwrap_err().field.as_deref(),
            Some("timezone")
        );
    }

    #[test]
    fn dates_accept_day_and_rfc3339_only() {
        assert_eq!(
            parse_timestamp("2025-01-10").unwrap().to_rfc3339(),
            "2025-01-10T00:00:00+00:00"
        );
        assert_eq!(
            parse_timestamp("2026-10-01T10:00:00+02:00")
                .unwrap()
                .to_rfc3339(),
            "2026-10-01T08:00:00+00:00"
        );
        assert!(parse_timestamp("2025-13-01").is_err());
        assert!(parse_timestamp("10/01/2025").is_err());
    }

    #[test]
    fn eligibility_end_before_start_is_refused() {
        let rec = record(
            ImportKind::Eligibility,
            &[
                ("principal_id", "u1"),
                ("role", "R"),
                ("scope", "/"),
                ("start", "2025-02-01"),
                ("end", "2025-01-01"),
            ],
        );
        assert_eq!(
            EligibilityRow::parse(&rec).unwrap_err().field.as_deref(),
            Some("end")
        );
    }

    #[test]
    fn long_values_and_control_characters_are_refused_by_field() {
        let long = "A".repeat(NAME_MAX_CHARS + 1);
        let rec = record(ImportKind::People, &[("id", "u1"), ("name", &long)]);
        let err = PersonRow::parse(&rec).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("name"));
        assert_eq!(
            err.reason,
            format!("longer than 256 characters (\"{}…\")", "A".repeat(40))
        );
        let rec = record(ImportKind::People, &[("id", "u1"), ("name", "A\0na")]);
        let err = PersonRow::parse(&rec).unwrap_err();
        assert_eq!(
            (err.field.as_deref(), err.reason.as_str()),
            (Some("name"), "contains a control character (U+0000)")
        );
        // A description may span lines; a role name may not.
        let rec = record(
            ImportKind::Roles,
            &[
                ("name", "R"),
                ("risk", "low"),
                ("description", "two\r\nlines"),
            ],
        );
        RoleRow::parse(&rec).unwrap();
        let rec = record(ImportKind::Roles, &[("name", "R\nX"), ("risk", "low")]);
        assert_eq!(
            RoleRow::parse(&rec).unwrap_err().field.as_deref(),
            Some("name")
        );
    }

    #[test]
    fn keys_separate_their_parts() {
        assert_ne!(key_of(&["ab", "c"]), key_of(&["a", "bc"]));
    }
}
