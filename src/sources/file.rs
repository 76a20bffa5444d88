//! Streams the records of a CSV or JSON import file without holding the file in memory.
//!
//! CSV: a header row, then one record a line (RFC 4180 quoting, CRLF or LF, an optional BOM).
//! JSON: an array of objects, or one object a line (JSON Lines). Both report the 1-based line
//! where each record starts, so errors can point at it. The file's SHA-256 is computed on the way.

use crate::domain::records::{Column, ImportKind, Record, RowError};
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::cell::Cell;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

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

/// Reads every record of `path` into `sink`, which returns `false` to stop early.
/// Row-level problems reach the sink as `Err`; only file-level ones end the read with an error.
pub fn read_records(
    path: &Path,
    kind: ImportKind,
    mut sink: impl FnMut(Result<Record, RowError>) -> bool,
) -> Result<FileSummary, ReadError> {
    let format = FileFormat::of(path)
        .map_err(|reason| ReadError::Invalid(RowError::new(0, None, reason)))?;
    let file = File::open(path)?;
    let mut hashing = HashingReader::new(file);
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

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R> HashingReader<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

fn read_csv(
    input: impl Read,
    kind: ImportKind,
    sink: &mut impl FnMut(Result<Record, RowError>) -> bool,
) -> Result<(u64, Vec<String>), ReadError> {
    let mut input = BufReader::with_capacity(
        64 * 1024,
        TailReader {
            inner: input,
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
    let header = reader.byte_headers().map_err(csv_fatal)?.clone();
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
    let (positions, warnings) = map_header(&names, kind.columns())?;

    // The csv crate skips blank lines silently and reports a record at the line where it
    // started looking, and after a CRLF it has not yet counted the "\n". So a record's line is
    // worked out from where it ended: the reader's line after it, less the line breaks inside
    // its fields, less the one ending it (if the reader has consumed it). Whether the last
    // record was ended by a line break is only known at the end of the file, hence one record
    // of look-ahead.
    let mut count = 0;
    let mut current = csv::ByteRecord::new();
    let mut next = csv::ByteRecord::new();
    let mut has_current = reader.read_byte_record(&mut current).map_err(csv_fatal)?;
    let mut current_end = reader.position().line();
    while has_current {
        let has_next = reader.read_byte_record(&mut next).map_err(csv_fatal)?;
        let next_end = reader.position().line();
        let ended_by_newline = !crlf && (has_next || reader.get_ref().get_ref().last == b'\n');
        let breaks_inside = current.as_slice().iter().filter(|b| **b == b'\n').count() as u64;
        let started = current.position().map_or(0, |p| p.line());
        let line = started.max(current_end - breaks_inside - u64::from(ended_by_newline));
        if !(current.len() == 1 && current.get(0).is_some_and(<[u8]>::is_empty)) {
            count += 1;
            let record = if current.len() != names.len() {
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
                csv_record(&current, line, &positions, kind.columns())
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

/// Remembers the last byte read, so the CSV reader can tell whether the file ends with a newline.
struct TailReader<R> {
    inner: R,
    last: u8,
}

impl<R: Read> Read for TailReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.last = buf[n - 1];
        }
        Ok(n)
    }
}

/// For each expected column, its position in the header; unknown columns become warnings and a
/// missing required column ends the import before any row is read.
fn map_header(
    names: &[String],
    columns: &[Column],
) -> Result<(Vec<Option<usize>>, Vec<String>), ReadError> {
    let mut seen = BTreeSet::new();
    for name in names {
        if !seen.insert(name.as_str()) {
            return Err(ReadError::Invalid(RowError::new(
                1,
                Some(name),
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
                names.join(", ")
            ),
        )));
    }
    let warnings = names
        .iter()
        .filter(|n| !columns.iter().any(|c| c.name == n.as_str()))
        .map(|n| format!("unknown column \"{n}\" ignored"))
        .collect();
    Ok((positions, warnings))
}

fn csv_record(
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

fn csv_fatal(e: csv::Error) -> ReadError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(io) => ReadError::Io(io),
        other => ReadError::Invalid(RowError::new(line, None, format!("{other:?}"))),
    }
}

/// Counts the lines the JSON parser has consumed and notes the line of the next record's `{`.
#[derive(Default)]
struct LinePosition {
    newlines: Cell<u64>,
    awaiting_start: Cell<bool>,
    start_line: Cell<u64>,
}

impl LinePosition {
    fn expect_record(&self) {
        self.awaiting_start.set(true);
    }

    fn record_line(&self) -> u64 {
        if self.awaiting_start.get() {
            self.newlines.get() + 1
        } else {
            self.start_line.get()
        }
    }
}

struct LineCounting<R> {
    inner: R,
    position: Rc<LinePosition>,
}

impl<R: Read> Read for LineCounting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let p = &self.position;
        for &byte in &buf[..n] {
            if byte == b'{' && p.awaiting_start.get() {
                p.awaiting_start.set(false);
                p.start_line.set(p.newlines.get() + 1);
            } else if byte == b'\n' {
                p.newlines.set(p.newlines.get() + 1);
            }
        }
        Ok(n)
    }
}

fn read_json(
    input: impl Read,
    kind: ImportKind,
    sink: &mut impl FnMut(Result<Record, RowError>) -> bool,
) -> Result<(u64, Vec<String>), ReadError> {
    let mut buffered = BufReader::with_capacity(64 * 1024, input);
    let head = buffered.fill_buf()?;
    let bom = head.starts_with(b"\xEF\xBB\xBF");
    let is_array = head[if bom { 3 } else { 0 }..]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'[');
    if bom {
        buffered.consume(3);
    }
    let position = Rc::new(LinePosition::default());
    let counted = LineCounting {
        inner: buffered,
        position: Rc::clone(&position),
    };
    let mut state = JsonState {
        kind,
        position,
        count: 0,
        stopped: false,
        unknown: BTreeSet::new(),
        sink,
    };
    let outcome = if is_array {
        let mut de = serde_json::Deserializer::from_reader(counted);
        ArraySeed(&mut state)
            .deserialize(&mut de)
            .and_then(|()| de.end())
    } else {
        read_json_lines(counted, &mut state)
    };
    if let Err(e) = outcome {
        if !state.stopped {
            return Err(ReadError::Invalid(RowError::new(
                e.line() as u64,
                None,
                format!("malformed JSON: {e}"),
            )));
        }
    }
    let warnings = state
        .unknown
        .iter()
        .map(|n| format!("unknown field \"{n}\" ignored"))
        .collect();
    Ok((state.count, warnings))
}

struct JsonState<'s, S> {
    kind: ImportKind,
    position: Rc<LinePosition>,
    count: u64,
    stopped: bool,
    unknown: BTreeSet<String>,
    sink: &'s mut S,
}

impl<S: FnMut(Result<Record, RowError>) -> bool> JsonState<'_, S> {
    /// Hands one object to the sink; returns whether to go on.
    fn accept(&mut self, object: Map<String, Value>) -> bool {
        let line = self.position.record_line();
        self.count += 1;
        for key in object.keys() {
            if !self.kind.columns().iter().any(|c| c.name == key) && !self.unknown.contains(key) {
                self.unknown.insert(key.clone());
            }
        }
        let record = json_record(object, line, self.kind.columns());
        if !(self.sink)(record) {
            self.stopped = true;
        }
        !self.stopped
    }
}

fn read_json_lines<R: Read, S: FnMut(Result<Record, RowError>) -> bool>(
    input: R,
    state: &mut JsonState<'_, S>,
) -> Result<(), serde_json::Error> {
    let mut stream = serde_json::Deserializer::from_reader(input).into_iter::<Map<String, Value>>();
    loop {
        state.position.expect_record();
        match stream.next() {
            None => return Ok(()),
            Some(object) => {
                if !state.accept(object?) {
                    return Ok(());
                }
            }
        }
    }
}

struct ArraySeed<'a, 's, S>(&'a mut JsonState<'s, S>);

impl<'de, S: FnMut(Result<Record, RowError>) -> bool> DeserializeSeed<'de>
    for ArraySeed<'_, '_, S>
{
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, S: FnMut(Result<Record, RowError>) -> bool> Visitor<'de> for ArraySeed<'_, '_, S> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            self.0.position.expect_record();
            match seq.next_element::<Map<String, Value>>()? {
                Some(object) => {
                    if !self.0.accept(object) {
                        return Err(serde::de::Error::custom("stopped"));
                    }
                }
                None => return Ok(()),
            }
        }
    }
}

fn json_record(
    mut object: Map<String, Value>,
    line: u64,
    columns: &[Column],
) -> Result<Record, RowError> {
    let mut values = Vec::with_capacity(columns.len());
    for column in columns {
        let value = match object.remove(column.name) {
            None if column.required => {
                return Err(RowError::new(
                    line,
                    Some(column.name),
                    "is missing from this record",
                ))
            }
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(s),
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(_) => {
                return Err(RowError::new(
                    line,
                    Some(column.name),
                    "must be a string, number, boolean or null",
                ))
            }
        };
        values.push(value);
    }
    Ok(Record { line, values })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read(
        name: &str,
        content: &[u8],
        kind: ImportKind,
    ) -> (
        Vec<Result<Record, RowError>>,
        Result<FileSummary, ReadError>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        File::create(&path).unwrap().write_all(content).unwrap();
        let mut out = Vec::new();
        let summary = read_records(&path, kind, |r| {
            out.push(r);
            true
        });
        (out, summary)
    }

    fn values(r: &Result<Record, RowError>) -> Vec<Option<&str>> {
        r.as_ref()
            .unwrap()
            .values
            .iter()
            .map(|v| v.as_deref())
            .collect()
    }

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

    #[test]
    fn json_array_reports_the_line_each_record_starts_on() {
        let json = "\u{feff}[\n  {\"principal_id\": \"u1\", \"role\": \"R\", \"scope\": \"/\"},\n  {\n    \"principal_id\": \"u2\",\n    \"role\": \"R\",\n    \"scope\": \"/x\", \"end\": null\n  }\n]\n";
        let (rows, summary) = read("e.json", json.as_bytes(), ImportKind::Eligibility);
        summary.unwrap();
        let lines: Vec<u64> = rows.iter().map(|r| r.as_ref().unwrap().line).collect();
        assert_eq!(lines, vec![2, 3]);
        assert_eq!(values(&rows[1])[..3], [Some("u2"), Some("R"), Some("/x")]);
    }

    #[test]
    fn json_lines_and_a_missing_field() {
        let json = "{\"principal_id\":\"u1\",\"role\":\"R\",\"scope\":\"/\"}\n{\"principal_id\":\"u2\",\"scope\":\"/\"}\n";
        let (rows, summary) = read("e.jsonl", json.as_bytes(), ImportKind::Eligibility);
        summary.unwrap();
        assert_eq!(rows.len(), 2);
        let err = rows[1].as_ref().unwrap_err();
        assert_eq!((err.line, err.field.as_deref()), (2, Some("role")));
    }

    #[test]
    fn malformed_json_names_its_line() {
        let (_, summary) = read(
            "e.json",
            b"[\n{\"principal_id\": \"u1\",\n}\n]",
            ImportKind::Eligibility,
        );
        match summary {
            Err(ReadError::Invalid(e)) => assert_eq!(e.line, 3, "{e}"),
            other => panic!("{other:?}"),
        }
    }
}
