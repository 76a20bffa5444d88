//! `reappearance`: an eligibility a campaign removed that an import or sync listed again.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reappearance")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub eligibility_id: i64,
    /// The campaign that had removed it.
    pub campaign_id: Option<i64>,
    pub removed_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub removal_receipt: Option<String>,
    pub reappeared_at: DateTimeUtc,
    /// What listed it again: `import of FILE`.
    pub via: String,
    /// `flagged`, or `removed_again` through its source.
    pub action: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
