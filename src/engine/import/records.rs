//! The records of an import's file: read and parsed on a blocking thread, handed over in
//! batches of [`BATCH`], with a running estimate of how many rows the file holds (for the
//! progress bar).

use crate::domain::records::{ImportKind, Record, RowError};
use crate::engine::import::ImportInput;
use crate::engine::EngineError;
use crate::import_file::{read_records, FileSummary, ReadError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Records handed over at once.
pub(super) const BATCH: usize = 1000;

/// The records of a file, read on a blocking thread and received in batches.
pub(super) struct Records {
    rx: mpsc::Receiver<Batch>,
    reader: JoinHandle<Result<FileSummary, ReadError>>,
    /// The file's length, when it has one (an upload spooled to a file does).
    size: Option<u64>,
    /// How far the reader had got when it sent the last batch received.
    sample: Sample,
}

/// Records as the reader sends them, with how far into the file it had got.
struct Batch {
    records: Vec<Result<Record, RowError>>,
    sample: Sample,
}

/// Bytes of the file read and records parsed from them, taken when the parser asks for more
/// of the file (it has then parsed all it had): the ratio between the two is exact there,
/// where bytes read at any other moment include a buffer not yet parsed.
#[derive(Clone, Copy, Default)]
struct Sample {
    bytes: u64,
    records: u64,
}

/// Counts the bytes read through it and samples them against the records parsed so far.
struct Counting<R> {
    inner: R,
    bytes: u64,
    records: Arc<AtomicU64>,
    sample: Arc<std::sync::Mutex<Sample>>,
}

impl<R: std::io::Read> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.bytes > 0 {
            if let Ok(mut sample) = self.sample.lock() {
                *sample = Sample {
                    bytes: self.bytes,
                    records: self.records.load(Ordering::Relaxed),
                };
            }
        }
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

impl Records {
    pub(super) fn open(input: &ImportInput, kind: ImportKind) -> Self {
        let (tx, rx) = mpsc::channel(4);
        let format = input.format.clone();
        let content = input.reader();
        let size = content
            .as_ref()
            .ok()
            .and_then(|f| f.metadata().ok())
            .map(|m| m.len())
            .filter(|&len| len > 0);
        let reader = tokio::task::spawn_blocking(move || {
            let format =
                format.map_err(|reason| ReadError::Invalid(RowError::new(0, None, reason)))?;
            let records = Arc::new(AtomicU64::new(0));
            let sample = Arc::new(std::sync::Mutex::new(Sample::default()));
            let content = Counting {
                inner: content?,
                bytes: 0,
                records: records.clone(),
                sample: sample.clone(),
            };
            let taken = || sample.lock().map(|s| *s).unwrap_or_default();
            let mut batch = Vec::with_capacity(BATCH);
            let summary = read_records(content, format, kind, |record| {
                batch.push(record);
                records.fetch_add(1, Ordering::Relaxed);
                if batch.len() < BATCH {
                    return true;
                }
                tx.blocking_send(Batch {
                    records: std::mem::replace(&mut batch, Vec::with_capacity(BATCH)),
                    sample: taken(),
                })
                .is_ok()
            });
            if !batch.is_empty() {
                // The receiver only hangs up when the import already failed.
                let _ = tx.blocking_send(Batch {
                    records: batch,
                    sample: taken(),
                });
            }
            summary
        });
        Self {
            rx,
            reader,
            size,
            sample: Sample::default(),
        }
    }

    pub(super) async fn next(&mut self) -> Option<Vec<Result<Record, RowError>>> {
        let batch = self.rx.recv().await?;
        self.sample = batch.sample;
        Some(batch.records)
    }

    /// How many rows the file holds, at least the `rows` received so far: estimated from the
    /// records the reader had parsed from the bytes it had read (rows are about alike in
    /// length); `None` for a file of unknown length or before the reader's first sample.
    pub(super) fn estimated_rows(&self, rows: u64) -> Option<u64> {
        let size = self.size?;
        let Sample { bytes, records } = self.sample;
        if bytes == 0 || records == 0 {
            return None;
        }
        let estimate = (records as u128 * size as u128 / bytes as u128) as u64;
        Some(estimate.max(rows))
    }

    /// Waits for the reader: `Ok(Err(problem))` when the file itself is malformed.
    pub(super) async fn finish(self) -> Result<Result<FileSummary, RowError>, EngineError> {
        drop(self.rx);
        match self.reader.await {
            Ok(Ok(summary)) => Ok(Ok(summary)),
            Ok(Err(ReadError::Invalid(problem))) => Ok(Err(problem)),
            Ok(Err(ReadError::Io(e))) => Err(EngineError::Io(e.to_string())),
            Err(e) => Err(EngineError::Io(format!("reading the file failed: {e}"))),
        }
    }
}
