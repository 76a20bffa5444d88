//! Suspend on a signal (issue 19): a SIEM or SOAR playbook (a `responder` token) or an admin
//! suspends a person; the suspension and one item per active eligibility are recorded durably
//! first, then each is removed through its source and read back. What fails is retried by
//! [`Engine::suspension_step`] (the scheduler's worker), which also finishes a suspension a
//! crash interrupted. `restore` (see [`restore`]) puts back exactly the removed items once an
//! admin other than the requester approves.

mod restore;

use super::{Engine, EngineError};
use crate::domain::eligibility::{builtin_receipt, Assignment, SourceKind};
use crate::domain::limits;
use crate::domain::suspension::{self, ItemRemoval, ItemRestore, SuspensionState};
use crate::sources::{Removal, RemovalTarget, SourceError};
use crate::store::suspensions::{self as store, Held};
use crate::store::{self as st, directory};
use chrono::{DateTime, Utc};
use entity::{suspension as suspension_row, suspension_item};
use serde::Serialize;

/// How an item held in attest's own tables (imports, the built-in source) is named.
pub const BUILTIN: &str = "builtin";

/// A suspension as the API, the console and the evidence show it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SuspensionView {
    pub id: i64,
    /// The person's id (as imports and syncs name them).
    pub principal: String,
    pub reason: String,
    pub requested_by: String,
    pub state: SuspensionState,
    pub created_at: DateTime<Utc>,
    pub suspended_at: Option<DateTime<Utc>>,
    pub restore_requested_by: Option<String>,
    pub restore_requested_at: Option<DateTime<Utc>>,
    pub approved_by: Option<String>,
    pub restored_at: Option<DateTime<Utc>>,
    pub items: Vec<SuspensionItemView>,
}

/// One eligibility a suspension removed (or is removing), and its restore.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SuspensionItemView {
    pub id: i64,
    pub eligibility_id: i64,
    /// The configured source that removes and restores it, or `builtin`.
    pub source: String,
    pub role: String,
    pub scope: String,
    pub removal_state: ItemRemoval,
    pub removal_attempts: i32,
    pub removal_receipt: Option<String>,
    pub removal_error: Option<String>,
    pub removed_at: Option<DateTime<Utc>>,
    pub restore_state: Option<ItemRestore>,
    pub restore_receipt: Option<String>,
    pub restore_error: Option<String>,
    pub restored_at: Option<DateTime<Utc>>,
}

fn parse<T: std::str::FromStr<Err = String>>(text: &str) -> Result<T, EngineError> {
    text.parse()
        .map_err(|e: String| EngineError::Io(format!("suspension table: {e}")))
}

fn item_view(i: suspension_item::Model) -> Result<SuspensionItemView, EngineError> {
    Ok(SuspensionItemView {
        id: i.id,
        eligibility_id: i.eligibility_id,
        source: i.source,
        role: i.role_name,
        scope: i.scope,
        removal_state: parse(&i.removal_state)?,
        removal_attempts: i.removal_attempts,
        removal_receipt: i.removal_receipt,
        removal_error: i.removal_error,
        removed_at: i.removed_at,
        restore_state: i.restore_state.as_deref().map(parse).transpose()?,
        restore_receipt: i.restore_receipt,
        restore_error: i.restore_error,
        restored_at: i.restored_at,
    })
}

/// The target a connector removes or restores; campaign id 0 marks a suspension's item.
/// `assignment`: how the eligibility is held (`store::eligibility_assignment`).
fn target_of(item: &suspension_item::Model, assignment: Assignment) -> RemovalTarget {
    RemovalTarget {
        eligibility_id: item.eligibility_id,
        item_id: item.id,
        principal_external_id: item.principal_external_id.clone(),
        role_name: item.role_name.clone(),
        scope: item.scope.clone(),
        campaign_id: 0,
        kind: Default::default(),
        assignment,
    }
}

/// Which source removes an eligibility: its configured source when it came from one (LDAP,
/// Entra), else attest's own tables.
fn source_of(held: &Held) -> String {
    let configured = [SourceKind::Ldap.as_str(), SourceKind::Graph.as_str()];
    if configured.contains(&held.source_kind.as_str()) {
        held.source_name.clone()
    } else {
        BUILTIN.to_string()
    }
}

impl Engine {
    /// A suspension with its items and its person's id.
    pub async fn suspension(&self, id: i64) -> Result<SuspensionView, EngineError> {
        let row = store::get(self.store().conn(), id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no suspension #{id}")))?;
        self.view(row).await
    }

    async fn view(&self, row: suspension_row::Model) -> Result<SuspensionView, EngineError> {
        let conn = self.store().conn();
        let items = store::items(conn, row.id)
            .await?
            .into_iter()
            .map(item_view)
            .collect::<Result<Vec<_>, _>>()?;
        let principal = entity_principal(conn, row.principal_id).await?;
        Ok(SuspensionView {
            id: row.id,
            principal,
            reason: row.reason,
            requested_by: row.requested_by,
            state: parse(&row.state)?,
            created_at: row.created_at,
            suspended_at: row.suspended_at,
            restore_requested_by: row.restore_requested_by,
            restore_requested_at: row.restore_requested_at,
            approved_by: row.approved_by,
            restored_at: row.restored_at,
            items,
        })
    }

    /// The principal's database id, or NotFound naming the id given.
    async fn suspendable(&self, external_id: &str) -> Result<i64, EngineError> {
        let refs = directory::principal_refs(self.store().conn(), &[external_id]).await?;
        refs.get(external_id).map(|r| r.id).ok_or_else(|| {
            EngineError::NotFound(format!(
                "no principal {} (principals are named by the id imports and syncs give them)",
                limits::quote(external_id)
            ))
        })
    }

    /// Every suspension of a person, newest first.
    pub async fn suspensions_of(
        &self,
        external_id: &str,
    ) -> Result<Vec<SuspensionView>, EngineError> {
        let id = self.suspendable(external_id).await?;
        let mut views = Vec::new();
        for row in store::of_principal(self.store().conn(), id).await? {
            views.push(self.view(row).await?);
        }
        Ok(views)
    }

    /// The latest suspensions of anyone (`attest suspension list`), newest first.
    pub async fn recent_suspensions(&self, limit: u64) -> Result<Vec<SuspensionView>, EngineError> {
        let mut views = Vec::new();
        for row in store::recent(self.store().conn(), limit).await? {
            views.push(self.view(row).await?);
        }
        Ok(views)
    }

    /// Every suspension of the people in `principal_ids` (a campaign's holders), oldest first.
    pub async fn suspensions_of_ids(
        &self,
        principal_ids: &[i64],
    ) -> Result<Vec<SuspensionView>, EngineError> {
        let mut views = Vec::new();
        for row in store::of_principals(self.store().conn(), principal_ids).await? {
            views.push(self.view(row).await?);
        }
        Ok(views)
    }

    /// Suspends a person: records the suspension and its items, then removes each through its
    /// source. Returns the suspension and whether it is new (`false`: one was open already,
    /// and it is returned unchanged).
    pub async fn suspend(
        &self,
        external_id: &str,
        reason: &str,
        actor: &str,
    ) -> Result<(SuspensionView, bool), EngineError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(EngineError::Invalid(
                "reason: say why (the signal that triggered the suspension)".into(),
            ));
        }
        limits::check_text(reason, suspension::REASON_MAX_CHARS, limits::Lines::Multi)
            .map_err(|problem| EngineError::Invalid(format!("reason: {problem}")))?;
        let principal_id = self.suspendable(external_id).await?;
        let now = self.now();
        let txn = self.store().begin().await?;
        if let Some(open) = store::open_for(&txn, principal_id).await? {
            drop(txn);
            return Ok((self.view(open).await?, false));
        }
        let held = store::held_by(&txn, principal_id).await?;
        let inserted = store::insert(
            &txn,
            (principal_id, external_id),
            reason,
            actor,
            &held,
            source_of,
            now,
        )
        .await;
        let row = match inserted {
            Ok(row) => row,
            // Another request suspended them at the same moment: the unique open suspension
            // refused this one; answer with that one.
            Err(e) => {
                drop(txn);
                return match store::open_for(self.store().conn(), principal_id).await? {
                    Some(open) => Ok((self.view(open).await?, false)),
                    None => Err(e.into()),
                };
            }
        };
        st::audit::append(
            &txn,
            now,
            actor,
            "principal.suspended",
            Some(&format!("principal:{external_id}")),
            &serde_json::json!({
                "suspension": row.id,
                "reason": reason,
                "items": held.iter().map(|h| serde_json::json!({
                    "eligibility": h.eligibility_id, "role": h.role_name, "scope": h.scope,
                    "source": source_of(h),
                })).collect::<Vec<_>>(),
            }),
        )
        .await?;
        txn.commit().await?;
        self.remove_items(row.id).await?;
        Ok((self.suspension(row.id).await?, true))
    }

    /// Finishes the removals of every suspension that still owes some (a failed source, a
    /// crash between recording and removing); returns how many items it removed now.
    pub async fn suspension_step(&self) -> Result<usize, EngineError> {
        let mut done = 0;
        for id in store::removing(self.store().conn()).await? {
            done += self.remove_items(id).await?;
        }
        Ok(done)
    }

    /// Removes each item of suspension `id` not yet removed, records each outcome, and moves
    /// the suspension to `suspended` or `partial`; returns how many items it removed now.
    async fn remove_items(&self, id: i64) -> Result<usize, EngineError> {
        let conn = self.store().conn();
        let items = store::items(conn, id).await?;
        let mut done = 0;
        for item in &items {
            let state: ItemRemoval = parse(&item.removal_state)?;
            if state.done() {
                continue;
            }
            let (state, receipt, error) = self.remove_item(id, item).await?;
            let now = self.now();
            store::record_removal(
                conn,
                item.id,
                state,
                receipt.as_deref(),
                error.as_deref(),
                now,
            )
            .await?;
            if state.done() {
                done += 1;
            }
        }
        let states = store::items(conn, id)
            .await?
            .iter()
            .map(|i| parse(&i.removal_state))
            .collect::<Result<Vec<ItemRemoval>, _>>()?;
        let next = suspension::after_removals(&states);
        let row = store::get(conn, id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no suspension #{id}")))?;
        let before: SuspensionState = parse(&row.state)?;
        if next != before && before.removing() {
            let now = self.now();
            let txn = self.store().begin().await?;
            store::set_state(&txn, id, next, None, now).await?;
            let principal = entity_principal(&txn, row.principal_id).await?;
            let action = match next {
                SuspensionState::Suspended => "principal.suspension_complete",
                _ => "principal.suspension_partial",
            };
            let failed: Vec<String> = store::items(&txn, id)
                .await?
                .into_iter()
                .filter_map(|i| i.removal_error)
                .collect();
            st::audit::append(
                &txn,
                now,
                "engine",
                action,
                Some(&format!("principal:{principal}")),
                &serde_json::json!({ "suspension": id, "errors": failed }),
            )
            .await?;
            txn.commit().await?;
        }
        Ok(done)
    }

    /// One item's removal: through its source and read back, then attest's row marked removed
    /// naming the suspension. The state, receipt and error to record.
    async fn remove_item(
        &self,
        suspension_id: i64,
        item: &suspension_item::Model,
    ) -> Result<(ItemRemoval, Option<String>, Option<String>), EngineError> {
        let now = self.now();
        let conn = self.store().conn();
        if item.source == BUILTIN {
            let receipt = format!(
                "{}{}:suspended-by/{suspension_id}@{}",
                builtin_receipt::PREFIX,
                item.eligibility_id,
                now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            );
            let removed =
                store::mark_removed(conn, item.eligibility_id, suspension_id, &receipt, now)
                    .await?;
            return Ok(if removed {
                (ItemRemoval::Removed, Some(receipt), None)
            } else {
                (
                    ItemRemoval::AlreadyGone,
                    Some(builtin_receipt::not_active(item.eligibility_id)),
                    None,
                )
            });
        }
        let failed = |e: SourceError| Ok((ItemRemoval::Failed, None, Some(e.0)));
        let connector = match self.sources().connector(&item.source) {
            Ok(c) => c,
            Err(e) => return failed(e),
        };
        let target = target_of(
            item,
            store::eligibility_assignment(conn, item.eligibility_id).await?,
        );
        let (state, receipt) = match connector.remove(&target).await {
            Ok(Removal::Removed { receipt }) => (ItemRemoval::Removed, receipt),
            Ok(Removal::AlreadyGone { receipt }) => (ItemRemoval::AlreadyGone, receipt),
            Err(e) => return failed(e),
        };
        match connector.is_present(&target).await {
            Ok(Some(true)) => {
                return failed(SourceError(format!(
                    "still present in {} after its removal ({receipt})",
                    item.source
                )))
            }
            Ok(_) => {}
            Err(e) => {
                return failed(SourceError(format!(
                    "removed ({receipt}), but reading it back failed: {e}"
                )))
            }
        }
        store::mark_removed(conn, item.eligibility_id, suspension_id, &receipt, now).await?;
        Ok((state, Some(receipt), None))
    }
}

/// A principal's external id by database id (empty when it is gone, which a foreign key
/// prevents).
async fn entity_principal(
    conn: &impl sea_orm::ConnectionTrait,
    id: i64,
) -> Result<String, EngineError> {
    Ok(store::external_id(conn, id).await?.unwrap_or_default())
}
