//! Maps a file's header (or a JSON object's keys) onto the columns an import expects, and builds
//! each record's values in the expected order.

use super::json_object::{JsonObject, JsonValue};
use super::ReadError;
use crate::domain::limits::{
    clip, clip_to, quote, IMPORT_COLUMNS_MAX, IMPORT_WARNINGS_MAX, WORD_MAX_CHARS,
};
use crate::domain::records::{Column, Record, RowError};
use std::collections::BTreeSet;

/// For each expected column, its position in the header; unknown columns become warnings and a
/// missing required column ends the import before any row is read.
/// The header mapped: each expected column's position, the extra columns kept as attributes
/// (name, position), and the warnings.
pub(super) type Header = (Vec<Option<usize>>, Vec<(String, usize)>, Vec<String>);

/// For each expected column, its position in the header; the first `keep` unknown columns are
/// kept as attributes (people), the others become warnings; a missing required column ends the
/// import before any row is read.
pub(super) fn map_header(
    names: &[String],
    columns: &[Column],
    keep: usize,
) -> Result<Header, ReadError> {
    let mut seen = BTreeSet::new();
    for name in names {
        if !seen.insert(name.as_str()) {
            return Err(ReadError::Invalid(RowError::new(
                1,
                Some(&clip(name)),
                "column appears twice in the header",
            )));
        }
    }
    let positions: Vec<Option<usize>> = columns
        .iter()
        .map(|c| names.iter().position(|n| n == c.name))
        .collect();
    if let Some(missing) = columns
        .iter()
        .zip(&positions)
        .find(|(c, p)| c.required && p.is_none())
    {
        return Err(ReadError::Invalid(RowError::new(
            1,
            Some(missing.0.name),
            format!(
                "required column is missing (the header has: {})",
                clip_to(&names.join(", "), 120)
            ),
        )));
    }
    let mut extras = Vec::new();
    let unknown: Vec<&String> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| !columns.iter().any(|c| c.name == n.as_str()))
        .filter(|(i, n)| {
            let kept = extras.len() < keep && !n.is_empty() && n.chars().count() <= WORD_MAX_CHARS;
            if kept {
                extras.push((n.to_string(), *i));
            }
            !kept
        })
        .map(|(_, n)| n)
        .collect();
    let mut warnings: Vec<String> = unknown
        .iter()
        .take(IMPORT_WARNINGS_MAX)
        .map(|n| format!("unknown column {} ignored", quote(n)))
        .collect();
    if unknown.len() > IMPORT_WARNINGS_MAX {
        warnings.push(format!(
            "and {} more unknown columns ignored",
            unknown.len() - IMPORT_WARNINGS_MAX
        ));
    }
    if keep > 0 && !unknown.is_empty() {
        // Once, not on every line: each warning stays short.
        warnings.push(format!(
            "a person keeps at most {keep} extra columns as attributes, each named in at most {WORD_MAX_CHARS} characters"
        ));
    }
    Ok((positions, extras, warnings))
}

pub(super) fn csv_record(
    row: &csv::ByteRecord,
    line: u64,
    positions: &[Option<usize>],
    columns: &[Column],
    extras: &[(String, usize)],
) -> Result<Record, RowError> {
    let mut attributes = Vec::new();
    for (name, position) in extras {
        if let Some(raw) = row.get(*position).filter(|raw| !raw.is_empty()) {
            let value = std::str::from_utf8(raw)
                .map_err(|_| RowError::new(line, Some(name), "is not valid UTF-8"))?;
            attributes.push((name.clone(), value.to_string()));
        }
    }
    let mut values = Vec::with_capacity(positions.len());
    for (column, position) in columns.iter().zip(positions) {
        let value = match position.and_then(|p| row.get(p)) {
            None | Some(b"") => None,
            Some(raw) => Some(
                std::str::from_utf8(raw)
                    .map_err(|_| RowError::new(line, Some(column.name), "is not valid UTF-8"))?
                    .to_string(),
            ),
        };
        values.push(value);
    }
    Ok(Record {
        line,
        values,
        attributes,
    })
}

/// The JSON fields of a record kept as attributes: the first `keep` fields that are not
/// expected columns (in the record's order), named in at most `WORD_MAX_CHARS`, holding a
/// string or null. Any other field is unknown: warned about and ignored.
pub(super) fn kept_fields(object: &JsonObject, columns: &[Column], keep: usize) -> Vec<String> {
    object
        .fields
        .iter()
        .filter(|(k, _)| !columns.iter().any(|c| c.name == k.as_str()))
        .filter(|(k, _)| !k.is_empty() && k.chars().count() <= WORD_MAX_CHARS)
        .filter(|(_, v)| matches!(v, JsonValue::Text(_) | JsonValue::Null))
        .take(keep)
        .map(|(k, _)| k.clone())
        .collect()
}

pub(super) fn json_record(
    mut object: JsonObject,
    line: u64,
    columns: &[Column],
    keep: usize,
) -> Result<Record, RowError> {
    if let Some(key) = &object.duplicate {
        return Err(RowError::new(line, Some(&clip(key)), "duplicate key"));
    }
    if object.too_many {
        return Err(RowError::new(
            line,
            None,
            format!("has more than {IMPORT_COLUMNS_MAX} fields"),
        ));
    }
    let mut values = Vec::with_capacity(columns.len());
    for column in columns {
        let found = object
            .fields
            .iter_mut()
            .find(|(k, _)| k == column.name)
            .map(|(_, v)| std::mem::replace(v, JsonValue::Null));
        let value = match found {
            None if column.required => {
                return Err(RowError::new(
                    line,
                    Some(column.name),
                    "is missing from this record",
                ))
            }
            None | Some(JsonValue::Null) => None,
            Some(JsonValue::Text(s)) if s.is_empty() => None,
            Some(JsonValue::Text(s)) => Some(s),
            Some(JsonValue::Bool(b)) if column.boolean => Some(b.to_string()),
            Some(other) => {
                let expected = if column.boolean {
                    "true, false or a string"
                } else {
                    "a string"
                };
                return Err(RowError::new(
                    line,
                    Some(column.name),
                    format!("expected {expected}, found {}", other.kind()),
                ));
            }
        };
        values.push(value);
    }
    let kept = kept_fields(&object, columns, keep);
    let mut attributes = Vec::new();
    for name in kept {
        let Some((_, value)) = object.fields.iter_mut().find(|(k, _)| *k == name) else {
            continue;
        };
        match std::mem::replace(value, JsonValue::Null) {
            JsonValue::Null => {}
            JsonValue::Text(s) if s.is_empty() => {}
            JsonValue::Text(s) => attributes.push((name, s)),
            other => {
                return Err(RowError::new(
                    line,
                    Some(&name),
                    format!("expected a string, found {}", other.kind()),
                ))
            }
        }
    }
    Ok(Record {
        line,
        values,
        attributes,
    })
}
