//! `principal`: A user, service identity or break-glass account that can hold roles and review.

use crate::enums::PrincipalKind;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "principal")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub external_id: String,
    pub display_name: String,
    pub email: Option<String>,
    pub manager_id: Option<i64>,
    pub kind: PrincipalKind,
    pub enabled: bool,
    /// IANA time zone name.
    pub timezone: Option<String>,
    pub source_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "Entity",
        from = "Column::ManagerId",
        to = "Column::Id",
        on_delete = "SetNull",
        fk_name = "fk_principal_manager_id"
    )]
    Manager,
    #[sea_orm(
        belongs_to = "super::source::Entity",
        from = "Column::SourceId",
        to = "super::source::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_principal_source_id"
    )]
    Source,
    #[sea_orm(has_many = "super::role::Entity")]
    Role,
    #[sea_orm(has_many = "super::campaign_definition::Entity")]
    CampaignDefinition,
    #[sea_orm(has_many = "super::eligibility::Entity")]
    Eligibility,
    #[sea_orm(has_many = "super::reviewer_token::Entity")]
    ReviewerToken,
    #[sea_orm(has_many = "super::campaign_reviewer::Entity")]
    CampaignReviewer,
    #[sea_orm(has_many = "super::outbox_mail::Entity")]
    OutboxMail,
}

impl Related<super::source::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Source.def()
    }
}

impl Related<super::role::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Role.def()
    }
}

impl Related<super::campaign_definition::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CampaignDefinition.def()
    }
}

impl Related<super::eligibility::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Eligibility.def()
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

/// Follows `manager_id` to the referenced `principal` row (self-reference).
#[derive(Clone, Copy, Debug)]
pub struct ManagerLink;

impl Linked for ManagerLink {
    type FromEntity = Entity;
    type ToEntity = Entity;

    fn link(&self) -> Vec<RelationDef> {
        vec![Relation::Manager.def()]
    }
}

impl ActiveModelBehavior for ActiveModel {}
