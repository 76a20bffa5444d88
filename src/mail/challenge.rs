//! What the two challenge mails say (`engine::challenges`): to a holder whose revocation may be
//! challenged, with their personal link; to the reviewer once the holder gave a reason, with
//! theirs. Each link is issued right before its mail is sent, as reviewers' links are.

use super::compose::MailContext;
use super::worker::deadline_text;
use crate::domain::challenge::ChallengeState;
use crate::engine::{Engine, EngineError};
use crate::store::challenges::{self, Party, MAIL_OPENED};
use crate::store::outbox::OutboxRow;

/// Whether `template` is one of the challenge mails.
pub fn is_challenge_mail(template: &str) -> bool {
    template == MAIL_OPENED || template == challenges::MAIL_SUBMITTED
}

/// The mail's context with its link, or why it no longer applies.
pub async fn context(
    engine: &Engine,
    mail: &OutboxRow,
    base_url: &str,
) -> Result<Result<MailContext, String>, EngineError> {
    let payload: serde_json::Value = serde_json::from_str(&mail.payload).unwrap_or_default();
    let Some(id) = payload.get("challenge_id").and_then(|v| v.as_i64()) else {
        return Ok(Err("the mail names no challenge".into()));
    };
    let Some(c) = engine.challenge(id).await? else {
        return Ok(Err(format!("challenge #{id} no longer exists")));
    };
    let (party, wanted) = if mail.template == MAIL_OPENED {
        (Party::Holder, ChallengeState::Open)
    } else {
        (Party::Reviewer, ChallengeState::Submitted)
    };
    if c.state != wanted || c.closes_at <= engine.now() {
        return Ok(Err(format!("challenge #{id} is {}", c.state)));
    }
    let campaign = match engine.campaign_row(c.campaign_id).await {
        Ok(campaign) => campaign,
        Err(EngineError::NotFound(why)) => return Ok(Err(why)),
        Err(e) => return Err(e),
    };
    let token = engine.challenge_link(id, party).await?;
    let recipient_name = match party {
        Party::Holder => c.holder_name.clone(),
        Party::Reviewer => c.reviewer_name.clone().unwrap_or_default(),
    };
    Ok(Ok(MailContext {
        recipient_name,
        campaign_name: campaign.name.clone(),
        period: campaign.period.clone(),
        campaign_id: campaign.id,
        deadline: deadline_text(Some(c.closes_at), &campaign.spec.timezone),
        link: Some(format!("{base_url}/c/{token}")),
        reason: c.reason.clone(),
        item: Some(format!("{} at {}", c.role, c.scope)),
        holder: Some(c.holder_name.clone()),
        ..MailContext::default()
    }))
}
