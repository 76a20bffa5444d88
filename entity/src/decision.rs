//! `decision`: A verdict on a review item; append-only, a later decision supersedes an earlier one.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "decision")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub item_id: i64,
    pub campaign_id: i64,
    /// A `Verdict` of attest's `domain::closing`, spelled as stored: "attest", "revoke".
    pub verdict: String,
    /// A `MadeBy` of attest's `domain::closing`, spelled as stored: "human", "policy".
    pub made_by: String,
    pub reviewer_id: Option<i64>,
    pub acting_for_id: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub justification: Option<String>,
    /// A `Channel` of attest's `domain::closing`, spelled as stored: "link", "web", "api", "cli",
    /// "policy".
    pub channel: String,
    pub client_addr: Option<String>,
    pub decided_at: DateTimeUtc,
    pub supersedes_id: Option<i64>,
    /// Who recorded it when no reviewer did (an admin on a reviewer's behalf), as the audit log
    /// names them; null for a reviewer's own decisions and for decisions before migration 9.
    #[sea_orm(column_type = "Text")]
    pub actor: Option<String>,
    /// The review stage the decision was given in (1 for single-stage campaigns).
    pub stage: i32,
}

// The far side of `review_item::Relation::Decision` (used by `migration/tests/apply.rs`).
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
}

impl Related<super::review_item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Item.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
