//! The export's reads on SQLite: the rows of a range of ids as one JSON array per batch,
//! decoded with strings borrowed from the JSON.
//!
//! sqlx copies every value of a SQLite row into an allocation of its own and hands rows over
//! one at a time between threads, which at 42 columns cost more than the query. So SQLite
//! returns the rows of `BATCH` ids at once as one JSON array of arrays, and the next batch is
//! read while this one is written out.

use super::time::sqlite_time;
use crate::store::evidence::{DecisionView, ItemView, RangeRead};
use sea_orm::{sqlx, DatabaseConnection, DbErr, RuntimeErr};
use std::borrow::Cow;
use std::sync::Arc;

/// How many ids of the campaign's range SQLite reads per statement.
const BATCH: i64 = 2000;

/// Visits every item of the range, in id order.
pub(crate) async fn each_item<E: From<DbErr>>(
    conn: &DatabaseConnection,
    read: &RangeRead,
    mut visit: impl FnMut(&ItemView<'_>) -> Result<(), E>,
) -> Result<(), E> {
    each_batch(conn, read, |json| {
        let mut rows: Vec<ItemJson<'_>> = serde_json::from_str(json)
            .map_err(|e| DbErr::Custom(format!("items of the export: {e}")))?;
        // The scan of the id range already yields them in order (this is a check).
        rows.sort_by_key(|r| r.0);
        for row in &rows {
            visit(&row.view()?)?;
        }
        Ok(())
    })
    .await
}

/// Visits every decision of the range, in id order.
pub(crate) async fn each_decision<E: From<DbErr>>(
    conn: &DatabaseConnection,
    read: &RangeRead,
    mut visit: impl FnMut(&DecisionView<'_>) -> Result<(), E>,
) -> Result<(), E> {
    each_batch(conn, read, |json| {
        let mut rows: Vec<DecisionJson<'_>> = serde_json::from_str(json)
            .map_err(|e| DbErr::Custom(format!("decisions of the export: {e}")))?;
        rows.sort_by_key(|r| r.0);
        for row in &rows {
            visit(&row.view()?)?;
        }
        Ok(())
    })
    .await
}

/// Hands over the range's rows as JSON arrays of `BATCH` ids each, in id order.
async fn each_batch<E: From<DbErr>>(
    conn: &DatabaseConnection,
    read: &RangeRead,
    mut visit: impl FnMut(&str) -> Result<(), E>,
) -> Result<(), E> {
    let sql = format!(
        "SELECT json_group_array(json_array({})){}",
        read.columns,
        read.condition("?", "?", "?")
    );
    let pool = conn.get_sqlite_connection_pool().clone();
    let (first, last, campaign_id) = (read.first, read.last, read.campaign_id);
    let batches = (first..=last)
        .step_by(BATCH as usize)
        .map(move |low| (low, low.saturating_add(BATCH - 1).min(last)));
    // The reads run in a task of their own that always has the next batch's query at SQLite:
    // polled from this loop instead (a buffered stream), the next query was often sent only
    // after the last batch had been written out, and reading and writing took turns.
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    tokio::spawn(async move {
        for (low, high) in batches {
            let batch = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(low)
                .bind(high)
                .bind(campaign_id)
                .fetch_one(&pool)
                .await
                .and_then(|row| {
                    use sqlx::Row;
                    row.try_get::<String, _>(0)
                });
            let failed = batch.is_err();
            // A closed channel means the writer stopped (an error of its own): stop too.
            if tx.send(batch).await.is_err() || failed {
                break;
            }
        }
    });
    while let Some(batch) = rx.recv().await {
        visit(&batch.map_err(sqlx_err)?)?;
    }
    Ok(())
}

fn sqlx_err(e: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)))
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
/// the item columns' order; strings borrow from the JSON
/// unless they had to be escaped.
#[derive(serde::Deserialize)]
struct ItemJson<'a>(
    i64,
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
    Option<i64>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Option<Text<'a>>,
    Option<i32>,
);

impl ItemJson<'_> {
    fn view(&self) -> Result<ItemView<'_>, DbErr> {
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
            previous_campaign_id: self.34,
            previous_campaign: self.35.as_deref(),
            previous_verdict: self.36.as_deref(),
            previous_made_by: self.37.as_deref(),
            previous_decided_by: self.38.as_deref(),
            previous_decided_at: sqlite_time(self.39.as_deref())?,
            previous_justification: self.40.as_deref(),
            holder_context: self.41.as_deref(),
            assignment: &self.42,
            remediation_kind: self.43.as_deref(),
            decided_in_stage: self.44,
        })
    }
}

/// A decision as SQLite's `json_array` wrote it, in
/// the decision columns' order.
#[derive(serde::Deserialize)]
struct DecisionJson<'a>(
    i64,
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
    i32,
);

impl DecisionJson<'_> {
    fn view(&self) -> Result<DecisionView<'_>, DbErr> {
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
            stage: self.11,
        })
    }
}
