//! `mover_event`: a person's manager changed (import or sync); handled once the scheduler has
//! launched the mover campaigns of every `trigger = "mover"` definition for it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mover_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub principal_id: i64,
    pub old_manager_id: i64,
    pub new_manager_id: i64,
    /// `import of FILE` or `sync of SOURCE`.
    pub via: String,
    pub detected_at: DateTimeUtc,
    pub handled_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
