//! The counts a campaign's summary is made from: items, removals and mail.

use crate::domain::closing::{RemediationKind, RemediationState};
use crate::store::sql::Sql;
use crate::store::StoreError;
use sea_orm::{ConnectionTrait, DbErr};

/// Item, remediation and mail counts of a campaign: the raw material of its summary.
pub use crate::domain::summary::CampaignCounts;

pub async fn counts(conn: &impl ConnectionTrait, id: i64) -> Result<CampaignCounts, StoreError> {
    let backend = conn.get_database_backend();
    // hand-written: report aggregate, fifteen CASE sums over a campaign's items in one pass.
    let mut sql = Sql::new(
        backend,
        "SELECT COUNT(*) AS items, COUNT(DISTINCT reviewer_id) AS reviewers, \
         SUM(CASE WHEN made_by = 'human' THEN 1 ELSE 0 END) AS decided, \
         SUM(CASE WHEN verdict IS NULL THEN 1 ELSE 0 END) AS undecided, \
         SUM(CASE WHEN made_by = 'human' AND verdict = 'attest' THEN 1 ELSE 0 END) AS attested, \
         SUM(CASE WHEN made_by = 'human' AND verdict = 'revoke' THEN 1 ELSE 0 END) AS revoked, \
         SUM(CASE WHEN made_by = 'human' AND verdict = 'convert' THEN 1 ELSE 0 END) AS converted, \
         SUM(CASE WHEN outcome = 'kept_by_policy' THEN 1 ELSE 0 END) AS kept_by_policy, \
         SUM(CASE WHEN outcome = 'removed_by_policy' THEN 1 ELSE 0 END) AS removed_by_policy, \
         SUM(CASE WHEN excluded THEN 1 ELSE 0 END) AS excluded, \
         SUM(CASE WHEN outcome = 'kept_excluded' THEN 1 ELSE 0 END) AS kept_excluded, \
         SUM(CASE WHEN flagged THEN 1 ELSE 0 END) AS flagged, \
         SUM(CASE WHEN escalated_at IS NOT NULL THEN 1 ELSE 0 END) AS escalated, \
         SUM(CASE WHEN recommendation = 'revoke' THEN 1 ELSE 0 END) AS recommended_revoke, \
         SUM(CASE WHEN assignment = 'active' THEN 1 ELSE 0 END) AS standing_access \
         FROM review_item WHERE campaign_id = ",
    );
    sql.bind(id);
    let row = conn
        .query_one_raw(sql.build())
        .await?
        .ok_or(DbErr::RecordNotFound("counts".into()))?;
    let get = |name: &str| -> Result<i64, DbErr> {
        Ok(row.try_get::<Option<i64>>("", name)?.unwrap_or(0))
    };
    let mut counts = CampaignCounts {
        items: get("items")?,
        reviewers: get("reviewers")?,
        decided: get("decided")?,
        undecided: get("undecided")?,
        attested: get("attested")?,
        revoked: get("revoked")?,
        converted: get("converted")?,
        kept_by_policy: get("kept_by_policy")?,
        removed_by_policy: get("removed_by_policy")?,
        excluded: get("excluded")?,
        kept_excluded: get("kept_excluded")?,
        flagged: get("flagged")?,
        escalated: get("escalated")?,
        recommended_revoke: get("recommended_revoke")?,
        standing_access: get("standing_access")?,
        ..CampaignCounts::default()
    };
    // hand-written: report aggregate with CASE/GROUP BY.
    let mut sql = Sql::new(
        backend,
        "SELECT kind, state, CASE WHEN last_error IS NULL THEN 0 ELSE 1 END AS retrying, COUNT(*) AS n \
         FROM remediation WHERE campaign_id = ",
    );
    sql.bind(id)
        .push(" GROUP BY kind, state, CASE WHEN last_error IS NULL THEN 0 ELSE 1 END");
    for row in conn.query_all_raw(sql.build()).await? {
        let retrying: i32 = row.try_get("", "retrying")?;
        let n: i64 = row.try_get("", "n")?;
        // Conversions of standing access are counted apart from removals.
        if row.try_get::<RemediationKind>("", "kind")? == RemediationKind::Convert {
            match row.try_get("", "state")? {
                RemediationState::Pending | RemediationState::AwaitingConfirmation => {
                    counts.conversions_pending += n
                }
                RemediationState::Removed | RemediationState::AlreadyGone => {
                    counts.conversions_done += n
                }
                RemediationState::Failed => counts.conversions_failed += n,
            }
            continue;
        }
        match row.try_get("", "state")? {
            RemediationState::Pending => {
                counts.removals_pending += n;
                if retrying == 1 {
                    counts.removals_retrying += n;
                }
            }
            RemediationState::AwaitingConfirmation => counts.removals_awaiting_confirmation += n,
            RemediationState::Removed => counts.removed += n,
            RemediationState::AlreadyGone => counts.already_gone += n,
            RemediationState::Failed => counts.removals_failed += n,
        }
    }
    counts.carried_forward = crate::store::items::carried::count(conn, id).await?;
    (
        counts.challenges_made,
        counts.challenges_kept,
        counts.challenges_upheld,
        counts.challenges_open,
    ) = crate::store::challenges::counts(conn, id).await?;
    let mail = crate::store::outbox::mail_counts(conn, id).await?;
    counts.mail_queued = mail.queued;
    counts.mail_retrying = mail.retrying;
    counts.mail_sent = mail.sent;
    counts.mail_failed = mail.failed;
    counts.mail_failed_reviewers = mail.failed_reviewers;
    counts.mail_skipped = mail.skipped;
    Ok(counts)
}
