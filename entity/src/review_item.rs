//! `review_item`: One eligibility to be reviewed in a campaign, with the holder and role frozen at launch.

use crate::enums::{MadeBy, PrincipalKind, Recommendation, Risk, Verdict};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "review_item")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub campaign_id: i64,
    pub eligibility_id: i64,
    pub principal_id: i64,
    pub role_id: i64,
    pub scope: String,
    pub holder_external_id: String,
    pub holder_name: String,
    pub holder_email: Option<String>,
    pub holder_kind: PrincipalKind,
    pub role_name: String,
    pub role_risk: Risk,
    pub since: Option<DateTimeUtc>,
    pub last_activated_at: Option<DateTimeUtc>,
    pub reviewer_id: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub reviewer_reason: Option<String>,
    pub flagged: bool,
    #[sea_orm(column_type = "Text")]
    pub flag_reason: Option<String>,
    pub recommendation: Recommendation,
    #[sea_orm(column_type = "Text")]
    pub recommendation_reason: Option<String>,
    pub excluded: bool,
    pub escalated_at: Option<DateTimeUtc>,
    /// The reviewer the item was escalated away from.
    pub escalated_from_id: Option<i64>,
    /// The decision currently in force (`decision.id`; no foreign key, the decision table is created later).
    pub current_decision_id: Option<i64>,
    pub verdict: Option<Verdict>,
    /// Whether the current verdict came from a person or the policy.
    pub made_by: Option<MadeBy>,
    pub decided_at: Option<DateTimeUtc>,
    pub outcome: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::campaign::Entity",
        from = "Column::CampaignId",
        to = "super::campaign::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_review_item_campaign_id"
    )]
    Campaign,
    #[sea_orm(
        belongs_to = "super::eligibility::Entity",
        from = "Column::EligibilityId",
        to = "super::eligibility::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_review_item_eligibility_id"
    )]
    Eligibility,
    #[sea_orm(
        belongs_to = "super::principal::Entity",
        from = "Column::PrincipalId",
        to = "super::principal::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_review_item_principal_id"
    )]
    Principal,
    #[sea_orm(
        belongs_to = "super::role::Entity",
        from = "Column::RoleId",
        to = "super::role::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_review_item_role_id"
    )]
    Role,
    #[sea_orm(
        belongs_to = "super::principal::Entity",
        from = "Column::ReviewerId",
        to = "super::principal::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_review_item_reviewer_id"
    )]
    Reviewer,
    #[sea_orm(
        belongs_to = "super::principal::Entity",
        from = "Column::EscalatedFromId",
        to = "super::principal::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_review_item_escalated_from_id"
    )]
    EscalatedFrom,
    #[sea_orm(has_many = "super::decision::Entity")]
    Decision,
    #[sea_orm(has_one = "super::remediation::Entity")]
    Remediation,
}

impl Related<super::campaign::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Campaign.def()
    }
}

impl Related<super::eligibility::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Eligibility.def()
    }
}

impl Related<super::role::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Role.def()
    }
}

impl Related<super::decision::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Decision.def()
    }
}

impl Related<super::remediation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Remediation.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
