//! `source`: A place principals, roles and eligibilities are imported from.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "source")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// A `SourceKind` of attest's `domain::eligibility`, spelled as stored: "builtin", "file",
    /// "ldap", "graph", "webhook".
    pub kind: String,
    /// Source configuration as JSON text.
    #[sea_orm(column_type = "Text")]
    pub config: Option<String>,
    pub created_at: DateTimeUtc,
    /// When the last sync of a configured source ran, successfully or not.
    pub last_sync_at: Option<DateTimeUtc>,
    /// When a sync last succeeded.
    pub last_success_at: Option<DateTimeUtc>,
    /// Why the last sync failed (`None` when it succeeded).
    #[sea_orm(column_type = "Text")]
    pub last_sync_error: Option<String>,
    /// The last successful sync's report as JSON.
    #[sea_orm(column_type = "Text")]
    pub last_sync_report: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
