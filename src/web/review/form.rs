//! The fields of a submitted review form, and the per-item answers read from them.

use crate::domain::closing::Verdict;
use crate::domain::limits::clip;
use crate::engine::decide::Choice;
use crate::engine::review::{same_secret, ReviewerAccess};
use crate::engine::EngineError;
use crate::web::error::problem_page;
use axum::http::StatusCode;
use axum::response::Response;

/// The refusal of a form that did not come from the reviewer's page; nothing was changed.
pub(super) fn forged_form() -> Response {
    problem_page(
        StatusCode::FORBIDDEN,
        "This form could not be accepted",
        "It did not come from your review page (or the page is out of date). Nothing was changed. Please open the link from your mail again.",
    )
}

/// The fields of a submitted form, in order (a field may repeat).
pub(super) struct FormFields(pub(super) Vec<(String, String)>);

impl FormFields {
    /// The fields of a form posted from the reviewer's own page: `None` unless it carries
    /// the page's anti-forgery value (answer with [`forged_form`]).
    pub(super) fn from_the_page(
        access: &ReviewerAccess,
        fields: Vec<(String, String)>,
    ) -> Option<Self> {
        let form = Self(fields);
        form.get("csrf")
            .is_some_and(|c| same_secret(c, &access.csrf))
            .then_some(form)
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The item ids the form answers (`item-{id}` fields), unparsable ones left out (they are
    /// refused by [`Self::choices`]).
    pub(super) fn item_ids(&self) -> Vec<i64> {
        self.0
            .iter()
            .filter_map(|(name, _)| name.strip_prefix("item-")?.parse().ok())
            .collect()
    }

    /// The per-item answers: `item-{id}` = attest | revoke, with `why-{id}`; each item must be
    /// one `assigned` says is the reviewer's.
    pub(super) fn choices(
        &self,
        assigned: impl Fn(i64) -> bool,
    ) -> Result<Vec<Choice<'_>>, EngineError> {
        let mut choices = Vec::new();
        for (name, value) in &self.0 {
            let Some(id) = name.strip_prefix("item-") else {
                continue;
            };
            let item_id: i64 = id
                .parse()
                .map_err(|_| EngineError::Invalid(format!("bad field {}", clip(name))))?;
            if !assigned(item_id) {
                return Err(EngineError::Forbidden(format!(
                    "item {item_id} is not assigned to you"
                )));
            }
            let verdict: Verdict = value.parse().map_err(EngineError::Invalid)?;
            choices.push(Choice {
                item_id,
                verdict,
                justification: self.get(&format!("why-{item_id}")),
            });
        }
        Ok(choices)
    }
}
