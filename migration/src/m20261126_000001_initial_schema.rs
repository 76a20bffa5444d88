//! The whole schema of `docs/data-model.md`, in dependency order.
//!
//! Works on SQLite and PostgreSQL: foreign keys are declared inside
//! `CREATE TABLE` (SQLite cannot add them later), every statement is
//! `IF NOT EXISTS`, and every index has an explicit, database-wide unique name.

use sea_orm_migration::{prelude::*, schema::*};

/// Width of the string columns that hold enum words (the domain's `string_enum!` spellings).
const ENUM_LEN: u32 = 32;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // source
        manager
            .create_table(
                Table::create()
                    .table(Source::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Source::Id))
                    .col(string(Source::Name))
                    .col(string_len(Source::Kind, ENUM_LEN))
                    .col(text_null(Source::Config))
                    .col(timestamp_with_time_zone(Source::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_source_name")
                    .table(Source::Table)
                    .col(Source::Name)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        // principal
        manager
            .create_table(
                Table::create()
                    .table(Principal::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Principal::Id))
                    .col(string(Principal::ExternalId))
                    .col(string(Principal::DisplayName))
                    .col(string_null(Principal::Email))
                    .col(big_integer_null(Principal::ManagerId))
                    .col(string_len(Principal::Kind, ENUM_LEN))
                    .col(boolean(Principal::Enabled).default(true))
                    .col(string_null(Principal::Timezone))
                    .col(big_integer_null(Principal::SourceId))
                    .col(timestamp_with_time_zone(Principal::CreatedAt))
                    .col(timestamp_with_time_zone(Principal::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_principal_manager_id")
                            .from(Principal::Table, Principal::ManagerId)
                            .to(Principal::Table, Principal::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_principal_source_id")
                            .from(Principal::Table, Principal::SourceId)
                            .to(Source::Table, Source::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_principal_external_id")
                    .table(Principal::Table)
                    .col(Principal::ExternalId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_principal_manager_id")
                    .table(Principal::Table)
                    .col(Principal::ManagerId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        // role
        manager
            .create_table(
                Table::create()
                    .table(Role::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Role::Id))
                    .col(string(Role::Name))
                    .col(big_integer_null(Role::OwnerId))
                    .col(string_len(Role::Risk, ENUM_LEN))
                    .col(text_null(Role::Description))
                    .col(big_integer(Role::SourceId))
                    .col(timestamp_with_time_zone(Role::CreatedAt))
                    .col(timestamp_with_time_zone(Role::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_role_owner_id")
                            .from(Role::Table, Role::OwnerId)
                            .to(Principal::Table, Principal::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_role_source_id")
                            .from(Role::Table, Role::SourceId)
                            .to(Source::Table, Source::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_role_name")
                    .table(Role::Table)
                    .col(Role::Name)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        // campaign_definition
        manager
            .create_table(
                Table::create()
                    .table(CampaignDefinition::Table)
                    .if_not_exists()
                    .col(big_pk_auto(CampaignDefinition::Id))
                    .col(string(CampaignDefinition::Name))
                    .col(integer(CampaignDefinition::Version))
                    .col(text_null(CampaignDefinition::Description))
                    .col(big_integer_null(CampaignDefinition::OwnerId))
                    .col(string(CampaignDefinition::Schedule))
                    .col(string(CampaignDefinition::Timezone))
                    .col(text(CampaignDefinition::Body))
                    .col(text(CampaignDefinition::Spec))
                    .col(string(CampaignDefinition::SpecHash))
                    .col(string(CampaignDefinition::CreatedBy))
                    .col(timestamp_with_time_zone(CampaignDefinition::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_campaign_definition_owner_id")
                            .from(CampaignDefinition::Table, CampaignDefinition::OwnerId)
                            .to(Principal::Table, Principal::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_campaign_definition_name_version")
                    .table(CampaignDefinition::Table)
                    .col(CampaignDefinition::Name)
                    .col(CampaignDefinition::Version)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        // campaign
        manager
            .create_table(
                Table::create()
                    .table(Campaign::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Campaign::Id))
                    .col(big_integer(Campaign::DefinitionId))
                    .col(string(Campaign::DefinitionName))
                    .col(integer(Campaign::DefinitionVersion))
                    .col(string(Campaign::Period))
                    .col(string(Campaign::LaunchKey))
                    .col(boolean(Campaign::Adhoc).default(false))
                    .col(string_len(Campaign::State, ENUM_LEN))
                    .col(text(Campaign::FrozenDefinition))
                    .col(timestamp_with_time_zone_null(Campaign::ScheduledFor))
                    .col(timestamp_with_time_zone_null(Campaign::LaunchedAt))
                    .col(timestamp_with_time_zone_null(Campaign::DueAt))
                    .col(timestamp_with_time_zone_null(Campaign::ClosedAt))
                    .col(timestamp_with_time_zone_null(Campaign::CompletedAt))
                    .col(timestamp_with_time_zone_null(Campaign::CancelledAt))
                    .col(big_integer(Campaign::Population).default(0))
                    .col(big_integer(Campaign::ItemsCreated).default(0))
                    .col(big_integer_null(Campaign::LaunchCursor))
                    .col(string_null(Campaign::LeaseOwner))
                    .col(timestamp_with_time_zone_null(Campaign::LeaseUntil))
                    .col(text_null(Campaign::RailReason))
                    .col(string(Campaign::CreatedBy))
                    .col(timestamp_with_time_zone(Campaign::CreatedAt))
                    .col(timestamp_with_time_zone(Campaign::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_campaign_definition_id")
                            .from(Campaign::Table, Campaign::DefinitionId)
                            .to(CampaignDefinition::Table, CampaignDefinition::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_campaign_definition_name_launch_key")
                    .table(Campaign::Table)
                    .col(Campaign::DefinitionName)
                    .col(Campaign::LaunchKey)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_campaign_state")
                    .table(Campaign::Table)
                    .col(Campaign::State)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        // eligibility
        manager
            .create_table(
                Table::create()
                    .table(Eligibility::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Eligibility::Id))
                    .col(big_integer(Eligibility::PrincipalId))
                    .col(big_integer(Eligibility::RoleId))
                    .col(string(Eligibility::Scope))
                    .col(timestamp_with_time_zone_null(Eligibility::StartAt))
                    .col(timestamp_with_time_zone_null(Eligibility::EndAt))
                    .col(string(Eligibility::GrantedVia))
                    .col(timestamp_with_time_zone_null(Eligibility::LastActivatedAt))
                    .col(string_len(Eligibility::Status, ENUM_LEN))
                    .col(timestamp_with_time_zone_null(Eligibility::RemovedAt))
                    .col(big_integer_null(Eligibility::RemovedByCampaignId))
                    .col(text_null(Eligibility::RemovalReason))
                    .col(text_null(Eligibility::RemovalReceipt))
                    .col(big_integer(Eligibility::SourceId))
                    .col(timestamp_with_time_zone(Eligibility::CreatedAt))
                    .col(timestamp_with_time_zone(Eligibility::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_eligibility_principal_id")
                            .from(Eligibility::Table, Eligibility::PrincipalId)
                            .to(Principal::Table, Principal::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_eligibility_role_id")
                            .from(Eligibility::Table, Eligibility::RoleId)
                            .to(Role::Table, Role::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_eligibility_removed_by_campaign_id")
                            .from(Eligibility::Table, Eligibility::RemovedByCampaignId)
                            .to(Campaign::Table, Campaign::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_eligibility_source_id")
                            .from(Eligibility::Table, Eligibility::SourceId)
                            .to(Source::Table, Source::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_eligibility_principal_role_scope")
                    .table(Eligibility::Table)
                    .col(Eligibility::PrincipalId)
                    .col(Eligibility::RoleId)
                    .col(Eligibility::Scope)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_eligibility_role_status")
                    .table(Eligibility::Table)
                    .col(Eligibility::RoleId)
                    .col(Eligibility::Status)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_eligibility_principal_id")
                    .table(Eligibility::Table)
                    .col(Eligibility::PrincipalId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        // review_item
        manager
            .create_table(
                Table::create()
                    .table(ReviewItem::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ReviewItem::Id))
                    .col(big_integer(ReviewItem::CampaignId))
                    .col(big_integer(ReviewItem::EligibilityId))
                    .col(big_integer(ReviewItem::PrincipalId))
                    .col(big_integer(ReviewItem::RoleId))
                    .col(string(ReviewItem::Scope))
                    .col(string(ReviewItem::HolderExternalId))
                    .col(string(ReviewItem::HolderName))
                    .col(string_null(ReviewItem::HolderEmail))
                    .col(string_len(ReviewItem::HolderKind, ENUM_LEN))
                    .col(string(ReviewItem::RoleName))
                    .col(string_len(ReviewItem::RoleRisk, ENUM_LEN))
                    .col(timestamp_with_time_zone_null(ReviewItem::Since))
                    .col(timestamp_with_time_zone_null(ReviewItem::LastActivatedAt))
                    .col(big_integer_null(ReviewItem::ReviewerId))
                    .col(text_null(ReviewItem::ReviewerReason))
                    .col(boolean(ReviewItem::Flagged).default(false))
                    .col(text_null(ReviewItem::FlagReason))
                    .col(string_len(ReviewItem::Recommendation, ENUM_LEN))
                    .col(text_null(ReviewItem::RecommendationReason))
                    .col(boolean(ReviewItem::Excluded).default(false))
                    .col(timestamp_with_time_zone_null(ReviewItem::EscalatedAt))
                    .col(big_integer_null(ReviewItem::EscalatedFromId))
                    .col(big_integer_null(ReviewItem::CurrentDecisionId))
                    .col(string_len_null(ReviewItem::Verdict, ENUM_LEN))
                    .col(string_len_null(ReviewItem::MadeBy, ENUM_LEN))
                    .col(timestamp_with_time_zone_null(ReviewItem::DecidedAt))
                    .col(string_null(ReviewItem::Outcome))
                    .col(timestamp_with_time_zone(ReviewItem::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_review_item_campaign_id")
                            .from(ReviewItem::Table, ReviewItem::CampaignId)
                            .to(Campaign::Table, Campaign::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_review_item_eligibility_id")
                            .from(ReviewItem::Table, ReviewItem::EligibilityId)
                            .to(Eligibility::Table, Eligibility::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_review_item_principal_id")
                            .from(ReviewItem::Table, ReviewItem::PrincipalId)
                            .to(Principal::Table, Principal::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_review_item_role_id")
                            .from(ReviewItem::Table, ReviewItem::RoleId)
                            .to(Role::Table, Role::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_review_item_reviewer_id")
                            .from(ReviewItem::Table, ReviewItem::ReviewerId)
                            .to(Principal::Table, Principal::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_review_item_escalated_from_id")
                            .from(ReviewItem::Table, ReviewItem::EscalatedFromId)
                            .to(Principal::Table, Principal::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_review_item_campaign_eligibility")
                    .table(ReviewItem::Table)
                    .col(ReviewItem::CampaignId)
                    .col(ReviewItem::EligibilityId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_review_item_campaign_reviewer")
                    .table(ReviewItem::Table)
                    .col(ReviewItem::CampaignId)
                    .col(ReviewItem::ReviewerId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_review_item_campaign_verdict")
                    .table(ReviewItem::Table)
                    .col(ReviewItem::CampaignId)
                    .col(ReviewItem::Verdict)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        // decision
        manager
            .create_table(
                Table::create()
                    .table(Decision::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Decision::Id))
                    .col(big_integer(Decision::ItemId))
                    .col(big_integer(Decision::CampaignId))
                    .col(string_len(Decision::Verdict, ENUM_LEN))
                    .col(string_len(Decision::MadeBy, ENUM_LEN))
                    .col(big_integer_null(Decision::ReviewerId))
                    .col(big_integer_null(Decision::ActingForId))
                    .col(text_null(Decision::Justification))
                    .col(string_len(Decision::Channel, ENUM_LEN))
                    .col(string_null(Decision::ClientAddr))
                    .col(timestamp_with_time_zone(Decision::DecidedAt))
                    .col(big_integer_null(Decision::SupersedesId))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_decision_item_id")
                            .from(Decision::Table, Decision::ItemId)
                            .to(ReviewItem::Table, ReviewItem::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_decision_campaign_id")
                            .from(Decision::Table, Decision::CampaignId)
                            .to(Campaign::Table, Campaign::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_decision_reviewer_id")
                            .from(Decision::Table, Decision::ReviewerId)
                            .to(Principal::Table, Principal::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_decision_acting_for_id")
                            .from(Decision::Table, Decision::ActingForId)
                            .to(Principal::Table, Principal::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_decision_supersedes_id")
                            .from(Decision::Table, Decision::SupersedesId)
                            .to(Decision::Table, Decision::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_decision_item_id")
                    .table(Decision::Table)
                    .col(Decision::ItemId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_decision_campaign_decided_at")
                    .table(Decision::Table)
                    .col(Decision::CampaignId)
                    .col(Decision::DecidedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        // remediation
        manager
            .create_table(
                Table::create()
                    .table(Remediation::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Remediation::Id))
                    .col(big_integer(Remediation::ItemId))
                    .col(big_integer(Remediation::CampaignId))
                    .col(big_integer(Remediation::EligibilityId))
                    .col(string_len(Remediation::State, ENUM_LEN))
                    .col(integer(Remediation::Attempts).default(0))
                    .col(timestamp_with_time_zone(Remediation::NextAttemptAt))
                    .col(text_null(Remediation::LastError))
                    .col(text_null(Remediation::Receipt))
                    .col(timestamp_with_time_zone_null(Remediation::RemovedAt))
                    .col(timestamp_with_time_zone_null(Remediation::VerifiedAt))
                    .col(timestamp_with_time_zone_null(Remediation::LeaseUntil))
                    .col(timestamp_with_time_zone(Remediation::CreatedAt))
                    .col(timestamp_with_time_zone(Remediation::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_remediation_item_id")
                            .from(Remediation::Table, Remediation::ItemId)
                            .to(ReviewItem::Table, ReviewItem::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_remediation_campaign_id")
                            .from(Remediation::Table, Remediation::CampaignId)
                            .to(Campaign::Table, Campaign::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_remediation_eligibility_id")
                            .from(Remediation::Table, Remediation::EligibilityId)
                            .to(Eligibility::Table, Eligibility::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_remediation_item_id")
                    .table(Remediation::Table)
                    .col(Remediation::ItemId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_remediation_state_next_attempt_at")
                    .table(Remediation::Table)
                    .col(Remediation::State)
                    .col(Remediation::NextAttemptAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_remediation_campaign_id")
                    .table(Remediation::Table)
                    .col(Remediation::CampaignId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        // remediation_attempt
        manager
            .create_table(
                Table::create()
                    .table(RemediationAttempt::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RemediationAttempt::Id))
                    .col(big_integer(RemediationAttempt::RemediationId))
                    .col(integer(RemediationAttempt::Attempt))
                    .col(timestamp_with_time_zone(RemediationAttempt::At))
                    .col(string_len(RemediationAttempt::Outcome, ENUM_LEN))
                    .col(text_null(RemediationAttempt::Receipt))
                    .col(text_null(RemediationAttempt::Error))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_remediation_attempt_remediation_id")
                            .from(RemediationAttempt::Table, RemediationAttempt::RemediationId)
                            .to(Remediation::Table, Remediation::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_remediation_attempt_remediation_id")
                    .table(RemediationAttempt::Table)
                    .col(RemediationAttempt::RemediationId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        // reviewer_token
        manager
            .create_table(
                Table::create()
                    .table(ReviewerToken::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ReviewerToken::Id))
                    .col(big_integer(ReviewerToken::CampaignId))
                    .col(big_integer(ReviewerToken::ReviewerId))
                    .col(string(ReviewerToken::TokenHash))
                    .col(timestamp_with_time_zone(ReviewerToken::CreatedAt))
                    .col(timestamp_with_time_zone(ReviewerToken::ExpiresAt))
                    .col(big_integer_null(ReviewerToken::MailId))
                    .col(timestamp_with_time_zone_null(ReviewerToken::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_reviewer_token_campaign_id")
                            .from(ReviewerToken::Table, ReviewerToken::CampaignId)
                            .to(Campaign::Table, Campaign::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_reviewer_token_reviewer_id")
                            .from(ReviewerToken::Table, ReviewerToken::ReviewerId)
                            .to(Principal::Table, Principal::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_reviewer_token_token_hash")
                    .table(ReviewerToken::Table)
                    .col(ReviewerToken::TokenHash)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_reviewer_token_campaign_reviewer")
                    .table(ReviewerToken::Table)
                    .col(ReviewerToken::CampaignId)
                    .col(ReviewerToken::ReviewerId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        // campaign_reviewer
        manager
            .create_table(
                Table::create()
                    .table(CampaignReviewer::Table)
                    .if_not_exists()
                    .col(big_pk_auto(CampaignReviewer::Id))
                    .col(big_integer(CampaignReviewer::CampaignId))
                    .col(big_integer(CampaignReviewer::ReviewerId))
                    .col(big_integer(CampaignReviewer::ItemsAssigned).default(0))
                    .col(timestamp_with_time_zone_null(CampaignReviewer::SignedOffAt))
                    .col(string_null(CampaignReviewer::SignedOffAddr))
                    .col(timestamp_with_time_zone_null(
                        CampaignReviewer::LastRemindedAt,
                    ))
                    .col(timestamp_with_time_zone(CampaignReviewer::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_campaign_reviewer_campaign_id")
                            .from(CampaignReviewer::Table, CampaignReviewer::CampaignId)
                            .to(Campaign::Table, Campaign::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_campaign_reviewer_reviewer_id")
                            .from(CampaignReviewer::Table, CampaignReviewer::ReviewerId)
                            .to(Principal::Table, Principal::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_campaign_reviewer_campaign_reviewer")
                    .table(CampaignReviewer::Table)
                    .col(CampaignReviewer::CampaignId)
                    .col(CampaignReviewer::ReviewerId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        // outbox_mail
        manager
            .create_table(
                Table::create()
                    .table(OutboxMail::Table)
                    .if_not_exists()
                    .col(big_pk_auto(OutboxMail::Id))
                    .col(string(OutboxMail::IdempotencyKey))
                    .col(big_integer_null(OutboxMail::CampaignId))
                    .col(big_integer_null(OutboxMail::RecipientId))
                    .col(string(OutboxMail::ToAddress))
                    .col(string(OutboxMail::Template))
                    .col(text(OutboxMail::Payload))
                    .col(string_len(OutboxMail::State, ENUM_LEN))
                    .col(integer(OutboxMail::Attempts).default(0))
                    .col(timestamp_with_time_zone(OutboxMail::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(OutboxMail::LeaseUntil))
                    .col(string_null(OutboxMail::MessageId))
                    .col(text_null(OutboxMail::SmtpResponse))
                    .col(text_null(OutboxMail::LastError))
                    .col(timestamp_with_time_zone_null(OutboxMail::SentAt))
                    .col(timestamp_with_time_zone(OutboxMail::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_outbox_mail_campaign_id")
                            .from(OutboxMail::Table, OutboxMail::CampaignId)
                            .to(Campaign::Table, Campaign::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_outbox_mail_recipient_id")
                            .from(OutboxMail::Table, OutboxMail::RecipientId)
                            .to(Principal::Table, Principal::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_outbox_mail_idempotency_key")
                    .table(OutboxMail::Table)
                    .col(OutboxMail::IdempotencyKey)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_mail_state_next_attempt_at")
                    .table(OutboxMail::Table)
                    .col(OutboxMail::State)
                    .col(OutboxMail::NextAttemptAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        // audit_event
        manager
            .create_table(
                Table::create()
                    .table(AuditEvent::Table)
                    .if_not_exists()
                    .col(big_pk_auto(AuditEvent::Id))
                    .col(big_integer(AuditEvent::Seq))
                    .col(timestamp_with_time_zone(AuditEvent::At))
                    .col(string(AuditEvent::Actor))
                    .col(string(AuditEvent::Action))
                    .col(string_null(AuditEvent::Target))
                    .col(text(AuditEvent::Details))
                    .col(string(AuditEvent::PrevHash))
                    .col(string(AuditEvent::Hash))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_audit_event_seq")
                    .table(AuditEvent::Table)
                    .col(AuditEvent::Seq)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_audit_event_prev_hash")
                    .table(AuditEvent::Table)
                    .col(AuditEvent::PrevHash)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_audit_event_hash")
                    .table(AuditEvent::Table)
                    .col(AuditEvent::Hash)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        // account
        manager
            .create_table(
                Table::create()
                    .table(Account::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Account::Id))
                    .col(string(Account::Email))
                    .col(string_len(Account::Role, ENUM_LEN))
                    .col(string(Account::PasswordHash))
                    .col(boolean(Account::Enabled).default(true))
                    .col(integer(Account::FailedLogins).default(0))
                    .col(timestamp_with_time_zone_null(Account::LockedUntil))
                    .col(timestamp_with_time_zone_null(Account::LastLoginAt))
                    .col(timestamp_with_time_zone(Account::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_account_email")
                    .table(Account::Table)
                    .col(Account::Email)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Reverse dependency order; indexes and foreign keys go with their tables.
        let tables: [DynIden; 15] = [
            Account::Table.into_iden(),
            AuditEvent::Table.into_iden(),
            OutboxMail::Table.into_iden(),
            CampaignReviewer::Table.into_iden(),
            ReviewerToken::Table.into_iden(),
            RemediationAttempt::Table.into_iden(),
            Remediation::Table.into_iden(),
            Decision::Table.into_iden(),
            ReviewItem::Table.into_iden(),
            Eligibility::Table.into_iden(),
            Campaign::Table.into_iden(),
            CampaignDefinition::Table.into_iden(),
            Role::Table.into_iden(),
            Principal::Table.into_iden(),
            Source::Table.into_iden(),
        ];
        for table in tables {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Source {
    Table,
    Id,
    Name,
    Kind,
    Config,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Principal {
    Table,
    Id,
    ExternalId,
    DisplayName,
    Email,
    ManagerId,
    Kind,
    Enabled,
    Timezone,
    SourceId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Role {
    Table,
    Id,
    Name,
    OwnerId,
    Risk,
    Description,
    SourceId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CampaignDefinition {
    Table,
    Id,
    Name,
    Version,
    Description,
    OwnerId,
    Schedule,
    Timezone,
    Body,
    Spec,
    SpecHash,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Campaign {
    Table,
    Id,
    DefinitionId,
    DefinitionName,
    DefinitionVersion,
    Period,
    LaunchKey,
    Adhoc,
    State,
    FrozenDefinition,
    ScheduledFor,
    LaunchedAt,
    DueAt,
    ClosedAt,
    CompletedAt,
    CancelledAt,
    Population,
    ItemsCreated,
    LaunchCursor,
    LeaseOwner,
    LeaseUntil,
    RailReason,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Eligibility {
    Table,
    Id,
    PrincipalId,
    RoleId,
    Scope,
    StartAt,
    EndAt,
    GrantedVia,
    LastActivatedAt,
    Status,
    RemovedAt,
    RemovedByCampaignId,
    RemovalReason,
    RemovalReceipt,
    SourceId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ReviewItem {
    Table,
    Id,
    CampaignId,
    EligibilityId,
    PrincipalId,
    RoleId,
    Scope,
    HolderExternalId,
    HolderName,
    HolderEmail,
    HolderKind,
    RoleName,
    RoleRisk,
    Since,
    LastActivatedAt,
    ReviewerId,
    ReviewerReason,
    Flagged,
    FlagReason,
    Recommendation,
    RecommendationReason,
    Excluded,
    EscalatedAt,
    EscalatedFromId,
    CurrentDecisionId,
    Verdict,
    MadeBy,
    DecidedAt,
    Outcome,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Decision {
    Table,
    Id,
    ItemId,
    CampaignId,
    Verdict,
    MadeBy,
    ReviewerId,
    ActingForId,
    Justification,
    Channel,
    ClientAddr,
    DecidedAt,
    SupersedesId,
}

#[derive(DeriveIden)]
enum Remediation {
    Table,
    Id,
    ItemId,
    CampaignId,
    EligibilityId,
    State,
    Attempts,
    NextAttemptAt,
    LastError,
    Receipt,
    RemovedAt,
    VerifiedAt,
    LeaseUntil,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RemediationAttempt {
    Table,
    Id,
    RemediationId,
    Attempt,
    At,
    Outcome,
    Receipt,
    Error,
}

#[derive(DeriveIden)]
enum ReviewerToken {
    Table,
    Id,
    CampaignId,
    ReviewerId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    MailId,
    RevokedAt,
}

#[derive(DeriveIden)]
enum CampaignReviewer {
    Table,
    Id,
    CampaignId,
    ReviewerId,
    ItemsAssigned,
    SignedOffAt,
    SignedOffAddr,
    LastRemindedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OutboxMail {
    Table,
    Id,
    IdempotencyKey,
    CampaignId,
    RecipientId,
    ToAddress,
    Template,
    Payload,
    State,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    MessageId,
    SmtpResponse,
    LastError,
    SentAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditEvent {
    Table,
    Id,
    Seq,
    At,
    Actor,
    Action,
    Target,
    Details,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum Account {
    Table,
    Id,
    Email,
    Role,
    PasswordHash,
    Enabled,
    FailedLogins,
    LockedUntil,
    LastLoginAt,
    CreatedAt,
}
