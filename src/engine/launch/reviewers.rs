//! Who reviews each item and what is recommended: the spec's reviewer rules and exclusions
//! resolved to principals, applied to each eligibility.

use crate::domain::definition::CampaignSpec;
use crate::domain::directory::PrincipalKind;
use crate::domain::recommendation::recommend_for;
use crate::domain::reviewers::{Person, ReviewerRules};
use crate::engine::{Engine, EngineError};
use crate::sources::SourceEligibility;
use crate::store::directory;
use crate::store::items::NewItem;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};

/// Everything that turns an eligibility into a review item.
pub(super) struct Rules {
    resolved: Resolved,
    people: HashMap<i64, Person>,
    inactive_days: u32,
}

impl Rules {
    pub(super) fn item<'a>(&self, e: &'a SourceEligibility, now: DateTime<Utc>) -> NewItem<'a> {
        let assignment = self
            .resolved
            .rules
            .resolve(&self.people, e.principal_id, e.role_owner_id);
        let (recommendation, why) = recommend_for(
            e.assignment,
            e.since,
            e.last_activated_at,
            self.inactive_days,
            now,
        );
        NewItem {
            eligibility: e,
            reviewer_id: assignment.reviewer,
            reviewer_reason: assignment.reason,
            flag: assignment.flag,
            recommendation,
            recommendation_reason: why,
            excluded: e.principal_kind == PrincipalKind::BreakGlass
                || self.resolved.excluded.contains(&e.principal_id),
        }
    }
}

/// The reviewer rules and exclusions of a spec, resolved to principal ids.
struct Resolved {
    rules: ReviewerRules,
    excluded: HashSet<i64>,
}

impl Engine {
    /// What turns the spec's population into items: reviewer rules, exclusions, directory.
    pub(super) async fn rules(&self, spec: &CampaignSpec) -> Result<Rules, EngineError> {
        Ok(Rules {
            resolved: self.resolve(spec).await?,
            people: directory::people(self.store().conn()).await?,
            inactive_days: spec.recommend_revoke_after_inactive_days,
        })
    }

    async fn resolve(&self, spec: &CampaignSpec) -> Result<Resolved, EngineError> {
        let named = spec.named_principals();
        let ids: Vec<&str> = named.iter().map(|(_, id)| *id).collect();
        let refs = directory::principal_refs(self.store().conn(), &ids).await?;
        let id_of = |external: &str| refs.get(external).map(|p| p.id);
        let owner = id_of(&spec.owner).ok_or_else(|| {
            EngineError::Invalid(format!(
                "{}: the owner \"{}\" no longer exists",
                spec.name, spec.owner
            ))
        })?;
        Ok(Resolved {
            rules: ReviewerRules::of(&spec.stage(1), owner, id_of),
            excluded: spec
                .scope
                .exclude_principals
                .iter()
                .filter_map(|e| id_of(e))
                .collect(),
        })
    }
}
