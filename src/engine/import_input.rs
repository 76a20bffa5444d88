//! What an import reads: a named, open file in a known format, whether the CLI opened it from
//! a path or the REST API spooled an upload.

use super::EngineError;
use crate::import_file::FileFormat;
use std::io::{Seek, SeekFrom};
use std::path::Path;

/// What an import reads: its name in reports, errors and the audit log, its format, and its
/// content, an open file the import reads once (twice for people: the managers they name are
/// linked in a second pass). The CLI opens the file it is given; the REST API spools an upload
/// to an anonymous temporary file. Nothing is read until the import runs.
pub struct ImportInput {
    pub(super) name: String,
    /// `Err`: the name says no format attest reads (reported as the file's problem).
    pub(super) format: Result<FileFormat, String>,
    content: std::fs::File,
}

impl ImportInput {
    /// The file at `path`, named by its path, its format from its extension.
    pub fn open(path: &Path) -> Result<Self, EngineError> {
        let missing = || EngineError::Invalid(format!("{}: no such file", path.display()));
        if !path.is_file() {
            return Err(missing());
        }
        let content = std::fs::File::open(path)
            .map_err(|e| EngineError::Invalid(format!("{}: {e}", path.display())))?;
        Ok(Self {
            name: path.display().to_string(),
            format: FileFormat::of(path),
            content,
        })
    }

    /// Content the caller holds open, under `name` (what reports and the audit log call it).
    pub fn from_file(content: std::fs::File, name: &str, format: FileFormat) -> Self {
        Self {
            name: name.to_string(),
            format: Ok(format),
            content,
        }
    }

    /// Calls the input `name` instead of its path.
    pub fn named(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// The content from its start, for one pass.
    pub(super) fn reader(&self) -> std::io::Result<std::fs::File> {
        let mut file = self.content.try_clone()?;
        file.seek(SeekFrom::Start(0))?;
        Ok(file)
    }
}
