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

use crate::domain::limits::{
    bytes_text, clip, clip_message, clip_to, quote, CSV_HEADER_MAX_BYTES, IMPORT_COLUMNS_MAX,
    IMPORT_RECORD_MAX_BYTES, IMPORT_WARNINGS_MAX,
};
use crate::domain::records::{Column, ImportKind, Record, RowError};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
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

/// What the CSV reader may have read ahead of the record it is parsing: its own buffer and
/// the [`BufReader`] under it.
const CSV_READ_AHEAD: u64 = 128 * 1024;

fn read_csv(
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

fn too_long(line: u64) -> RowError {
    RowError::new(
        line,
        None,
        format!(
            "the record is longer than {} (the most one record may be)",
            bytes_text(IMPORT_RECORD_MAX_BYTES as u64)
        ),
    )
}

/// How far into the file a reader may go: past it, the read fails and `exceeded` says why.
struct Budget {
    read: Cell<u64>,
    until: Cell<u64>,
    exceeded: Cell<bool>,
}

impl Budget {
    fn new(until: u64) -> Self {
        Self {
            read: Cell::new(0),
            until: Cell::new(until),
            exceeded: Cell::new(false),
        }
    }

    /// Allows `more` bytes past the file offset `from`.
    fn allow_from(&self, from: u64, more: u64) {
        self.until.set(from.saturating_add(more));
    }

    /// Allows `more` bytes past what was read so far.
    fn allow_more(&self, more: u64) {
        self.allow_from(self.read.get(), more);
    }

    /// Counts `n` bytes read; false (and `exceeded`) when they go past the budget.
    fn spend(&self, n: usize) -> bool {
        self.read.set(self.read.get() + n as u64);
        if self.read.get() > self.until.get() {
            self.exceeded.set(true);
        }
        !self.exceeded.get()
    }

    fn refusal() -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, "record too long")
    }
}

/// Counts what passes through it against a [`Budget`].
struct Budgeted<R> {
    inner: R,
    budget: Rc<Budget>,
}

impl<R: Read> Read for Budgeted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.budget.exceeded.get() {
            return Err(Budget::refusal());
        }
        let n = self.inner.read(buf)?;
        if self.budget.spend(n) {
            Ok(n)
        } else {
            Err(Budget::refusal())
        }
    }
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
        other => ReadError::Invalid(RowError::new(
            line,
            None,
            clip_message(&format!("{other:?}")).into_owned(),
        )),
    }
}

/// Counts the lines the JSON parser has consumed and notes the line of the next record's `{`.
struct LinePosition {
    newlines: Cell<u64>,
    awaiting_start: Cell<bool>,
    start_line: Cell<u64>,
    /// Bytes since the last record ended: one record may take [`IMPORT_RECORD_MAX_BYTES`].
    budget: Budget,
}

impl Default for LinePosition {
    fn default() -> Self {
        Self {
            newlines: Cell::new(0),
            awaiting_start: Cell::new(false),
            start_line: Cell::new(0),
            budget: Budget::new(IMPORT_RECORD_MAX_BYTES as u64),
        }
    }
}

impl LinePosition {
    fn expect_record(&self) {
        self.awaiting_start.set(true);
    }

    /// A record was read whole: the next one gets a budget of its own.
    fn record_done(&self) {
        self.budget.allow_more(IMPORT_RECORD_MAX_BYTES as u64);
    }

    fn record_line(&self) -> u64 {
        if self.awaiting_start.get() {
            self.newlines.get() + 1
        } else {
            self.start_line.get()
        }
    }
}

/// Sits between the JSON parser and the file, which it reads a byte at a time, so what passes
/// here is exactly what the parser has consumed.
struct LineCounting<R> {
    inner: R,
    position: Rc<LinePosition>,
}

impl<R: Read> Read for LineCounting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let p = &self.position;
        if p.budget.exceeded.get() {
            return Err(Budget::refusal());
        }
        let n = self.inner.read(buf)?;
        for &byte in &buf[..n] {
            if byte == b'{' && p.awaiting_start.get() {
                p.awaiting_start.set(false);
                p.start_line.set(p.newlines.get() + 1);
            } else if byte == b'\n' {
                p.newlines.set(p.newlines.get() + 1);
            }
        }
        if p.budget.spend(n) {
            Ok(n)
        } else {
            Err(Budget::refusal())
        }
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
        more_unknown: false,
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
        if state.position.budget.exceeded.get() {
            return Err(ReadError::Invalid(too_long(state.position.record_line())));
        }
        if !state.stopped {
            // serde's messages quote what they did not expect, whole.
            return Err(ReadError::Invalid(RowError::new(
                e.line() as u64,
                None,
                format!("malformed JSON: {}", clip_message(&e.to_string())),
            )));
        }
    }
    let mut warnings: Vec<String> = state
        .unknown
        .iter()
        .map(|n| format!("unknown field {} ignored", quote(n)))
        .collect();
    if state.more_unknown {
        warnings.push("and more unknown fields ignored".into());
    }
    Ok((state.count, warnings))
}

struct JsonState<'s, S> {
    kind: ImportKind,
    position: Rc<LinePosition>,
    count: u64,
    stopped: bool,
    /// The first [`IMPORT_WARNINGS_MAX`] unknown keys, for the warnings.
    unknown: BTreeSet<String>,
    more_unknown: bool,
    sink: &'s mut S,
}

impl<S: FnMut(Result<Record, RowError>) -> bool> JsonState<'_, S> {
    /// Hands one object to the sink; returns whether to go on.
    fn accept(&mut self, object: JsonObject) -> bool {
        let line = self.position.record_line();
        self.position.record_done();
        self.count += 1;
        for (key, _) in &object.fields {
            if !self.kind.columns().iter().any(|c| c.name == key) && !self.unknown.contains(key) {
                if self.unknown.len() < IMPORT_WARNINGS_MAX {
                    self.unknown.insert(key.clone());
                } else {
                    self.more_unknown = true;
                }
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
    let mut stream = serde_json::Deserializer::from_reader(input).into_iter::<JsonObject>();
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
            match seq.next_element::<JsonObject>()? {
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

/// One JSON object as written: its keys in order with the kind of each value, and the first
/// key written twice. serde_json's own maps would keep the last of two equal keys silently.
struct JsonObject {
    fields: Vec<(String, JsonValue)>,
    duplicate: Option<String>,
    /// More keys than a record may have (only the first [`IMPORT_COLUMNS_MAX`] are kept).
    too_many: bool,
}

/// A field's value: text is kept, anything else only for its kind.
enum JsonValue {
    Null,
    Bool(bool),
    Text(String),
    Number,
    Array,
    Object,
}

impl JsonValue {
    fn kind(&self) -> &'static str {
        match self {
            JsonValue::Null => "null",
            JsonValue::Bool(_) => "a boolean",
            JsonValue::Text(_) => "a string",
            JsonValue::Number => "a number",
            JsonValue::Array => "an array",
            JsonValue::Object => "an object",
        }
    }
}

impl<'de> Deserialize<'de> for JsonObject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectVisitor)
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = JsonObject;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonObject, A::Error> {
        let mut object = JsonObject {
            fields: Vec::with_capacity(8),
            duplicate: None,
            too_many: false,
        };
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<JsonValue>()?;
            if object.fields.iter().any(|(k, _)| *k == key) {
                object.duplicate.get_or_insert(key);
            } else if object.fields.len() < IMPORT_COLUMNS_MAX {
                object.fields.push((key, value));
            } else {
                object.too_many = true;
            }
        }
        Ok(object)
    }
}

impl<'de> Deserialize<'de> for JsonValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = JsonValue;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<JsonValue, E> {
        Ok(JsonValue::Null)
    }

    fn visit_none<E>(self) -> Result<JsonValue, E> {
        Ok(JsonValue::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<JsonValue, E> {
        Ok(JsonValue::Bool(b))
    }

    fn visit_i64<E>(self, _: i64) -> Result<JsonValue, E> {
        Ok(JsonValue::Number)
    }

    fn visit_u64<E>(self, _: u64) -> Result<JsonValue, E> {
        Ok(JsonValue::Number)
    }

    fn visit_f64<E>(self, _: f64) -> Result<JsonValue, E> {
        Ok(JsonValue::Number)
    }

    fn visit_str<E>(self, s: &str) -> Result<JsonValue, E> {
        Ok(JsonValue::Text(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<JsonValue, E> {
        Ok(JsonValue::Text(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonValue, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(JsonValue::Array)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonValue, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(JsonValue::Object)
    }
}

fn json_record(mut object: JsonObject, line: u64, columns: &[Column]) -> Result<Record, RowError> {
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

    fn fatal(summary: Result<FileSummary, ReadError>) -> RowError {
        match summary {
            Err(ReadError::Invalid(e)) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_duplicate_keys_and_wrong_types_are_bad_rows() {
        let json = "[\n{\"id\": \"u1\", \"name\": \"A\", \"id\": \"u2\", \"email\": null, \"manager_id\": null},\n{\"id\": 12345, \"name\": \"B\", \"email\": null, \"manager_id\": null},\n{\"id\": \"u3\", \"name\": \"C\", \"email\": null, \"manager_id\": null, \"enabled\": true, \"extra\": [1, {\"a\": 2}]},\n{\"id\": \"u4\", \"name\": \"D\", \"email\": null, \"manager_id\": null, \"enabled\": 1}\n]";
        let (rows, summary) = read("p.json", json.as_bytes(), ImportKind::People);
        let summary = summary.unwrap();
        let err = rows[0].as_ref().unwrap_err();
        assert_eq!(
            (err.line, err.field.as_deref(), err.reason.as_str()),
            (2, Some("id"), "duplicate key")
        );
        let err = rows[1].as_ref().unwrap_err();
        assert_eq!(
            (err.line, err.field.as_deref(), err.reason.as_str()),
            (3, Some("id"), "expected a string, found a number")
        );
        assert_eq!(values(&rows[2])[5], Some("true"));
        let err = rows[3].as_ref().unwrap_err();
        assert_eq!(
            (err.field.as_deref(), err.reason.as_str()),
            (
                Some("enabled"),
                "expected true, false or a string, found a number"
            )
        );
        assert_eq!(summary.warnings, vec!["unknown field \"extra\" ignored"]);
    }

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
