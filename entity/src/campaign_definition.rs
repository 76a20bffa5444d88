//! `campaign_definition`: One version of a campaign definition.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_definition")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub version: i32,
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    pub owner_id: Option<i64>,
    pub schedule: String,
    /// IANA time zone name the schedule is evaluated in.
    pub timezone: String,
    /// The TOML definition exactly as given.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// The normalised definition as JSON.
    #[sea_orm(column_type = "Text")]
    pub spec: String,
    pub spec_hash: String,
    pub created_by: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::principal::Entity",
        from = "Column::OwnerId",
        to = "super::principal::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_campaign_definition_owner_id"
    )]
    Owner,
    #[sea_orm(has_many = "super::campaign::Entity")]
    Campaign,
}

impl Related<super::principal::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Owner.def()
    }
}

impl Related<super::campaign::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Campaign.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
