//! `suspension`: a person's eligibility removed on a signal until an admin approves its restore.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "suspension")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub principal_id: i64,
    /// The principal's id while the suspension is open, NULL once restored (unique: one open
    /// suspension per person).
    #[sea_orm(unique)]
    pub open_principal_id: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    /// Who suspended (`token:NAME`, `account:EMAIL`).
    pub requested_by: String,
    /// A `SuspensionState` of attest's `domain::suspension`, spelled as stored.
    pub state: String,
    pub created_at: DateTimeUtc,
    /// When every item was removed and read back.
    pub suspended_at: Option<DateTimeUtc>,
    pub restore_requested_by: Option<String>,
    pub restore_requested_at: Option<DateTimeUtc>,
    pub approved_by: Option<String>,
    pub restored_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
