//! `role`: A privileged role that principals can be eligible for.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "role")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub owner_id: Option<i64>,
    /// A `Risk` of attest's `domain::directory`, spelled as stored: "high", "medium", "low".
    pub risk: String,
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    pub source_id: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
