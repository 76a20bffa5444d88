//! `challenges.csv`: the challenge period of a campaign whose definition has `challenge_days`
//! (`domain::challenge`): one row per revocation held at close, with the holder's reason, the
//! answer, who gave it and when, and what became of the eligibility. Written only for such
//! campaigns (counted in campaign.json `challenges`), so other bundles are as they were.

use super::rows::{begin_csv, csv_writer, end_record, text};
use super::{io_err, ExportOptions};
use crate::domain::challenge::final_outcome;
use crate::engine::EngineError;
use crate::evidence::bundle::BundleWriter;
use crate::store::challenges::ChallengeView;
use chrono::{DateTime, SecondsFormat, Utc};

/// The columns of challenges.csv, in order.
pub const CHALLENGE_COLUMNS: [&str; 17] = [
    "challenge_id",
    "item_id",
    "eligibility_id",
    "holder_id",
    "holder_name",
    "role",
    "scope",
    "revoked_by",
    "reviewer_id",
    "period_ends_at",
    "reason",
    "submitted_at",
    "answer",
    "answered_by",
    "answered_at",
    "final_outcome",
    "removal_state",
];

fn time(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Writes challenges.csv into the bundle.
pub(super) fn write(
    bundle: &mut BundleWriter,
    challenges: &[ChallengeView],
    options: ExportOptions,
) -> Result<(), EngineError> {
    begin_csv(bundle, "challenges.csv", options)?;
    {
        let mut csv = csv_writer(&mut *bundle);
        csv.write_record(CHALLENGE_COLUMNS).map_err(io_err)?;
        for c in challenges {
            let row = [
                c.id.to_string(),
                c.item_id.to_string(),
                c.eligibility_id.to_string(),
                c.holder.clone(),
                c.holder_name.clone(),
                c.role.clone(),
                c.scope.clone(),
                c.revoked_by.clone(),
                c.reviewer.clone().unwrap_or_default(),
                time(Some(c.closes_at)),
                c.reason.clone().unwrap_or_default(),
                time(c.submitted_at),
                c.state.to_string(),
                c.answered_by.clone().unwrap_or_default(),
                time(c.answered_at),
                final_outcome(c.state).to_string(),
                c.removal_state
                    .clone()
                    .unwrap_or_else(|| "cancelled".into()),
            ];
            for cell in &row {
                text(&mut csv, cell)?;
            }
            end_record(&mut csv)?;
        }
        csv.flush().map_err(io_err)?;
    }
    bundle.end(false).map_err(io_err)
}
