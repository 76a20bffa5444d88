//! What `/metrics` and `/readyz` read from the database: campaigns, open items, mail and
//! removals by state (grouped counts, the same on every instance), and whether the database
//! answers with every migration applied.

use crate::domain::lifecycle::CampaignState;
use crate::store::StoreError;
use entity::{campaign, outbox_mail, remediation, review_item};
use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
};

/// Rows per value of one column: `(value, rows)`.
pub type ByValue = Vec<(String, i64)>;

async fn count_by<E, C>(conn: &impl ConnectionTrait, column: C) -> Result<ByValue, StoreError>
where
    E: EntityTrait,
    C: ColumnTrait,
{
    Ok(E::find()
        .select_only()
        .column(column)
        .column_as(Expr::col(column).count(), "n")
        .group_by(column)
        .into_tuple()
        .all(conn)
        .await?)
}

pub async fn campaigns_by_state(conn: &impl ConnectionTrait) -> Result<ByValue, StoreError> {
    count_by::<campaign::Entity, _>(conn, campaign::Column::State).await
}

pub async fn mail_by_state(conn: &impl ConnectionTrait) -> Result<ByValue, StoreError> {
    count_by::<outbox_mail::Entity, _>(conn, outbox_mail::Column::State).await
}

pub async fn removals_by_state(conn: &impl ConnectionTrait) -> Result<ByValue, StoreError> {
    count_by::<remediation::Entity, _>(conn, remediation::Column::State).await
}

/// The items of campaigns still open (active, closing, remediating) by `(outcome, verdict)`:
/// completed campaigns are history and are not read again at every scrape.
pub async fn open_items(
    conn: &impl ConnectionTrait,
) -> Result<Vec<(Option<String>, Option<String>, i64)>, StoreError> {
    use review_item::Column as Item;
    let open = Query::select()
        .column(campaign::Column::Id)
        .from(campaign::Entity)
        .and_where(campaign::Column::State.is_in([
            CampaignState::Active,
            CampaignState::Closing,
            CampaignState::Remediating,
        ]))
        .to_owned();
    Ok(review_item::Entity::find()
        .select_only()
        .column(Item::Outcome)
        .column(Item::Verdict)
        .column_as(Expr::col(Item::Id).count(), "n")
        .filter(Item::CampaignId.in_subquery(open))
        .group_by(Item::Outcome)
        .group_by(Item::Verdict)
        .into_tuple()
        .all(conn)
        .await?)
}

/// Whether the database answers.
pub async fn ping(conn: &DatabaseConnection) -> Result<(), StoreError> {
    Ok(conn.ping().await?)
}

/// Migrations this binary knows that the database has not applied.
pub async fn pending_migrations(conn: &DatabaseConnection) -> Result<usize, StoreError> {
    Ok(Migrator::get_pending_migrations(conn).await?.len())
}
