//! carried_forward.csv: the decisions a delta-only campaign (`review = "changes"`) carried
//! forward instead of asking again, each with the item, campaign, person and reason of the
//! decision it carries. Written only for such campaigns, so other bundles are as they were.

use super::io_err;
use super::rows::{begin_csv, csv_writer, end_record, text, Cells};
use super::ExportOptions;
use crate::engine::{Engine, EngineError};
use crate::evidence::bundle::BundleWriter;
use crate::store::items::carried;

/// The header of carried_forward.csv.
pub const CARRIED_COLUMNS: [&str; 13] = [
    "eligibility_id",
    "holder_id",
    "holder_name",
    "role",
    "scope",
    "since",
    "decided_in_campaign_id",
    "decided_in_campaign",
    "decided_in_item_id",
    "decision",
    "decided_by",
    "decided_at",
    "justification",
];

impl Engine {
    /// Writes carried_forward.csv; returns how many rows it holds.
    pub(super) async fn write_carried(
        &self,
        bundle: &mut BundleWriter,
        campaign_id: i64,
        options: ExportOptions,
    ) -> Result<u64, EngineError> {
        let mut count = 0;
        begin_csv(bundle, "carried_forward.csv", options)?;
        {
            let mut csv = csv_writer(&mut *bundle);
            csv.write_record(CARRIED_COLUMNS).map_err(io_err)?;
            let mut cells = Cells::default();
            carried::each(self.store().conn(), campaign_id, |c| {
                count += 1;
                let w = &mut csv;
                text(w, cells.int(c.eligibility_id))?;
                text(w, &c.holder_external_id)?;
                text(w, &c.holder_name)?;
                text(w, &c.role_name)?;
                text(w, &c.scope)?;
                text(w, cells.time(c.since))?;
                text(w, cells.int(c.origin_campaign_id))?;
                text(w, &c.origin_campaign)?;
                text(w, cells.int(c.origin_item_id))?;
                text(w, &c.verdict)?;
                text(w, &c.decided_by)?;
                text(w, cells.time(c.decided_at))?;
                text(w, c.justification.as_deref().unwrap_or_default())?;
                end_record(w)
            })
            .await?;
            csv.flush().map_err(io_err)?;
        }
        bundle.end(false).map_err(io_err)?;
        Ok(count)
    }
}
