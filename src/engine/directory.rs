//! Reads of the directory (people, roles, eligibility) that pages, the API and the CLI show.

use super::{Engine, EngineError};
use crate::store::directory::{self, EligibilityFilter, EligibilityView};

impl Engine {
    /// Eligibility matching `filter` (its limit and offset make a page).
    pub async fn eligibility(
        &self,
        filter: &EligibilityFilter,
    ) -> Result<Vec<EligibilityView>, EngineError> {
        Ok(directory::list_eligibility(self.store().conn(), filter).await?)
    }

    /// How much eligibility matches `filter` in all (its limit and offset aside).
    pub async fn eligibility_count(&self, filter: &EligibilityFilter) -> Result<u64, EngineError> {
        Ok(directory::count_eligibility(self.store().conn(), filter).await?)
    }

    /// The names of every role, sorted.
    pub async fn role_names(&self) -> Result<Vec<String>, EngineError> {
        let mut names: Vec<String> = directory::role_ids(self.store().conn())
            .await?
            .into_keys()
            .collect();
        names.sort();
        Ok(names)
    }

    /// The id of the person (or account) with `external_id`, if there is one.
    pub async fn principal_id(&self, external_id: &str) -> Result<Option<i64>, EngineError> {
        Ok(
            directory::principal_refs(self.store().conn(), &[external_id])
                .await?
                .get(external_id)
                .map(|p| p.id),
        )
    }
}
