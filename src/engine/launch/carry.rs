//! The delta-only part of a launch (`review = "changes"`, `domain::delta`): which earlier
//! decisions a batch of the population carries forward instead of becoming items.

use crate::domain::definition::CampaignSpec;
use crate::domain::delta::{carries, ReviewMode};
use crate::domain::eligibility::SourceEligibility;
use crate::engine::{Engine, EngineError};
use crate::store::items::carried;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Where a delta-only launch carries decisions from, and for how long they last.
#[derive(Debug, Clone, Copy)]
pub(super) struct CarryPlan {
    baseline: i64,
    max_days: u32,
}

impl CarryPlan {
    fn of(spec: &CampaignSpec, baseline: Option<i64>) -> Option<Self> {
        if spec.review != ReviewMode::Changes {
            return None;
        }
        baseline.map(|baseline| CarryPlan {
            baseline,
            max_days: spec.carry_days(),
        })
    }
}

impl Engine {
    /// The plan of launch `id`: none unless its definition reviews only changes and an earlier
    /// campaign of it has completed (the first campaign reviews everything).
    pub(super) async fn carry_plan(
        &self,
        id: i64,
        spec: &CampaignSpec,
    ) -> Result<Option<CarryPlan>, EngineError> {
        if spec.review != ReviewMode::Changes {
            return Ok(None);
        }
        let baseline = carried::baseline(self.store().conn(), id).await?;
        Ok(CarryPlan::of(spec, baseline))
    }

    /// The plan a launch of `spec` would have now (for the preview).
    pub(super) async fn carry_plan_now(
        &self,
        spec: &CampaignSpec,
    ) -> Result<Option<CarryPlan>, EngineError> {
        if spec.review != ReviewMode::Changes {
            return Ok(None);
        }
        let baseline =
            carried::latest_completed(self.store().conn(), &spec.name, self.now(), None).await?;
        Ok(CarryPlan::of(spec, baseline))
    }

    /// Splits `batch` into the eligibilities to review and the decisions carried forward
    /// (`(eligibility_id, origin_item_id)`).
    pub(super) async fn split_carried<'a>(
        &self,
        plan: Option<CarryPlan>,
        batch: &'a [SourceEligibility],
        now: DateTime<Utc>,
    ) -> Result<(Vec<&'a SourceEligibility>, Vec<(i64, i64)>), EngineError> {
        let Some(plan) = plan else {
            return Ok((batch.iter().collect(), Vec::new()));
        };
        let ids: Vec<i64> = batch.iter().map(|e| e.eligibility_id).collect();
        let earlier: HashMap<i64, _> =
            carried::earlier_decisions(self.store().conn(), plan.baseline, &ids)
                .await?
                .into_iter()
                .map(|d| (d.eligibility_id, d))
                .collect();
        let mut review = Vec::with_capacity(batch.len());
        let mut carry = Vec::new();
        for e in batch {
            match earlier.get(&e.eligibility_id) {
                Some(d) if carries(d, e, plan.max_days, now) => {
                    carry.push((e.eligibility_id, d.origin_item_id))
                }
                _ => review.push(e),
            }
        }
        Ok((review, carry))
    }

    /// [`Self::split_carried`], with the carried decisions recorded durably before the batch's
    /// items are written (idempotently: a resumed launch may record them again). Returns the
    /// eligibilities to review and how many decisions were carried.
    pub(super) async fn carry_forward<'a>(
        &self,
        id: i64,
        plan: Option<CarryPlan>,
        batch: &'a [SourceEligibility],
        now: DateTime<Utc>,
    ) -> Result<(Vec<&'a SourceEligibility>, u64), EngineError> {
        let (review, carry) = self.split_carried(plan, batch, now).await?;
        if !carry.is_empty() {
            carried::insert(self.store().conn(), id, &carry, now).await?;
        }
        Ok((review, carry.len() as u64))
    }
}
