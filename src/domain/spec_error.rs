//! What is wrong with a campaign definition, key by key, and the small parsers of its words
//! that report into that list (used by `domain::definition`).

use super::limits::{bytes_text, DEFINITION_MAX_BYTES};
use serde::Serialize;
use std::fmt;

/// A definition over [`DEFINITION_MAX_BYTES`]: refused before it is parsed.
pub fn too_large() -> SpecError {
    problem(
        "file",
        format!(
            "larger than {} (the most a definition may be)",
            bytes_text(DEFINITION_MAX_BYTES as u64)
        ),
    )
}

/// One thing wrong with a definition: the key and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecError {
    pub key: String,
    pub reason: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

pub(super) fn problem(key: &str, reason: impl Into<String>) -> SpecError {
    SpecError {
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// Each word of `key` parsed; a word that does not parse is reported and left out.
pub(super) fn parse_all<T: std::str::FromStr<Err = String>>(
    words: &[String],
    key: &str,
    errors: &mut Vec<SpecError>,
) -> Vec<T> {
    words
        .iter()
        .filter_map(|w| w.parse().map_err(|e| errors.push(problem(key, e))).ok())
        .collect()
}

/// An optional word of `key`: its default when absent (or already refused for its length).
pub(super) fn parse_optional<T: std::str::FromStr<Err = String> + Default>(
    word: Option<&str>,
    key: &str,
    errors: &mut Vec<SpecError>,
) -> T {
    word.map_or_else(T::default, |w| {
        w.parse()
            .map_err(|e| errors.push(problem(key, e)))
            .unwrap_or_default()
    })
}
