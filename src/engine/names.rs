//! Who an audit actor is, in words: a reviewer acts as `reviewer:ID` (the principal's database
//! id, which says nothing to a person), so the views of the audit log show their name and
//! external id beside it. Accounts (`account:EMAIL`), tokens (`token:NAME`), the CLI
//! (`cli:USER`) and `scheduler` already name themselves.

use super::{Engine, EngineError};
use crate::store::directory;
use std::collections::HashMap;

/// The principal id of a `reviewer:ID` actor.
fn reviewer_id(actor: &str) -> Option<i64> {
    actor.strip_prefix("reviewer:")?.parse().ok()
}

impl Engine {
    /// "Maria Manager (m1)" for each `reviewer:ID` among `actors` (others are left out).
    pub async fn actor_names<'a>(
        &self,
        actors: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, String>, EngineError> {
        let mut ids: Vec<i64> = actors.into_iter().filter_map(reviewer_id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let names = directory::names_by_id(self.store().conn(), &ids).await?;
        Ok(names
            .into_iter()
            .map(|(id, p)| (format!("reviewer:{id}"), format!("{} ({})", p.name, p.id)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::reviewer_id;

    #[test]
    fn only_reviewer_actors_have_a_principal() {
        assert_eq!(reviewer_id("reviewer:42"), Some(42));
        assert_eq!(reviewer_id("account:a@b.c"), None);
        assert_eq!(reviewer_id("reviewer:x"), None);
    }
}
