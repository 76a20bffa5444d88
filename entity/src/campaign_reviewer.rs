//! `campaign_reviewer`: One reviewer of one campaign: the workload, the sign-off and the last reminder.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_reviewer")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub campaign_id: i64,
    pub reviewer_id: i64,
    pub items_assigned: i64,
    pub signed_off_at: Option<DateTimeUtc>,
    pub signed_off_addr: Option<String>,
    pub last_reminded_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

// `migration/tests/apply.rs` reads a campaign's reviewers and each one's principal through these.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::campaign::Entity",
        from = "Column::CampaignId",
        to = "super::campaign::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_campaign_reviewer_campaign_id"
    )]
    Campaign,
    #[sea_orm(
        belongs_to = "super::principal::Entity",
        from = "Column::ReviewerId",
        to = "super::principal::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_campaign_reviewer_reviewer_id"
    )]
    Reviewer,
}

impl Related<super::campaign::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Campaign.def()
    }
}

impl Related<super::principal::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Reviewer.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
