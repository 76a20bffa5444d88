//! `leaver_event`: a person an import, a prune or a sync disabled; handled once the grace
//! period has passed and their eligibility was removed (or they were enabled again).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "leaver_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub principal_id: i64,
    /// `import of FILE`, `prune of FILE` or `sync of SOURCE`.
    pub via: String,
    pub detected_at: DateTimeUtc,
    pub handled_at: Option<DateTimeUtc>,
    /// `domain::leavers::LeaverOutcome`, once handled.
    pub outcome: Option<String>,
    /// The suspension that removed their eligibility (outcome `suspended`).
    pub suspension_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
