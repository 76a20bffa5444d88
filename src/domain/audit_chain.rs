//! The audit log's hash chain: each event stores the SHA-256 of the one before, so an edited,
//! deleted or inserted event shows up as a break when the chain is walked from the start.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;

/// The `prev_hash` of the very first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit event as stored: its content plus its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ChainedEvent {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    /// JSON text, hashed byte for byte as stored.
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// What is hashed, in this field order; changing it would break every existing chain.
#[derive(Serialize)]
struct Canonical<'a> {
    seq: i64,
    at: String,
    actor: &'a str,
    action: &'a str,
    target: Option<&'a str>,
    details: &'a str,
    prev_hash: &'a str,
}

/// The hash an event with this content must carry after `prev_hash`.
pub fn event_hash(
    seq: i64,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    target: Option<&str>,
    details: &str,
    prev_hash: &str,
) -> String {
    let canonical = Canonical {
        seq,
        at: at.to_rfc3339_opts(SecondsFormat::Micros, true),
        actor,
        action,
        target,
        details,
        prev_hash,
    };
    // Serialising plain strings and integers cannot fail.
    let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
    hex::encode(Sha256::digest(bytes))
}

impl ChainedEvent {
    /// Builds the event that follows `prev` (or starts the chain when `prev` is `None`).
    pub fn next(
        prev: Option<(i64, &str)>,
        at: DateTime<Utc>,
        actor: &str,
        action: &str,
        target: Option<&str>,
        details: String,
    ) -> Self {
        let (seq, prev_hash) = match prev {
            Some((seq, hash)) => (seq + 1, hash.to_string()),
            None => (1, GENESIS.to_string()),
        };
        let hash = event_hash(seq, at, actor, action, target, &details, &prev_hash);
        Self {
            seq,
            at,
            actor: actor.to_string(),
            action: action.to_string(),
            target: target.map(str::to_string),
            details,
            prev_hash,
            hash,
        }
    }

    fn computed_hash(&self) -> String {
        event_hash(
            self.seq,
            self.at,
            &self.actor,
            &self.action,
            self.target.as_deref(),
            &self.details,
            &self.prev_hash,
        )
    }
}

/// The first place where a chain stops being intact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainBreak {
    /// The event's content no longer matches its own hash: it was edited.
    Altered { seq: i64 },
    /// The event does not point at the hash of the event before it.
    Unlinked { seq: i64 },
    /// Sequence numbers skip: events are missing (or were inserted out of order).
    Gap { expected: i64, found: i64 },
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainBreak::Altered { seq } => {
                write!(f, "event #{seq} was altered: its content does not match its hash")
            }
            ChainBreak::Unlinked { seq } => write!(
                f,
                "event #{seq} does not follow the event before it: its prev_hash differs from that event's hash"
            ),
            ChainBreak::Gap { expected, found } => {
                write!(f, "event #{expected} is missing: the next event found is #{found}")
            }
        }
    }
}

/// Walks a chain one event at a time, in `seq` order, so it can check any length in flat memory.
#[derive(Debug)]
pub struct ChainVerifier {
    expected_seq: i64,
    expected_prev: String,
    pub checked: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            expected_seq: 1,
            expected_prev: GENESIS.to_string(),
            checked: 0,
        }
    }
}

impl ChainVerifier {
    /// Starts in the middle of a chain, after the event `(seq, hash)`; for excerpts of a log.
    pub fn after(seq: i64, hash: &str) -> Self {
        Self {
            expected_seq: seq + 1,
            expected_prev: hash.to_string(),
            checked: 0,
        }
    }

    pub fn check(&mut self, event: &ChainedEvent) -> Result<(), ChainBreak> {
        if event.seq != self.expected_seq {
            return Err(ChainBreak::Gap {
                expected: self.expected_seq,
                found: event.seq,
            });
        }
        if event.computed_hash() != event.hash {
            return Err(ChainBreak::Altered { seq: event.seq });
        }
        if event.prev_hash != self.expected_prev {
            return Err(ChainBreak::Unlinked { seq: event.seq });
        }
        self.expected_seq += 1;
        self.expected_prev.clone_from(&event.hash);
        self.checked += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<ChainedEvent> {
        let at = DateTime::parse_from_rfc3339("2026-11-26T10:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut events: Vec<ChainedEvent> = Vec::new();
        for i in 0..n {
            let prev = events.last().map(|e| (e.seq, e.hash.as_str()));
            let event = ChainedEvent::next(
                prev,
                at,
                "cli:test",
                "import.people",
                None,
                format!("{{\"n\":{i}}}"),
            );
            events.push(event);
        }
        events
    }

    fn verify(events: &[ChainedEvent]) -> Result<u64, ChainBreak> {
        let mut verifier = ChainVerifier::default();
        events.iter().try_for_each(|e| verifier.check(e))?;
        Ok(verifier.checked)
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(5));
    }

    #[test]
    fn an_edit_a_deletion_and_a_relink_are_each_named() {
        let mut edited = chain(5);
        edited[2].actor = "someone-else".into();
        assert_eq!(verify(&edited), Err(ChainBreak::Altered { seq: 3 }));

        let mut deleted = chain(5);
        deleted.remove(1);
        assert_eq!(
            verify(&deleted),
            Err(ChainBreak::Gap {
                expected: 2,
                found: 3
            })
        );

        // Rewriting an event and its own hash still breaks the link to the next one.
        let mut rehashed = chain(5);
        rehashed[2].details = "{}".into();
        rehashed[2].hash = rehashed[2].computed_hash();
        assert_eq!(verify(&rehashed), Err(ChainBreak::Unlinked { seq: 4 }));
    }
}
