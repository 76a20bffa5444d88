//! The domain's enums as sea-orm values: bound as their stored string, read back from a string
//! column in `FromQueryResult` rows, so the store never spells or parses them by hand.
//!
//! The domain stays free of sea-orm and the entity crate keeps these columns as `String`; this
//! is the one place the two meet. A stored string that names no variant is a `DbErr::Type`
//! naming the value and the choices (the enum's own `FromStr` message), never a panic.

use crate::domain::access::Role;
use crate::domain::challenge::ChallengeState;
use crate::domain::closing::{
    AttemptOutcome, Channel, MadeBy, RemediationKind, RemediationState, Verdict,
};
use crate::domain::directory::{PrincipalKind, Risk};
use crate::domain::eligibility::{Assignment, EligibilityStatus, SourceKind};
use crate::domain::lifecycle::CampaignState;
use crate::domain::mail_state::MailState;
use crate::domain::recommendation::Recommendation;
use crate::domain::suspension::{ItemRemoval, ItemRestore, SuspensionState};
use crate::domain::webhooks::{DeliveryState, EventKind};

/// Width of the columns these enums are stored in (migration's `ENUM_LEN`).
pub const STORED_MAX_CHARS: usize = 32;

/// Implements sea-orm's value traits for string enums that have `as_str` and `FromStr<Err =
/// String>` (the domain's `string_enum!`).
macro_rules! stored_as_string {
    ($($ty:ty),+ $(,)?) => {
        $(
            impl From<$ty> for sea_orm::Value {
                fn from(value: $ty) -> Self {
                    sea_orm::Value::String(Some(value.as_str().to_owned()))
                }
            }

            impl sea_orm::TryGetable for $ty {
                fn try_get_by<I: sea_orm::ColIdx>(
                    res: &sea_orm::QueryResult,
                    index: I,
                ) -> Result<Self, sea_orm::TryGetError> {
                    let text = <String as sea_orm::TryGetable>::try_get_by(res, index)?;
                    text.parse()
                        .map_err(|e| sea_orm::TryGetError::DbErr(sea_orm::DbErr::Type(e)))
                }
            }

            impl sea_orm::sea_query::ValueType for $ty {
                fn try_from(
                    value: sea_orm::Value,
                ) -> Result<Self, sea_orm::sea_query::ValueTypeErr> {
                    match value {
                        sea_orm::Value::String(Some(text)) => {
                            text.parse().map_err(|_| sea_orm::sea_query::ValueTypeErr)
                        }
                        _ => Err(sea_orm::sea_query::ValueTypeErr),
                    }
                }

                fn type_name() -> String {
                    stringify!($ty).to_owned()
                }

                fn array_type() -> sea_orm::sea_query::ArrayType {
                    sea_orm::sea_query::ArrayType::String
                }

                fn column_type() -> sea_orm::sea_query::ColumnType {
                    sea_orm::sea_query::ColumnType::String(sea_orm::sea_query::StringLen::N(
                        STORED_MAX_CHARS as u32,
                    ))
                }
            }

            impl sea_orm::sea_query::Nullable for $ty {
                fn null() -> sea_orm::Value {
                    sea_orm::Value::String(None)
                }
            }
        )+
    };
}

stored_as_string!(
    ChallengeState,
    SourceKind,
    PrincipalKind,
    Risk,
    EligibilityStatus,
    Assignment,
    CampaignState,
    Verdict,
    MadeBy,
    Channel,
    Recommendation,
    RemediationState,
    RemediationKind,
    AttemptOutcome,
    MailState,
    Role,
    SuspensionState,
    ItemRemoval,
    ItemRestore,
    EventKind,
    DeliveryState,
);

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sea_query::ValueType;
    use sea_orm::Value;

    /// Every variant is stored as its `as_str`, within the column's width, and reads back as
    /// itself; its `Display` and serde forms are the stored form too.
    fn check<E>(all: &[E])
    where
        E: Copy + PartialEq + std::fmt::Debug + std::fmt::Display + serde::Serialize,
        E: Into<Value> + ValueType + std::str::FromStr,
        <E as std::str::FromStr>::Err: std::fmt::Debug,
    {
        for &v in all {
            let stored = v.to_string();
            assert!(stored.len() <= STORED_MAX_CHARS, "{stored}");
            assert_eq!(v.into(), Value::String(Some(stored.clone())));
            assert_eq!(
                E::try_from(Value::String(Some(stored.clone()))).ok(),
                Some(v)
            );
            assert_eq!(stored.parse::<E>().expect("parse"), v);
            assert_eq!(
                serde_json::to_value(v).expect("serialize"),
                serde_json::Value::String(stored.clone())
            );
        }
        assert!(E::try_from(Value::String(Some("no such word".into()))).is_err());
    }

    #[test]
    fn stored_serde_and_display_forms_agree() {
        check(SourceKind::ALL);
        check(PrincipalKind::ALL);
        check(Risk::ALL);
        check(EligibilityStatus::ALL);
        check(Assignment::ALL);
        check(CampaignState::ALL);
        check(Verdict::ALL);
        check(MadeBy::ALL);
        check(Channel::ALL);
        check(Recommendation::ALL);
        check(RemediationState::ALL);
        check(RemediationKind::ALL);
        check(AttemptOutcome::ALL);
        check(SuspensionState::ALL);
        check(ItemRemoval::ALL);
        check(ItemRestore::ALL);
        check(MailState::ALL);
        check(Role::ALL);
        check(EventKind::ALL);
        check(DeliveryState::ALL);
    }

    fn spelled<E: std::fmt::Display>(all: &[E]) -> Vec<String> {
        all.iter().map(E::to_string).collect()
    }

    #[test]
    fn stored_spellings_are_the_ones_in_the_database() {
        // Rows written before these enums moved to the domain keep reading: no spelling moves.
        assert_eq!(
            spelled(SourceKind::ALL),
            ["builtin", "file", "ldap", "graph", "webhook"]
        );
        assert_eq!(
            spelled(Channel::ALL),
            ["link", "web", "api", "cli", "policy"]
        );
        assert_eq!(
            spelled(RemediationState::ALL),
            [
                "pending",
                "awaiting_confirmation",
                "removed",
                "already_gone",
                "failed"
            ]
        );
        assert_eq!(
            spelled(AttemptOutcome::ALL),
            [
                "removed",
                "already_gone",
                "error",
                "verified_gone",
                "still_present",
                "started"
            ]
        );
        assert_eq!(
            spelled(MailState::ALL),
            ["pending", "sending", "sent", "failed", "skipped"]
        );
        assert_eq!(spelled(EligibilityStatus::ALL), ["active", "removed"]);
        assert_eq!(spelled(Assignment::ALL), ["eligible", "active"]);
    }
}
