//! `eligibility`: A principal's eligibility for a role at a scope.

use crate::enums::EligibilityStatus;
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
    pub status: EligibilityStatus,
    pub removed_at: Option<DateTimeUtc>,
    pub removed_by_campaign_id: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub removal_reason: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub removal_receipt: Option<String>,
    pub source_id: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::principal::Entity",
        from = "Column::PrincipalId",
        to = "super::principal::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_eligibility_principal_id"
    )]
    Principal,
    #[sea_orm(
        belongs_to = "super::role::Entity",
        from = "Column::RoleId",
        to = "super::role::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_eligibility_role_id"
    )]
    Role,
    #[sea_orm(
        belongs_to = "super::campaign::Entity",
        from = "Column::RemovedByCampaignId",
        to = "super::campaign::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_eligibility_removed_by_campaign_id"
    )]
    RemovedByCampaign,
    #[sea_orm(
        belongs_to = "super::source::Entity",
        from = "Column::SourceId",
        to = "super::source::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_eligibility_source_id"
    )]
    Source,
    #[sea_orm(has_many = "super::review_item::Entity")]
    ReviewItem,
    #[sea_orm(has_many = "super::remediation::Entity")]
    Remediation,
}

impl Related<super::principal::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Principal.def()
    }
}

impl Related<super::role::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Role.def()
    }
}

impl Related<super::campaign::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RemovedByCampaign.def()
    }
}

impl Related<super::source::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Source.def()
    }
}

impl Related<super::review_item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ReviewItem.def()
    }
}

impl Related<super::remediation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Remediation.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
