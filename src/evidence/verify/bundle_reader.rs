//! Reading a bundle being verified, a folder or a zip, within bounds: a zip's directory is
//! sized before it is loaded, no file is read past the size it should have, and a folder's
//! symbolic links are refused.

use super::ZIP_DIRECTORY_MAX_BYTES;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub(super) enum Bundle {
    Dir(PathBuf),
    Zip(zip::ZipArchive<File>),
}

impl Bundle {
    pub(super) fn open(path: &Path) -> Result<Self, String> {
        if path.is_dir() {
            return Ok(Bundle::Dir(path.to_path_buf()));
        }
        let mut file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        // The zip reader loads the whole central directory: look at its size first, so a
        // crafted zip with millions of entries is refused before it is read.
        let directory = zip_directory_bytes(&mut file)
            .map_err(|e| format!("{}: not a folder or a readable zip: {e}", path.display()))?;
        if directory > ZIP_DIRECTORY_MAX_BYTES {
            return Err(format!(
                "{}: the zip's directory is {directory} bytes, more than a bundle's ({} KiB at most)",
                path.display(),
                ZIP_DIRECTORY_MAX_BYTES >> 10
            ));
        }
        zip::ZipArchive::new(file)
            .map(Bundle::Zip)
            .map_err(|e| format!("{}: not a folder or a readable zip: {e}", path.display()))
    }

    pub(super) fn names(&mut self) -> Result<Vec<String>, String> {
        match self {
            Bundle::Dir(dir) => {
                let mut names = Vec::new();
                for entry in std::fs::read_dir(&*dir).map_err(|e| e.to_string())? {
                    let entry = entry.map_err(|e| e.to_string())?;
                    names.push(entry.file_name().to_string_lossy().into_owned());
                }
                Ok(names)
            }
            Bundle::Zip(zip) => Ok(zip.file_names().map(str::to_string).collect()),
        }
    }

    /// The size of a file as the folder or the zip's directory gives it, before reading it.
    pub(super) fn size(&mut self, name: &str) -> io::Result<u64> {
        match self {
            Bundle::Dir(dir) => Ok(std::fs::symlink_metadata(dir.join(name))?.len()),
            Bundle::Zip(zip) => zip
                .by_name(name)
                .map(|f| f.size())
                .map_err(|e| io::Error::new(io::ErrorKind::NotFound, e)),
        }
    }

    /// A reader of `name` that yields at most `limit` bytes, plus one to tell "more" apart.
    pub(super) fn reader(&mut self, name: &str, limit: u64) -> io::Result<Box<dyn Read + '_>> {
        let inner: Box<dyn Read + '_> = match self {
            Bundle::Dir(dir) => {
                let path = dir.join(name);
                // A bundle is plain files: a link could point anywhere on the verifier's disk.
                if std::fs::symlink_metadata(&path)?.file_type().is_symlink() {
                    return Err(io::Error::other("is a symbolic link, not a file"));
                }
                Box::new(BufReader::new(File::open(path)?))
            }
            Bundle::Zip(zip) => Box::new(
                zip.by_name(name)
                    .map_err(|e| io::Error::new(io::ErrorKind::NotFound, e))?,
            ),
        };
        Ok(Box::new(inner.take(limit.saturating_add(1))))
    }

    /// A whole file of at most `limit` bytes, as text.
    pub(super) fn read_small(&mut self, name: &str, limit: u64) -> Result<String, String> {
        let mut text = String::new();
        self.reader(name, limit)
            .and_then(|mut r| r.read_to_string(&mut text))
            .map_err(|e| format!("{name}: cannot be read: {e}"))?;
        if text.len() as u64 > limit {
            return Err(format!(
                "{name}: larger than {} KiB, more than a bundle's",
                limit >> 10
            ));
        }
        Ok(text)
    }
}

/// The size of a zip's central directory, from its end record (the last 22 bytes, or before a
/// comment of up to 64 KiB). A ZIP64 archive reports `u64::MAX`: bundles never need one.
fn zip_directory_bytes(file: &mut File) -> io::Result<u64> {
    const END: usize = 22;
    let len = file.seek(SeekFrom::End(0))?;
    let tail_len = len.min((END + u16::MAX as usize) as u64);
    file.seek(SeekFrom::Start(len - tail_len))?;
    let mut tail = Vec::with_capacity(tail_len as usize);
    file.by_ref().take(tail_len).read_to_end(&mut tail)?;
    file.seek(SeekFrom::Start(0))?;
    let at = (0..tail.len().saturating_sub(END - 1))
        .rev()
        .find(|&i| tail[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
        .ok_or_else(|| io::Error::other("no end of central directory record"))?;
    let entries = u16::from_le_bytes([tail[at + 10], tail[at + 11]]);
    let size = u32::from_le_bytes([tail[at + 12], tail[at + 13], tail[at + 14], tail[at + 15]]);
    Ok(if entries == u16::MAX || size == u32::MAX {
        u64::MAX
    } else {
        u64::from(size)
    })
}
