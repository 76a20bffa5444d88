//! What evidence must say and how: cells that spreadsheets cannot run, the controls a review
//! satisfies, and the decisions too fast to have been considered.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// The bundle format this code writes and verifies.
pub const FORMAT: &str = "attest-evidence/1";

/// A text cell that a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, or a leading tab
/// or carriage return) gets a leading apostrophe, so opening the CSV runs nothing (CWE-1236).
pub fn safe_cell(text: &str) -> std::borrow::Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => std::borrow::Cow::Owned(format!("'{text}")),
        _ => std::borrow::Cow::Borrowed(text),
    }
}

/// A control this kind of review provides evidence for.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Control {
    pub framework: &'static str,
    pub id: &'static str,
    pub requirement: &'static str,
    pub evidence: &'static str,
}

pub const CONTROLS: &[Control] = &[
    Control {
        framework: "SOC 2 (2017 TSC)",
        id: "CC6.2",
        requirement: "Access is authorised, and removed when no longer required",
        evidence: "items.csv: each eligibility, its reviewer's decision and the removal that followed",
    },
    Control {
        framework: "SOC 2 (2017 TSC)",
        id: "CC6.3",
        requirement: "Access is modified or removed based on roles and least privilege, and periodically reviewed",
        evidence: "campaign.json: definition, schedule and population; report.html: outcomes",
    },
    Control {
        framework: "ISO/IEC 27001:2022",
        id: "A.5.18",
        requirement: "Access rights are reviewed at regular intervals and adjusted",
        evidence: "campaign.json timeline and items.csv decisions; attest report coverage across campaigns",
    },
    Control {
        framework: "PCI DSS 4.0",
        id: "7.2.4",
        requirement: "User accounts and access privileges are reviewed at least every six months",
        evidence: "campaign.json (period, launched, completed); items.csv (every account reviewed)",
    },
    Control {
        framework: "NIST SP 800-53 Rev. 5",
        id: "AC-2(j)",
        requirement: "Review accounts for compliance with account management requirements",
        evidence: "items.csv, decisions.csv and audit.jsonl",
    },
    Control {
        framework: "NIST CSF 2.0",
        id: "PR.AA-05",
        requirement: "Access permissions are defined, managed, enforced and reviewed",
        evidence: "report.html summary; after_remediation.csv shows removals took effect",
    },
    Control {
        framework: "CIS Controls v8",
        id: "5.3 / 6.1 / 6.2",
        requirement: "Disable dormant accounts; establish access granting and revoking processes",
        evidence: "recommendations from activation history; removals with receipts",
    },
];

/// A reviewer who decided many items within moments: possibly without looking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RubberStamp {
    pub reviewer: String,
    pub items: usize,
    pub within_seconds: i64,
    pub from: DateTime<Utc>,
}

/// How many decisions in how few seconds count as unusually fast.
pub const FAST_ITEMS: usize = 10;
pub const FAST_SECONDS: i64 = 30;

/// When the decisions people made in a campaign were made, grouped by who made them: each name
/// is held once, not once per decision (a ten-million-item campaign has hundreds of thousands).
#[derive(Debug, Default)]
pub struct DecisionTimes {
    by_reviewer: BTreeMap<String, Vec<DateTime<Utc>>>,
}

impl DecisionTimes {
    pub fn add(&mut self, reviewer: &str, at: DateTime<Utc>) {
        match self.by_reviewer.get_mut(reviewer) {
            Some(times) => times.push(at),
            None => {
                self.by_reviewer.insert(reviewer.to_string(), vec![at]);
            }
        }
    }

    /// How many decisions.
    pub fn len(&self) -> usize {
        self.by_reviewer.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_reviewer.is_empty()
    }

    /// The median time from `start` to a decision, in seconds (None when there are none).
    pub fn median_seconds_after(&self, start: DateTime<Utc>) -> Option<f64> {
        median_seconds(
            self.by_reviewer
                .values()
                .flatten()
                .map(|at| (*at - start).num_seconds())
                .collect(),
        )
    }

    /// Flags every reviewer who made at least [`FAST_ITEMS`] decisions within
    /// [`FAST_SECONDS`] (the largest such burst per reviewer), in the reviewers' order.
    pub fn rubber_stamps(&mut self) -> Vec<RubberStamp> {
        let mut flags = Vec::new();
        for (reviewer, times) in &mut self.by_reviewer {
            times.sort_unstable();
            let mut best: Option<(usize, usize)> = None;
            let mut start = 0;
            for end in 0..times.len() {
                while (times[end] - times[start]).num_seconds() > FAST_SECONDS {
                    start += 1;
                }
                let count = end - start + 1;
                if count >= FAST_ITEMS && best.is_none_or(|(s, e)| count > e - s + 1) {
                    best = Some((start, end));
                }
            }
            if let Some((s, e)) = best {
                flags.push(RubberStamp {
                    reviewer: reviewer.clone(),
                    items: e - s + 1,
                    within_seconds: (times[e] - times[s]).num_seconds(),
                    from: times[s],
                });
            }
        }
        flags
    }
}

/// The median of durations in seconds (None when there are none).
pub fn median_seconds(mut values: Vec<i64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 0 {
        (values[mid - 1] + values[mid]) as f64 / 2.0
    } else {
        values[mid] as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn formulas_cannot_run() {
        for text in ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx"] {
            assert!(safe_cell(text).starts_with('\''), "{text}");
        }
        assert_eq!(safe_cell("Zoë O'Brien"), "Zoë O'Brien");
        assert_eq!(safe_cell(""), "");
    }

    #[test]
    fn bursts_are_flagged_and_steady_work_is_not() {
        let t0 = DateTime::parse_from_rfc3339("2027-01-05T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut decisions = DecisionTimes::default();
        // Out of order, and the two reviewers interleaved, as decisions.csv may list them.
        for i in (0..25).rev() {
            decisions.add("fast", t0 + Duration::seconds(i));
            decisions.add("careful", t0 + Duration::minutes(3 * i));
        }
        assert_eq!(decisions.len(), 50);
        let flags = decisions.rubber_stamps();
        assert_eq!(flags.len(), 1);
        assert_eq!((flags[0].reviewer.as_str(), flags[0].items), ("fast", 25));
        assert_eq!((flags[0].from, flags[0].within_seconds), (t0, 24));
        // The careful reviewer's median is 36 minutes in; the fast one's 12 seconds.
        let mut fast = DecisionTimes::default();
        (0..25).for_each(|i| fast.add("fast", t0 + Duration::seconds(i)));
        assert_eq!(fast.median_seconds_after(t0), Some(12.0));
        assert_eq!(DecisionTimes::default().median_seconds_after(t0), None);
    }

    #[test]
    fn medians() {
        assert_eq!(median_seconds(vec![]), None);
        assert_eq!(median_seconds(vec![5, 1, 3]), Some(3.0));
        assert_eq!(median_seconds(vec![4, 1, 3, 2]), Some(2.5));
    }
}
