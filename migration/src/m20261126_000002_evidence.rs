//! Evidence storage: the instance's signing key, and every generated bundle (its manifest and
//! the zip itself, in chunks so it streams), kept for as long as the database lives.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SigningKey::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SigningKey::Id))
                    .col(string(SigningKey::Algorithm))
                    .col(string(SigningKey::PublicKey))
                    .col(string(SigningKey::SecretKey))
                    .col(timestamp_with_time_zone(SigningKey::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EvidenceBundle::Table)
                    .if_not_exists()
                    .col(big_pk_auto(EvidenceBundle::Id))
                    .col(big_integer(EvidenceBundle::CampaignId))
                    .col(timestamp_with_time_zone(EvidenceBundle::GeneratedAt))
                    .col(text(EvidenceBundle::Manifest))
                    .col(string(EvidenceBundle::Sha256))
                    .col(big_integer(EvidenceBundle::Bytes))
                    .col(string(EvidenceBundle::Reason))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_evidence_bundle_campaign_id")
                            .from(EvidenceBundle::Table, EvidenceBundle::CampaignId)
                            .to(Campaign::Table, Campaign::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_evidence_bundle_campaign_id")
                    .table(EvidenceBundle::Table)
                    .col(EvidenceBundle::CampaignId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EvidenceChunk::Table)
                    .if_not_exists()
                    .col(big_pk_auto(EvidenceChunk::Id))
                    .col(big_integer(EvidenceChunk::BundleId))
                    .col(integer(EvidenceChunk::Seq))
                    .col(blob(EvidenceChunk::Data))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_evidence_chunk_bundle_id")
                            .from(EvidenceChunk::Table, EvidenceChunk::BundleId)
                            .to(EvidenceBundle::Table, EvidenceBundle::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_evidence_chunk_bundle_seq")
                    .table(EvidenceChunk::Table)
                    .col(EvidenceChunk::BundleId)
                    .col(EvidenceChunk::Seq)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            EvidenceChunk::Table.into_iden(),
            EvidenceBundle::Table.into_iden(),
            SigningKey::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum SigningKey {
    Table,
    Id,
    Algorithm,
    PublicKey,
    SecretKey,
    CreatedAt,
}

#[derive(DeriveIden)]
enum EvidenceBundle {
    Table,
    Id,
    CampaignId,
    GeneratedAt,
    Manifest,
    Sha256,
    Bytes,
    Reason,
}

#[derive(DeriveIden)]
enum EvidenceChunk {
    Table,
    Id,
    BundleId,
    Seq,
    Data,
}

#[derive(DeriveIden)]
enum Campaign {
    Table,
    Id,
}
