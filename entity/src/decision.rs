//! `decision`: A verdict on a review item; append-only, a later decision supersedes an earlier one.

use crate::enums::{Channel, MadeBy, Verdict};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "decision")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub item_id: i64,
    pub campaign_id: i64,
    pub verdict: Verdict,
    pub made_by: MadeBy,
    pub reviewer_id: Option<i64>,
    pub acting_for_id: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub justification: Option<String>,
    pub channel: Channel,
    pub client_addr: Option<String>,
    pub decided_at: DateTimeUtc,
    pub supersedes_id: Option<i64>,
    /// Who recorded it when no reviewer did (an admin on a reviewer's behalf), as the audit log
    /// names them; null for a reviewer's own decisions and for decisions before migration 9.
    #[sea_orm(column_type = "Text")]
    pub actor: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::review_item::Entity",
        from = "Column::ItemId",
        to = "super::review_item::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_decision_item_id"
    )]
    Item,
    #[sea_orm(
        belongs_to = "super::campaign::Entity",
        from = "Column::CampaignId",
        to = "super::campaign::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_decision_campaign_id"
    )]
    Campaign,
    #[sea_orm(
        belongs_to = "super::principal::Entity",
        from = "Column::ReviewerId",
        to = "super::principal::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_decision_reviewer_id"
    )]
    Reviewer,
    #[sea_orm(
        belongs_to = "super::principal::Entity",
        from = "Column::ActingForId",
        to = "super::principal::Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_decision_acting_for_id"
    )]
    ActingFor,
    #[sea_orm(
        belongs_to = "Entity",
        from = "Column::SupersedesId",
        to = "Column::Id",
        on_delete = "Restrict",
        fk_name = "fk_decision_supersedes_id"
    )]
    Supersedes,
}

impl Related<super::review_item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Item.def()
    }
}

impl Related<super::campaign::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Campaign.def()
    }
}

/// Follows `supersedes_id` to the referenced `decision` row (self-reference).
#[derive(Clone, Copy, Debug)]
pub struct SupersedesLink;

impl Linked for SupersedesLink {
    type FromEntity = Entity;
    type ToEntity = Entity;

    fn link(&self) -> Vec<RelationDef> {
        vec![Relation::Supersedes.def()]
    }
}

impl ActiveModelBehavior for ActiveModel {}
