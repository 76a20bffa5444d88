//! The mail outbox: every mail is a row before it is anything else. The idempotency key makes
//! queuing the same mail twice (a retried step, two instances) a no-op.

mod counts;
mod delivery;
mod failed;
mod queue;
pub use counts::{count, mail_counts, reviewer_mail, MailCounts};
pub use delivery::{
    lease_due, recipients, record_delivery, set_link_nonces, Delivery, OutboxRow, Recipient,
};
pub use failed::{queue_probe, requeue_failed, unreported_failed_invitations, FailedInvitations};
pub use queue::{queue_for_reviewers, queue_to_principal};

/// Mail templates the engine queues; the mail module composes them at send time.
pub mod template {
    pub const INVITATION: &str = "invitation";
    pub const REMINDER: &str = "reminder";
    /// To each reviewer with unanswered items when a campaign is re-run: a fresh link.
    pub const RERUN: &str = "rerun";
    /// A later stage of a multi-stage campaign opened: its reviewers' invitation.
    pub const STAGE: &str = "stage";
    pub const ESCALATION: &str = "escalation";
    pub const REMOVALS_AWAITING_CONFIRMATION: &str = "removals_awaiting_confirmation";
    pub const OUTCOME: &str = "outcome";
    pub const THANKS: &str = "thanks";
    /// To a definition's owner: its scheduled launch waits for a source that cannot be synced.
    pub const LAUNCH_WAITING: &str = "launch_waiting";
    /// To a campaign's owner, once mail goes out again: invitations were given up.
    pub const INVITATIONS_FAILED: &str = "invitations_failed";
}

/// How a mail that failed because its server was unreachable or busy through every attempt
/// starts its `last_error`: such mail is queued again once the server answers (a mail that
/// failed for good, like a refused address, is not).
pub const GAVE_UP_UNREACHABLE: &str = "gave up while the mail server was unreachable or busy";
