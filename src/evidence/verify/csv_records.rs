//! The bundle's CSV files read record by record with each record's length bounded, and the
//! count of after_remediation.csv's inconsistent rows and of carried_forward.csv's rows.

use super::RECORD_MAX_BYTES;
use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

/// Counts the rows of after_remediation.csv and those whose `consistent` cell says `no`.
pub(super) fn count_inconsistent(reader: impl Read) -> Result<(u64, u64), String> {
    let mut csv = GuardedCsv::new("after_remediation.csv", reader);
    let column = csv
        .headers()?
        .iter()
        .position(|h| h == "consistent")
        .ok_or("after_remediation.csv: no column \"consistent\"")?;
    let (mut rows, mut inconsistent) = (0u64, 0u64);
    let mut record = csv::StringRecord::new();
    while csv.next(&mut record)? {
        rows += 1;
        inconsistent += u64::from(record.get(column) == Some("no"));
    }
    Ok((rows, inconsistent))
}

/// Counts the records of a CSV file of the bundle (its header aside).
pub(super) fn count_rows(name: &'static str, reader: impl Read) -> Result<u64, String> {
    let mut csv = GuardedCsv::new(name, reader);
    let mut rows = 0u64;
    let mut record = csv::StringRecord::new();
    while csv.next(&mut record)? {
        rows += 1;
    }
    Ok(rows)
}

/// A CSV file of the bundle read record by record behind a [`RecordGuard`], its errors named
/// after the file on one line.
pub(super) struct GuardedCsv<R> {
    name: &'static str,
    csv: csv::Reader<RecordGuard<R>>,
    seen: Rc<Cell<u64>>,
}

impl<R: Read> GuardedCsv<R> {
    pub(super) fn new(name: &'static str, reader: R) -> Self {
        let seen = Rc::new(Cell::new(0u64));
        let csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(RecordGuard {
                inner: reader,
                seen: seen.clone(),
            });
        Self { name, csv, seen }
    }

    pub(super) fn headers(&mut self) -> Result<&csv::StringRecord, String> {
        let name = self.name;
        self.csv.headers().map_err(|e| format!("{name}: {e}"))
    }

    /// Reads the next record into `record`; false at the end.
    pub(super) fn next(&mut self, record: &mut csv::StringRecord) -> Result<bool, String> {
        let more = self
            .csv
            .read_record(record)
            .map_err(|e| format!("{}: {}", self.name, e.to_string().replace('\n', " ")))?;
        self.seen.set(0);
        Ok(more)
    }
}

/// Fails a read once more than [`RECORD_MAX_BYTES`] have passed since the CSV reader last
/// returned a record (the caller resets `seen`): the csv crate grows its record buffer to fit
/// whatever comes, so one endless field would otherwise take all memory.
struct RecordGuard<R> {
    inner: R,
    seen: Rc<Cell<u64>>,
}

impl<R: Read> Read for RecordGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let seen = self.seen.get() + n as u64;
        self.seen.set(seen);
        if seen > RECORD_MAX_BYTES + (64 << 10) {
            return Err(io::Error::other(format!(
                "a record longer than {} MiB, more than an item",
                RECORD_MAX_BYTES >> 20
            )));
        }
        Ok(n)
    }
}
