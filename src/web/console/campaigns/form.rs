//! What the campaign pages' query strings and forms carry.

/// The item filters and page, as the query string carries them.
#[derive(serde::Deserialize, Default)]
pub(in crate::web::console) struct ItemQuery {
    pub(super) reviewer: Option<String>,
    pub(super) holder: Option<String>,
    pub(super) show: Option<String>,
    pub(super) page: Option<String>,
    /// Which action just happened (`launched`, `closed`, `cancelled`, `confirmed`, `resent`), shown once.
    pub(super) done: Option<String>,
    /// Whom `resent` invited again (or whose links were revoked).
    pub(super) to: Option<String>,
    /// How many links were revoked (text, like `page`: a mangled value must not break the page).
    pub(super) n: Option<String>,
}

#[derive(serde::Deserialize)]
pub(in crate::web::console) struct ActionForm {
    pub(super) csrf: Option<String>,
    pub(super) confirm: Option<String>,
}

#[derive(serde::Deserialize)]
pub(in crate::web::console) struct ResendForm {
    pub(super) csrf: Option<String>,
    pub(super) reviewer: Option<String>,
    /// `yes`: revoke the reviewer's earlier links as the new one is queued.
    pub(super) replace: Option<String>,
}

#[derive(serde::Deserialize)]
pub(in crate::web::console) struct RerunForm {
    pub(super) csrf: Option<String>,
    pub(super) confirm: Option<String>,
    /// Text, so a mangled value gets the engine's words rather than a bare 422.
    pub(super) days: Option<String>,
}
