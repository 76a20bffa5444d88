//! Outbound events (docs/webhooks.md): `[webhooks.NAME]` of attest.toml, the HMAC-SHA256
//! signature shared with webhook removals, and the sender that POSTs what the engine queued
//! in `webhook_delivery` (`attest serve` runs it; `attest webhook test` pings through it).

pub mod config;
pub mod sender;
pub mod signature;

pub use config::WebhookEndpoint;
pub use sender::WebhookSender;
