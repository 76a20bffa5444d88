//! The restore of a suspension: requested (by an admin or the responder that suspended),
//! approved by an admin other than the requester, then exactly the items the suspension
//! removed are put back through their sources and read back. Items it found already gone are
//! not put back; what a campaign decided since is not consulted (the restore undoes the
//! suspension, nothing more).

use super::{entity_principal, parse, target_of, SuspensionView, BUILTIN};
use crate::domain::suspension::{self, ItemRemoval, ItemRestore, SuspensionState};
use crate::engine::{Engine, EngineError};
use crate::sources::{RestoreSchedule, SourceError};
use crate::store::suspensions as store;
use crate::store::{self as st};
use entity::suspension_item;

impl Engine {
    /// Asks to restore the open suspension of a person; an admin approves it. Asking again
    /// while it waits answers the same request.
    pub async fn request_restore(
        &self,
        external_id: &str,
        actor: &str,
    ) -> Result<SuspensionView, EngineError> {
        let principal_id = self.suspendable(external_id).await?;
        let now = self.now();
        let txn = self.store().begin().await?;
        let open = store::open_for(&txn, principal_id).await?.ok_or_else(|| {
            EngineError::NotFound(format!("{external_id} has no open suspension to restore"))
        })?;
        let state: SuspensionState = parse(&open.state)?;
        match state {
            SuspensionState::RestoreRequested => {
                drop(txn);
                return self.suspension(open.id).await;
            }
            SuspensionState::Removing => {
                return Err(EngineError::Conflict(format!(
                    "suspension #{} is still removing {external_id}'s eligibility; ask again once it is suspended",
                    open.id
                )))
            }
            _ => {}
        }
        store::set_state(
            &txn,
            open.id,
            SuspensionState::RestoreRequested,
            Some(actor),
            now,
        )
        .await?;
        st::audit::append(
            &txn,
            now,
            actor,
            "principal.restore_requested",
            Some(&format!("principal:{external_id}")),
            &serde_json::json!({ "suspension": open.id, "reason": open.reason }),
        )
        .await?;
        txn.commit().await?;
        self.suspension(open.id).await
    }

    /// An admin approves the requested restore of suspension `id`: each item the suspension
    /// removed is put back through its source and read back. Approving a restore that failed
    /// retries the items not yet back.
    pub async fn approve_restore(
        &self,
        id: i64,
        actor: &str,
    ) -> Result<SuspensionView, EngineError> {
        let conn = self.store().conn();
        let row = store::get(conn, id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no suspension #{id}")))?;
        let state: SuspensionState = parse(&row.state)?;
        if !matches!(
            state,
            SuspensionState::RestoreRequested | SuspensionState::RestoreFailed
        ) {
            return Err(EngineError::Conflict(format!(
                "suspension #{id} is {state}: only a requested restore can be approved"
            )));
        }
        if let Some(problem) =
            suspension::approval_problem(row.restore_requested_by.as_deref(), actor)
        {
            return Err(EngineError::Forbidden(problem));
        }
        let mut outcomes = Vec::new();
        for item in store::items(conn, id).await? {
            let removal: ItemRemoval = parse(&item.removal_state)?;
            let before = item.restore_state.as_deref().map(parse).transpose()?;
            let outcome = if removal != ItemRemoval::Removed {
                (ItemRestore::NotRemoved, None, None)
            } else if before == Some(ItemRestore::Restored) {
                outcomes.push(ItemRestore::Restored);
                continue;
            } else {
                self.restore_item(id, &item).await?
            };
            store::record_restore(
                conn,
                item.id,
                outcome.0,
                outcome.1.as_deref(),
                outcome.2.as_deref(),
                self.now(),
            )
            .await?;
            outcomes.push(outcome.0);
        }
        let next = suspension::after_restore(&outcomes);
        let now = self.now();
        let txn = self.store().begin().await?;
        store::set_state(&txn, id, next, Some(actor), now).await?;
        let principal = entity_principal(&txn, row.principal_id).await?;
        let errors: Vec<String> = store::items(&txn, id)
            .await?
            .into_iter()
            .filter_map(|i| i.restore_error)
            .collect();
        st::audit::append(
            &txn,
            now,
            actor,
            if next == SuspensionState::Restored {
                "principal.restored"
            } else {
                "principal.restore_failed"
            },
            Some(&format!("principal:{principal}")),
            &serde_json::json!({
                "suspension": id,
                "requested_by": row.restore_requested_by,
                "restored": outcomes.iter().filter(|o| **o == ItemRestore::Restored).count(),
                "errors": errors,
            }),
        )
        .await?;
        txn.commit().await?;
        self.suspension(id).await
    }

    /// Puts one item back: through its source, read back, then attest's row active again (so
    /// the next sync finds it as expected, not as a reappearance).
    async fn restore_item(
        &self,
        suspension_id: i64,
        item: &suspension_item::Model,
    ) -> Result<(ItemRestore, Option<String>, Option<String>), EngineError> {
        let conn = self.store().conn();
        let failed = |e: SourceError| Ok((ItemRestore::Failed, None, Some(e.0)));
        let receipt = if item.source == BUILTIN {
            format!(
                "builtin:eligibility/{}:restored-from-suspension/{suspension_id}",
                item.eligibility_id
            )
        } else {
            let connector = match self.sources().connector(&item.source) {
                Ok(c) => c,
                Err(e) => return failed(e),
            };
            let target = target_of(
                item,
                store::eligibility_assignment(conn, item.eligibility_id).await?,
            );
            let schedule = RestoreSchedule {
                start: self.now(),
                end: store::eligibility_end(conn, item.eligibility_id).await?,
            };
            let receipt = match connector.restore(&target, &schedule).await {
                Ok(receipt) => receipt,
                Err(e) => return failed(e),
            };
            match connector.is_present(&target).await {
                Ok(Some(true)) => receipt,
                Ok(Some(false)) => {
                    return failed(SourceError(format!(
                        "{} does not list it after its restore ({receipt})",
                        item.source
                    )))
                }
                Ok(None) => format!("{receipt} (this source cannot be read back)"),
                Err(e) => {
                    return failed(SourceError(format!(
                        "restored ({receipt}), but reading it back failed: {e}"
                    )))
                }
            }
        };
        store::reactivate(conn, item.eligibility_id, suspension_id, self.now()).await?;
        Ok((ItemRestore::Restored, Some(receipt), None))
    }
}
