//! Hostile traffic, reproduced (issue 12): every attack that got through once has a test here
//! that fails without its defence. One test binary, a module per kind of attack:
//!
//! - [`signin`]: concurrent guessing, memory exhaustion, enumeration, lock-out abuse, open
//!   redirects and anonymous writes to the audit log.
//! - [`credentials`]: every credential can be listed and revoked, and a revoked one is refused
//!   at once.
//! - [`inputs`]: size limits, control characters, duplicate keys and wrong types, errors that
//!   quote only a short prefix.
//! - [`evidence`]: strict offline verification and a safe `evidence export --out`.
//!
//! Every test gets its own database (SQLite, or PostgreSQL with ATTEST_TEST_DATABASE_URL).

mod common;

mod security {
    pub mod credentials;
    pub mod evidence;
    pub mod inputs;
    pub mod signin;
}
