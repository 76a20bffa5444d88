//! The admins' decision queue: items that only their holder could have reviewed (the campaign
//! owner holds them and no manager, owner or fallback may take them). Nobody reviews their own
//! access, so these never reach the holder's link; an admin who is not the holder decides them
//! in the console, always with a justification.

use super::accounts::Operator;
use super::decide::{Choice, DecideReport, Decider};
use super::{Engine, EngineError};
use crate::domain::closing::Channel;
use crate::domain::closing::Verdict;
use crate::store::items::{self, QueuedItem};

impl Engine {
    /// The undecided items waiting for an admin (the first `limit`), and how many there are.
    pub async fn admin_queue(&self, limit: u64) -> Result<(Vec<QueuedItem>, i64), EngineError> {
        Ok(items::admin_queue(self.store().conn(), limit).await?)
    }

    /// An admin's decision on a queued item. Refused when the admin is the holder, when the
    /// item has a reviewer of its own, and without a justification.
    pub async fn decide_queued(
        &self,
        item_id: i64,
        verdict: Verdict,
        justification: &str,
        operator: &Operator,
    ) -> Result<DecideReport, EngineError> {
        let (campaign_id, holder, reviewer, holder_email) =
            items::item_holder(self.store().conn(), item_id)
                .await?
                .ok_or_else(|| EngineError::NotFound(format!("no item {item_id}")))?;
        if reviewer != Some(holder) {
            return Err(EngineError::Conflict(format!(
                "item {item_id} has a reviewer of its own: it is decided through their link"
            )));
        }
        let is_holder = holder_email.is_some_and(|email| {
            operator
                .actor
                .eq_ignore_ascii_case(&format!("account:{email}"))
        });
        if is_holder {
            return Err(EngineError::Forbidden(format!(
                "item {item_id} is your own eligibility: another admin must decide it"
            )));
        }
        let justification = justification.trim();
        if justification.is_empty() {
            return Err(EngineError::Invalid(format!(
                "item {item_id}: justification: an admin deciding for nobody else must say why"
            )));
        }
        self.decide_each(
            campaign_id,
            &[Choice {
                item_id,
                verdict,
                justification: Some(justification),
            }],
            &Decider {
                reviewer: None,
                acting_for: None,
                channel: Channel::Web,
                client_addr: None,
                actor: &operator.actor,
            },
        )
        .await
    }
}
