//! Prints the monthly lifecycle record for people (`attest report lifecycle --month`).

use super::output::say;
use crate::engine::lifecycle_report::LifecycleReport;

fn time(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map_or_else(|| "-".into(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

pub fn print(r: &LifecycleReport) {
    let c = &r.counts;
    say!(
        "lifecycle record {}: {} leavers, {} movers (leaver grace period: {} days)",
        r.month,
        c.leavers,
        c.movers,
        r.leaver_grace_days
    );
    say!(
        "  leavers: {} suspended ({} eligibilities removed, {} removals failing), {} held nothing, {} enabled again, {} waiting",
        c.leavers_suspended,
        c.eligibility_removed,
        c.removals_failing,
        c.leavers_nothing_held,
        c.leavers_reenabled,
        c.leavers_waiting
    );
    say!(
        "  movers: {} handled, {} mover campaigns launched",
        c.movers_handled,
        c.mover_campaigns
    );
    if !r.leavers.is_empty() {
        say!("LEAVERS");
        say!(
            "  {:<6} {:<20} {:<16} {:<16} {:<13} {:<10} {:>7}  VIA",
            "EVENT",
            "PERSON",
            "DISABLED",
            "DUE",
            "OUTCOME",
            "SUSPENSION",
            "REMOVED"
        );
    }
    for l in &r.leavers {
        say!(
            "  {:<6} {:<20} {:<16} {:<16} {:<13} {:<10} {:>7}  {}",
            l.event,
            l.person,
            time(Some(l.detected_at)),
            time(Some(l.due_at)),
            l.outcome.map_or("waiting", |o| o.as_str()),
            l.suspension.map_or_else(|| "-".into(), |s| format!("#{s}")),
            l.removed,
            l.via
        );
    }
    if !r.movers.is_empty() {
        say!("MOVERS");
        say!(
            "  {:<6} {:<20} {:<16} {:<16} {:<16} {:<12} VIA",
            "EVENT",
            "PERSON",
            "FROM",
            "TO",
            "MOVED",
            "CAMPAIGNS"
        );
    }
    for m in &r.movers {
        let campaigns: Vec<String> = m.campaigns.iter().map(|c| format!("#{c}")).collect();
        say!(
            "  {:<6} {:<20} {:<16} {:<16} {:<16} {:<12} {}",
            m.event,
            m.person,
            m.old_manager,
            m.new_manager,
            time(Some(m.detected_at)),
            if campaigns.is_empty() {
                "-".into()
            } else {
                campaigns.join(",")
            },
            m.via
        );
    }
}
