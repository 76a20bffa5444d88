//! Where a campaign's mail stands: counts by state, by template, and per reviewer.

use crate::domain::mail_state::{Invitation, InvitationState, MailState, MailTally, ReviewerMail};
use crate::store::outbox::template;
use crate::store::sql::Sql;
use crate::store::StoreError;
use entity::outbox_mail;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};

/// A campaign's mail by state: queued (not tried yet), retrying (tried, failed, to be tried
/// again), sent, failed (given up: reported, re-queued by an admin or when the server is back)
/// and skipped (no longer applied).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailCounts {
    pub queued: i64,
    pub retrying: i64,
    pub sent: i64,
    pub failed: i64,
    pub skipped: i64,
    /// Reviewers of the campaign with failed mail (who is affected, for the alerts).
    pub failed_reviewers: i64,
}

pub async fn mail_counts(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<MailCounts, StoreError> {
    // hand-written: aggregate with CASE/GROUP BY.
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT state, CASE WHEN attempts > 0 THEN 1 ELSE 0 END AS tried, COUNT(*) AS n FROM outbox_mail WHERE campaign_id = ",
    );
    sql.bind(campaign_id)
        .push(" GROUP BY state, CASE WHEN attempts > 0 THEN 1 ELSE 0 END");
    let mut counts = MailCounts::default();
    for row in conn.query_all_raw(sql.build()).await? {
        let tried: i32 = row.try_get("", "tried")?;
        let n: i64 = row.try_get("", "n")?;
        match (row.try_get("", "state")?, tried) {
            (MailState::Pending | MailState::Sending, 0) => counts.queued += n,
            (MailState::Pending | MailState::Sending, _) => counts.retrying += n,
            (MailState::Sent, _) => counts.sent += n,
            (MailState::Failed, _) => counts.failed += n,
            (MailState::Skipped, _) => counts.skipped += n,
        }
    }
    if counts.failed > 0 {
        // hand-written: COUNT(DISTINCT) over a join on two columns the entities relate by none.
        let mut sql = Sql::new(
            conn.get_database_backend(),
            "SELECT COUNT(DISTINCT o.recipient_id) AS n FROM outbox_mail o JOIN campaign_reviewer cr \
             ON cr.campaign_id = o.campaign_id AND cr.reviewer_id = o.recipient_id WHERE o.state = 'failed' AND o.campaign_id = ",
        );
        sql.bind(campaign_id);
        if let Some(row) = conn.query_one_raw(sql.build()).await? {
            counts.failed_reviewers = row.try_get("", "n")?;
        }
    }
    Ok(counts)
}

/// How many mails of a template a campaign has queued (tests and progress pages).
pub async fn count(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    template: &str,
) -> Result<i64, StoreError> {
    let queued = outbox_mail::Entity::find()
        .select_only()
        .column(outbox_mail::Column::Id)
        .filter(outbox_mail::Column::CampaignId.eq(campaign_id))
        .filter(outbox_mail::Column::Template.eq(template))
        .count(conn)
        .await?;
    Ok(queued as i64)
}

/// Where each reviewer's mail of a campaign stands, in reviewer order: their latest invitation
/// and a tally of their other mail, in one statement (1,000 reviewers read at once).
pub async fn reviewer_mail(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Vec<ReviewerMail>, StoreError> {
    // hand-written: report, a correlated subquery for the latest invitation and a CASE/GROUP BY
    // tally, joined per reviewer.
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "SELECT p.external_id, p.display_name, p.email, inv.state, inv.attempts, inv.sent_at, inv.next_attempt_at, \
         inv.last_error, o.queued, o.retrying, o.sent, o.failed, o.skipped \
         FROM campaign_reviewer cr JOIN principal p ON p.id = cr.reviewer_id \
         LEFT JOIN outbox_mail inv ON inv.id = (SELECT MAX(m.id) FROM outbox_mail m WHERE m.campaign_id = cr.campaign_id \
         AND m.recipient_id = cr.reviewer_id AND m.template = ",
    );
    sql.bind(template::INVITATION).push(
        ") LEFT JOIN (SELECT recipient_id, \
         SUM(CASE WHEN state IN ('pending', 'sending') AND attempts = 0 THEN 1 ELSE 0 END) AS queued, \
         SUM(CASE WHEN state IN ('pending', 'sending') AND attempts > 0 THEN 1 ELSE 0 END) AS retrying, \
         SUM(CASE WHEN state = 'sent' THEN 1 ELSE 0 END) AS sent, \
         SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) AS failed, \
         SUM(CASE WHEN state = 'skipped' THEN 1 ELSE 0 END) AS skipped \
         FROM outbox_mail WHERE campaign_id = ",
    );
    sql.bind(campaign_id)
        .push(" AND template <> ")
        .bind(template::INVITATION)
        .push(
            " GROUP BY recipient_id) o ON o.recipient_id = cr.reviewer_id WHERE cr.campaign_id = ",
        )
        .bind(campaign_id)
        .push(" ORDER BY p.external_id");
    conn.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| {
            let n = |name: &str| -> Result<i64, DbErr> {
                Ok(row.try_get::<Option<i64>>("", name)?.unwrap_or(0))
            };
            let attempts = row.try_get::<Option<i32>>("", "attempts")?.unwrap_or(0);
            let state = match (row.try_get("", "state")?, attempts) {
                (None, _) => InvitationState::None,
                (Some(MailState::Pending | MailState::Sending), 0) => InvitationState::Queued,
                (Some(MailState::Pending | MailState::Sending), _) => InvitationState::Retrying,
                (Some(MailState::Sent), _) => InvitationState::Sent,
                (Some(MailState::Skipped), _) => InvitationState::Skipped,
                (Some(MailState::Failed), _) => InvitationState::Failed,
            };
            let waiting = matches!(state, InvitationState::Queued | InvitationState::Retrying);
            let invitation = Invitation {
                state,
                attempts,
                sent_at: row.try_get("", "sent_at")?,
                next_attempt_at: if waiting {
                    row.try_get("", "next_attempt_at")?
                } else {
                    None
                },
                error: if state == InvitationState::Sent {
                    None
                } else {
                    row.try_get("", "last_error")?
                },
            };
            let other = MailTally {
                queued: n("queued")?,
                retrying: n("retrying")?,
                sent: n("sent")?,
                failed: n("failed")?,
                skipped: n("skipped")?,
            };
            Ok(ReviewerMail::new(
                row.try_get("", "external_id")?,
                row.try_get("", "display_name")?,
                row.try_get("", "email")?,
                invitation,
                other,
            ))
        })
        .collect()
}
