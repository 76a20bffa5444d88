//! The configured sources: one found by name, all of them listed with their state, and one
//! tested (connect, authenticate, check the permissions removal needs).

use crate::engine::{Engine, EngineError};
use crate::sources::config::SourceConfig;
use crate::sources::connector::Probe;
use crate::store;
use crate::store::sources::{self as src_store, SourceState};
use serde::Serialize;
use std::collections::HashMap;

/// What `attest source test` found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TestReport {
    pub source: String,
    pub kind: String,
    pub checks: Vec<String>,
    pub people: Option<u64>,
    pub eligibility: Option<u64>,
}

/// A configured source with its state, for `attest source list` and the console.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SourceListing {
    pub name: String,
    pub kind: String,
    /// The server it talks to (never a secret).
    pub endpoint: String,
    /// The environment variable its secret comes from, and whether it is set.
    pub secret_env: String,
    pub secret_set: bool,
    pub sync_schedule: Option<String>,
    pub on_reappearance: String,
    /// `None` until its first sync.
    pub state: Option<SourceState>,
}

impl Engine {
    pub(super) fn source_config(&self, name: &str) -> Result<&SourceConfig, EngineError> {
        self.sources().config(name).ok_or_else(|| {
            let known: Vec<&str> = self
                .sources()
                .configs()
                .keys()
                .map(String::as_str)
                .collect();
            EngineError::NotFound(if known.is_empty() {
                format!("no source {name:?}: attest.toml configures no [sources.NAME]")
            } else {
                format!(
                    "no source {name:?} (attest.toml configures: {})",
                    known.join(", ")
                )
            })
        })
    }

    /// The configured sources and what their last sync did.
    pub async fn list_sources(&self) -> Result<Vec<SourceListing>, EngineError> {
        let states: HashMap<String, SourceState> = src_store::states(self.store().conn())
            .await?
            .into_iter()
            .map(|s| (s.name.clone(), s))
            .collect();
        Ok(self
            .sources()
            .configs()
            .iter()
            .map(|(name, config)| SourceListing {
                name: name.clone(),
                kind: config.kind().to_string(),
                endpoint: config.endpoint().to_string(),
                secret_env: config.secret_env().to_string(),
                secret_set: std::env::var(config.secret_env()).is_ok_and(|v| !v.is_empty()),
                sync_schedule: config.sync_schedule().map(str::to_string),
                on_reappearance: config.on_reappearance().as_str().to_string(),
                state: states.get(name).cloned(),
            })
            .collect())
    }

    /// Connects, authenticates, checks the permissions removal needs and counts; changes
    /// nothing in the source. Audited (who tested which source, and what it found).
    pub async fn test_source(&self, name: &str, actor: &str) -> Result<TestReport, EngineError> {
        let config = self.source_config(name)?;
        let probe = match self.sources().connector(name) {
            Ok(connector) => connector.test().await,
            Err(e) => Err(e),
        };
        let details = match &probe {
            Ok(p) => {
                serde_json::json!({ "ok": true, "checks": p.checks, "people": p.people, "eligibility": p.eligibility })
            }
            Err(e) => serde_json::json!({ "ok": false, "error": e.0 }),
        };
        let now = self.now();
        let txn = self.store().begin().await?;
        store::audit::append(
            &txn,
            now,
            actor,
            "source.test",
            Some(&format!("source:{name}")),
            &details,
        )
        .await?;
        txn.commit().await?;
        let Probe {
            checks,
            people,
            eligibility,
        } = probe?;
        Ok(TestReport {
            source: name.to_string(),
            kind: config.kind().to_string(),
            checks,
            people,
            eligibility,
        })
    }
}
