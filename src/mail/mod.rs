//! Mail: every mail is an outbox row first (the engine queues them in the same transaction as
//! the change they announce); the worker here composes each (askama, plain text and HTML),
//! issues the reviewer's link when it carries one, and sends it through a transport (an SMTP
//! pool, or `.eml` files when no server is configured).

pub mod challenge;
pub mod compose;
pub mod transport;
pub mod worker;

pub use transport::{transport_from_config, MailTransport};
pub use worker::Mailer;
