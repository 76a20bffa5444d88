//! The Microsoft Entra PIM source through Microsoft Graph v1.0.

// Placeholder until the connector lands (replaced on merge); never committed to main.
use super::config::EntraConfig;
use super::connector::{Connector, Probe, Snapshot};
use super::{Removal, RemovalTarget, SourceError};
pub struct GraphConnector;
impl GraphConnector {
    pub fn new(name: &str, _config: &EntraConfig) -> Result<Self, SourceError> {
        Err(SourceError(format!("source {name}: not built yet")))
    }
}
#[async_trait::async_trait]
impl Connector for GraphConnector {
    fn name(&self) -> &str {
        ""
    }
    async fn test(&self) -> Result<Probe, SourceError> {
        Err(SourceError(String::new()))
    }
    async fn snapshot(&self) -> Result<Snapshot, SourceError> {
        Err(SourceError(String::new()))
    }
    async fn remove(&self, _t: &RemovalTarget) -> Result<Removal, SourceError> {
        Err(SourceError(String::new()))
    }
    async fn is_present(&self, _t: &RemovalTarget) -> Result<Option<bool>, SourceError> {
        Ok(None)
    }
}
