//! Writes a bundle into a folder or a zip, one file at a time, hashing every byte on the way so
//! the manifest never needs a second read. Nothing is held in memory but the current buffer.

use super::manifest::FileEntry;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use zip::write::SimpleFileOptions;
use zip::ZipWriter;

enum Target {
    Dir(PathBuf),
    Zip(Box<ZipWriter<BufWriter<File>>>),
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
    /// A zip when `path` ends in `.zip`, else a folder (created, and required to be empty).
    pub fn create(path: &Path) -> io::Result<Self> {
        let is_zip = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
        let target = if is_zip {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            Target::Zip(Box::new(ZipWriter::new(BufWriter::with_capacity(
                1 << 20,
                File::create(path)?,
            ))))
        } else {
            std::fs::create_dir_all(path)?;
            if std::fs::read_dir(path)?.next().is_some() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} is not empty; export into a new folder", path.display()),
                ));
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
                File::create(dir.join(name))?,
            )),
            Target::Zip(zip) => {
                let options = SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated);
                zip.start_file(name, options).map_err(io::Error::other)?;
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

    pub fn finish(mut self) -> io::Result<()> {
        self.end(false)?;
        if let Target::Zip(zip) = self.target {
            zip.finish().map_err(io::Error::other)?.flush()?;
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
        let n = match (&mut current.file, &mut self.target) {
            (Some(file), _) => file.write(buf)?,
            (None, Target::Zip(zip)) => zip.write(buf)?,
            (None, Target::Dir(_)) => return Err(io::Error::other("no open file")),
        };
        current.hasher.update(&buf[..n]);
        current.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.current.as_mut().and_then(|c| c.file.as_mut()) {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}
