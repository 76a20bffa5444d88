//! The readers under the parsers: they hash the file, remember its last byte, count its lines and
//! stop a read that goes past one record's budget.

use crate::domain::limits::{bytes_text, IMPORT_RECORD_MAX_BYTES};
use crate::domain::records::RowError;
use sha2::{Digest, Sha256};
use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

pub(super) struct HashingReader<R> {
    inner: R,
    pub(super) hasher: Sha256,
}

impl<R> HashingReader<R> {
    pub(super) fn new(inner: R) -> Self {
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

pub(super) fn too_long(line: u64) -> RowError {
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
pub(super) struct Budget {
    read: Cell<u64>,
    until: Cell<u64>,
    pub(super) exceeded: Cell<bool>,
}

impl Budget {
    pub(super) fn new(until: u64) -> Self {
        Self {
            read: Cell::new(0),
            until: Cell::new(until),
            exceeded: Cell::new(false),
        }
    }

    /// Allows `more` bytes past the file offset `from`.
    pub(super) fn allow_from(&self, from: u64, more: u64) {
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
pub(super) struct Budgeted<R> {
    pub(super) inner: R,
    pub(super) budget: Rc<Budget>,
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
pub(super) struct TailReader<R> {
    pub(super) inner: R,
    pub(super) last: u8,
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

/// Counts the lines the JSON parser has consumed and notes the line of the next record's `{`.
pub(super) struct LinePosition {
    newlines: Cell<u64>,
    awaiting_start: Cell<bool>,
    start_line: Cell<u64>,
    /// Bytes since the last record ended: one record may take [`IMPORT_RECORD_MAX_BYTES`].
    pub(super) budget: Budget,
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
    pub(super) fn expect_record(&self) {
        self.awaiting_start.set(true);
    }

    /// A record was read whole: the next one gets a budget of its own.
    pub(super) fn record_done(&self) {
        self.budget.allow_more(IMPORT_RECORD_MAX_BYTES as u64);
    }

    pub(super) fn record_line(&self) -> u64 {
        if self.awaiting_start.get() {
            self.newlines.get() + 1
        } else {
            self.start_line.get()
        }
    }
}

/// Sits between the JSON parser and the file, which it reads a byte at a time, so what passes
/// here is exactly what the parser has consumed.
pub(super) struct LineCounting<R> {
    pub(super) inner: R,
    pub(super) position: Rc<LinePosition>,
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
