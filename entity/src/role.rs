//! `role`: A privileged role that principals can be eligible for.

use crate::enums::Risk;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "role")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub owner_id: Option<i64>,
    pub risk: Risk,
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    pub source_id: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::principal::Entity",
        from = "Column::OwnerId",
        to = "super::principal::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_role_owner_id"
    )]
    Owner,
    #[sea_orm(
        belongs_to = "super::source::Entity",
        from = "Column::SourceId",
        to = "super::source::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_role_source_id"
    )]
    Source,
    #[sea_orm(has_many = "super::eligibility::Entity")]
    Eligibility,
    #[sea_orm(has_many = "super::review_item::Entity")]
    ReviewItem,
}

impl Related<super::principal::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Owner.def()
    }
}

impl Related<super::source::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Source.def()
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

impl ActiveModelBehavior for ActiveModel {}
