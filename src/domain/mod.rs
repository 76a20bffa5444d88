//! Pure rules: no I/O, no SQL, no clock. Every time-dependent function takes `now`.

pub mod audit_chain;
pub mod directory;
pub mod records;
