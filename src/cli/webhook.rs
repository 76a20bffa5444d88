//! `attest webhook list | test`: the outbound event endpoints of attest.toml
//! (`[webhooks.NAME]`, docs/webhooks.md) with their deliveries, and a signed `ping` to one.

use super::output::{self, say};
use super::Failure;
use crate::engine::Engine;
use crate::webhooks::{WebhookEndpoint, WebhookSender};
use clap::Subcommand;
use std::collections::BTreeMap;

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// The configured endpoints: URL, events, where the secret comes from, and deliveries
    /// pending / failed (retried) / delivered / given up.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Send a signed `ping` event to one endpoint and print its answer and receipt; exit 1
    /// when it does not answer 2xx. Nothing is queued.
    Test {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(
    engine: &Engine,
    endpoints: &BTreeMap<String, WebhookEndpoint>,
    command: WebhookCommand,
    actor: &str,
) -> Result<(), Failure> {
    match command {
        WebhookCommand::List { json } => {
            let listing = engine.list_webhooks(endpoints).await?;
            if json {
                return output::print_json(&listing);
            }
            if listing.is_empty() {
                say!("no webhooks configured: add [webhooks.NAME] tables to attest.toml (docs/webhooks.md)");
            }
            for e in &listing {
                let events = if e.events.is_empty() {
                    "all events".to_string()
                } else {
                    e.events.join(", ")
                };
                let secret = if e.secret_set { "set" } else { "NOT SET" };
                say!(
                    "{} {} · {events} · secret from ${} ({secret})",
                    e.name,
                    e.url,
                    e.secret_env
                );
                say!(
                    "  deliveries: {} pending, {} failed (retried), {} delivered, {} given up",
                    e.pending,
                    e.failed,
                    e.delivered,
                    e.given_up
                );
            }
            Ok(())
        }
        WebhookCommand::Test { name, json } => {
            let Some(endpoint) = endpoints.get(&name) else {
                let known: Vec<&str> = endpoints.keys().map(String::as_str).collect();
                return Err(Failure::usage(format!(
                    "no [webhooks.{name}] in attest.toml (configured: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )));
            };
            let one = BTreeMap::from([(name.clone(), endpoint.clone())]);
            let sender = WebhookSender::new(engine.clone(), &one).map_err(Failure::usage)?;
            let outcome = match sender.ping(&name).await {
                Ok(answer) if (200..300).contains(&answer.status) => {
                    Ok((answer.status, answer.receipt))
                }
                Ok(answer) => Err(format!(
                    "{} answered {} to a signed ping",
                    endpoint.url, answer.status
                )),
                Err(e) => Err(e),
            };
            engine.audit_webhook_test(&name, actor, &outcome).await?;
            match outcome {
                Ok((status, receipt)) => {
                    if json {
                        return output::print_json(&serde_json::json!({
                            "endpoint": name, "status": status, "receipt": receipt,
                        }));
                    }
                    say!(
                        "webhook {name}: {} answered {status} to a signed ping; receipt: {}",
                        endpoint.url,
                        receipt.as_deref().unwrap_or("(none)")
                    );
                    Ok(())
                }
                Err(e) => Err(Failure::runtime(format!("webhook {name}: {e}"))),
            }
        }
    }
}
