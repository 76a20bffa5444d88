//! attest: access review campaigns for privileged-role eligibility.
//!
//! The tree follows one rule: the domain decides, the engine acts, adapters translate.
//!
//! - [`domain`]: pure rules with no I/O and no clock (every time-dependent rule takes `now`):
//!   definitions and schedules, import rows, campaign states and summaries, reviewers and
//!   recommendations, retries and liveness, the audit hash chain, the evidence's rules.
//! - [`engine`]: one function per use case (import, sync, launch, decide, remind, close,
//!   remediate, evidence, reports and the weekly activation review, accounts and credentials),
//!   each owning its transaction. The CLI, the web layer and the scheduler call these;
//!   nothing else writes state.
//! - [`store`]: the database (SQLite or PostgreSQL through sea-orm): the only place with SQL,
//!   and where `entity` rows and domain types meet; what differs between the two backends is
//!   in `store::backend` (one module each).
//! - [`sources`]: where eligibility lives and removals go: the built-in source (attest's own
//!   database, fed by imported files), Microsoft Entra PIM through Graph, LDAP, webhooks.
//! - [`import_file`]: the import file parser: CSV, JSON and JSON Lines records streamed in
//!   bounded memory, each with its line, and the file's SHA-256.
//! - [`webhooks`]: outbound events: `[webhooks.NAME]`, the shared HMAC signature, and the
//!   sender that POSTs the events the engine queued (docs/webhooks.md).
//! - [`mail`]: the outbox worker: composes (askama) and sends (SMTP pool or .eml files).
//! - [`scheduler`]: one tick runs what is due (syncs, launches, reminders, closes, removals,
//!   missing evidence, the weekly activation review's mail); `serve` loops it.
//! - [`web`]: axum: the reviewer's pages, the admin and auditor console, the REST API.
//! - [`evidence`]: signed, offline-verifiable evidence bundles and their report.
//! - [`telemetry`]: what this process counts for Prometheus (`/metrics`).
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
pub mod import_file;
pub mod mail;
pub mod oidc;
pub mod scheduler;
pub mod sources;
pub mod store;
pub mod synth;
pub mod telemetry;
pub mod web;
pub mod webhooks;
