//! `on_reappearance = "remove"`: what a sync found listed again after a campaign removed it is
//! removed again through the source, and each outcome recorded and audited.

use super::SyncReport;
use crate::engine::{Engine, EngineError};
use crate::sources::{Removal, RemovalTarget};
use crate::store;
use crate::store::reappearance::Reappeared;
use crate::store::sources as src_store;
use chrono::{DateTime, Utc};

impl Engine {
    /// `on_reappearance = "remove"`: removes each reappeared eligibility again through the
    /// source, naming the campaign that had removed it, and records what happened.
    pub(super) async fn remove_again(
        &self,
        name: &str,
        back: &[Reappeared],
        recorded_at: DateTime<Utc>,
        report: &mut SyncReport,
        actor: &str,
    ) -> Result<(), EngineError> {
        let connector = self.sources().connector(name)?;
        for item in back {
            let Some(campaign_id) = item.campaign_id else {
                continue;
            };
            let item_id = src_store::item_of(self.store().conn(), campaign_id, item.eligibility_id)
                .await?
                .unwrap_or(0);
            let target = RemovalTarget {
                eligibility_id: item.eligibility_id,
                item_id,
                principal_external_id: item.holder.clone(),
                role_name: item.role.clone(),
                scope: item.scope.clone(),
                campaign_id,
                kind: Default::default(),
                assignment: Default::default(),
            };
            let outcome = match connector.remove(&target).await {
                Ok(Removal::Removed { receipt } | Removal::AlreadyGone { receipt }) => {
                    match connector.is_present(&target).await {
                        Ok(Some(true)) => Err(format!(
                            "still present in the source after its removal ({receipt})"
                        )),
                        Ok(_) => Ok(receipt),
                        Err(e) => Err(format!(
                            "removed ({receipt}), but reading it back failed: {e}"
                        )),
                    }
                }
                Err(e) => Err(e.0),
            };
            let now = self.now();
            let txn = self.store().begin().await?;
            let (action, details) = match &outcome {
                Ok(receipt) => {
                    src_store::mark_removed(
                        &txn,
                        item.eligibility_id,
                        campaign_id,
                        &format!(
                            "removed again by sync of {name}: reappeared after campaign #{campaign_id} removed it"
                        ),
                        receipt,
                        now,
                    )
                    .await?;
                    report.removed_again += 1;
                    ("removed_again", serde_json::json!({ "receipt": receipt }))
                }
                Err(error) => {
                    report.removal_failures.push(format!(
                        "{} as {} at {}: {error}",
                        item.holder, item.role, item.scope
                    ));
                    ("removal_failed", serde_json::json!({ "error": error }))
                }
            };
            src_store::set_reappearance_action(&txn, item.eligibility_id, recorded_at, action)
                .await?;
            store::audit::append(
                &txn,
                now,
                actor,
                &format!("source.reappearance_{action}"),
                Some(&format!("eligibility:{}", item.eligibility_id)),
                &serde_json::json!({
                    "source": name, "holder": item.holder, "role": item.role, "scope": item.scope,
                    "removed_by_campaign": campaign_id, "details": details,
                }),
            )
            .await?;
            txn.commit().await?;
        }
        Ok(())
    }
}
