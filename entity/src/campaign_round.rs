//! `campaign_round`: one re-run of a campaign for its non-responders — who opened it, when, the
//! deadline before and after, and how much it re-opened.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_round")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub campaign_id: i64,
    /// 2 for the first re-run, 3 for the next.
    pub round: i32,
    pub started_at: DateTimeUtc,
    /// An admin's audit name, or `scheduler`.
    pub started_by: String,
    pub days: i32,
    pub due_before: Option<DateTimeUtc>,
    pub due_at: DateTimeUtc,
    pub items_reopened: i64,
    pub reviewers_reopened: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
