//! Where one reviewer's mail of a campaign stands: their invitation (queued, sent at T,
//! retrying with the last error and the next attempt, failed with the error, skipped with why)
//! and a tally of their other mail (reminders, escalations, thanks). The console page,
//! `campaign show` and the API all print [`ReviewerMail::text`], so they say the same words.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Delivery state of one outbox mail (`outbox_mail.state`); [`InvitationState`] is what a
/// reviewer's invitation looks like to a person, built from it and the attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailState {
    Pending,
    /// Leased by a worker that is sending it.
    Sending,
    Sent,
    Failed,
    /// Not sent because it no longer applied (a reminder to someone who had finished).
    Skipped,
}

string_enum!(MailState, "mail state", {
    Pending => "pending",
    Sending => "sending",
    Sent => "sent",
    Failed => "failed",
    Skipped => "skipped",
});

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationState {
    /// No invitation was queued to this reviewer.
    None,
    /// Queued, not tried yet.
    Queued,
    /// Tried, failed, to be tried again.
    Retrying,
    Sent,
    /// Given up: reported; queued again by an admin or when the mail server answers again.
    Failed,
    /// No longer applied when it was due (the campaign ended, say).
    Skipped,
}

// The spelling of JSON and the console's `data-mail` attribute.
string_enum!(InvitationState, "invitation state", {
    None => "none",
    Queued => "queued",
    Retrying => "retrying",
    Sent => "sent",
    Failed => "failed",
    Skipped => "skipped",
});

/// A reviewer's invitation as the outbox holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Invitation {
    pub state: InvitationState,
    /// Attempts made so far.
    pub attempts: i32,
    /// When it was sent (sent).
    pub sent_at: Option<DateTime<Utc>>,
    /// When it is tried next (queued, retrying).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The last error (retrying, failed) or why it was skipped (skipped).
    pub error: Option<String>,
}

impl Invitation {
    pub const NONE: Invitation = Invitation {
        state: InvitationState::None,
        attempts: 0,
        sent_at: None,
        next_attempt_at: None,
        error: None,
    };
}

/// A reviewer's other mail of the campaign, by state (the words of the campaign's mail counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MailTally {
    pub queued: i64,
    pub retrying: i64,
    pub sent: i64,
    pub failed: i64,
    pub skipped: i64,
}

/// One reviewer's mail of one campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReviewerMail {
    /// The reviewer's id (as in the directory and the item list).
    pub reviewer: String,
    pub name: String,
    pub email: Option<String>,
    pub invitation: Invitation,
    /// Their reminders, escalations and thanks.
    pub other_mail: MailTally,
    /// Nothing of theirs waits or failed: sent, or skipped because it no longer applied.
    pub all_sent: bool,
    /// Where their mail stands, in the words every surface shows.
    pub text: String,
}

impl ReviewerMail {
    pub fn new(
        reviewer: String,
        name: String,
        email: Option<String>,
        invitation: Invitation,
        other_mail: MailTally,
    ) -> Self {
        let all_sent = !matches!(
            invitation.state,
            InvitationState::Queued | InvitationState::Retrying | InvitationState::Failed
        ) && other_mail.queued + other_mail.retrying + other_mail.failed == 0;
        let text = text(&invitation, &other_mail);
        Self {
            reviewer,
            name,
            email,
            invitation,
            other_mail,
            all_sent,
            text,
        }
    }
}

/// "2026-11-27 21:40 UTC": minutes are what matters for mail, and UTC is what the log shows.
fn at(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "—".into())
}

/// "invitation retrying (2 attempts failed, next 2026-11-27 21:44 UTC): connection refused;
/// other mail: 1 sent, 1 failed".
fn text(invitation: &Invitation, other: &MailTally) -> String {
    let error = invitation.error.as_deref().unwrap_or("no error recorded");
    let mut text = match invitation.state {
        InvitationState::None => "no invitation".to_string(),
        InvitationState::Queued => "invitation queued".to_string(),
        InvitationState::Sent => format!("invitation sent {}", at(invitation.sent_at)),
        InvitationState::Retrying => format!(
            "invitation retrying ({} failed, next {}): {error}",
            super::figures::count(invitation.attempts as i64, "attempt", "attempts"),
            at(invitation.next_attempt_at)
        ),
        InvitationState::Failed => format!("invitation failed: {error}"),
        InvitationState::Skipped => format!("invitation skipped: {error}"),
    };
    let parts: Vec<String> = [
        (other.sent, "sent"),
        (other.queued, "queued"),
        (other.retrying, "retrying"),
        (other.failed, "failed"),
        (other.skipped, "skipped"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, word)| format!("{n} {word}"))
    .collect();
    if !parts.is_empty() {
        text.push_str("; other mail: ");
        text.push_str(&parts.join(", "));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_says_the_state_the_error_and_the_other_mail() {
        let retrying = Invitation {
            state: InvitationState::Retrying,
            attempts: 2,
            sent_at: None,
            next_attempt_at: "2026-11-27T21:44:00Z".parse().ok(),
            error: Some("connection refused".into()),
        };
        let other = MailTally {
            sent: 1,
            failed: 1,
            ..MailTally::default()
        };
        let mail = ReviewerMail::new("a".into(), "A".into(), None, retrying, other);
        assert_eq!(
            mail.text,
            "invitation retrying (2 attempts failed, next 2026-11-27 21:44 UTC): connection refused; other mail: 1 sent, 1 failed"
        );
        assert!(!mail.all_sent);
        let sent = Invitation {
            state: InvitationState::Sent,
            sent_at: "2026-11-27T21:40:00Z".parse().ok(),
            ..Invitation::NONE
        };
        let mail = ReviewerMail::new("a".into(), "A".into(), None, sent, MailTally::default());
        assert_eq!(mail.text, "invitation sent 2026-11-27 21:40 UTC");
        assert!(mail.all_sent);
    }
}
