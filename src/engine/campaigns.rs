//! Reading campaigns: `attest campaign list` and `show`.

use super::{Engine, EngineError};
use crate::domain::lifecycle::CampaignState;
use crate::store::campaigns::{self, CampaignCounts, CampaignRow};
use serde::Serialize;

/// A campaign with its progress, as `show --json` prints it (`id` at the top level).
#[derive(Debug, Clone, Serialize)]
pub struct CampaignView {
    #[serde(flatten)]
    pub campaign: CampaignRow,
    pub counts: CampaignCounts,
}

impl Engine {
    pub async fn campaign(&self, id: i64) -> Result<CampaignView, EngineError> {
        let conn = self.store().conn();
        let campaign = campaigns::campaign(conn, id).await?.ok_or_else(|| {
            EngineError::NotFound(format!("no campaign #{id} (see attest campaign list)"))
        })?;
        let counts = campaigns::counts(conn, id).await?;
        Ok(CampaignView { campaign, counts })
    }

    /// Campaigns, newest first, optionally only in some states.
    pub async fn campaigns(
        &self,
        states: &[CampaignState],
    ) -> Result<Vec<CampaignView>, EngineError> {
        let conn = self.store().conn();
        let mut views = Vec::new();
        for campaign in campaigns::campaigns(conn, states).await? {
            let counts = campaigns::counts(conn, campaign.id).await?;
            views.push(CampaignView { campaign, counts });
        }
        Ok(views)
    }
}
