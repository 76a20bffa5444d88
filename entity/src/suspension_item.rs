//! `suspension_item`: one eligibility a suspension removed, what its source needs to put it
//! back, and the proof of the removal and of the restore.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "suspension_item")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub suspension_id: i64,
    pub eligibility_id: i64,
    /// The configured source that removes and restores it, or `builtin` (attest's own rows).
    pub source: String,
    pub principal_external_id: String,
    pub role_name: String,
    pub scope: String,
    /// An `ItemRemoval` of attest's `domain::suspension`, spelled as stored.
    pub removal_state: String,
    pub removal_attempts: i32,
    #[sea_orm(column_type = "Text", nullable)]
    pub removal_receipt: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub removal_error: Option<String>,
    pub removed_at: Option<DateTimeUtc>,
    /// An `ItemRestore`, or NULL before a restore was approved.
    pub restore_state: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub restore_receipt: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub restore_error: Option<String>,
    pub restored_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
