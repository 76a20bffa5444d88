//! `campaign`: One run of a campaign definition for a period.

use crate::enums::CampaignState;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub definition_id: i64,
    pub definition_name: String,
    pub definition_version: i32,
    /// Review period, e.g. `2026-Q4`.
    pub period: String,
    /// The period, or the period plus an ad-hoc suffix.
    pub launch_key: String,
    pub adhoc: bool,
    pub state: CampaignState,
    /// The definition spec (JSON) as it was at launch.
    #[sea_orm(column_type = "Text")]
    pub frozen_definition: String,
    pub scheduled_for: Option<DateTimeUtc>,
    pub launched_at: Option<DateTimeUtc>,
    pub due_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub cancelled_at: Option<DateTimeUtc>,
    pub closed_by: Option<String>,
    pub cancelled_by: Option<String>,
    pub population: i64,
    pub items_created: i64,
    /// Resume point of an interrupted launch (last eligibility id processed).
    pub launch_cursor: Option<i64>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    /// Why automatic removals wait for an admin's confirmation.
    #[sea_orm(column_type = "Text")]
    pub rail_reason: Option<String>,
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::campaign_definition::Entity",
        from = "Column::DefinitionId",
        to = "super::campaign_definition::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_campaign_definition_id"
    )]
    Definition,
    #[sea_orm(has_many = "super::eligibility::Entity")]
    Eligibility,
    #[sea_orm(has_many = "super::review_item::Entity")]
    ReviewItem,
    #[sea_orm(has_many = "super::decision::Entity")]
    Decision,
    #[sea_orm(has_many = "super::remediation::Entity")]
    Remediation,
    #[sea_orm(has_many = "super::reviewer_token::Entity")]
    ReviewerToken,
    #[sea_orm(has_many = "super::campaign_reviewer::Entity")]
    CampaignReviewer,
    #[sea_orm(has_many = "super::outbox_mail::Entity")]
    OutboxMail,
}

impl Related<super::campaign_definition::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Definition.def()
    }
}

impl Related<super::eligibility::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Eligibility.def()
    }
}

impl Related<super::review_item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ReviewItem.def()
    }
}

impl Related<super::decision::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Decision.def()
    }
}

impl Related<super::remediation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Remediation.def()
    }
}

impl Related<super::reviewer_token::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ReviewerToken.def()
    }
}

impl Related<super::campaign_reviewer::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CampaignReviewer.def()
    }
}

impl Related<super::outbox_mail::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::OutboxMail.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
