//! Decoding the export's rows cheaply: PostgreSQL rows by position, SQLite's JSON batches
//! with strings borrowed from the JSON.

use super::export_rows::{DecisionView, ItemView};
use crate::store::sql::sqlite_time;
use sea_orm::{sqlx, DbErr};
use std::borrow::Cow;

/// Decodes by position without sqlx's check of each value's type against the Rust type: that
/// check (type info cloned and compared for every cell) was about a sixth of the export's own
/// CPU. The columns' types are fixed by the migrations; a change of one would no longer be
/// refused here, but the PostgreSQL run of tests/evidence.rs compares items.csv with the
/// database row by row.
pub(super) fn pg_item(row: &sqlx::postgres::PgRow) -> Result<ItemView<'_>, sqlx::Error> {
    use sqlx::Row;
    Ok(ItemView {
        id: row.try_get_unchecked(0)?,
        eligibility_id: row.try_get_unchecked(1)?,
        holder_external_id: row.try_get_unchecked(2)?,
        holder_name: row.try_get_unchecked(3)?,
        holder_email: row.try_get_unchecked(4)?,
        holder_kind: row.try_get_unchecked(5)?,
        role_name: row.try_get_unchecked(6)?,
        role_risk: row.try_get_unchecked(7)?,
        scope: row.try_get_unchecked(8)?,
        since: row.try_get_unchecked(9)?,
        last_activated_at: row.try_get_unchecked(10)?,
        recommendation: row.try_get_unchecked(11)?,
        recommendation_reason: row.try_get_unchecked(12)?,
        reviewer_id: row.try_get_unchecked(13)?,
        reviewer_name: row.try_get_unchecked(14)?,
        reviewer_reason: row.try_get_unchecked(15)?,
        escalated_from: row.try_get_unchecked(16)?,
        flagged: row.try_get_unchecked(17)?,
        flag_reason: row.try_get_unchecked(18)?,
        verdict: row.try_get_unchecked(19)?,
        made_by: row.try_get_unchecked(20)?,
        decided_by: row.try_get_unchecked(21)?,
        acting_for: row.try_get_unchecked(22)?,
        decided_at: row.try_get_unchecked(23)?,
        channel: row.try_get_unchecked(24)?,
        justification: row.try_get_unchecked(25)?,
        outcome: row.try_get_unchecked(26)?,
        removal_state: row.try_get_unchecked(27)?,
        removal_attempts: row.try_get_unchecked(28)?,
        removal_receipt: row.try_get_unchecked(29)?,
        removed_at: row.try_get_unchecked(30)?,
        verified_at: row.try_get_unchecked(31)?,
        removal_error: row.try_get_unchecked(32)?,
        status_now: row.try_get_unchecked(33)?,
    })
}

/// Decodes like [`pg_item`].
pub(super) fn pg_decision(row: &sqlx::postgres::PgRow) -> Result<DecisionView<'_>, sqlx::Error> {
    use sqlx::Row;
    Ok(DecisionView {
        id: row.try_get_unchecked(0)?,
        item_id: row.try_get_unchecked(1)?,
        verdict: row.try_get_unchecked(2)?,
        made_by: row.try_get_unchecked(3)?,
        decided_by: row.try_get_unchecked(4)?,
        acting_for: row.try_get_unchecked(5)?,
        decided_at: row.try_get_unchecked(6)?,
        channel: row.try_get_unchecked(7)?,
        client_addr: row.try_get_unchecked(8)?,
        justification: row.try_get_unchecked(9)?,
        supersedes_id: row.try_get_unchecked(10)?,
    })
}

/// A string of a JSON batch, borrowed from the batch unless it had to be unescaped.
///
/// serde borrows a bare `Cow<str>` field marked `#[serde(borrow)]`, but inside an `Option` it
/// falls back to `Cow`'s own implementation, which always copies: that was one allocation per
/// optional cell, most of the cells of an item.
struct Text<'a>(Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }

            fn visit_str<E>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
        }
        de.deserialize_str(Visitor)
    }
}

/// An item as SQLite's `json_array` wrote it, in
/// [`ITEM_COLUMNS`](super::export_rows::ITEM_COLUMNS) order; strings borrow from the JSON
/// unless they had to be escaped.
#[derive(serde::Deserialize)]
pub(super) struct ItemJson<'a>(
    pub(super) i64,
    i64,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    i64,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    Option<i32>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
);

impl ItemJson<'_> {
    pub(super) fn view(&self) -> Result<ItemView<'_>, DbErr> {
        Ok(ItemView {
            id: self.0,
            eligibility_id: self.1,
            holder_external_id: &self.2,
            holder_name: &self.3,
            holder_email: self.4.as_deref(),
            holder_kind: &self.5,
            role_name: &self.6,
            role_risk: &self.7,
            scope: &self.8,
            since: sqlite_time(self.9.as_deref())?,
            last_activated_at: sqlite_time(self.10.as_deref())?,
            recommendation: &self.11,
            recommendation_reason: self.12.as_deref(),
            reviewer_id: self.13.as_deref(),
            reviewer_name: self.14.as_deref(),
            reviewer_reason: self.15.as_deref(),
            escalated_from: self.16.as_deref(),
            // SQLite keeps booleans as 0 and 1.
            flagged: self.17 != 0,
            flag_reason: self.18.as_deref(),
            verdict: self.19.as_deref(),
            made_by: self.20.as_deref(),
            decided_by: self.21.as_deref(),
            acting_for: self.22.as_deref(),
            decided_at: sqlite_time(self.23.as_deref())?,
            channel: self.24.as_deref(),
            justification: self.25.as_deref(),
            outcome: self.26.as_deref(),
            removal_state: self.27.as_deref(),
            removal_attempts: self.28,
            removal_receipt: self.29.as_deref(),
            removed_at: sqlite_time(self.30.as_deref())?,
            verified_at: sqlite_time(self.31.as_deref())?,
            removal_error: self.32.as_deref(),
            status_now: self.33.as_deref(),
        })
    }
}

/// A decision as SQLite's `json_array` wrote it, in
/// [`DECISION_COLUMNS`](super::export_rows::DECISION_COLUMNS) order.
#[derive(serde::Deserialize)]
pub(super) struct DecisionJson<'a>(
    pub(super) i64,
    i64,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    Option<i64>,
);

impl DecisionJson<'_> {
    pub(super) fn view(&self) -> Result<DecisionView<'_>, DbErr> {
        Ok(DecisionView {
            id: self.0,
            item_id: self.1,
            verdict: &self.2,
            made_by: &self.3,
            decided_by: self.4.as_deref(),
            acting_for: self.5.as_deref(),
            decided_at: sqlite_time(Some(&self.6))?
                .ok_or_else(|| DbErr::Custom("a decision without a time".into()))?,
            channel: &self.7,
            client_addr: self.8.as_deref(),
            justification: self.9.as_deref(),
            supersedes_id: self.10,
        })
    }
}
