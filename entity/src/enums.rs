//! String-backed enums stored in the state columns.
//!
//! Every enum is stored as a short string (at most 32 characters) so the data
//! reads the same in SQL on SQLite and PostgreSQL. The serde representation and
//! [`as_str`](SourceKind::as_str) return exactly the stored string.

use sea_orm::entity::prelude::*;

/// `Display` and `FromStr` in terms of `as_str`, so that the textual form is
/// always the stored form.
macro_rules! string_enum_text {
    ($($name:ident),+ $(,)?) => {
        $(
            impl std::fmt::Display for $name {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str(self.as_str())
                }
            }

            impl std::str::FromStr for $name {
                type Err = UnknownVariant;

                fn from_str(s: &str) -> Result<Self, Self::Err> {
                    <Self as sea_orm::Iterable>::iter()
                        .find(|v| v.as_str() == s)
                        .ok_or_else(|| UnknownVariant {
                            enum_name: stringify!($name),
                            value: s.to_owned(),
                        })
                }
            }
        )+
    };
}

/// Error returned by the `FromStr` implementations of the enums in this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVariant {
    /// Name of the enum that was being parsed.
    pub enum_name: &'static str,
    /// The string that matched no variant.
    pub value: String,
}

impl std::fmt::Display for UnknownVariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown {} value: {:?}", self.enum_name, self.value)
    }
}

impl std::error::Error for UnknownVariant {}

/// Where a principal or role was imported from (`source.kind`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    #[sea_orm(string_value = "builtin")]
    Builtin,
    #[sea_orm(string_value = "file")]
    File,
    #[sea_orm(string_value = "ldap")]
    Ldap,
    /// Microsoft Entra PIM through Microsoft Graph (`kind = "entra"` in attest.toml).
    #[sea_orm(string_value = "graph")]
    Graph,
    /// Removals only, through a signed POST.
    #[sea_orm(string_value = "webhook")]
    Webhook,
}

impl SourceKind {
    /// The string stored in the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Builtin => "builtin",
            Self::File => "file",
            Self::Ldap => "ldap",
            Self::Graph => "graph",
            Self::Webhook => "webhook",
        }
    }
}

/// What kind of identity a principal is (`principal.kind`, `review_item.holder_kind`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    #[sea_orm(string_value = "user")]
    User,
    #[sea_orm(string_value = "service")]
    Service,
    #[sea_orm(string_value = "break_glass")]
    BreakGlass,
}

impl PrincipalKind {
    /// The string stored in the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Service => "service",
            Self::BreakGlass => "break_glass",
        }
    }
}

/// Risk tier of a role (`role.risk`, `review_item.role_risk`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    #[sea_orm(string_value = "high")]
    High,
    #[sea_orm(string_value = "medium")]
    Medium,
    #[sea_orm(string_value = "low")]
    Low,
}

impl Risk {
    /// The string stored in the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        }
    }
}

/// Whether an eligibility is still held (`eligibility.status`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum EligibilityStatus {
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "removed")]
    Removed,
}

impl EligibilityStatus {
    /// The string stored in the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Removed => "removed",
        }
    }
}

/// Lifecycle state of a campaign (`campaign.state`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum CampaignState {
    #[sea_orm(string_value = "scheduled")]
    Scheduled,
    #[sea_orm(string_value = "launching")]
    Launching,
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "closing")]
    Closing,
    #[sea_orm(string_value = "remediating")]
    Remediating,
    #[sea_orm(string_value = "completed")]
    Completed,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

impl CampaignState {
    /// The string stored in the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Launching => "launching",
            Self::Active => "active",
            Self::Closing => "closing",
            Self::Remediating => "remediating",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// A reviewer's verdict on an item (`decision.verdict`, `review_item.verdict`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    #[sea_orm(string_value = "attest")]
    Attest,
    #[sea_orm(string_value = "revoke")]
    Revoke,
}

impl Verdict {
    /// The string stored in the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Attest => "attest",
            Self::Revoke => "revoke",
        }
    }
}

/// Who made a decision (`decision.made_by`, `review_item.made_by`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum MadeBy {
    #[sea_orm(string_value = "human")]
    Human,
    #[sea_orm(string_value = "policy")]
    Policy,
}

impl MadeBy {
    /// The string stored in the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Human => "human",
            Self::Policy => "policy",
        }
    }
}

/// How a decision reached the engine (`decision.channel`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    #[sea_orm(string_value = "link")]
    Link,
    #[sea_orm(string_value = "web")]
    Web,
    #[sea_orm(string_value = "api")]
    Api,
    #[sea_orm(string_value = "cli")]
    Cli,
    #[sea_orm(string_value = "policy")]
    Policy,
}

impl Channel {
    /// The string stored in the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Link => "link",
            Self::Web => "web",
            Self::Api => "api",
            Self::Cli => "cli",
            Self::Policy => "policy",
        }
    }
}

/// The engine's recommendation for an item (`review_item.recommendation`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum Recommendation {
    #[sea_orm(string_value = "keep")]
    Keep,
    #[sea_orm(string_value = "revoke")]
    Revoke,
}

impl Recommendation {
    /// The string stored in the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Keep => "keep",
            Self::Revoke => "revoke",
        }
    }
}

/// Progress of removing a revoked eligibility (`remediation.state`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum RemediationState {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "awaiting_confirmation")]
    AwaitingConfirmation,
    #[sea_orm(string_value = "removed")]
    Removed,
    #[sea_orm(string_value = "already_gone")]
    AlreadyGone,
    #[sea_orm(string_value = "failed")]
    Failed,
}

impl RemediationState {
    /// The string stored in the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::AwaitingConfirmation => "awaiting_confirmation",
            Self::Removed => "removed",
            Self::AlreadyGone => "already_gone",
            Self::Failed => "failed",
        }
    }
}

/// Result of one attempt to remove an eligibility, or of the re-read that
/// proves it gone (`remediation_attempt.outcome`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    #[sea_orm(string_value = "removed")]
    Removed,
    #[sea_orm(string_value = "already_gone")]
    AlreadyGone,
    #[sea_orm(string_value = "error")]
    Error,
    #[sea_orm(string_value = "verified_gone")]
    VerifiedGone,
    #[sea_orm(string_value = "still_present")]
    StillPresent,
    /// Written before a removal is sent to a source outside the database, so a crash after
    /// the source acted and before attest recorded it is known to the retry.
    #[sea_orm(string_value = "started")]
    Started,
}

impl AttemptOutcome {
    /// The string stored in the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Removed => "removed",
            Self::AlreadyGone => "already_gone",
            Self::Error => "error",
            Self::VerifiedGone => "verified_gone",
            Self::StillPresent => "still_present",
            Self::Started => "started",
        }
    }
}

/// Delivery state of an outbox message (`outbox_mail.state`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum MailState {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "sending")]
    Sending,
    #[sea_orm(string_value = "sent")]
    Sent,
    #[sea_orm(string_value = "failed")]
    Failed,
    /// Not sent because it no longer applied (a reminder to someone who had finished).
    #[sea_orm(string_value = "skipped")]
    Skipped,
}

impl MailState {
    /// The string stored in the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

/// What a console account may do (`account.role`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum AccountRole {
    #[sea_orm(string_value = "admin")]
    Admin,
    #[sea_orm(string_value = "auditor")]
    Auditor,
}

impl AccountRole {
    /// The string stored in the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Auditor => "auditor",
        }
    }
}

string_enum_text!(
    SourceKind,
    PrincipalKind,
    Risk,
    EligibilityStatus,
    CampaignState,
    Verdict,
    MadeBy,
    Channel,
    Recommendation,
    RemediationState,
    AttemptOutcome,
    MailState,
    AccountRole,
);

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ActiveEnum, Iterable};

    fn check<E>()
    where
        E: ActiveEnum<Value = String>
            + Iterable
            + std::fmt::Display
            + std::str::FromStr
            + serde::Serialize
            + PartialEq
            + std::fmt::Debug,
        <E as std::str::FromStr>::Err: std::fmt::Debug,
    {
        for v in E::iter() {
            let stored = v.to_value();
            assert!(stored.len() <= 32);
            assert_eq!(v.to_string(), stored);
            assert_eq!(
                serde_json::to_value(&v).expect("serialize"),
                serde_json::Value::String(stored.clone())
            );
            assert_eq!(stored.parse::<E>().expect("parse"), v);
        }
    }

    #[test]
    fn stored_serde_and_display_forms_agree() {
        check::<SourceKind>();
        check::<PrincipalKind>();
        check::<Risk>();
        check::<EligibilityStatus>();
        check::<CampaignState>();
        check::<Verdict>();
        check::<MadeBy>();
        check::<Channel>();
        check::<Recommendation>();
        check::<RemediationState>();
        check::<AttemptOutcome>();
        check::<MailState>();
        check::<AccountRole>();
    }
}
