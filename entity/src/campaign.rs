//! `campaign`: One run of a campaign definition for a period.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub definition_id: i64,
    pub definition_name: String,
    pub definition_version: i32,
    /// Review period, e.g. `2026-Q4`.
    pub period: String,
    /// The period, or the period plus an ad-hoc suffix.
    pub launch_key: String,
    pub adhoc: bool,
    /// A `CampaignState` of attest's `domain::lifecycle`, spelled as stored: "scheduled",
    /// "launching", "active", "closing", "remediating", "completed", "cancelled".
    pub state: String,
    /// The definition spec (JSON) as it was at launch.
    #[sea_orm(column_type = "Text")]
    pub frozen_definition: String,
    pub scheduled_for: Option<DateTimeUtc>,
    pub launched_at: Option<DateTimeUtc>,
    pub due_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub cancelled_at: Option<DateTimeUtc>,
    pub closed_by: Option<String>,
    pub cancelled_by: Option<String>,
    pub population: i64,
    pub items_created: i64,
    /// Resume point of an interrupted launch (last eligibility id processed).
    pub launch_cursor: Option<i64>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    /// Why automatic removals wait for an admin's confirmation.
    #[sea_orm(column_type = "Text")]
    pub rail_reason: Option<String>,
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The review round now open: 1, then 2, 3… after each re-run for non-responders.
    pub round: i32,
    /// When the open round started (none in the first round): an item decided before it is
    /// settled.
    pub round_started_at: Option<DateTimeUtc>,
    /// The review stage now open: 1, then 2, 3… in a multi-stage campaign (migration 24).
    pub stage: i32,
    /// When the open stage started (none in stage 1): an item decided before it is settled.
    pub stage_started_at: Option<DateTimeUtc>,
}

// `migration/tests/apply.rs` reads a campaign's items, tokens and reviewers through these.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::review_item::Entity")]
    ReviewItem,
    #[sea_orm(has_many = "super::reviewer_token::Entity")]
    ReviewerToken,
    #[sea_orm(has_many = "super::campaign_reviewer::Entity")]
    CampaignReviewer,
}

impl Related<super::review_item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ReviewItem.def()
    }
}

impl Related<super::reviewer_token::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ReviewerToken.def()
    }
}

impl Related<super::campaign_reviewer::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CampaignReviewer.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
