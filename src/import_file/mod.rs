//! Streams the records of a CSV or JSON import file without holding the file in memory.
//!
//! CSV: a header row, then one record a line (RFC 4180 quoting, CRLF or LF, an optional BOM).
//! JSON: an array of objects, or one object a line (JSON Lines); a key given twice or a value
//! of the wrong type is a bad row. Both report the 1-based line where each record starts, so
//! errors can point at it. The file's SHA-256 is computed on the way.
//!
//! No record is held beyond [`IMPORT_RECORD_MAX_BYTES`] (the CSV header beyond
//! [`CSV_HEADER_MAX_BYTES`]): a longer one ends the read at its line, so a file without line
//! breaks cannot fill the memory.
//!
//! [`IMPORT_RECORD_MAX_BYTES`]: crate::domain::limits::IMPORT_RECORD_MAX_BYTES
//! [`CSV_HEADER_MAX_BYTES`]: crate::domain::limits::CSV_HEADER_MAX_BYTES
//!
//! `csv` and `json` parse; `bounded_read` holds the readers that hash the file, count its
//! lines and refuse an over-long record; `columns` maps headers and builds records.

mod bounded_read;
mod columns;
mod csv;
mod json;
mod json_object;

use self::csv::read_csv;
use crate::domain::records::{ImportKind, Record, RowError};
use bounded_read::HashingReader;
use json::read_json;
use sha2::Digest;
use std::io::{self, Read};
use std::path::Path;

/// What was read, once the whole file has been.
#[derive(Debug, Clone)]
pub struct FileSummary {
    pub sha256: String,
    pub records: u64,
    /// Things worth telling the user that do not stop the import (unknown columns).
    pub warnings: Vec<String>,
}

/// Why a file could not be read at all (as opposed to a bad row, which is reported and skipped).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Invalid(RowError),
}

/// The file formats attest reads, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Json,
}

impl FileFormat {
    pub fn of(path: &Path) -> Result<Self, String> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => Ok(FileFormat::Csv),
            Some("json" | "jsonl" | "ndjson") => Ok(FileFormat::Json),
            _ => Err(format!(
                "{}: unknown file type (expected .csv, .json, .jsonl or .ndjson)",
                path.display()
            )),
        }
    }
}

/// Reads every record of `content` (in `format`) into `sink`, which returns `false` to stop
/// early. Row-level problems reach the sink as `Err`; only file-level ones end the read with an
/// error.
pub fn read_records(
    content: impl Read,
    format: FileFormat,
    kind: ImportKind,
    mut sink: impl FnMut(Result<Record, RowError>) -> bool,
) -> Result<FileSummary, ReadError> {
    let mut hashing = HashingReader::new(content);
    let (records, warnings) = match format {
        FileFormat::Csv => read_csv(&mut hashing, kind, &mut sink)?,
        FileFormat::Json => read_json(&mut hashing, kind, &mut sink)?,
    };
    // Whatever the parser left unread (trailing whitespace) still belongs to the file's hash.
    io::copy(&mut hashing, &mut io::sink())?;
    Ok(FileSummary {
        sha256: hex::encode(hashing.hasher.finalize()),
        records,
        warnings,
    })
}

/// The small import files the parsers' tests read back.
#[cfg(test)]
mod test_files {
    use super::*;

    pub(super) fn read(
        name: &str,
        content: &[u8],
        kind: ImportKind,
    ) -> (
        Vec<Result<Record, RowError>>,
        Result<FileSummary, ReadError>,
    ) {
        let format = match FileFormat::of(std::path::Path::new(name)) {
            Ok(format) => format,
            Err(reason) => {
                return (
                    Vec::new(),
                    Err(ReadError::Invalid(RowError::new(0, None, reason))),
                )
            }
        };
        let mut out = Vec::new();
        let summary = read_records(content, format, kind, |r| {
            out.push(r);
            true
        });
        (out, summary)
    }

    pub(super) fn values(r: &Result<Record, RowError>) -> Vec<Option<&str>> {
        r.as_ref()
            .unwrap()
            .values
            .iter()
            .map(|v| v.as_deref())
            .collect()
    }

    pub(super) fn fatal(summary: Result<FileSummary, ReadError>) -> RowError {
        match summary {
            Err(ReadError::Invalid(e)) => e,
            other => panic!("{other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_files::{fatal, read};
    use crate::domain::limits::IMPORT_RECORD_MAX_BYTES;
    use crate::domain::records::ImportKind;

    #[test]
    fn an_over_long_record_ends_the_read_at_its_line() {
        let long = "A".repeat(10 * 1024 * 1024);
        let csv = format!("principal_id,role,scope\nu1,R,/\nu2,R,{long}\nu3,R,/\n");
        let err = fatal(read("e.csv", csv.as_bytes(), ImportKind::Eligibility).1);
        assert_eq!(err.line, 3, "{err}");
        assert!(err.reason.contains("longer than 64 KiB"), "{err}");
        // Just over the limit: a bad row, and the reading goes on.
        let csv = format!(
            "principal_id,role,scope\r\nu2,R,{}\r\nu3,R,/\r\n",
            "B".repeat(IMPORT_RECORD_MAX_BYTES)
        );
        let (rows, summary) = read("e.csv", csv.as_bytes(), ImportKind::Eligibility);
        summary.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].as_ref().unwrap_err().line, 2);

        let header = format!("principal_id,role,scope,{long}\nu1,R,/\n");
        let err = fatal(read("e.csv", header.as_bytes(), ImportKind::Eligibility).1);
        assert_eq!(err.line, 1);
        assert!(err.to_string().len() < 120, "{err}");

        let wide = format!("principal_id,role,scope,{}\n", vec!["x"; 100].join(","));
        let err = fatal(read("e.csv", wide.as_bytes(), ImportKind::Eligibility).1);
        assert!(err.reason.contains("103 columns"), "{err}");

        let json = format!("{{\"principal_id\":\"u1\",\"role\":\"R\",\"scope\":\"/\"}}\n{{\"principal_id\":\"{long}\"}}\n");
        let err = fatal(read("e.jsonl", json.as_bytes(), ImportKind::Eligibility).1);
        assert_eq!(err.line, 2, "{err}");
        let json = format!("[\"{long}\"]");
        let err = fatal(read("e.json", json.as_bytes(), ImportKind::Eligibility).1);
        assert!(err.to_string().len() < 120, "{err}");
    }
}
