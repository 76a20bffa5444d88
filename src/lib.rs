//! attest: access review campaigns for privileged-role eligibility.
//!
//! The tree follows one rule: the domain decides, the engine acts, adapters translate.
//!
//! - [`domain`]: pure rules with no I/O and no clock: import row validation, the audit hash chain.
//! - [`engine`]: one function per use case (import, audit verification, …), each owning its
//!   transaction. The CLI, the web layer and the scheduler call these; nothing else writes state.
//! - [`evidence`]: signed, offline-verifiable evidence bundles and their report.
//! - [`mail`]: the outbox worker: composes (askama) and sends (SMTP pool or .eml files).
//! - [`scheduler`]: one tick runs what is due (launches, reminders, closes, removals); `serve` loops it.
//! - [`web`]: axum pages (the reviewer page today).
//! - [`store`]: the database (SQLite or PostgreSQL through sea-orm); the only place where
//!   `entity` rows and domain types meet.
//! - [`sources`]: where eligibility comes from: CSV/JSON files now, LDAP and Graph later.
//! - [`config`]: `attest.toml` plus `ATTEST_*` variables.
//! - [`clock`]: the system clock, and a manual one so tests can drive a quarter in milliseconds.
//! - [`bench`]: `attest bench`, stage timings on the real code path.
//! - [`synth`]: a synthetic organisation for `attest demo` and `attest bench`.
//! - [`cli`]: the `attest` command line.

pub mod bench;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod engine;
pub mod evidence;
pub mod mail;
pub mod scheduler;
pub mod sources;
pub mod store;
pub mod synth;
pub mod web;
