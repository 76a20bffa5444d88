//! `activation`: one activation of an eligible role (PIM "activate"), from an import or a source.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activation")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub principal_id: i64,
    pub role_id: i64,
    pub scope: String,
    pub activated_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub justification: Option<String>,
    /// Where it came from: `import of FILE`.
    pub via: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
