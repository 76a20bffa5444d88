//! `report.html`: the summary an auditor reads (and prints to PDF): population, who reviewed
//! what, outcomes, removals and their receipts, the timeline, decisions made too fast to have
//! been considered, and the controls the review is evidence for.

use crate::domain::evidence::{Control, RubberStamp, CONTROLS};
use crate::store::evidence::ReviewerSummary;
use askama::Template;

/// A removal as the report lists it.
#[derive(Debug, Clone)]
pub struct RemovalLine {
    pub item_id: i64,
    pub holder: String,
    pub role: String,
    pub scope: String,
    pub detail: String,
}

/// One line of the campaign's timeline.
#[derive(Debug, Clone)]
pub struct TimelineLine {
    pub at: String,
    pub action: String,
    pub actor: String,
}

#[derive(Template)]
#[template(path = "evidence/report.html")]
pub struct Report<'a> {
    pub campaign_id: i64,
    pub name: &'a str,
    pub version: i32,
    pub period: &'a str,
    pub state: &'a str,
    pub description: Option<&'a str>,
    pub schedule: &'a str,
    pub on_no_response: &'a str,
    pub launched_at: String,
    pub due_at: String,
    pub closed_at: String,
    pub completed_at: String,
    pub generated_at: String,
    pub public_key: &'a str,
    /// The campaign's one summary, as every other surface shows it.
    pub summary: &'a crate::domain::summary::CampaignSummary,
    pub figures: Vec<crate::domain::summary::Figure>,
    /// Escalated items and items only an admin could decide (the first few), and how many.
    pub handovers: &'a [crate::store::evidence::Handover],
    pub handovers_total: i64,
    pub escalate_after_days: Option<u32>,
    pub reviewers: &'a [ReviewerSummary],
    pub receipts: &'a [RemovalLine],
    pub receipts_total: u64,
    /// The first failed removals, and how many failed.
    pub failures: &'a [RemovalLine],
    pub failures_total: u64,
    pub inconsistent: u64,
    /// Items whose eligibility came back after an earlier campaign removed it (the first few).
    pub reappeared: &'a [crate::store::reappearance::ReappearedItem],
    pub reappeared_total: i64,
    /// Suspensions on a signal of the campaign's holders (suspensions.csv has every item).
    pub suspensions: &'a [crate::engine::suspend::SuspensionView],
    pub timeline: &'a [TimelineLine],
    /// The campaign's re-runs for non-responders, first first.
    pub reruns: &'a [crate::store::campaigns::RoundRow],
    pub rubber_stamps: &'a [RubberStamp],
    pub controls: &'static [Control],
}

impl Report<'_> {
    pub fn controls() -> &'static [Control] {
        CONTROLS
    }
}
