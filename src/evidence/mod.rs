//! The evidence bundle itself: its format, its signing and its offline verification, shared by
//! the export and by `attest evidence verify` (which needs nothing but the bundle and a key).
//!
//! Evidence lives in four places under one name, each with its own job:
//! - `domain::evidence`: the pure rules (the format's name, cells spreadsheets cannot run, the
//!   controls a review satisfies, decisions too fast to have been considered);
//! - `engine::evidence`: the use cases (export a bundle, store one at completion, serve a
//!   download, the instance's signing key);
//! - `store::evidence`: the rows (the export's streamed reads, stored bundles and keys);
//! - `evidence` (here): the bundle's files: the writer (`bundle`), the manifest
//!   (`manifest`), its signature (`signing`), the readable report (`report`) and the offline
//!   verification (`verify`). Nothing here reads or writes the database; the report only borrows the
//!   store's row types.

pub mod bundle;
pub mod manifest;
pub mod report;
pub mod signing;
pub mod verify;
