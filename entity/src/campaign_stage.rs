//! `campaign_stage`: one later stage of a multi-stage campaign — when it opened and who opened
//! it, the deadline it replaced and its own, and how many items and reviewers it took on.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_stage")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub campaign_id: i64,
    /// 2 for the first later stage.
    pub stage: i32,
    pub started_at: DateTimeUtc,
    /// An admin's audit name, or `scheduler` (the earlier stage's deadline).
    #[sea_orm(column_type = "Text")]
    pub started_by: String,
    /// The earlier stage's deadline.
    pub due_before: Option<DateTimeUtc>,
    pub due_at: DateTimeUtc,
    pub items_entered: i64,
    pub reviewers: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
