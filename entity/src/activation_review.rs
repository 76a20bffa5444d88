//! `activation_review`: an ISO week whose activation review was queued to the role owners.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activation_review")]
pub struct Model {
    /// `2026-W47`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub week: String,
    pub mails: i64,
    pub queued_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
