//! See tests/security.rs.
