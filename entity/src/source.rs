//! `source`: A place principals, roles and eligibilities are imported from.

use crate::enums::SourceKind;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "source")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub kind: SourceKind,
    /// Source configuration as JSON text.
    #[sea_orm(column_type = "Text")]
    pub config: Option<String>,
    pub created_at: DateTimeUtc,
    /// When the last sync of a configured source ran, successfully or not.
    pub last_sync_at: Option<DateTimeUtc>,
    /// When a sync last succeeded.
    pub last_success_at: Option<DateTimeUtc>,
    /// Why the last sync failed (`None` when it succeeded).
    #[sea_orm(column_type = "Text")]
    pub last_sync_error: Option<String>,
    /// The last successful sync's report as JSON.
    #[sea_orm(column_type = "Text")]
    pub last_sync_report: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::principal::Entity")]
    Principal,
    #[sea_orm(has_many = "super::role::Entity")]
    Role,
    #[sea_orm(has_many = "super::eligibility::Entity")]
    Eligibility,
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

impl Related<super::eligibility::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Eligibility.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
