//! The built-in source: the database is the source of truth; removing an eligibility marks it
//! removed, naming the campaign.

use super::{EligibilitySource, Removal, RemovalTarget, SourceEligibility, SourceError};
use crate::domain::definition::ScopeFilter;
use crate::domain::eligibility::builtin_receipt;
use crate::store::builtin_eligibility;
use crate::store::builtin_eligibility::{remove_in_database, still_active};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

pub struct BuiltinSource {
    db: DatabaseConnection,
}

impl BuiltinSource {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn source_error(e: impl std::fmt::Display) -> SourceError {
    SourceError(e.to_string())
}

#[async_trait::async_trait]
impl EligibilitySource for BuiltinSource {
    fn name(&self) -> &str {
        "builtin"
    }

    fn in_database(&self) -> bool {
        true
    }

    async fn enumerate(
        &self,
        filter: &ScopeFilter,
        cursor: Option<i64>,
        limit: u64,
    ) -> Result<Vec<SourceEligibility>, SourceError> {
        builtin_eligibility::enumerate(&self.db, filter, cursor, limit)
            .await
            .map_err(source_error)
    }

    async fn count(&self, filter: &ScopeFilter) -> Result<Option<u64>, SourceError> {
        builtin_eligibility::count_in_scope(&self.db, filter)
            .await
            .map(Some)
            .map_err(source_error)
    }

    async fn remove(
        &self,
        target: &RemovalTarget,
        now: DateTime<Utc>,
    ) -> Result<Removal, SourceError> {
        let changed = crate::store::sources::mark_removed(
            &self.db,
            target.eligibility_id,
            target.campaign_id,
            &format!("access review campaign #{}", target.campaign_id),
            &receipt(target, now),
            now,
        )
        .await
        .map_err(source_error)?;
        Ok(answer(target, changed == 1, now))
    }

    async fn remove_many(
        &self,
        targets: &[RemovalTarget],
        now: DateTime<Utc>,
    ) -> Vec<Result<Removal, SourceError>> {
        match self.remove_batch(targets, now).await {
            Ok(removed) => targets
                .iter()
                .map(|t| Ok(answer(t, removed.contains(&t.eligibility_id), now)))
                .collect(),
            Err(e) => targets.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    async fn present_many(&self, targets: &[RemovalTarget]) -> Vec<Result<bool, SourceError>> {
        match still_active(&self.db, targets).await {
            Ok(present) => targets
                .iter()
                .map(|t| Ok(present.contains(&t.eligibility_id)))
                .collect(),
            Err(e) => targets.iter().map(|_| Err(source_error(&e))).collect(),
        }
    }

    async fn is_present(&self, target: &RemovalTarget) -> Result<bool, SourceError> {
        let present = builtin_eligibility::still_active(&self.db, std::slice::from_ref(target))
            .await
            .map_err(source_error)?;
        Ok(present.contains(&target.eligibility_id))
    }
}

impl BuiltinSource {
    /// Marks a batch removed (see [`remove_in_database`]), on its own connection.
    async fn remove_batch(
        &self,
        targets: &[RemovalTarget],
        now: DateTime<Utc>,
    ) -> Result<std::collections::HashSet<i64>, SourceError> {
        remove_in_database(&self.db, targets, now)
            .await
            .map_err(source_error)
    }
}

/// The built-in source's answer to a removal, from whether the row was active.
pub fn answer(target: &RemovalTarget, removed: bool, now: DateTime<Utc>) -> Removal {
    if removed {
        Removal::Removed {
            receipt: receipt(target, now),
        }
    } else {
        Removal::AlreadyGone {
            receipt: builtin_receipt::not_active(target.eligibility_id),
        }
    }
}

/// The built-in source's answer to a conversion to eligible: converted now, or found no longer
/// standing (already eligible, or gone), which is what the conversion wanted.
pub fn convert_answer(target: &RemovalTarget, converted: bool, now: DateTime<Utc>) -> Removal {
    if converted {
        Removal::Removed {
            receipt: format!(
                "{}{}{}",
                builtin_receipt::PREFIX,
                target.eligibility_id,
                builtin_receipt::converted_suffix(target.campaign_id, now)
            ),
        }
    } else {
        Removal::AlreadyGone {
            receipt: builtin_receipt::not_standing(target.eligibility_id),
        }
    }
}

/// What the built-in source writes as proof of a removal.
fn receipt(target: &RemovalTarget, now: DateTime<Utc>) -> String {
    builtin_receipt::removed(target.eligibility_id, target.campaign_id, now)
}
