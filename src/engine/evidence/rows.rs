//! The bundle's CSV files row by row: their columns, every text cell protected against
//! spreadsheet formulas, and numbers and times formatted without allocating.

use super::{io_err, ExportOptions};
use crate::domain::evidence::safe_cell;
use crate::engine::EngineError;
use crate::evidence::bundle::BundleWriter;
use crate::store::evidence as ev;
use chrono::{DateTime, SecondsFormat, Utc};
use std::io::Write;

/// The columns of items.csv, in order.
pub const ITEM_COLUMNS: &[&str] = &[
    "item_id",
    "eligibility_id",
    "holder_id",
    "holder_name",
    "holder_email",
    "holder_kind",
    "role",
    "role_risk",
    "scope",
    "eligible_since",
    "last_activated_at",
    "recommendation",
    "recommendation_reason",
    "reviewer_id",
    "reviewer_name",
    "reviewer_reason",
    "escalated_from",
    "flagged",
    "flag_reason",
    "decision",
    "decided_by_kind",
    "decided_by",
    "acting_for",
    "decided_at",
    "channel",
    "justification",
    "outcome",
    "removal_state",
    "removal_attempts",
    "removal_receipt",
    "removed_at",
    "removal_verified_at",
    "removal_error",
    // Appended (issue 17), so that older bundles, read by position, keep verifying: the last
    // review of the same eligibility (see `store::items::previous`).
    "new_since_last_review",
    "previous_campaign_id",
    "previous_campaign",
    "previous_decision",
    "previous_decided_by_kind",
    "previous_decided_by",
    "previous_decided_at",
    "previous_justification",
    // The holder's attributes the definition names (`context`), frozen at launch: a JSON object.
    "holder_context",
    // Appended (standing access, issue 17): `eligible`, or `active` for standing access; a
    // bundle without it reads as all eligible. Then what the item's remediation does: `remove`,
    // `convert` (standing access converted to eligible; its removal_* cells are the
    // conversion's), or empty for none.
    "assignment",
    "remediation",
    // Appended (multi-stage reviews, issue 17): the stage whose decision is in force, the one
    // the outcome rule chose (decisions.csv `stage`); empty while undecided.
    "decided_in_stage",
];

pub(super) const DECISION_COLUMNS: &[&str] = &[
    "decision_id",
    "item_id",
    "decision",
    "decided_by_kind",
    "decided_by",
    "acting_for",
    "decided_at",
    "channel",
    "client_addr",
    "justification",
    "supersedes_decision_id",
    // Added with multi-stage reviews: the stage the decision was given in (1 for a
    // single-stage campaign). Bundles before it have no such column.
    "stage",
];

pub(super) const AFTER_COLUMNS: &[&str] = &[
    "item_id",
    "eligibility_id",
    "holder_id",
    "role",
    "scope",
    "outcome",
    "expected_status",
    "status_now",
    "consistent",
];

/// Appends one line of the population listing whose SHA-256 campaign.json records.
pub fn population_line(
    out: &mut String,
    eligibility_id: &str,
    holder_id: &str,
    role: &str,
    scope: &str,
) {
    out.push_str(eligibility_id);
    for cell in [holder_id, role, scope] {
        out.push(',');
        out.push_str(&safe_cell(cell));
    }
    out.push('\n');
}

/// Starts the bundle's next CSV file, with a BOM when the export asks for one: every CSV of a
/// bundle alike, since an auditor opens each in the same spreadsheet.
pub(super) fn begin_csv(
    bundle: &mut BundleWriter,
    name: &str,
    options: ExportOptions,
) -> Result<(), EngineError> {
    bundle.begin(name).map_err(io_err)?;
    if options.bom {
        bundle.write_all("\u{feff}".as_bytes()).map_err(io_err)?;
    }
    Ok(())
}

pub(super) fn csv_writer<W: Write>(to: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .buffer_capacity(1 << 16)
        .from_writer(to)
}

/// Writes one text cell, protected against spreadsheet formulas.
pub(super) fn text<W: Write>(csv: &mut csv::Writer<W>, cell: &str) -> Result<(), EngineError> {
    csv.write_field(safe_cell(cell).as_bytes()).map_err(io_err)
}

pub(super) fn end_record<W: Write>(csv: &mut csv::Writer<W>) -> Result<(), EngineError> {
    csv.write_record(None::<&[u8]>).map_err(io_err)
}

/// Scratch space for the cells that are not text in the database (numbers and times), reused
/// from row to row: formatting them through `std::fmt` was a noticeable share of an export.
#[derive(Default)]
pub(super) struct Cells {
    int: itoa::Buffer,
    time: String,
}

impl Cells {
    pub(super) fn int(&mut self, n: impl itoa::Integer) -> &str {
        self.int.format(n)
    }

    /// A timestamp as RFC 3339 in UTC with microseconds; empty for none.
    pub(super) fn time(&mut self, at: Option<DateTime<Utc>>) -> &str {
        use chrono::{Datelike, Timelike};
        self.time.clear();
        match at {
            // What `to_rfc3339_opts(SecondsFormat::Micros, true)` writes, without allocating.
            Some(at) if (0..=9999).contains(&at.year()) && at.nanosecond() < 1_000_000_000 => {
                let out = &mut self.time;
                push_padded(out, at.year().unsigned_abs(), 4);
                for (separator, n) in [('-', at.month()), ('-', at.day()), ('T', at.hour())] {
                    out.push(separator);
                    push_padded(out, n, 2);
                }
                for n in [at.minute(), at.second()] {
                    out.push(':');
                    push_padded(out, n, 2);
                }
                out.push('.');
                push_padded(out, at.nanosecond() / 1000, 6);
                out.push('Z');
            }
            Some(at) => self.time = at.to_rfc3339_opts(SecondsFormat::Micros, true),
            None => {}
        }
        &self.time
    }
}

/// Appends `n` in decimal, zero-padded to `width` digits (`n` has no more than that).
fn push_padded(out: &mut String, n: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (n / 10u32.pow(place) % 10) as u8;
        out.push(char::from(b'0' + digit));
    }
}

/// One row of items.csv, in [`ITEM_COLUMNS`] order.
pub(super) fn write_item<W: Write>(
    w: &mut csv::Writer<W>,
    cells: &mut Cells,
    item: &ev::ItemView<'_>,
    context: &[String],
) -> Result<(), EngineError> {
    let o = Option::unwrap_or_default;
    text(w, cells.int(item.id))?;
    text(w, cells.int(item.eligibility_id))?;
    text(w, item.holder_external_id)?;
    text(w, item.holder_name)?;
    text(w, o(item.holder_email))?;
    text(w, item.holder_kind)?;
    text(w, item.role_name)?;
    text(w, item.role_risk)?;
    text(w, item.scope)?;
    text(w, cells.time(item.since))?;
    text(w, cells.time(item.last_activated_at))?;
    text(w, item.recommendation)?;
    text(w, o(item.recommendation_reason))?;
    text(w, o(item.reviewer_id))?;
    text(w, o(item.reviewer_name))?;
    text(w, o(item.reviewer_reason))?;
    text(w, o(item.escalated_from))?;
    text(w, if item.flagged { "yes" } else { "no" })?;
    text(w, o(item.flag_reason))?;
    text(w, o(item.verdict))?;
    text(w, o(item.made_by))?;
    match item.made_by {
        Some("policy") => text(w, "policy")?,
        _ => text(w, o(item.decided_by))?,
    }
    text(w, o(item.acting_for))?;
    text(w, cells.time(item.decided_at))?;
    text(w, o(item.channel))?;
    text(w, o(item.justification))?;
    text(w, o(item.outcome))?;
    text(w, o(item.removal_state))?;
    text(w, item.removal_attempts.map_or("", |a| cells.int(a)))?;
    text(w, o(item.removal_receipt))?;
    text(w, cells.time(item.removed_at))?;
    text(w, cells.time(item.verified_at))?;
    text(w, o(item.removal_error))?;
    let new = item.previous_campaign_id.is_none();
    text(w, if new { "yes" } else { "no" })?;
    text(w, item.previous_campaign_id.map_or("", |c| cells.int(c)))?;
    text(w, o(item.previous_campaign))?;
    text(w, o(item.previous_verdict))?;
    text(w, o(item.previous_made_by))?;
    text(w, o(item.previous_decided_by))?;
    text(w, cells.time(item.previous_decided_at))?;
    text(w, o(item.previous_justification))?;
    let named = crate::domain::directory::holder_context(context, item.holder_context);
    if named.is_empty() {
        text(w, "")?;
    } else {
        let object: serde_json::Map<String, serde_json::Value> = named
            .into_iter()
            .map(|(name, value)| (name, serde_json::Value::String(value)))
            .collect();
        text(w, &serde_json::Value::Object(object).to_string())?;
    }
    text(w, item.assignment)?;
    text(w, item.remediation_kind.unwrap_or_default())?;
    match item.decided_in_stage {
        Some(stage) => text(w, &stage.to_string())?,
        None => text(w, "")?,
    }
    end_record(w)
}

/// One row of after_remediation.csv; returns 1 when the eligibility is not as its outcome
/// requires.
pub(super) fn write_after<W: Write>(
    w: &mut csv::Writer<W>,
    cells: &mut Cells,
    item: &ev::ItemView<'_>,
) -> Result<u64, EngineError> {
    let expected = match item.outcome {
        Some("revoked" | "removed_by_policy")
            if item.removal_state != Some("awaiting_confirmation") =>
        {
            "removed"
        }
        Some(_) => "active",
        None => "",
    };
    let now = item.status_now.unwrap_or("missing");
    // Removed by a suspension after the review (a leaver, a SOC's signal; suspensions.csv in
    // the same bundle says which): a kept eligibility is then suspended, not inconsistent, and
    // a revoked one is as removed as its outcome requires.
    let suspended = now == "suspended";
    let consistent = match expected {
        "" => "open",
        "removed" if suspended => "yes",
        _ if suspended => "suspended",
        _ if expected == now => "yes",
        _ => "no",
    };
    text(w, cells.int(item.id))?;
    text(w, cells.int(item.eligibility_id))?;
    text(w, item.holder_external_id)?;
    text(w, item.role_name)?;
    text(w, item.scope)?;
    text(w, item.outcome.unwrap_or_default())?;
    text(w, expected)?;
    text(w, now)?;
    text(w, consistent)?;
    end_record(w)?;
    Ok(u64::from(consistent == "no"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_rfc3339_with_microseconds() {
        let mut cells = Cells::default();
        for text in [
            "2026-11-26T10:02:01.427825Z",
            "2024-01-01T00:00:00Z",
            "0001-02-03T04:05:06.000007Z",
            "2026-06-30T23:59:60.5Z",
            "2026-03-04T05:06:07.123456789+02:00",
        ] {
            let at = DateTime::parse_from_rfc3339(text)
                .expect("a time")
                .with_timezone(&Utc);
            assert_eq!(
                cells.time(Some(at)),
                at.to_rfc3339_opts(SecondsFormat::Micros, true)
            );
        }
        assert_eq!(cells.time(None), "");
    }
}
