//! A campaign's owner is told when its invitations were given up: one mail per campaign once
//! the mail server takes mail again (how many reviewers never got their invitation, the last
//! error, what happens now), never one per failed invitation, and not again for the same
//! failures: the mail's key carries when the latest of them was given up.

use crate::store::outbox::{self, template};
use crate::store::{campaigns, directory};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

/// Queues the owner's mail for every campaign with failed invitations not told yet. Call it
/// when the server answered, before failed mail is queued again (its counts say how many of
/// them are queued again); `probes`: the failed mails this step sent again to find the server
/// back. Returns how many mails were queued.
pub(super) async fn tell_owners(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    probes: &[i64],
) -> Result<u64, DbErr> {
    let mut queued = 0;
    for failed in outbox::unreported_failed_invitations(conn, probes).await? {
        let Some(campaign) = campaigns::campaign(conn, failed.campaign_id).await? else {
            continue;
        };
        let owners = directory::principal_refs(conn, &[campaign.spec.owner.as_str()]).await?;
        let Some(owner) = owners.get(&campaign.spec.owner) else {
            // An owner missing from the directory cannot be mailed; the dashboard and the
            // campaign page still say it.
            tracing::warn!(
                campaign = failed.campaign_id,
                "invitations failed, and the owner {} is not in the directory to be told",
                campaign.spec.owner
            );
            continue;
        };
        let key = format!(
            "{}/{}/{}",
            template::INVITATIONS_FAILED,
            failed.campaign_id,
            failed.last_failed_at.timestamp_micros()
        );
        let payload = serde_json::json!({
            "reviewers": failed.reviewers,
            "requeued": failed.unreachable,
            "reason": failed.last_error,
        });
        if outbox::queue_to_principal(
            conn,
            &key,
            Some(failed.campaign_id),
            owner.id,
            template::INVITATIONS_FAILED,
            &payload,
            now,
        )
        .await?
        {
            queued += 1;
        }
    }
    Ok(queued)
}
