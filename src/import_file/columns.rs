//! Maps a file's header (or a JSON object's keys) onto the columns an import expects, and builds
//! each record's values in the expected order.

use super::json_object::{JsonObject, JsonValue};
use super::ReadError;
use crate::domain::limits::{clip, clip_to, quote, IMPORT_COLUMNS_MAX, IMPORT_WARNINGS_MAX};
use crate::domain::records::{Column, Record, RowError};
use std::collections::BTreeSet;

/// For each expected column, its position in the header; unknown columns become warnings and a
/// missing required column ends the import before any row is read.
pub(super) fn map_header(
    names: &[String],
    columns: &[Column],
) -> Result<(Vec<Option<usize>>, Vec<String>), ReadError> {
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
    let unknown: Vec<&String> = names
        .iter()
        .filter(|n| !columns.iter().any(|c| c.name == n.as_str()))
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
    Ok((positions, warnings))
}

pub(super) fn csv_record(
    row: &csv::ByteRecord,
    line: u64,
    positions: &[Option<usize>],
    columns: &[Column],
) -> Result<Record, RowError> {
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
    Ok(Record { line, values })
}

pub(super) fn json_record(
    mut object: JsonObject,
    line: u64,
    columns: &[Column],
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
    Ok(Record { line, values })
}
