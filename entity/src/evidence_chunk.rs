//! `evidence_chunk`: one slice of an evidence bundle's zip, in order, so downloads stream.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "evidence_chunk")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub bundle_id: i64,
    pub seq: i32,
    #[sea_orm(column_type = "Blob")]
    pub data: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
