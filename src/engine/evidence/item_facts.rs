//! What the item pass learns on the way, for campaign.json and the report: counts, the
//! population's hash, removals, and each reviewer's tally.

use crate::evidence::report::RemovalLine;
use crate::store::evidence as ev;
use chrono::{DateTime, Utc};
use sha2::Sha256;
use std::collections::HashMap;

/// What the item pass learns on the way, for campaign.json and the report.
#[derive(Default)]
pub(super) struct ItemFacts {
    pub(super) count: u64,
    pub(super) population_hash: Sha256,
    /// Removals with a receipt from the source.
    pub(super) receipts: FirstFew<RemovalLine>,
    /// Removals that failed and remain in the source.
    pub(super) failures: FirstFew<RemovalLine>,
    /// Items whose eligibility is not as their outcome requires.
    pub(super) inconsistent: u64,
    /// Items no completed campaign before this one reviewed (see `store::items::previous`).
    pub(super) new_since_last_review: u64,
    /// Items that are standing access (items.csv `assignment` = `active`).
    pub(super) standing_access: u64,
    /// Each reviewer's items by external id, for the reviewers' summaries: counted here rather
    /// than by a second read of every item (on SQLite that aggregate cost more than the
    /// decisions pass).
    reviewers: HashMap<String, ReviewerTally>,
}

/// At most this many of a kind (receipts, failed removals) are listed in the report; items.csv
/// has all of them.
pub(super) const REPORT_LISTED: usize = 200;

/// The first [`REPORT_LISTED`] of something the report lists, and how many there are: a
/// campaign whose source refused all of its million removals holds 200 of them, not a million.
pub(super) struct FirstFew<T> {
    pub(super) listed: Vec<T>,
    pub(super) total: u64,
}

impl<T> Default for FirstFew<T> {
    fn default() -> Self {
        Self {
            listed: Vec::new(),
            total: 0,
        }
    }
}

impl<T> FirstFew<T> {
    /// Counts one more; `make` builds it only while there is room in the list.
    pub(super) fn push(&mut self, make: impl FnOnce() -> T) {
        self.total += 1;
        if self.listed.len() < REPORT_LISTED {
            self.listed.push(make());
        }
    }
}

/// One reviewer's share of the campaign's items, as `store::evidence::reviewer_summaries`
/// counts it.
#[derive(Default)]
struct ReviewerTally {
    items: i64,
    escalated_away: i64,
    decided: i64,
    attested: i64,
    revoked: i64,
    first_decision_at: Option<DateTime<Utc>>,
    last_decision_at: Option<DateTime<Utc>>,
}

impl ReviewerTally {
    fn add(&mut self, item: &ev::ItemView<'_>) {
        self.items += 1;
        if item.made_by != Some("human") {
            return;
        }
        self.decided += 1;
        match item.verdict {
            Some("attest") => self.attested += 1,
            Some("revoke") => self.revoked += 1,
            _ => {}
        }
        if let Some(at) = item.decided_at {
            self.first_decision_at = Some(self.first_decision_at.map_or(at, |t| t.min(at)));
            self.last_decision_at = Some(self.last_decision_at.map_or(at, |t| t.max(at)));
        }
    }

    fn fill(&self, summary: &mut ev::ReviewerSummary) {
        summary.items = self.items;
        summary.escalated_away = self.escalated_away;
        summary.decided = self.decided;
        summary.attested = self.attested;
        summary.revoked = self.revoked;
        summary.first_decision_at = self.first_decision_at;
        summary.last_decision_at = self.last_decision_at;
    }
}

impl ItemFacts {
    pub(super) fn tally(&mut self, item: &ev::ItemView<'_>) {
        self.new_since_last_review += u64::from(item.previous_campaign_id.is_none());
        self.standing_access += u64::from(item.assignment == "active");
        if let Some(from) = item.escalated_from {
            match self.reviewers.get_mut(from) {
                Some(tally) => tally.escalated_away += 1,
                None => {
                    let tally = ReviewerTally {
                        escalated_away: 1,
                        ..ReviewerTally::default()
                    };
                    self.reviewers.insert(from.to_string(), tally);
                }
            }
        }
        let Some(reviewer) = item.reviewer_id else {
            return;
        };
        match self.reviewers.get_mut(reviewer) {
            Some(tally) => tally.add(item),
            None => {
                let mut tally = ReviewerTally::default();
                tally.add(item);
                self.reviewers.insert(reviewer.to_string(), tally);
            }
        }
    }

    /// The campaign's reviewers with their tallies filled in.
    pub(super) fn summaries(
        &self,
        mut roster: Vec<ev::ReviewerSummary>,
    ) -> Vec<ev::ReviewerSummary> {
        for reviewer in &mut roster {
            if let Some(tally) = self.reviewers.get(&reviewer.id) {
                tally.fill(reviewer);
            }
        }
        roster
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_few_are_listed_and_all_are_counted() {
        let mut few = FirstFew::default();
        let mut built = 0;
        for n in 0..REPORT_LISTED + 50 {
            few.push(|| {
                built += 1;
                n
            });
        }
        assert_eq!(few.total, (REPORT_LISTED + 50) as u64);
        assert_eq!(few.listed, (0..REPORT_LISTED).collect::<Vec<_>>());
        assert_eq!(built, REPORT_LISTED, "nothing past the list is built");
    }
}
