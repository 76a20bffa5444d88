//! Campaign definitions and campaigns: versions, launches claimed once per period, the state
//! machine's compare-and-set moves, and the counts progress is shown with.

mod counts;
mod definitions;
mod launch;
mod rounds;
mod rows;
mod stages;
mod state;
pub use counts::{counts, CampaignCounts};
pub use definitions::{
    definition_body, first_defined_at, insert_definition, latest_definition, latest_definitions,
    DefinitionVersion,
};
pub use launch::{
    advance_launch, claim_launch, finish_launch, insert_campaign, reconcile_launch, release_launch,
    NewCampaign,
};
pub use rounds::{
    open_round, reopen_sign_offs, rounds, unanswered, withdraw_links, RoundRow, Unanswered,
};
pub use rows::{campaign, campaign_by_key, campaigns, CampaignRow};
pub use stages::{open_stage, stage_rows, NewStage, StageRow};
pub use state::{lock_state, set_ended_by, set_rail_reason, transition, EndedBy};
