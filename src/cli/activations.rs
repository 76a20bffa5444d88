//! Prints the weekly activation review for people (`attest report activations --week`).

use super::output::say;
use crate::domain::activations::Frequency;
use crate::engine::activations::{ActivationFinding, ActivationReport};

fn activation(f: &ActivationFinding) {
    say!(
        "  {} ({}) {} at {}: {} UTC, {} {}{}",
        f.holder_name,
        f.holder,
        f.role,
        f.scope,
        f.activated_at.format("%Y-%m-%d %H:%M"),
        f.local_time,
        f.timezone,
        f.justification
            .as_deref()
            .map(|j| format!(", \"{j}\""))
            .unwrap_or_default()
    );
}

pub fn print(r: &ActivationReport) {
    say!(
        "activation review {}: {} activations from {} to {} (UTC), {} findings",
        r.week,
        r.activations,
        r.from.format("%Y-%m-%d"),
        r.to.format("%Y-%m-%d"),
        r.findings()
    );
    say!("break-glass activations: {}", r.break_glass.len());
    r.break_glass.iter().for_each(activation);
    say!(
        "outside working hours ({}): {}",
        r.working_hours,
        r.after_hours.len()
    );
    r.after_hours.iter().for_each(activation);
    say!("unusual frequency (five weeks): {}", r.frequency.len());
    for f in &r.frequency {
        let how = match f.frequency {
            Frequency::FarMore => "far more often",
            Frequency::FarLess => "far less often",
        };
        say!(
            "  {} ({}) {}: {} activations, role median {} over {} holders: {how}",
            f.holder_name,
            f.holder,
            f.role,
            f.activations,
            f.role_median,
            f.holders
        );
    }
    say!(
        "not activated since the last review: {}",
        r.not_activated_since_review.len()
    );
    for f in &r.not_activated_since_review {
        say!(
            "  {} ({}) {} at {}: {}, reviewed in campaign #{} launched {}",
            f.holder_name,
            f.holder,
            f.role,
            f.scope,
            f.last_activated_at
                .map_or("never activated".to_string(), |t| format!(
                    "last activated {}",
                    t.format("%Y-%m-%d")
                )),
            f.reviewed_in_campaign,
            f.review_launched_at.format("%Y-%m-%d")
        );
    }
}
