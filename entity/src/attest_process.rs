//! `attest_process`: a process that takes leased work (`attest serve`, or a CLI command that
//! launches or removes), with its heartbeat (migration 11).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "attest_process")]
pub struct Model {
    /// The process's lease name, as `lease_owner` columns name it.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    #[sea_orm(column_type = "Text")]
    pub host: String,
    pub pid: i64,
    /// What it runs (`serve`, `campaign close`, …).
    #[sea_orm(column_type = "Text")]
    pub command: String,
    pub started_at: DateTimeUtc,
    pub heartbeat_at: DateTimeUtc,
    /// When it said it stopped (its leases were given back then).
    pub stopped_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
