//! `remediation_attempt`: One attempt to remove an eligibility, or the re-read that proves it gone.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "remediation_attempt")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub remediation_id: i64,
    /// Attempt number within the remediation.
    pub attempt: i32,
    pub at: DateTimeUtc,
    /// An `AttemptOutcome` of attest's `domain::closing`, spelled as stored: "removed",
    /// "already_gone", "error", "verified_gone", "still_present", "started".
    pub outcome: String,
    #[sea_orm(column_type = "Text")]
    pub receipt: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub error: Option<String>,
}

// The far side of `remediation::Relation::Attempt` (used by `migration/tests/apply.rs`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::remediation::Entity",
        from = "Column::RemediationId",
        to = "super::remediation::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_remediation_attempt_remediation_id"
    )]
    Remediation,
}

impl Related<super::remediation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Remediation.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
