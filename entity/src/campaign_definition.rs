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
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
