//! The configured sources of this instance (`[sources.NAME]`) and their connectors, built on
//! first use and kept, so a Graph token or an HTTP connection pool outlives one remediation
//! step.

use super::config::SourceConfig;
use super::connector::Connector;
use super::SourceError;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct Sources {
    configs: BTreeMap<String, SourceConfig>,
    built: Mutex<HashMap<String, Arc<dyn Connector>>>,
}

impl Sources {
    pub fn new(configs: BTreeMap<String, SourceConfig>) -> Self {
        Self {
            configs,
            built: Mutex::new(HashMap::new()),
        }
    }

    /// Names and configurations, in name order.
    pub fn configs(&self) -> &BTreeMap<String, SourceConfig> {
        &self.configs
    }

    pub fn config(&self, name: &str) -> Option<&SourceConfig> {
        self.configs.get(name)
    }

    /// The connector of `name`, built (reading its secret from the environment) on first use.
    pub fn connector(&self, name: &str) -> Result<Arc<dyn Connector>, SourceError> {
        let config = self.config(name).ok_or_else(|| {
            SourceError(format!(
                "no source {name:?} is configured (attest.toml has no [sources.{name}])"
            ))
        })?;
        let mut built = self.built.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(connector) = built.get(name) {
            return Ok(connector.clone());
        }
        let connector: Arc<dyn Connector> = match config {
            SourceConfig::Entra(c) => Arc::new(super::graph::GraphConnector::new(name, c)?),
            SourceConfig::Ldap(c) => Arc::new(super::ldap::LdapConnector::new(name, c)?),
            SourceConfig::Webhook(c) => Arc::new(super::webhook::WebhookConnector::new(name, c)?),
        };
        built.insert(name.to_string(), connector.clone());
        Ok(connector)
    }

    /// Uses `connector` for `name` (tests put a connector in front of a configuration).
    pub fn put(&self, name: &str, connector: Arc<dyn Connector>) {
        let mut built = self.built.lock().unwrap_or_else(|p| p.into_inner());
        built.insert(name.to_string(), connector);
    }
}
