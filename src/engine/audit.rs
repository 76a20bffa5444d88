//! Reading the audit log: verification of its hash chain.

use super::{Engine, EngineError};
use crate::domain::audit_chain::ChainBreak;
use crate::store;

impl Engine {
    /// Walks the audit chain from the first event. `Ok(Ok(n))`: `n` events, intact;
    /// `Ok(Err(_))`: the first break.
    pub async fn verify_audit_log(&self) -> Result<Result<u64, ChainBreak>, EngineError> {
        Ok(store::audit::verify(self.store().conn()).await?)
    }
}

impl Engine {
    /// Records a refused request (a form without its anti-forgery value, a forbidden action),
    /// so attempts show in the audit log even though nothing changed.
    pub async fn audit_denied(
        &self,
        actor: &str,
        action: &str,
        reason: &str,
    ) -> Result<(), EngineError> {
        let txn = self.store().begin().await?;
        crate::store::audit::append(
            &txn,
            self.now(),
            actor,
            action,
            None,
            &serde_json::json!({ "reason": reason }),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}

impl Engine {
    /// Up to `limit` audit events older than `before` (the newest when `None`), newest first.
    pub async fn audit_events(
        &self,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<crate::domain::audit_chain::ChainedEvent>, EngineError> {
        Ok(crate::store::audit::page(self.store().conn(), before, limit).await?)
    }
}
