//! Pure rules: no I/O, no SQL, no clock. Every time-dependent function takes `now`.

/// A closed set of words stored as text: `as_str`, `FromStr` naming the choices, `Display`.
macro_rules! string_enum {
    ($ty:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The spelling used in files, the database and JSON.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok($ty::$variant),)+
                    other => Err(format!(
                        concat!("unknown ", $what, " {} (expected {})"),
                        $crate::domain::limits::quote(other),
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod access;
pub mod activations;
pub mod audit_chain;
pub mod challenge;
pub mod closing;
pub mod credentials;
pub mod definition;
pub mod delta;
pub mod directory;
pub mod eligibility;
pub mod evidence;
pub mod figures;
pub mod leavers;
pub mod lifecycle;
pub mod limits;
pub mod liveness;
pub mod mail_state;
pub mod movers;
pub mod oidc;
pub mod recommendation;
pub mod records;
pub mod reminders;
pub mod rerun;
pub mod retry;
pub mod reviewers;
pub mod schedule;
pub mod spec_error;
pub mod stages;
pub mod summary;
pub mod suspension;
pub mod webhooks;
