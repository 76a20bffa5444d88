//! What a reviewer's link opens: tokens (stored only as SHA-256), the reviewer's items, their
//! sign-off, and hand-overs to another reviewer.

use super::sql::Sql;
use super::StoreError;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Value};

/// A stored token, found by the hash of the presented one.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: i64,
    pub campaign_id: i64,
    pub reviewer_id: i64,
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A link token to store.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub campaign_id: i64,
    pub reviewer_id: i64,
    pub token_hash: String,
    pub mail_id: Option<i64>,
    pub expires_at: DateTime<Utc>,
}

/// Stores tokens, several hundred a statement (the mail worker issues a whole step's links at
/// once, committed before any of those mails is sent).
pub async fn insert_tokens(
    conn: &impl ConnectionTrait,
    tokens: &[NewToken],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for chunk in tokens.chunks(500) {
        let mut sql = Sql::new(
            conn.get_database_backend(),
            "INSERT INTO reviewer_token (campaign_id, reviewer_id, token_hash, mail_id, created_at, expires_at) VALUES ",
        );
        sql.rows(chunk.iter().map(|t| {
            [
                t.campaign_id.into(),
                t.reviewer_id.into(),
                t.token_hash.clone().into(),
                t.mail_id.into(),
                now.into(),
                t.expires_at.into(),
            ]
        }));
        conn.execute_raw(sql.build()).await?;
    }
    Ok(())
}

pub async fn token_by_hash(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<TokenRow>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT id, campaign_id, reviewer_id, token_hash, expires_at, revoked_at FROM reviewer_token WHERE token_hash = ",
    );
    sql.bind(token_hash);
    conn.query_one_raw(sql.build())
        .await?
        .map(|row| {
            Ok(TokenRow {
                id: row.try_get("", "id")?,
                campaign_id: row.try_get("", "campaign_id")?,
                reviewer_id: row.try_get("", "reviewer_id")?,
                token_hash: row.try_get("", "token_hash")?,
                expires_at: row.try_get("", "expires_at")?,
                revoked_at: row.try_get("", "revoked_at")?,
            })
        })
        .transpose()
}

/// One of a reviewer's items with its current decision.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReviewerItem {
    pub id: i64,
    pub holder_external_id: String,
    pub holder_name: String,
    pub holder_email: Option<String>,
    pub holder_kind: String,
    pub role_name: String,
    pub role_risk: String,
    pub scope: String,
    pub since: Option<DateTime<Utc>>,
    pub last_activated_at: Option<DateTime<Utc>>,
    pub recommendation: String,
    pub recommendation_reason: Option<String>,
    pub verdict: Option<String>,
    pub made_by: Option<String>,
    pub justification: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub flag_reason: Option<String>,
    pub excluded: bool,
    pub escalated: bool,
}

/// The items a reviewer holds in a campaign, grouped by holder. Never their own eligibility:
/// an item assigned to its holder (nobody else could take it) waits in the admins' queue, so it
/// is neither shown on nor handed over from the holder's link.
pub async fn reviewer_items(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    reviewer_id: i64,
) -> Result<Vec<ReviewerItem>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT i.id, i.holder_external_id, i.holder_name, i.holder_email, i.holder_kind, i.role_name, i.role_risk, \
         i.scope, i.since, i.last_activated_at, i.recommendation, i.recommendation_reason, i.verdict, i.made_by, \
         d.justification, i.decided_at, i.flag_reason, i.excluded, i.escalated_at \
         FROM review_item i LEFT JOIN decision d ON d.id = i.current_decision_id WHERE i.campaign_id = ",
    );
    sql.bind(campaign_id)
        .push(" AND i.reviewer_id = ")
        .bind(reviewer_id)
        .push(" AND i.principal_id <> ")
        .bind(reviewer_id)
        .push(" ORDER BY i.holder_name, i.holder_external_id, i.role_name, i.scope");
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            let escalated: Option<DateTime<Utc>> = row.try_get("", "escalated_at")?;
            Ok(ReviewerItem {
                id: row.try_get("", "id")?,
                holder_external_id: row.try_get("", "holder_external_id")?,
                holder_name: row.try_get("", "holder_name")?,
                holder_email: row.try_get("", "holder_email")?,
                holder_kind: row.try_get("", "holder_kind")?,
                role_name: row.try_get("", "role_name")?,
                role_risk: row.try_get("", "role_risk")?,
                scope: row.try_get("", "scope")?,
                since: row.try_get("", "since")?,
                last_activated_at: row.try_get("", "last_activated_at")?,
                recommendation: row.try_get("", "recommendation")?,
                recommendation_reason: row.try_get("", "recommendation_reason")?,
                verdict: row.try_get("", "verdict")?,
                made_by: row.try_get("", "made_by")?,
                justification: row.try_get("", "justification")?,
                decided_at: row.try_get("", "decided_at")?,
                flag_reason: row.try_get("", "flag_reason")?,
                excluded: row.try_get("", "excluded")?,
                escalated: escalated.is_some(),
            })
        })
        .collect()
}

/// A reviewer's sign-off, if they gave one.
pub async fn sign_off_of(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    reviewer_id: i64,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT signed_off_at FROM campaign_reviewer WHERE campaign_id = ",
    );
    sql.bind(campaign_id)
        .push(" AND reviewer_id = ")
        .bind(reviewer_id);
    Ok(match conn.query_one_raw(sql.build()).await? {
        Some(row) => row.try_get("", "signed_off_at")?,
        None => None,
    })
}

pub async fn sign_off(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    reviewer_id: i64,
    addr: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE campaign_reviewer SET signed_off_at = ",
    );
    sql.bind(now)
        .push(", signed_off_addr = ")
        .bind(addr.map(str::to_string))
        .push(" WHERE campaign_id = ")
        .bind(campaign_id)
        .push(" AND reviewer_id = ")
        .bind(reviewer_id);
    Ok(conn.execute_raw(sql.build()).await?.rows_affected() == 1)
}

/// Moves undecided items from one reviewer to another; returns how many moved.
pub async fn reassign(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    from: i64,
    to: i64,
    items: &[i64],
) -> Result<u64, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE review_item SET reviewer_id = ",
    );
    sql.bind(to)
        .push(", reviewer_reason = 'reassigned' WHERE verdict IS NULL AND campaign_id = ")
        .bind(campaign_id)
        .push(" AND reviewer_id = ")
        .bind(from)
        .push(" AND principal_id <> ")
        .bind(to)
        .push(" AND id IN ");
    sql.tuple(items.iter().map(|id| Value::from(*id)));
    Ok(conn.execute_raw(sql.build()).await?.rows_affected())
}

/// Which of `hashes` are links on record, not withdrawn and not expired at `now`.
pub async fn live_token_hashes(
    conn: &impl ConnectionTrait,
    hashes: &[String],
    now: DateTime<Utc>,
) -> Result<std::collections::HashSet<String>, StoreError> {
    let mut live = std::collections::HashSet::new();
    for chunk in hashes.chunks(500) {
        let mut sql = Sql::new(
            conn.get_database_backend(),
            "SELECT token_hash FROM reviewer_token WHERE revoked_at IS NULL AND expires_at > ",
        );
        sql.bind(now).push(" AND token_hash IN ");
        sql.tuple(chunk.iter().map(|h| sea_orm::Value::from(h.clone())));
        for row in conn.query_all_raw(sql.build()).await? {
            live.insert(row.try_get("", "token_hash")?);
        }
    }
    Ok(live)
}
