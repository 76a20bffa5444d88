//! `attest campaign define FILE.toml` and `attest campaign definitions`: campaign definitions are
//! versioned; a campaign keeps the version it launched with.

use super::{Engine, EngineError};
use crate::domain::definition::{self, CampaignSpec};
use crate::domain::limits::{quote, DEFINITION_MAX_BYTES};
use crate::store::{self, campaigns, directory};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::Path;

/// A definition's text and the name that stands for it in messages and the audit log (its
/// file's path, or the name of an upload).
#[derive(Debug, Clone)]
pub struct DefinitionText {
    name: String,
    body: String,
}

impl DefinitionText {
    pub fn new(name: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            body: body.into(),
        }
    }

    /// Reads a definition file: at most [`DEFINITION_MAX_BYTES`] of UTF-8 text. A larger file
    /// is refused after reading one byte past the limit, never whole.
    pub fn read(path: &Path) -> Result<Self, EngineError> {
        use std::io::Read;
        let name = path.display().to_string();
        let unreadable = |e: std::io::Error| EngineError::Invalid(format!("{name}: {e}"));
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .map_err(unreadable)?
            .take(DEFINITION_MAX_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        if bytes.len() > DEFINITION_MAX_BYTES {
            return Err(too_large(&name));
        }
        let body = String::from_utf8(bytes)
            .map_err(|_| EngineError::Invalid(format!("{name}: is not UTF-8 text")))?;
        Ok(Self { name, body })
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DefineReport {
    pub name: String,
    pub version: i32,
    /// False when the file matches the newest stored version (nothing new was stored).
    pub changed: bool,
    pub next_launch: Option<DateTime<Utc>>,
}

/// A definition with its next scheduled launch.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DefinitionView {
    pub name: String,
    pub version: i32,
    pub description: Option<String>,
    pub schedule: String,
    pub timezone: String,
    pub duration_days: u32,
    pub next_launch: Option<DateTime<Utc>>,
    pub next_period: Option<String>,
    pub defined_at: DateTime<Utc>,
    /// The configured source it reviews (`None`: the built-in one, what imports fill).
    pub source: Option<String>,
    /// Why its launch would wait now: its source's last sync failed (with the error).
    pub source_error: Option<String>,
}

impl Engine {
    /// Validates and stores a definition (a new version when it differs from the newest).
    pub async fn define(
        &self,
        definition: &DefinitionText,
        actor: &str,
    ) -> Result<DefineReport, EngineError> {
        let (file, body) = (definition.name.as_str(), definition.body.as_str());
        if body.len() > DEFINITION_MAX_BYTES {
            return Err(too_large(file));
        }
        let spec = CampaignSpec::from_toml(body).map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(|e| format!("  {file}: {e}")).collect();
            EngineError::Invalid(format!(
                "{file}: the definition is not valid:\n{}",
                lines.join("\n")
            ))
        })?;
        let now = self.now();
        let txn = self.store().begin().await?;
        let mut problems = Vec::new();
        let named = spec.named_principals();
        let ids: Vec<&str> = named.iter().map(|(_, id)| *id).collect();
        let found = directory::principal_refs(&txn, &ids).await?;
        for (key, id) in &named {
            if !found.contains_key(*id) {
                problems.push(format!("  {file}: {key}: unknown principal {}", quote(id)));
            }
        }
        let roles = directory::role_ids(&txn).await?;
        for role in &spec.scope.roles {
            if !roles.contains_key(role) {
                problems.push(format!(
                    "  {file}: scope.roles: unknown role {}",
                    quote(role)
                ));
            }
        }
        if let Some(source) = &spec.scope.source {
            if self.sources().config(source).is_none() {
                problems.push(format!(
                    "  {file}: source: {} is not configured (attest.toml has no [sources.{}])",
                    quote(source),
                    crate::domain::limits::clip(source)
                ));
            }
        }
        if !problems.is_empty() {
            return Err(EngineError::Invalid(format!(
                "{file}: the definition is not valid:\n{}",
                problems.join("\n")
            )));
        }
        let spec_json = serde_json::to_string(&spec).map_err(|e| EngineError::Io(e.to_string()))?;
        let spec_hash = hex::encode(Sha256::digest(spec_json.as_bytes()));
        let latest = campaigns::latest_definition(&txn, &spec.name).await?;
        let (version, changed) = match &latest {
            Some(latest) if latest.spec_hash == spec_hash => (latest.version, false),
            Some(latest) => (latest.version + 1, true),
            None => (1, true),
        };
        if changed {
            let owner_id = found.get(&spec.owner).map(|p| p.id);
            campaigns::insert_definition(
                &txn, &spec, version, body, &spec_json, &spec_hash, owner_id, actor, now,
            )
            .await?;
        }
        store::audit::append(
            &txn,
            now,
            actor,
            "definition.define",
            Some(&spec.name),
            &serde_json::json!({ "file": file, "version": version, "changed": changed, "spec_sha256": spec_hash }),
        )
        .await?;
        txn.commit().await?;
        let next_launch = spec.launch_schedule().ok().and_then(|s| s.next_after(now));
        Ok(DefineReport {
            name: spec.name,
            version,
            changed,
            next_launch,
        })
    }

    /// Every definition (newest version) with its next launch.
    pub async fn definitions(&self) -> Result<Vec<DefinitionView>, EngineError> {
        let now = self.now();
        let conn = self.store().conn();
        // A source whose last sync failed holds up the launches of its definitions.
        let source_errors: std::collections::HashMap<String, String> =
            crate::store::sources::states(conn)
                .await?
                .into_iter()
                .filter_map(|s| {
                    let at = s.last_sync_at?;
                    let error = s.last_sync_error?;
                    let text = format!(
                        "the last sync of source {} failed at {}: {error}",
                        s.name,
                        at.format("%Y-%m-%d %H:%M UTC")
                    );
                    Some((s.name, text))
                })
                .collect();
        let mut views = Vec::new();
        for d in campaigns::latest_definitions(conn).await? {
            let schedule = d.spec.launch_schedule().ok();
            let next_launch = schedule.as_ref().and_then(|s| s.next_after(now));
            let defined_at = campaigns::first_defined_at(conn, &d.spec.name)
                .await?
                .unwrap_or(d.created_at);
            views.push(DefinitionView {
                next_period: schedule
                    .as_ref()
                    .zip(next_launch)
                    .map(|(s, at)| s.period_of(at)),
                name: d.spec.name,
                version: d.version,
                description: d.spec.description,
                // A mover definition has no schedule: say what launches it instead.
                schedule: match d.spec.trigger {
                    crate::domain::movers::Trigger::Mover => "manager change".into(),
                    crate::domain::movers::Trigger::Schedule => d.spec.schedule,
                },
                timezone: d.spec.timezone,
                duration_days: d.spec.duration_days,
                next_launch,
                defined_at,
                source_error: d
                    .spec
                    .scope
                    .source
                    .as_ref()
                    .and_then(|name| source_errors.get(name))
                    .cloned(),
                source: d.spec.scope.source,
            });
        }
        Ok(views)
    }
}

impl Engine {
    /// The newest version of a definition as its file was written: (version, TOML).
    pub async fn definition_source(&self, name: &str) -> Result<(i32, String), EngineError> {
        campaigns::definition_body(self.store().conn(), name)
            .await?
            .ok_or_else(|| {
                EngineError::NotFound(format!("no campaign definition named {}", quote(name)))
            })
    }
}

fn too_large(file: &str) -> EngineError {
    EngineError::Invalid(format!("{file}: {}", definition::too_large().reason))
}
