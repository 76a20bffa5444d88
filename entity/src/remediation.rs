//! `remediation`: Removal of a revoked eligibility, retried until it is confirmed.

use crate::enums::RemediationState;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "remediation")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub item_id: i64,
    pub campaign_id: i64,
    pub eligibility_id: i64,
    pub state: RemediationState,
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
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::review_item::Entity",
        from = "Column::ItemId",
        to = "super::review_item::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_remediation_item_id"
    )]
    Item,
    #[sea_orm(
        belongs_to = "super::campaign::Entity",
        from = "Column::CampaignId",
        to = "super::campaign::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_remediation_campaign_id"
    )]
    Campaign,
    #[sea_orm(
        belongs_to = "super::eligibility::Entity",
        from = "Column::EligibilityId",
        to = "super::eligibility::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_remediation_eligibility_id"
    )]
    Eligibility,
    #[sea_orm(has_many = "super::remediation_attempt::Entity")]
    Attempt,
}

impl Related<super::review_item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Item.def()
    }
}

impl Related<super::campaign::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Campaign.def()
    }
}

impl Related<super::eligibility::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Eligibility.def()
    }
}

impl Related<super::remediation_attempt::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Attempt.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
