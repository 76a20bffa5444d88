//! Evidence bundles auditors can check offline: the writer (a folder or a zip, streamed, every
//! file hashed as it is written), the signed manifest, the readable report, and verification.

pub mod bundle;
pub mod manifest;
pub mod report;
pub mod verify;
