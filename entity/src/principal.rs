//! `principal`: A user, service identity or break-glass account that can hold roles and review.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "principal")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub external_id: String,
    pub display_name: String,
    pub email: Option<String>,
    pub manager_id: Option<i64>,
    /// A `PrincipalKind` of attest's `domain::directory`, spelled as stored: "user", "service",
    /// "break_glass".
    pub kind: String,
    pub enabled: bool,
    /// IANA time zone name.
    pub timezone: Option<String>,
    pub source_id: Option<i64>,
    /// The people import's extra columns (title, department, …): a JSON object of text.
    #[sea_orm(column_type = "Text")]
    pub attributes: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

// `migration/tests/apply.rs` follows a principal to its manager through `ManagerLink`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "Entity",
        from = "Column::ManagerId",
        to = "Column::Id",
        on_delete = "SetNull",
        fk_name = "fk_principal_manager_id"
    )]
    Manager,
}

/// Follows `manager_id` to the referenced `principal` row (self-reference).
#[derive(Clone, Copy, Debug)]
pub struct ManagerLink;

impl Linked for ManagerLink {
    type FromEntity = Entity;
    type ToEntity = Entity;

    fn link(&self) -> Vec<RelationDef> {
        vec![Relation::Manager.def()]
    }
}

impl ActiveModelBehavior for ActiveModel {}
