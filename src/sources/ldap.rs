//! The LDAP source: people from a base and filter, eligibility as group membership.

// Placeholder until the connector lands (replaced on merge); never committed to main.
use super::config::LdapConfig;
use super::connector::{Connector, Probe, Snapshot};
use super::{Removal, RemovalTarget, SourceError};
pub struct LdapConnector;
impl LdapConnector {
    pub fn new(name: &str, _config: &LdapConfig) -> Result<Self, SourceError> {
        Err(SourceError(format!("source {name}: not built yet")))
    }
}
#[async_trait::async_trait]
impl Connector for LdapConnector {
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
