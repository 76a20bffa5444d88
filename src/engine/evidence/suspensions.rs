//! `suspensions.csv`: every suspension of a person who holds an item of the campaign (issue
//! 19), one row per item it removed, with the removal's and the restore's state and proof.
//! Listed in the manifest like every file; bundles made before it existed have no such file
//! and still verify (the verifier checks what the manifest lists).

use super::rows::{begin_csv, csv_writer, end_record, text};
use super::{io_err, ExportOptions};
use crate::engine::suspend::SuspensionView;
use crate::engine::{Engine, EngineError};
use crate::evidence::bundle::BundleWriter;
use chrono::{DateTime, SecondsFormat, Utc};

/// The columns of suspensions.csv, in order.
pub const SUSPENSION_COLUMNS: [&str; 20] = [
    "suspension_id",
    "principal",
    "state",
    "reason",
    "requested_by",
    "created_at",
    "suspended_at",
    "restore_requested_by",
    "approved_by",
    "restored_at",
    "eligibility_id",
    "source",
    "role",
    "scope",
    "removal_state",
    "removal_receipt",
    "removal_error",
    "restore_state",
    "restore_receipt",
    "restore_error",
];

fn time(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

impl Engine {
    /// The suspensions of the campaign's holders, oldest first.
    pub(super) async fn campaign_suspensions(
        &self,
        campaign_id: i64,
    ) -> Result<Vec<SuspensionView>, EngineError> {
        let ids = crate::store::suspensions::of_campaign_holders(self.store().conn(), campaign_id)
            .await?;
        let mut views = Vec::with_capacity(ids.len());
        for id in ids {
            views.push(self.suspension(id).await?);
        }
        Ok(views)
    }
}

/// Writes suspensions.csv into the bundle.
pub(super) fn write(
    bundle: &mut BundleWriter,
    suspensions: &[SuspensionView],
    options: ExportOptions,
) -> Result<(), EngineError> {
    begin_csv(bundle, "suspensions.csv", options)?;
    {
        let mut csv = csv_writer(&mut *bundle);
        csv.write_record(SUSPENSION_COLUMNS).map_err(io_err)?;
        for s in suspensions {
            let head = [
                s.id.to_string(),
                s.principal.clone(),
                s.state.to_string(),
                s.reason.clone(),
                s.requested_by.clone(),
                time(Some(s.created_at)),
                time(s.suspended_at),
                s.restore_requested_by.clone().unwrap_or_default(),
                s.approved_by.clone().unwrap_or_default(),
                time(s.restored_at),
            ];
            let none = [None];
            let items: Vec<Option<&crate::engine::suspend::SuspensionItemView>> =
                if s.items.is_empty() {
                    none.to_vec()
                } else {
                    s.items.iter().map(Some).collect()
                };
            for item in items {
                for cell in &head {
                    text(&mut csv, cell)?;
                }
                let tail = match item {
                    Some(i) => [
                        i.eligibility_id.to_string(),
                        i.source.clone(),
                        i.role.clone(),
                        i.scope.clone(),
                        i.removal_state.to_string(),
                        i.removal_receipt.clone().unwrap_or_default(),
                        i.removal_error.clone().unwrap_or_default(),
                        i.restore_state.map(|r| r.to_string()).unwrap_or_default(),
                        i.restore_receipt.clone().unwrap_or_default(),
                        i.restore_error.clone().unwrap_or_default(),
                    ],
                    None => Default::default(),
                };
                for cell in &tail {
                    text(&mut csv, cell)?;
                }
                end_record(&mut csv)?;
            }
        }
        csv.flush().map_err(io_err)?;
    }
    bundle.end(false).map_err(io_err)
}
