//! The export's streamed reads: every item and every decision of a campaign, in id order,
//! handed to a visitor row by row without sea-orm's dynamic rows. Each backend reads them its
//! own way (`backend::postgres::export` streams typed rows, `backend::sqlite::export` reads
//! JSON batches); both read a range of ids, described here.

use crate::store::backend::{is_postgres, postgres, sqlite};
use crate::store::sql::Sql;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

/// One item of a campaign as the export reads it, borrowed from what the database returned so
/// that writing it out allocates nothing.
#[derive(Debug)]
pub struct ItemView<'r> {
    pub id: i64,
    pub eligibility_id: i64,
    pub holder_external_id: &'r str,
    pub holder_name: &'r str,
    pub holder_email: Option<&'r str>,
    pub holder_kind: &'r str,
    pub role_name: &'r str,
    pub role_risk: &'r str,
    pub scope: &'r str,
    pub since: Option<DateTime<Utc>>,
    pub last_activated_at: Option<DateTime<Utc>>,
    pub recommendation: &'r str,
    pub recommendation_reason: Option<&'r str>,
    pub reviewer_id: Option<&'r str>,
    pub reviewer_name: Option<&'r str>,
    pub reviewer_reason: Option<&'r str>,
    pub escalated_from: Option<&'r str>,
    pub flagged: bool,
    pub flag_reason: Option<&'r str>,
    pub verdict: Option<&'r str>,
    pub made_by: Option<&'r str>,
    pub decided_by: Option<&'r str>,
    pub acting_for: Option<&'r str>,
    pub decided_at: Option<DateTime<Utc>>,
    pub channel: Option<&'r str>,
    pub justification: Option<&'r str>,
    pub outcome: Option<&'r str>,
    pub removal_state: Option<&'r str>,
    pub removal_attempts: Option<i32>,
    pub removal_receipt: Option<&'r str>,
    pub removed_at: Option<DateTime<Utc>>,
    pub verified_at: Option<DateTime<Utc>>,
    pub removal_error: Option<&'r str>,
    /// The eligibility's status now; `suspended` when a suspension (`store::suspensions::
    /// removal_reason`: a leaver's, a SOC's) holds it removed.
    pub status_now: Option<&'r str>,
    /// The last review of the same eligibility (see `store::items::previous`): its campaign,
    /// "definition period", verdict, human or policy, who, when, why.
    pub previous_campaign_id: Option<i64>,
    pub previous_campaign: Option<&'r str>,
    pub previous_verdict: Option<&'r str>,
    pub previous_made_by: Option<&'r str>,
    pub previous_decided_by: Option<&'r str>,
    pub previous_decided_at: Option<DateTime<Utc>>,
    pub previous_justification: Option<&'r str>,
    /// The holder's attributes frozen at launch (JSON), when the definition names some.
    pub holder_context: Option<&'r str>,
    /// `eligible`, or `active` for standing access (frozen at launch).
    pub assignment: &'r str,
    /// What its remediation does, if it has one: `remove`, or `convert` (to eligible).
    pub remediation_kind: Option<&'r str>,
    /// The stage whose decision is in force (none: undecided).
    pub decided_in_stage: Option<i32>,
}

/// The columns of an item, in [`ItemView`] order, but for the previous review's (appended by
/// [`each_item`]).
const ITEM_COLUMNS: &str = "i.id, i.eligibility_id, i.holder_external_id, i.holder_name, \
     i.holder_email, i.holder_kind, i.role_name, i.role_risk, i.scope, i.since, i.last_activated_at, \
     i.recommendation, i.recommendation_reason, rv.external_id, rv.display_name, i.reviewer_reason, \
     ef.external_id, i.flagged, i.flag_reason, i.verdict, i.made_by, dp.external_id, af.external_id, \
     i.decided_at, d.channel, d.justification, i.outcome, r.state, r.attempts, r.receipt, \
     r.removed_at, r.verified_at, r.last_error, \
     CASE WHEN e.status = 'removed' AND e.removal_reason LIKE 'suspension #%' \
     THEN 'suspended' ELSE e.status END";

const ITEM_FROM: &str = " FROM review_item i \
     LEFT JOIN principal rv ON rv.id = i.reviewer_id \
     LEFT JOIN principal ef ON ef.id = i.escalated_from_id \
     LEFT JOIN decision d ON d.id = i.current_decision_id \
     LEFT JOIN principal dp ON dp.id = d.reviewer_id \
     LEFT JOIN principal af ON af.id = d.acting_for_id \
     LEFT JOIN remediation r ON r.item_id = i.id \
     LEFT JOIN eligibility e ON e.id = i.eligibility_id";

/// One decision of a campaign, borrowed like [`ItemView`].
#[derive(Debug)]
pub struct DecisionView<'r> {
    pub id: i64,
    pub item_id: i64,
    pub verdict: &'r str,
    pub made_by: &'r str,
    pub decided_by: Option<&'r str>,
    pub acting_for: Option<&'r str>,
    pub decided_at: DateTime<Utc>,
    pub channel: &'r str,
    pub client_addr: Option<&'r str>,
    pub justification: Option<&'r str>,
    pub supersedes_id: Option<i64>,
    /// The review stage it was given in.
    pub stage: i32,
}

const DECISION_COLUMNS: &str =
    "d.id, d.item_id, d.verdict, d.made_by, COALESCE(rp.external_id, d.actor), \
     ap.external_id, d.decided_at, d.channel, d.client_addr, d.justification, d.supersedes_id, d.stage";

const DECISION_FROM: &str = " FROM decision d \
     LEFT JOIN principal rp ON rp.id = d.reviewer_id \
     LEFT JOIN principal ap ON ap.id = d.acting_for_id";

/// Every item of a campaign with its current decision, its removal, and the eligibility as it
/// is now, in item order. The one read that grows with the population, so it bypasses sea-orm's
/// dynamic rows.
pub async fn each_item<E: From<DbErr>>(
    conn: &DatabaseConnection,
    campaign_id: i64,
    visit: impl FnMut(&ItemView<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let earlier = crate::store::items::previous::earlier_campaigns(conn, campaign_id)
        .await
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    let Some(read) = RangeRead::of(
        conn,
        "review_item",
        "i",
        format!(
            "{ITEM_COLUMNS}, {}, i.holder_context, i.assignment, r.kind, d.stage",
            crate::store::items::previous::COLUMNS
        ),
        format!(
            "{ITEM_FROM}{}",
            crate::store::items::previous::join(&earlier)
        ),
        campaign_id,
    )
    .await?
    else {
        return Ok(());
    };
    if is_postgres(conn) {
        postgres::export::each_item(conn, &read, visit).await
    } else {
        sqlite::export::each_item(conn, &read, visit).await
    }
}

/// Every decision of a campaign, superseded ones included, in the order they were made.
pub async fn each_decision<E: From<DbErr>>(
    conn: &DatabaseConnection,
    campaign_id: i64,
    visit: impl FnMut(&DecisionView<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let Some(read) = RangeRead::of(
        conn,
        "decision",
        "d",
        DECISION_COLUMNS.to_string(),
        DECISION_FROM.to_string(),
        campaign_id,
    )
    .await?
    else {
        return Ok(());
    };
    if is_postgres(conn) {
        postgres::export::each_decision(conn, &read, visit).await
    } else {
        sqlite::export::each_decision(conn, &read, visit).await
    }
}

/// A read of a campaign's rows of one table (aliased `alias` in `from`), by the range of their
/// ids.
///
/// Both backends read a range of ids (a campaign's rows are written together, so the range
/// holds few others) with the campaign test kept off the index (`+`): scanning the primary key
/// yields the rows already in order, where the campaign's own index made SQLite sort the whole
/// joined result in a temporary B-tree before the first row came out.
pub(crate) struct RangeRead {
    pub(crate) columns: String,
    pub(crate) alias: &'static str,
    from: String,
    pub(crate) campaign_id: i64,
    pub(crate) first: i64,
    pub(crate) last: i64,
}

impl RangeRead {
    /// The read of the campaign's rows of `table`; `None` when it has none.
    async fn of(
        conn: &DatabaseConnection,
        table: &str,
        alias: &'static str,
        columns: String,
        from: String,
        campaign_id: i64,
    ) -> Result<Option<Self>, DbErr> {
        Ok(id_range(conn, table, campaign_id)
            .await?
            .map(|(first, last)| Self {
                columns,
                alias,
                from,
                campaign_id,
                first,
                last,
            }))
    }

    /// ` FROM … WHERE` the id lies between the placeholders `low` and `high` and the row is
    /// the campaign's (placeholder `campaign`).
    pub(crate) fn condition(&self, low: &str, high: &str, campaign: &str) -> String {
        let (from, alias) = (&self.from, self.alias);
        format!(
            "{from} WHERE {alias}.id >= {low} AND {alias}.id <= {high} \
             AND +{alias}.campaign_id = {campaign}"
        )
    }
}

/// The lowest and highest id of the campaign's rows in `table`, if it has any.
async fn id_range(
    conn: &DatabaseConnection,
    table: &str,
    campaign_id: i64,
) -> Result<Option<(i64, i64)>, DbErr> {
    // hand-written: the same read for either table, named by the caller.
    let mut sql = Sql::new(
        conn.get_database_backend(),
        &format!("SELECT MIN(id) AS first, MAX(id) AS last FROM {table} WHERE campaign_id = "),
    );
    sql.bind(campaign_id);
    let Some(row) = conn.query_one_raw(sql.build()).await? else {
        return Ok(None);
    };
    let first: Option<i64> = row.try_get("", "first")?;
    let last: Option<i64> = row.try_get("", "last")?;
    Ok(first.zip(last))
}
