//! How an eligibility reaches its principal and its role in a query: the entities declare no
//! relations of their own, so the joins the listings share are spelled once here.

use entity::{eligibility, principal, role};
use sea_orm::{EntityTrait, RelationDef};

/// `eligibility.principal_id = principal.id`
pub(crate) fn eligibility_principal() -> RelationDef {
    eligibility::Entity::belongs_to(principal::Entity)
        .from(eligibility::Column::PrincipalId)
        .to(principal::Column::Id)
        .into()
}

/// `eligibility.role_id = role.id`
pub(crate) fn eligibility_role() -> RelationDef {
    eligibility::Entity::belongs_to(role::Entity)
        .from(eligibility::Column::RoleId)
        .to(role::Column::Id)
        .into()
}
