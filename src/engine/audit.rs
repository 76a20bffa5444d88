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
