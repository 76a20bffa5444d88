//! `evidence_bundle`: one generated evidence bundle of a campaign (its zip is in `evidence_chunk`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "evidence_bundle")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub campaign_id: i64,
    pub generated_at: DateTimeUtc,
    /// The signed manifest.json, as in the bundle.
    #[sea_orm(column_type = "Text")]
    pub manifest: String,
    /// SHA-256 of the zip.
    pub sha256: String,
    pub bytes: i64,
    /// Why it was generated: `completed` or `export`.
    pub reason: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
