//! SeaORM entities for attest: one module per table, see `docs/data-model.md`.

pub mod account;
pub mod activation;
pub mod activation_review;
pub mod api_token;
pub mod attest_process;
pub mod audit_event;
pub mod campaign;
pub mod campaign_definition;
pub mod campaign_reviewer;
pub mod campaign_round;
pub mod carried_item;
pub mod decision;
pub mod eligibility;
pub mod evidence_bundle;
pub mod evidence_chunk;
pub mod mover_event;
pub mod oidc_login;
pub mod outbox_mail;
pub mod principal;
pub mod reappearance;
pub mod remediation;
pub mod remediation_attempt;
pub mod review_item;
pub mod reviewer_token;
pub mod role;
pub mod session;
pub mod signing_key;
pub mod source;
pub mod suspension;
pub mod suspension_item;
pub mod webhook_delivery;

/// The entity types under their table names.
pub mod prelude {
    pub use crate::account::Entity as Account;
    pub use crate::activation::Entity as Activation;
    pub use crate::activation_review::Entity as ActivationReview;
    pub use crate::api_token::Entity as ApiToken;
    pub use crate::attest_process::Entity as AttestProcess;
    pub use crate::audit_event::Entity as AuditEvent;
    pub use crate::campaign::Entity as Campaign;
    pub use crate::campaign_definition::Entity as CampaignDefinition;
    pub use crate::campaign_reviewer::Entity as CampaignReviewer;
    pub use crate::campaign_round::Entity as CampaignRound;
    pub use crate::carried_item::Entity as CarriedItem;
    pub use crate::decision::Entity as Decision;
    pub use crate::eligibility::Entity as Eligibility;
    pub use crate::evidence_bundle::Entity as EvidenceBundle;
    pub use crate::evidence_chunk::Entity as EvidenceChunk;
    pub use crate::mover_event::Entity as MoverEvent;
    pub use crate::oidc_login::Entity as OidcLogin;
    pub use crate::outbox_mail::Entity as OutboxMail;
    pub use crate::principal::Entity as Principal;
    pub use crate::reappearance::Entity as Reappearance;
    pub use crate::remediation::Entity as Remediation;
    pub use crate::remediation_attempt::Entity as RemediationAttempt;
    pub use crate::review_item::Entity as ReviewItem;
    pub use crate::reviewer_token::Entity as ReviewerToken;
    pub use crate::role::Entity as Role;
    pub use crate::session::Entity as Session;
    pub use crate::signing_key::Entity as SigningKey;
    pub use crate::source::Entity as Source;
    pub use crate::suspension::Entity as Suspension;
    pub use crate::suspension_item::Entity as SuspensionItem;
    pub use crate::webhook_delivery::Entity as WebhookDelivery;
}
