//! `attest campaign preview`: what a launch would create, without creating anything.

use crate::domain::eligibility::Assignment;
use crate::domain::recommendation::Recommendation;
use crate::domain::reviewers::ReviewerReason;
use crate::engine::{Engine, EngineError};
use crate::store::campaigns;
use crate::store::directory;
use futures::TryStreamExt;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::pin::pin;

impl Engine {
    /// What a launch of `name` would create, without creating anything.
    pub async fn preview(&self, name: &str) -> Result<Preview, EngineError> {
        let conn = self.store().conn();
        let definition = campaigns::latest_definition(conn, name)
            .await?
            .ok_or_else(|| {
                EngineError::NotFound(format!(
                    "no campaign definition named {}",
                    crate::domain::limits::quote(name)
                ))
            })?;
        let spec = &definition.spec;
        if spec.trigger == crate::domain::movers::Trigger::Mover {
            return Err(EngineError::Invalid(format!(
                "{name} has trigger = \"mover\": it reviews one person's eligibility when their manager changes, so there is nothing to preview"
            )));
        }
        let schedule = spec.launch_schedule().map_err(EngineError::Invalid)?;
        let rules = self.rules(spec).await?;
        let now = self.now();
        let mut loads: HashMap<i64, u64> = HashMap::new();
        let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
        let mut excluded = BTreeMap::new();
        let (mut population, mut flagged, mut recommended_revoke) = (0u64, 0u64, 0u64);
        let (mut carried_forward, mut standing_access) = (0u64, 0u64);
        let carry = self.carry_plan_now(spec).await?;
        let scope = self.population_scope(&spec.scope)?;
        let mut batches = pin!(self.population(&scope, None));
        while let Some(batch) = batches.try_next().await? {
            let (to_review, carried) = self.split_carried(carry, &batch, now).await?;
            carried_forward += carried.len() as u64;
            for e in to_review {
                let item = rules.item(e, now);
                population += 1;
                *loads.entry(item.reviewer_id).or_default() += 1;
                *by_reason
                    .entry(item.reviewer_reason.as_str().to_string())
                    .or_default() += 1;
                flagged += u64::from(item.flag.is_some());
                recommended_revoke += u64::from(item.recommendation == Recommendation::Revoke);
                standing_access += u64::from(e.assignment == Assignment::Active);
                if item.excluded {
                    *excluded
                        .entry(e.principal_external_id.clone())
                        .or_insert(0u64) += 1;
                }
            }
        }
        let ids: Vec<i64> = loads.keys().copied().collect();
        let names = directory::names_by_id(conn, &ids).await?;
        let mut reviewers: Vec<ReviewerLoad> = loads
            .into_iter()
            .map(|(id, items)| {
                let n = names.get(&id);
                ReviewerLoad {
                    id: n.map_or_else(|| id.to_string(), |n| n.id.clone()),
                    name: n.map(|n| n.name.clone()).unwrap_or_default(),
                    items,
                }
            })
            .collect();
        reviewers.sort_by(|a, b| b.items.cmp(&a.items).then_with(|| a.id.cmp(&b.id)));
        Ok(Preview {
            name: name.to_string(),
            version: definition.version,
            period: schedule.period_of(now),
            population,
            carried_forward,
            reviewer_count: reviewers.len(),
            items_by_reason: by_reason,
            fallback_items: 0,
            flagged,
            recommended_revoke,
            standing_access,
            excluded: excluded
                .into_iter()
                .map(|(principal, items)| ExcludedPrincipal { principal, items })
                .collect(),
            reviewers,
        }
        .with_fallback_count())
    }
}

/// What `attest campaign preview` shows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preview {
    pub name: String,
    pub version: i32,
    pub period: String,
    pub population: u64,
    /// Eligibilities a delta-only definition (`review = "changes"`) would not ask about again:
    /// a person kept them in its last completed campaign and they have not changed since.
    pub carried_forward: u64,
    pub reviewer_count: usize,
    /// Items per way their reviewer was found (manager, manager_chain, role_owner, named, fallback, owner).
    pub items_by_reason: BTreeMap<String, u64>,
    /// Items whose only possible reviewer is the fallback.
    pub fallback_items: u64,
    /// Items no one regular may review: they go to the owner, flagged.
    pub flagged: u64,
    pub recommended_revoke: u64,
    /// Items that are standing access (active assignments): each a finding, recommended to be
    /// converted to eligible.
    pub standing_access: u64,
    /// Principals reviewed but never removed automatically (break-glass, listed exclusions).
    pub excluded: Vec<ExcludedPrincipal>,
    pub reviewers: Vec<ReviewerLoad>,
}

impl Preview {
    fn with_fallback_count(mut self) -> Self {
        self.fallback_items = self
            .items_by_reason
            .get(ReviewerReason::Fallback.as_str())
            .copied()
            .unwrap_or(0);
        self
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReviewerLoad {
    pub id: String,
    pub name: String,
    pub items: u64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExcludedPrincipal {
    pub principal: String,
    pub items: u64,
}
