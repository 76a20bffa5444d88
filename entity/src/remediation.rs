//! `remediation`: Removal of a revoked eligibility, retried until it is confirmed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "remediation")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub item_id: i64,
    pub campaign_id: i64,
    pub eligibility_id: i64,
    /// A `RemediationState` of attest's `domain::closing`, spelled as stored: "pending",
    /// "awaiting_confirmation", "removed", "already_gone", "failed".
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    #[sea_orm(column_type = "Text")]
    pub last_error: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub receipt: Option<String>,
    pub removed_at: Option<DateTimeUtc>,
    pub verified_at: Option<DateTimeUtc>,
    pub lease_until: Option<DateTimeUtc>,
    /// The process holding the lease (migration 11).
    pub lease_owner: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// A `RemediationKind` of attest's `domain::closing`, spelled as stored: "remove", or
    /// "convert" (standing access converted to eligible; migration 23).
    pub kind: String,
}

// `migration/tests/apply.rs` reads a remediation's attempts through this.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::remediation_attempt::Entity")]
    Attempt,
}

impl Related<super::remediation_attempt::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Attempt.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
