//! `eligibility`: A principal's eligibility for a role at a scope.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "eligibility")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub principal_id: i64,
    pub role_id: i64,
    pub scope: String,
    pub start_at: Option<DateTimeUtc>,
    pub end_at: Option<DateTimeUtc>,
    pub granted_via: String,
    pub last_activated_at: Option<DateTimeUtc>,
    /// An `EligibilityStatus` of attest's `domain::eligibility`, spelled as stored: "active",
    /// "removed".
    pub status: String,
    pub removed_at: Option<DateTimeUtc>,
    pub removed_by_campaign_id: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub removal_reason: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub removal_receipt: Option<String>,
    pub source_id: i64,
    /// An `Assignment` of attest's `domain::eligibility`, spelled as stored: "eligible" (PIM,
    /// activated when needed) or "active" (standing access, held without activation).
    pub assignment: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
