//! Writes a bundle into a folder or a zip, one file at a time, hashing every byte on the way so
//! the manifest never needs a second read. Nothing is held in memory but a few buffers.
//!
//! A zip is deflated on a thread of its own, fed full buffers through a short channel: the
//! export then reads and formats rows on one core while the other compresses, and the hashes
//! are still taken here, over exactly the bytes handed to the zip.

use super::manifest::FileEntry;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;
use zip::write::SimpleFileOptions;
use zip::ZipWriter;

/// How much is handed to the compressing thread at a time.
const CHUNK: usize = 256 << 10;
/// How many chunks may wait for it (the memory the pipe can hold is about CHUNK × this).
const QUEUE: usize = 8;
/// Deflate level of the zip entries: the fastest. Exports are CSV, which even level 1 shrinks
/// about eightfold, and the default level (6) made compression the slowest part of an export.
const LEVEL: i64 = 1;

enum Command {
    Begin(String),
    Data(Vec<u8>),
}

/// The zip and the thread that compresses into it.
struct ZipPipe {
    commands: Option<SyncSender<Command>>,
    /// Emptied buffers coming back, so the steady state allocates nothing.
    spare: Receiver<Vec<u8>>,
    buffer: Vec<u8>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl ZipPipe {
    fn create(file: File) -> io::Result<Self> {
        let (commands, inbox) = mpsc::sync_channel::<Command>(QUEUE);
        let (give_back, spare) = mpsc::sync_channel::<Vec<u8>>(QUEUE + 2);
        let thread = std::thread::Builder::new()
            .name("evidence-zip".into())
            .spawn(move || -> io::Result<()> {
                let mut zip = ZipWriter::new(BufWriter::with_capacity(1 << 20, file));
                // Zip64 for every entry: the items of a 10,000,000-item campaign are more than
                // 4 GiB of CSV, past what a plain zip entry can say, and an entry's size is not
                // known before it is streamed (without it the export failed at 4 GiB).
                let options = SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated)
                    .compression_level(Some(LEVEL))
                    .large_file(true);
                for command in inbox {
                    match command {
                        Command::Begin(name) => {
                            zip.start_file(name, options).map_err(io::Error::other)?
                        }
                        Command::Data(mut bytes) => {
                            zip.write_all(&bytes)?;
                            bytes.clear();
                            // The writer may have gone (it is finishing); then drop the buffer.
                            let _ = give_back.try_send(bytes);
                        }
                    }
                }
                zip.finish().map_err(io::Error::other)?.flush()
            })?;
        Ok(Self {
            commands: Some(commands),
            spare,
            buffer: Vec::with_capacity(CHUNK),
            thread: Some(thread),
        })
    }

    fn send(&mut self, command: Command) -> io::Result<()> {
        let sent = self
            .commands
            .as_ref()
            .is_some_and(|c| c.send(command).is_ok());
        if sent {
            Ok(())
        } else {
            // The thread stopped early: its error says why.
            Err(self
                .join()
                .err()
                .unwrap_or_else(|| io::Error::other("the zip writer stopped")))
        }
    }

    fn ship(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let next = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        let full = std::mem::replace(&mut self.buffer, next);
        self.send(Command::Data(full))
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.buffer.len() + buf.len() > CHUNK {
            self.ship()?;
        }
        self.buffer.extend_from_slice(buf);
        Ok(())
    }

    fn join(&mut self) -> io::Result<()> {
        self.commands = None;
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| io::Error::other("the zip writer panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for ZipPipe {
    fn drop(&mut self) {
        // An export abandoned half-way: let the thread end (what it wrote is incomplete anyway).
        let _ = self.join();
    }
}

enum Target {
    Dir(PathBuf),
    /// The zip is written beside its destination under a temporary name and renamed into place
    /// when it is complete: an export that fails leaves nothing, and the final rename replaces
    /// a path (even a link) instead of writing through it.
    Zip {
        pipe: ZipPipe,
        part: tempfile::TempPath,
        path: PathBuf,
        replace: bool,
    },
}

/// The file being written.
struct Current {
    name: String,
    hasher: Sha256,
    bytes: u64,
    file: Option<BufWriter<File>>,
}

pub struct BundleWriter {
    target: Target,
    current: Option<Current>,
    pub entries: Vec<FileEntry>,
}

impl BundleWriter {
    /// A zip when `path` ends in `.zip`, else a folder (created, or an empty one). An existing
    /// zip is replaced only with `replace`; a folder is never emptied; a symbolic link is never
    /// written through, whatever it points to.
    pub fn create(path: &Path, replace: bool) -> io::Result<Self> {
        let is_zip = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
        let existing = match std::fs::symlink_metadata(path) {
            Ok(meta) => Some(meta.file_type()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let refuse = |why: String| Err(io::Error::new(io::ErrorKind::AlreadyExists, why));
        if existing.is_some_and(|t| t.is_symlink()) {
            return refuse(format!(
                "{} is a symbolic link; attest never writes through one: name the real path",
                path.display()
            ));
        }
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)?;
        let target = if is_zip {
            match existing {
                Some(t) if t.is_dir() => {
                    return refuse(format!("{} is a folder, not a zip file", path.display()))
                }
                Some(_) if !replace => {
                    return refuse(format!(
                        "{} exists; pass --force to replace it",
                        path.display()
                    ))
                }
                _ => {}
            }
            let (file, part) = tempfile::Builder::new()
                .prefix(".attest-export-")
                .suffix(".part")
                .tempfile_in(parent)?
                .into_parts();
            Target::Zip {
                pipe: ZipPipe::create(file)?,
                part,
                path: path.to_path_buf(),
                replace,
            }
        } else {
            match existing {
                None => std::fs::create_dir(path)?,
                Some(t) if !t.is_dir() => {
                    return refuse(format!("{} exists and is not a folder", path.display()))
                }
                Some(_) if std::fs::read_dir(path)?.next().is_some() => {
                    return refuse(format!(
                        "{} is not empty; export into a new folder",
                        path.display()
                    ))
                }
                Some(_) => {}
            }
            Target::Dir(path.to_path_buf())
        };
        Ok(Self {
            target,
            current: None,
            entries: Vec::new(),
        })
    }

    /// Starts the next file; the previous one must have been ended.
    pub fn begin(&mut self, name: &str) -> io::Result<()> {
        let file = match &mut self.target {
            Target::Dir(dir) => Some(BufWriter::with_capacity(
                1 << 20,
                // A new file only: nothing that appeared in the folder meanwhile is written through.
                File::options()
                    .write(true)
                    .create_new(true)
                    .open(dir.join(name))?,
            )),
            Target::Zip { pipe, .. } => {
                pipe.ship()?;
                pipe.send(Command::Begin(name.to_string()))?;
                None
            }
        };
        self.current = Some(Current {
            name: name.to_string(),
            hasher: Sha256::new(),
            bytes: 0,
            file,
        });
        Ok(())
    }

    /// Ends the current file and records its hash (unless `unlisted`: the manifest itself).
    pub fn end(&mut self, unlisted: bool) -> io::Result<()> {
        let Some(mut current) = self.current.take() else {
            return Ok(());
        };
        if let Some(file) = current.file.as_mut() {
            file.flush()?;
        }
        if let Target::Zip { pipe, .. } = &mut self.target {
            pipe.ship()?;
        }
        if !unlisted {
            self.entries.push(FileEntry {
                name: current.name,
                sha256: hex::encode(current.hasher.finalize()),
                bytes: current.bytes,
            });
        }
        Ok(())
    }

    /// Writes a whole small file.
    pub fn file(&mut self, name: &str, content: &[u8], unlisted: bool) -> io::Result<()> {
        self.begin(name)?;
        self.write_all(content)?;
        self.end(unlisted)
    }

    /// Writes a file that `write` produces piece by piece (a document serialized or rendered
    /// straight into the bundle), buffered so that small pieces are hashed and shipped whole.
    pub fn file_written_by(
        &mut self,
        name: &str,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        self.begin(name)?;
        {
            let mut out = BufWriter::with_capacity(1 << 16, &mut *self);
            write(&mut out)?;
            out.flush()?;
        }
        self.end(false)
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.end(false)?;
        if let Target::Zip {
            mut pipe,
            part,
            path,
            replace,
        } = self.target
        {
            pipe.ship()?;
            pipe.join()?;
            let placed = if replace {
                part.persist(&path)
            } else {
                // Refused if something took the name since the export began.
                part.persist_noclobber(&path)
            };
            placed.map_err(|e| e.error)?;
        }
        Ok(())
    }
}

impl Write for BundleWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let current = self
            .current
            .as_mut()
            .ok_or_else(|| io::Error::other("no file begun in the bundle"))?;
        match (&mut current.file, &mut self.target) {
            (Some(file), _) => file.write_all(buf)?,
            (None, Target::Zip { pipe, .. }) => pipe.write(buf)?,
            (None, Target::Dir(_)) => return Err(io::Error::other("no open file")),
        }
        current.hasher.update(buf);
        current.bytes += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.current.as_mut().and_then(|c| c.file.as_mut()) {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The id of the first extra field of the zip's first local file header.
    fn first_extra_field_id(zip: &[u8]) -> Option<u16> {
        assert_eq!(&zip[..4], b"PK\x03\x04", "a local file header first");
        let name = u16::from_le_bytes([zip[26], zip[27]]) as usize;
        let extra = u16::from_le_bytes([zip[28], zip[29]]) as usize;
        (extra >= 4).then(|| u16::from_le_bytes([zip[30 + name], zip[31 + name]]))
    }

    #[test]
    fn zip_entries_are_written_as_zip64_so_a_file_may_pass_4_gib() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("bundle.zip");
        let mut bundle = BundleWriter::create(&path, false).expect("create");
        bundle.file("items.csv", b"id\n1\n", false).expect("write");
        bundle.finish().expect("finish");
        let zip = std::fs::read(&path).expect("read");
        assert_eq!(
            first_extra_field_id(&zip),
            Some(0x0001),
            "Zip64 extra field"
        );
        // And it reads back as any zip does.
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("a zip");
        let mut text = String::new();
        std::io::Read::read_to_string(&mut archive.by_name("items.csv").expect("entry"), &mut text)
            .expect("read entry");
        assert_eq!(text, "id\n1\n");
    }
}
