//! `review_item`: One eligibility to be reviewed in a campaign, with the holder and role frozen at launch.

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
    /// A `PrincipalKind` of attest's `domain::directory`, spelled as stored: "user", "service",
    /// "break_glass".
    pub holder_kind: String,
    pub role_name: String,
    /// A `Risk` of attest's `domain::directory`, spelled as stored: "high", "medium", "low".
    pub role_risk: String,
    pub since: Option<DateTimeUtc>,
    pub last_activated_at: Option<DateTimeUtc>,
    pub reviewer_id: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub reviewer_reason: Option<String>,
    pub flagged: bool,
    #[sea_orm(column_type = "Text")]
    pub flag_reason: Option<String>,
    /// A `Recommendation` of attest's `domain::recommendation`, spelled as stored: "keep",
    /// "revoke".
    pub recommendation: String,
    #[sea_orm(column_type = "Text")]
    pub recommendation_reason: Option<String>,
    pub excluded: bool,
    pub escalated_at: Option<DateTimeUtc>,
    /// The reviewer the item was escalated away from.
    pub escalated_from_id: Option<i64>,
    /// The decision currently in force (`decision.id`; no foreign key, the decision table is created later).
    pub current_decision_id: Option<i64>,
    /// A `Verdict` of attest's `domain::closing`, spelled as stored: "attest", "revoke".
    pub verdict: Option<String>,
    /// Whether the current verdict came from a person or the policy: a `MadeBy` of attest's
    /// `domain::closing`, spelled as stored: "human", "policy".
    pub made_by: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
    pub outcome: Option<String>,
    pub created_at: DateTimeUtc,
    /// The holder's attributes frozen at launch when the definition names some (`context`): a
    /// JSON object of text.
    #[sea_orm(column_type = "Text")]
    pub holder_context: Option<String>,
    /// The reviewed access's `Assignment` (attest's `domain::eligibility`) frozen at launch:
    /// "eligible", or "active" for standing access.
    pub assignment: String,
    /// The last review stage the item entered (1 unless its campaign has later stages).
    pub stage: i32,
}

// `migration/tests/apply.rs` reads an item's decisions; `Campaign` is the far side of
// `campaign::Relation::ReviewItem`.
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
    #[sea_orm(has_many = "super::decision::Entity")]
    Decision,
}

impl Related<super::campaign::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Campaign.def()
    }
}

impl Related<super::decision::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Decision.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
