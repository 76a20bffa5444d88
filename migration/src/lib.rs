//! Database migrations for attest (SQLite and PostgreSQL).

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_initial_schema;
mod m20261126_000002_evidence;
mod m20261126_000003_access;
mod m20261126_000004_item_references;
mod m20261126_000005_bulk_references;
mod m20261127_000006_reappearance;
mod m20261127_000007_source_sync;
mod m20261127_000008_outbox_campaign_index;
mod m20261127_000009_decision_actor;
mod m20261127_000010_campaign_ended_by;
mod m20261127_000011_process_heartbeat;
mod m20261128_000012_campaign_rounds;
mod m20261128_000013_activations;
mod m20261128_000014_person_attributes;
mod m20261128_000016_oidc;
mod m20261129_000017_webhooks;
mod m20261129_000018_suspensions;
mod m20261129_000019_carried_items;
mod m20261129_000020_mover_events;
mod m20261129_000021_leaver_events;
mod m20261129_000022_challenges;
mod m20261129_000023_standing_access;
mod m20261129_000024_stages;

/// Applies the attest schema; see `docs/data-model.md`.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_initial_schema::Migration),
            Box::new(m20261126_000002_evidence::Migration),
            Box::new(m20261126_000003_access::Migration),
            Box::new(m20261126_000004_item_references::Migration),
            Box::new(m20261126_000005_bulk_references::Migration),
            Box::new(m20261127_000006_reappearance::Migration),
            Box::new(m20261127_000007_source_sync::Migration),
            Box::new(m20261127_000008_outbox_campaign_index::Migration),
            Box::new(m20261127_000009_decision_actor::Migration),
            Box::new(m20261127_000010_campaign_ended_by::Migration),
            Box::new(m20261127_000011_process_heartbeat::Migration),
            Box::new(m20261128_000012_campaign_rounds::Migration),
            Box::new(m20261128_000013_activations::Migration),
            Box::new(m20261128_000014_person_attributes::Migration),
            Box::new(m20261128_000016_oidc::Migration),
            Box::new(m20261129_000017_webhooks::Migration),
            Box::new(m20261129_000018_suspensions::Migration),
            Box::new(m20261129_000019_carried_items::Migration),
            Box::new(m20261129_000020_mover_events::Migration),
            Box::new(m20261129_000021_leaver_events::Migration),
            Box::new(m20261129_000022_challenges::Migration),
            Box::new(m20261129_000023_standing_access::Migration),
            Box::new(m20261129_000024_stages::Migration),
        ]
    }
}
