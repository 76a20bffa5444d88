//! The reads an evidence bundle is made of (streamed, in a stable order) and the storage of
//! the instance's signing key and of generated bundles.

use super::sql::Sql;
use chrono::{DateTime, Utc};
use futures::Stream;
use sea_orm::{ConnectionTrait, DbErr, QueryResult, StreamTrait};

/// Every item of a campaign with its current decision, its removal, and the eligibility as it
/// is now; ordered by item id.
pub async fn item_rows<'a, C: ConnectionTrait + StreamTrait>(
    conn: &'a C,
    campaign_id: i64,
) -> Result<impl Stream<Item = Result<QueryResult, DbErr>> + 'a, DbErr> {
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        "SELECT i.id, i.eligibility_id, i.holder_external_id, i.holder_name, i.holder_email, i.holder_kind, i.role_name, \
         i.role_risk, i.scope, i.since, i.last_activated_at, i.recommendation, i.recommendation_reason, \
         rv.external_id AS reviewer_id, rv.display_name AS reviewer_name, i.reviewer_reason, ef.external_id AS escalated_from, \
         i.flagged, i.flag_reason, i.verdict, i.made_by, dp.external_id AS decided_by, af.external_id AS acting_for, \
         i.decided_at, d.channel, d.justification, i.outcome, r.state AS removal_state, r.attempts AS removal_attempts, \
         r.receipt AS removal_receipt, r.removed_at, r.verified_at, r.last_error AS removal_error, e.status AS status_now \
         FROM review_item i \
         LEFT JOIN principal rv ON rv.id = i.reviewer_id \
         LEFT JOIN principal ef ON ef.id = i.escalated_from_id \
         LEFT JOIN decision d ON d.id = i.current_decision_id \
         LEFT JOIN principal dp ON dp.id = d.reviewer_id \
         LEFT JOIN principal af ON af.id = d.acting_for_id \
         LEFT JOIN remediation r ON r.item_id = i.id \
         LEFT JOIN eligibility e ON e.id = i.eligibility_id \
         WHERE i.campaign_id = ",
    );
    sql.bind(campaign_id).push(" ORDER BY i.id");
    conn.stream_raw(sql.build()).await
}

/// Every decision of a campaign, superseded ones included, in the order they were made.
pub async fn decision_rows<'a, C: ConnectionTrait + StreamTrait>(
    conn: &'a C,
    campaign_id: i64,
) -> Result<impl Stream<Item = Result<QueryResult, DbErr>> + 'a, DbErr> {
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        "SELECT d.id, d.item_id, d.verdict, d.made_by, rp.external_id AS decided_by, ap.external_id AS acting_for, \
         d.decided_at, d.channel, d.client_addr, d.justification, d.supersedes_id \
         FROM decision d LEFT JOIN principal rp ON rp.id = d.reviewer_id LEFT JOIN principal ap ON ap.id = d.acting_for_id \
         WHERE d.campaign_id = ",
    );
    sql.bind(campaign_id).push(" ORDER BY d.id");
    conn.stream_raw(sql.build()).await
}

/// The stretch of the audit chain that covers the campaign: from its first event to its last,
/// with everything in between, so the excerpt can be verified on its own.
pub async fn audit_range(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Option<(i64, i64)>, DbErr> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT MIN(seq) AS first, MAX(seq) AS last FROM audit_event WHERE target = ",
    );
    sql.bind(format!("campaign:{campaign_id}"));
    let Some(row) = conn.query_one_raw(sql.build()).await? else {
        return Ok(None);
    };
    let first: Option<i64> = row.try_get("", "first")?;
    let last: Option<i64> = row.try_get("", "last")?;
    Ok(first.zip(last))
}

pub async fn audit_rows<'a, C: ConnectionTrait + StreamTrait>(
    conn: &'a C,
    first: i64,
    last: i64,
) -> Result<impl Stream<Item = Result<QueryResult, DbErr>> + 'a, DbErr> {
    let mut sql = Sql::new(
        ConnectionTrait::get_database_backend(conn),
        "SELECT seq, at, actor, action, target, details, prev_hash, hash FROM audit_event WHERE seq >= ",
    );
    sql.bind(first)
        .push(" AND seq <= ")
        .bind(last)
        .push(" ORDER BY seq");
    conn.stream_raw(sql.build()).await
}

/// One reviewer's part in a campaign.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReviewerSummary {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub items: i64,
    pub decided: i64,
    pub attested: i64,
    pub revoked: i64,
    pub first_decision_at: Option<DateTime<Utc>>,
    pub last_decision_at: Option<DateTime<Utc>>,
    pub signed_off_at: Option<DateTime<Utc>>,
    pub signed_off_addr: Option<String>,
}

pub async fn reviewer_summaries(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Vec<ReviewerSummary>, DbErr> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT p.external_id, p.display_name, p.email, cr.signed_off_at, cr.signed_off_addr, \
         COUNT(i.id) AS items, \
         SUM(CASE WHEN i.made_by = 'human' THEN 1 ELSE 0 END) AS decided, \
         SUM(CASE WHEN i.made_by = 'human' AND i.verdict = 'attest' THEN 1 ELSE 0 END) AS attested, \
         SUM(CASE WHEN i.made_by = 'human' AND i.verdict = 'revoke' THEN 1 ELSE 0 END) AS revoked, \
         MIN(CASE WHEN i.made_by = 'human' THEN i.decided_at END) AS first_decision_at, \
         MAX(CASE WHEN i.made_by = 'human' THEN i.decided_at END) AS last_decision_at \
         FROM campaign_reviewer cr JOIN principal p ON p.id = cr.reviewer_id \
         LEFT JOIN review_item i ON i.campaign_id = cr.campaign_id AND i.reviewer_id = cr.reviewer_id \
         WHERE cr.campaign_id = ",
    );
    sql.bind(campaign_id).push(
        " GROUP BY p.external_id, p.display_name, p.email, cr.signed_off_at, cr.signed_off_addr ORDER BY p.external_id",
    );
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            let n = |name: &str| -> Result<i64, DbErr> {
                Ok(row.try_get::<Option<i64>>("", name)?.unwrap_or(0))
            };
            Ok(ReviewerSummary {
                id: row.try_get("", "external_id")?,
                name: row.try_get("", "display_name")?,
                email: row.try_get("", "email")?,
                items: n("items")?,
                decided: n("decided")?,
                attested: n("attested")?,
                revoked: n("revoked")?,
                first_decision_at: row.try_get("", "first_decision_at")?,
                last_decision_at: row.try_get("", "last_decision_at")?,
                signed_off_at: row.try_get("", "signed_off_at")?,
                signed_off_addr: row.try_get("", "signed_off_addr")?,
            })
        })
        .collect()
}

/// The newest signing key: (public hex, secret hex).
pub async fn signing_key(conn: &impl ConnectionTrait) -> Result<Option<(String, String)>, DbErr> {
    let sql = Sql::new(
        conn.get_database_backend(),
        "SELECT public_key, secret_key FROM signing_key ORDER BY id DESC LIMIT 1",
    );
    match conn.query_one_raw(sql.build()).await? {
        Some(row) => Ok(Some((
            row.try_get("", "public_key")?,
            row.try_get("", "secret_key")?,
        ))),
        None => Ok(None),
    }
}

pub async fn insert_signing_key(
    conn: &impl ConnectionTrait,
    public: &str,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO signing_key (algorithm, public_key, secret_key, created_at) VALUES ",
    );
    sql.tuple(["ed25519".into(), public.into(), secret.into(), now.into()]);
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// Stores a bundle's manifest and returns its id; the zip follows with [`insert_chunk`].
pub async fn insert_bundle(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    generated_at: DateTime<Utc>,
    manifest: &str,
    sha256: &str,
    bytes: i64,
    reason: &str,
) -> Result<i64, DbErr> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO evidence_bundle (campaign_id, generated_at, manifest, sha256, bytes, reason) VALUES ",
    );
    sql.tuple([
        campaign_id.into(),
        generated_at.into(),
        manifest.into(),
        sha256.into(),
        bytes.into(),
        reason.into(),
    ])
    .push(" RETURNING id");
    let row = conn
        .query_one_raw(sql.build())
        .await?
        .ok_or(DbErr::RecordNotInserted)?;
    row.try_get("", "id")
}

pub async fn insert_chunk(
    conn: &impl ConnectionTrait,
    bundle_id: i64,
    seq: i32,
    data: Vec<u8>,
) -> Result<(), DbErr> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO evidence_chunk (bundle_id, seq, data) VALUES ",
    );
    sql.tuple([bundle_id.into(), seq.into(), data.into()]);
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// A stored bundle.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredBundle {
    pub id: i64,
    pub campaign_id: i64,
    pub generated_at: DateTime<Utc>,
    pub sha256: String,
    pub bytes: i64,
    pub reason: String,
}

/// The newest stored bundle of a campaign.
pub async fn latest_bundle(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Option<StoredBundle>, DbErr> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT id, campaign_id, generated_at, sha256, bytes, reason FROM evidence_bundle WHERE campaign_id = ",
    );
    sql.bind(campaign_id).push(" ORDER BY id DESC LIMIT 1");
    conn.query_one_raw(sql.build())
        .await?
        .map(|row| {
            Ok(StoredBundle {
                id: row.try_get("", "id")?,
                campaign_id: row.try_get("", "campaign_id")?,
                generated_at: row.try_get("", "generated_at")?,
                sha256: row.try_get("", "sha256")?,
                bytes: row.try_get("", "bytes")?,
                reason: row.try_get("", "reason")?,
            })
        })
        .transpose()
}

/// One chunk of a stored bundle's zip, by position.
pub async fn chunk(
    conn: &impl ConnectionTrait,
    bundle_id: i64,
    seq: i32,
) -> Result<Option<Vec<u8>>, DbErr> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT data FROM evidence_chunk WHERE bundle_id = ",
    );
    sql.bind(bundle_id).push(" AND seq = ").bind(seq);
    match conn.query_one_raw(sql.build()).await? {
        Some(row) => Ok(Some(row.try_get("", "data")?)),
        None => Ok(None),
    }
}
