//! Composes the mails attest sends, each as plain text and HTML (askama templates in
//! `templates/mail/`). One mail per reviewer per event, never one per item.

use askama::Template;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;
use sha2::{Digest, Sha256};

/// Everything a mail may mention.
#[derive(Debug, Clone, Default)]
pub struct MailContext {
    pub recipient_name: String,
    pub campaign_name: String,
    pub description: Option<String>,
    pub period: String,
    /// Items the recipient holds as reviewer, and how many still wait for an answer.
    pub items: i64,
    pub undecided: i64,
    /// Of `items`, those that are standing access (active assignments).
    pub standing: i64,
    /// The deadline in the recipient's time zone, written out.
    pub deadline: String,
    /// The recipient's personal review link, for mails that carry one.
    pub link: Option<String>,
    /// Why removals wait for confirmation (rail mails).
    pub reason: Option<String>,
    /// A campaign summary for outcome mails: (label, value) lines.
    pub summary: Vec<(String, String)>,
    pub campaign_id: i64,
    /// Set when another reviewer handed these items over.
    pub handed_over: bool,
    /// The source a waiting launch needs (launch-waiting mails).
    pub source: Option<String>,
    /// The campaign's console page, where an admin acts on it (rail and failed-invitation mails).
    pub console_link: Option<String>,
    /// Reviewers whose invitation was given up, and how many of those were queued again
    /// because the mail server answers again (failed-invitation mails).
    pub failed_reviewers: i64,
    pub requeued_reviewers: i64,
    /// The eligibility a challenge mail is about ("role at scope"), and its holder.
    pub item: Option<String>,
    pub holder: Option<String>,
    /// "stage 2 of 3" in a multi-stage campaign.
    pub stage_line: Option<String>,
}

macro_rules! mail_templates {
    ($($name:literal: $text:ident = $text_path:literal, $html:ident = $html_path:literal;)+) => {
        $(
            #[derive(Template)]
            #[template(path = $text_path)]
            struct $text<'a> { m: &'a MailContext }

            #[derive(Template)]
            #[template(path = $html_path)]
            struct $html<'a> { m: &'a MailContext }
        )+

        /// Renders the text and HTML bodies of `template`.
        fn render(template: &str, m: &MailContext) -> Result<(String, String), String> {
            let rendered = match template {
                $($name => ($text { m }.render(), $html { m }.render()),)+
                other => return Err(format!("no mail template named {other}")),
            };
            match rendered {
                (Ok(text), Ok(html)) => Ok((text, html)),
                (Err(e), _) | (_, Err(e)) => Err(format!("{template}: {e}")),
            }
        }
    };
}

mail_templates!(
    "invitation": InvitationText = "mail/invitation.txt", InvitationHtml = "mail/invitation.html";
    "reminder": ReminderText = "mail/reminder.txt", ReminderHtml = "mail/reminder.html";
    "rerun": RerunText = "mail/rerun.txt", RerunHtml = "mail/rerun.html";
    "stage": StageText = "mail/stage.txt", StageHtml = "mail/stage.html";
    "escalation": EscalationText = "mail/escalation.txt", EscalationHtml = "mail/escalation.html";
    "thanks": ThanksText = "mail/thanks.txt", ThanksHtml = "mail/thanks.html";
    "outcome": OutcomeText = "mail/outcome.txt", OutcomeHtml = "mail/outcome.html";
    "removals_awaiting_confirmation": RailText = "mail/removals_awaiting_confirmation.txt",
        RailHtml = "mail/removals_awaiting_confirmation.html";
    "launch_waiting": LaunchWaitingText = "mail/launch_waiting.txt",
        LaunchWaitingHtml = "mail/launch_waiting.html";
    "invitations_failed": InvitationsFailedText = "mail/invitations_failed.txt",
        InvitationsFailedHtml = "mail/invitations_failed.html";
    "challenge_opened": ChallengeOpenedText = "mail/challenge_opened.txt",
        ChallengeOpenedHtml = "mail/challenge_opened.html";
    "challenge_submitted": ChallengeSubmittedText = "mail/challenge_submitted.txt",
        ChallengeSubmittedHtml = "mail/challenge_submitted.html";
    "activation_review": ActivationReviewText = "mail/activation_review.txt",
        ActivationReviewHtml = "mail/activation_review.html";
    "leaver": LeaverText = "mail/leaver.txt", LeaverHtml = "mail/leaver.html";
);

fn eligibilities(n: i64) -> String {
    crate::domain::figures::count(n, "eligibility", "eligibilities")
}

/// The subject line of each mail.
fn subject(template: &str, m: &MailContext) -> String {
    match template {
        "invitation" if m.handed_over => format!(
            "Access review handed to you: {} to review by {}",
            eligibilities(m.undecided),
            m.deadline
        ),
        "invitation" => format!(
            "Access review: {} to review by {}",
            eligibilities(m.undecided),
            m.deadline
        ),
        "reminder" => format!(
            "Reminder: {} {} for your review (due {})",
            eligibilities(m.undecided),
            if m.undecided == 1 {
                "still waits"
            } else {
                "still wait"
            },
            m.deadline
        ),
        "rerun" => format!(
            "Access review re-opened: {} still to review by {}",
            eligibilities(m.undecided),
            m.deadline
        ),
        "stage" => format!(
            "Access review, {}: {} to review by {}",
            m.stage_line.as_deref().unwrap_or("next stage"),
            eligibilities(m.undecided),
            m.deadline
        ),
        "escalation" => format!(
            "Escalated to you: {} in {}",
            crate::domain::figures::count(
                m.undecided,
                "unanswered eligibility",
                "unanswered eligibilities"
            ),
            m.campaign_name
        ),
        "thanks" => format!("Thank you: your review for {} is complete", m.campaign_name),
        "outcome" => format!("{} {} is complete", m.campaign_name, m.period),
        "removals_awaiting_confirmation" => {
            format!(
                "Action needed: automatic removals in {} {} wait for your confirmation",
                m.campaign_name, m.period
            )
        }
        "launch_waiting" => format!(
            "Action needed: {} {} has not launched, its source cannot be synced",
            m.campaign_name, m.period
        ),
        "invitations_failed" => format!(
            "Invitations not delivered: {} of {} {} never got theirs",
            crate::domain::figures::count(m.failed_reviewers, "reviewer", "reviewers"),
            m.campaign_name,
            m.period
        ),
        "challenge_opened" => format!(
            "Your access {} is to be removed: give a reason by {}",
            m.item.as_deref().unwrap_or_default(),
            m.deadline
        ),
        "challenge_submitted" => format!(
            "{} challenges the removal of {}: answer by {}",
            m.holder.as_deref().unwrap_or_default(),
            m.item.as_deref().unwrap_or_default(),
            m.deadline
        ),
        "activation_review" => format!(
            "Activation review {}: {} in the roles you own",
            m.period,
            crate::domain::figures::count(m.items, "finding", "findings")
        ),
        "leaver" => format!(
            "Access removed: {} left ({})",
            m.holder.as_deref().unwrap_or_default(),
            eligibilities(m.items)
        ),
        other => other.to_string(),
    }
}

/// The Message-ID of the mail with this idempotency key: the same key always gives the same
/// id, so a receiving system can tell a resend from a new mail.
pub fn message_id(idempotency_key: &str, from: &Mailbox) -> String {
    let digest = hex::encode(Sha256::digest(idempotency_key.as_bytes()));
    format!("<{}@{}>", &digest[..40], from.email.domain())
}

/// `Auto-Submitted: auto-generated` (RFC 3834): every mail attest sends is written by a
/// machine, so vacation responders and other automatic replies leave it unanswered instead of
/// writing back to the sender address.
fn auto_submitted() -> HeaderValue {
    HeaderValue::new(
        HeaderName::new_from_ascii_str("Auto-Submitted"),
        "auto-generated".to_string(),
    )
}

/// Builds the multipart (text + HTML) message.
pub fn compose(
    template: &str,
    m: &MailContext,
    from: &Mailbox,
    to: &str,
    idempotency_key: &str,
) -> Result<(Message, String), String> {
    let to: Mailbox = match to.parse::<lettre::Address>() {
        Ok(address) => Mailbox::new(
            Some(m.recipient_name.clone()).filter(|n| !n.is_empty()),
            address,
        ),
        Err(e) => return Err(format!("bad recipient address \"{to}\": {e}")),
    };
    let (text, html) = render(template, m)?;
    let id = message_id(idempotency_key, from);
    let message = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject(template, m))
        .message_id(Some(id.clone()))
        .raw_header(auto_submitted())
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        )
        .map_err(|e| e.to_string())?;
    Ok((message, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_count_in_the_right_number() {
        let one = MailContext {
            undecided: 1,
            deadline: "Friday".into(),
            campaign_name: "q".into(),
            ..MailContext::default()
        };
        assert_eq!(
            subject("invitation", &one),
            "Access review: 1 eligibility to review by Friday"
        );
        assert_eq!(
            subject("reminder", &one),
            "Reminder: 1 eligibility still waits for your review (due Friday)"
        );
        let two = MailContext {
            undecided: 2,
            ..one
        };
        assert_eq!(
            subject("escalation", &two),
            "Escalated to you: 2 unanswered eligibilities in q"
        );
    }

    #[test]
    fn invitation_has_text_and_html_with_the_link() {
        let m = MailContext {
            recipient_name: "Ana Bauer".into(),
            campaign_name: "high-risk-quarterly".into(),
            period: "2027-Q1".into(),
            items: 3,
            undecided: 3,
            deadline: "Friday 15 January 2027, 09:00 (Europe/Berlin)".into(),
            link: Some("https://attest.example/r/abc".into()),
            ..MailContext::default()
        };
        let from: Mailbox = "attest <attest@example.test>".parse().unwrap();
        let (message, id) = compose(
            "invitation",
            &m,
            &from,
            "ana@example.test",
            "invitation/1/2",
        )
        .unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/plain") && raw.contains("text/html"));
        assert!(raw.contains("https://attest.example/r/abc"));
        assert!(
            raw.contains("\r\nAuto-Submitted: auto-generated\r\n"),
            "{raw}"
        );
        assert_eq!(id, message_id("invitation/1/2", &from));
        assert!(compose("invitation", &m, &from, "not an address", "k").is_err());
    }

    /// RFC 3834: every mail attest sends says it was generated, so no vacation responder
    /// answers it.
    #[test]
    fn every_mail_is_marked_auto_generated() {
        let from: Mailbox = "attest <attest@example.test>".parse().unwrap();
        let m = MailContext {
            link: Some("https://attest.example/r/abc".into()),
            ..MailContext::default()
        };
        for template in [
            "invitation",
            "reminder",
            "rerun",
            "stage",
            "escalation",
            "thanks",
            "outcome",
            "removals_awaiting_confirmation",
            "launch_waiting",
            "invitations_failed",
            "activation_review",
            "leaver",
        ] {
            let (message, _) = compose(template, &m, &from, "ana@example.test", "k").unwrap();
            let raw = String::from_utf8(message.formatted()).unwrap();
            assert!(
                raw.contains("\r\nAuto-Submitted: auto-generated\r\n"),
                "{template}:\n{raw}"
            );
        }
    }

    /// The review link written out in full may break anywhere, so a phone wraps it instead of
    /// widening the mail (inline: mail clients drop `<style>`).
    #[test]
    fn the_written_out_review_link_wraps_on_a_phone() {
        let m = MailContext {
            link: Some("https://attest.example/r/abc".into()),
            ..MailContext::default()
        };
        for template in ["invitation", "reminder", "rerun", "stage", "escalation"] {
            let (_, html) = render(template, &m).unwrap();
            let html = html.replace("&#x2f;", "/");
            assert!(
                html.contains(
                    r#"style="color: #0b5cad; word-break: break-all; overflow-wrap: anywhere;">https://attest.example/r/abc</a>"#
                ),
                "{template}:\n{html}"
            );
        }
    }
}
