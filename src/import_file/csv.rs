//! Reads a CSV import file: a header row, then one record a line (RFC 4180 quoting, CRLF or LF,
//! an optional BOM), each reported at the line it starts on.

use super::bounded_read::{too_long, Budget, Budgeted, TailReader};
use super::columns::{csv_record, map_header};
use super::ReadError;
use crate::domain::limits::{
    bytes_text, clip_message, CSV_HEADER_MAX_BYTES, IMPORT_COLUMNS_MAX, IMPORT_RECORD_MAX_BYTES,
};
use crate::domain::records::{ImportKind, Record, RowError};
use std::io::{BufRead, BufReader, Read};
use std::rc::Rc;

/// What the CSV reader may have read ahead of the record it is parsing: its own buffer and
/// the [`BufReader`] under it.
const CSV_READ_AHEAD: u64 = 128 * 1024;

pub(super) fn read_csv(
    input: impl Read,
    kind: ImportKind,
    sink: &mut impl FnMut(Result<Record, RowError>) -> bool,
) -> Result<(u64, Vec<String>), ReadError> {
    let budget = Rc::new(Budget::new(CSV_HEADER_MAX_BYTES as u64 + CSV_READ_AHEAD));
    let mut input = BufReader::with_capacity(
        64 * 1024,
        TailReader {
            inner: Budgeted {
                inner: input,
                budget: Rc::clone(&budget),
            },
            last: 0,
        },
    );
    let head = input.fill_buf()?;
    let crlf = head
        .iter()
        .position(|b| *b == b'\n')
        .is_some_and(|i| i > 0 && head[i - 1] == b'\r');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(input);
    let header = match reader.byte_headers() {
        Ok(header) if header.as_slice().len() <= CSV_HEADER_MAX_BYTES => header.clone(),
        Err(e) if !budget.exceeded.get() => return Err(csv_fatal(e)),
        _ => {
            return Err(ReadError::Invalid(RowError::new(
                1,
                None,
                format!(
                    "the header is longer than {} (the most a CSV header may be)",
                    bytes_text(CSV_HEADER_MAX_BYTES as u64)
                ),
            )))
        }
    };
    if header.len() > IMPORT_COLUMNS_MAX {
        return Err(ReadError::Invalid(RowError::new(
            1,
            None,
            format!(
                "the header has {} columns; a file may have at most {IMPORT_COLUMNS_MAX}",
                header.len()
            ),
        )));
    }
    let names: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let name = String::from_utf8_lossy(raw);
            let name = if i == 0 {
                name.trim_start_matches('\u{feff}')
            } else {
                &name
            };
            name.trim().to_ascii_lowercase()
        })
        .collect();
    let (positions, extras, warnings) = map_header(&names, kind.columns(), kind.attributes_kept())?;

    // The csv crate skips blank lines silently and reports a record at the line where it
    // started looking, and after a CRLF it has not yet counted the "\n". So a record's line is
    // worked out from where it ended: the reader's line after it, less the line breaks inside
    // its fields, less the one ending it (if the reader has consumed it). Whether the last
    // record was ended by a line break is only known at the end of the file, hence one record
    // of look-ahead.
    let mut count = 0;
    let mut current = csv::ByteRecord::new();
    let mut next = csv::ByteRecord::new();
    let mut has_current = read_bounded(&mut reader, &mut current, &budget, crlf)?;
    let mut current_end = reader.position().line();
    while has_current {
        let has_next = read_bounded(&mut reader, &mut next, &budget, crlf)?;
        let next_end = reader.position().line();
        let ended_by_newline = !crlf && (has_next || reader.get_ref().get_ref().last == b'\n');
        let breaks_inside = current.as_slice().iter().filter(|b| **b == b'\n').count() as u64;
        let started = current.position().map_or(0, |p| p.line());
        let line = started.max(current_end - breaks_inside - u64::from(ended_by_newline));
        if !(current.len() == 1 && current.get(0).is_some_and(<[u8]>::is_empty)) {
            count += 1;
            let record = if current.as_slice().len() > IMPORT_RECORD_MAX_BYTES {
                Err(too_long(line))
            } else if current.len() != names.len() {
                Err(RowError::new(
                    line,
                    None,
                    format!(
                        "has {} fields, the header has {}",
                        current.len(),
                        names.len()
                    ),
                ))
            } else {
                csv_record(&current, line, &positions, kind.columns(), &extras)
            };
            if !sink(record) {
                break;
            }
        }
        std::mem::swap(&mut current, &mut next);
        current_end = next_end;
        has_current = has_next;
    }
    Ok((count, warnings))
}

/// Reads the next CSV record, allowing the reader [`IMPORT_RECORD_MAX_BYTES`] (and its
/// read-ahead) past the end of the previous one.
fn read_bounded<R: Read>(
    reader: &mut csv::Reader<R>,
    record: &mut csv::ByteRecord,
    budget: &Budget,
    crlf: bool,
) -> Result<bool, ReadError> {
    let start = reader.position().clone();
    budget.allow_from(
        start.byte(),
        IMPORT_RECORD_MAX_BYTES as u64 + CSV_READ_AHEAD,
    );
    reader.read_byte_record(record).map_err(|e| {
        if budget.exceeded.get() {
            // After a CRLF the reader has not yet counted the "\n" of the line before.
            ReadError::Invalid(too_long(start.line() + u64::from(crlf)))
        } else {
            csv_fatal(e)
        }
    })
}

fn csv_fatal(e: csv::Error) -> ReadError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(io) => ReadError::Io(io),
        other => ReadError::Invalid(RowError::new(
            line,
            None,
            clip_message(&format!("{other:?}")).into_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_files::{read, values};
    use super::super::ReadError;
    use crate::domain::records::ImportKind;
    use sha2::{Digest, Sha256};

    #[test]
    fn csv_with_bom_crlf_quotes_and_reordered_columns() {
        let csv = "\u{feff}role,principal_id,scope,extra\r\n\"Admin, Global\",\"u\"\"1\",/,x\r\nReader,ü2,/prod,\r\n";
        let (rows, summary) = read("e.csv", csv.as_bytes(), ImportKind::Eligibility);
        let summary = summary.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            values(&rows[0])[..3],
            [Some("u\"1"), Some("Admin, Global"), Some("/")]
        );
        let lines: Vec<u64> = rows.iter().map(|r| r.as_ref().unwrap().line).collect();
        assert_eq!(lines, vec![2, 3]);
        assert_eq!(
            summary.warnings,
            vec!["unknown column \"extra\" ignored".to_string()]
        );
        assert_eq!(summary.sha256, hex::encode(Sha256::digest(csv.as_bytes())));
    }

    #[test]
    fn csv_lines_survive_blank_lines_quoted_breaks_and_a_missing_final_newline() {
        for (text, expected) in [
            ("principal_id,role,scope\nu1,R,/\n\n\nu2,R,/", vec![2, 5]),
            (
                "principal_id,role,scope\r\n\r\nu1,R,/\r\n\"u\r\n2\",R,/\r\nu3,R,/\r\n",
                vec![3, 4, 6],
            ),
            (
                "principal_id,role,scope\nu1,R,\"/a\n/b\"\nu2,R,/\n",
                vec![2, 4],
            ),
        ] {
            let (rows, summary) = read("e.csv", text.as_bytes(), ImportKind::Eligibility);
            summary.unwrap();
            let lines: Vec<u64> = rows.iter().map(|r| r.as_ref().unwrap().line).collect();
            assert_eq!(lines, expected, "{text:?}");
        }
    }

    #[test]
    fn csv_missing_required_column_is_fatal_at_line_1() {
        let (_, summary) = read(
            "e.csv",
            b"principal_id,scope\nu1,/\n",
            ImportKind::Eligibility,
        );
        match summary {
            Err(ReadError::Invalid(e)) => {
                assert_eq!((e.line, e.field.as_deref()), (1, Some("role")))
            }
            other => panic!("{other:?}"),
        }
    }
}
