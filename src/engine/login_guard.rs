//! What stands between the login form and the password hash: a throttle that slows repeated
//! failures (per client address, per account from one client, per account across clients),
//! and a bound on how many Argon2 checks run at once, each in a memory buffer reused from a
//! pool, so a flood of logins neither exhausts memory nor grows the heap.
//!
//! The throttle lives in this process's memory, bounded in size. Several `attest serve` on one
//! database each keep their own; the per-account part is also kept in the database
//! (`account.failed_logins`, `account.locked_until`) and read on every attempt, so it holds
//! across instances for real accounts. The policy (how many failures are free, how delays
//! grow) is the domain's, in [`crate::domain::access`]; this module only keeps the counts.

use crate::domain::access::{
    failures_forgotten, held_by_account_limit, ThrottlePolicy, PER_ACCOUNT, PER_ACCOUNT_AND_CLIENT,
    PER_CLIENT,
};
use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How many throttle entries are kept at most (about 64 bytes each: a few MB). When full, the
/// forgotten ones go first, then the quarter with the oldest latest attempt.
pub const MAX_ENTRIES: usize = 100_000;

/// How long a login waits for a free password check before it is answered 503.
pub const HASH_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Password checks at once: one per core, at least 2 and at most 4. Each takes Argon2's
/// 19 MiB, so the hashes never hold more than 4 × 19 MiB.
pub fn hashes_at_once() -> usize {
    std::thread::available_parallelism()
        .map_or(2, std::num::NonZeroUsize::get)
        .clamp(2, 4)
}

/// Which limit held an attempt back (for the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Client,
    AccountFromClient,
    Account,
}

impl Limit {
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Client => "too many failures from this client address",
            Limit::AccountFromClient => "too many failures for this account from this address",
            Limit::Account => "too many failures for this account",
        }
    }
}

/// The throttle's answer to an attempt.
#[derive(Debug)]
pub enum Admission {
    /// Go on to the password check; the attempt already counts as a failure until
    /// [`LoginGuard::succeeded`] or [`LoginGuard::refund`] says otherwise. Counting before the
    /// check is what makes concurrent guesses meet the limit: each is counted the moment it is
    /// let through, not after its hash.
    Go(Ticket),
    /// Wait until `until`. `audit` is true for the first refusal after each counted failure,
    /// so the audit log gets at most one such event per failure.
    Throttled {
        until: DateTime<Utc>,
        limit: Limit,
        audit: bool,
    },
}

/// The keys an admitted attempt was counted under.
#[derive(Debug)]
pub struct Ticket {
    client: Key,
    pair: Key,
    account: Key,
}

/// A digest of what a limit is keyed by: fixed size whatever was submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key([u8; 16]);

impl Key {
    fn of(kind: &str, parts: &[&str]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(kind.as_bytes());
        for part in parts {
            hasher.update([0]);
            hasher.update(part.as_bytes());
        }
        let digest = hasher.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        Key(key)
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last: DateTime<Utc>,
    refusal_audited: bool,
}

/// The throttle's counts and the hashing bound, one per engine.
pub struct LoginGuard {
    entries: Mutex<HashMap<Key, Entry>>,
    max_entries: usize,
    hashing: Arc<Semaphore>,
    /// Argon2 working memory, one buffer per permit, reused.
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
    hash_wait: std::time::Duration,
}

impl LoginGuard {
    pub fn new(hashes_at_once: usize, max_entries: usize, hash_wait: std::time::Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            max_entries,
            hashing: Arc::new(Semaphore::new(hashes_at_once.max(1))),
            buffers: Arc::new(Mutex::new(Vec::new())),
            hash_wait,
        }
    }

    /// Decides whether an attempt for `email` (normalised) from `client` may go on to the
    /// password check at `now`. `account_until` is the database's per-account hold, for an
    /// existing account (another instance may have set it).
    pub fn admit(
        &self,
        email: &str,
        client: &str,
        account_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Admission {
        let ticket = Ticket {
            client: Key::of("client", &[client]),
            pair: Key::of("pair", &[email, client]),
            account: Key::of("account", &[email]),
        };
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let live = |entries: &HashMap<Key, Entry>, key: &Key| {
            entries
                .get(key)
                .filter(|e| !failures_forgotten(e.last, now))
                .copied()
        };
        let own_failures = live(&entries, &ticket.pair).map_or(0, |e| e.failures);
        let mut limits: Vec<(Key, ThrottlePolicy, Limit)> = vec![
            (ticket.client, PER_CLIENT, Limit::Client),
            (
                ticket.pair,
                PER_ACCOUNT_AND_CLIENT,
                Limit::AccountFromClient,
            ),
        ];
        let account_applies = held_by_account_limit(own_failures);
        if account_applies {
            limits.push((ticket.account, PER_ACCOUNT, Limit::Account));
        }
        let mut held: Option<(DateTime<Utc>, Key, Limit)> = None;
        for (key, policy, limit) in limits {
            if let Some(entry) = live(&entries, &key) {
                let until = policy.next_attempt_at(entry.failures, entry.last);
                if now < until && held.is_none_or(|(h, _, _)| until > h) {
                    held = Some((until, key, limit));
                }
            }
        }
        if let Some(until) = account_until.filter(|u| account_applies && now < *u) {
            if held.is_none_or(|(h, _, _)| until > h) {
                held = Some((until, ticket.account, Limit::Account));
            }
        }
        if let Some((until, key, limit)) = held {
            // A hold set by another instance has no entry here yet: one without failures
            // remembers only that its refusal was audited.
            let entry = entries.entry(key).or_insert(Entry {
                failures: 0,
                last: now,
                refusal_audited: false,
            });
            let audit = !entry.refusal_audited;
            entry.refusal_audited = true;
            return Admission::Throttled {
                until,
                limit,
                audit,
            };
        }
        if entries.len() + 3 > self.max_entries {
            evict(&mut entries, self.max_entries, now);
        }
        for key in [ticket.client, ticket.pair, ticket.account] {
            let fresh = Entry {
                failures: 0,
                last: now,
                refusal_audited: false,
            };
            let entry = entries.entry(key).or_insert(fresh);
            if failures_forgotten(entry.last, now) {
                *entry = fresh;
            }
            entry.failures = entry.failures.saturating_add(1);
            entry.last = now;
            entry.refusal_audited = false;
        }
        Admission::Go(ticket)
    }

    /// The password was right: the account's counts start again, and the attempt no longer
    /// counts against the client address (whose other failures stay).
    pub fn succeeded(&self, ticket: &Ticket) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.remove(&ticket.pair);
        entries.remove(&ticket.account);
        uncount(&mut entries, &ticket.client);
    }

    /// The attempt never reached a password check (the server was busy): it counts for nothing.
    pub fn refund(&self, ticket: &Ticket) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        for key in [&ticket.client, &ticket.pair, &ticket.account] {
            uncount(&mut entries, key);
        }
    }

    /// How many throttle entries are kept (for tests of the bound).
    pub fn entries(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Checks `password` against the PHC string `hash` on a blocking thread, once one of the
    /// bounded permits is free; `None` when none came free within the wait. `hash` of `None`
    /// checks against a decoy that matches nothing, so an unknown email costs what a real one
    /// does.
    pub async fn check_password(&self, password: &str, hash: Option<String>) -> Option<bool> {
        let permit = tokio::time::timeout(self.hash_wait, self.hashing.clone().acquire_owned())
            .await
            .ok()?
            .ok()?;
        let password = password.to_string();
        let buffers = self.buffers.clone();
        // The permit moves into the blocking task: if the request is dropped meanwhile, the
        // hash still holds its permit until it finishes, so the bound is real.
        let checked = tokio::task::spawn_blocking(move || {
            let _permit: OwnedSemaphorePermit = permit;
            let mut buffer = buffers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()
                .unwrap_or_default();
            let hash = hash.unwrap_or_else(super::accounts::decoy_hash);
            let matches = verify(password.as_bytes(), &hash, &mut buffer);
            buffers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(buffer);
            matches
        })
        .await;
        Some(checked.unwrap_or(false))
    }

    /// How long a busy server tells the client to wait.
    pub fn busy_retry_secs(&self) -> i64 {
        i64::try_from(self.hash_wait.as_secs()).unwrap_or(10).max(1)
    }
}

/// One fewer counted failure under `key`.
fn uncount(entries: &mut HashMap<Key, Entry>, key: &Key) {
    if let Some(entry) = entries.get_mut(key) {
        entry.failures = entry.failures.saturating_sub(1);
    }
}

/// Makes room: drops forgotten entries, then, if still too full, the quarter with the oldest
/// latest attempt (one pass for many inserts, so a flood costs little per request).
fn evict(entries: &mut HashMap<Key, Entry>, max: usize, now: DateTime<Utc>) {
    entries.retain(|_, e| !failures_forgotten(e.last, now));
    if entries.len() + 3 <= max {
        return;
    }
    let mut lasts: Vec<DateTime<Utc>> = entries.values().map(|e| e.last).collect();
    let cut = lasts.len() / 4;
    let (_, threshold, _) = lasts.select_nth_unstable(cut);
    let threshold = *threshold;
    entries.retain(|_, e| e.last > threshold);
}

/// Argon2 verification as `PasswordVerifier` does it, but in `memory` (grown to the hash's
/// size once, then reused) instead of a fresh 19 MiB allocation each time: freed allocations
/// of that size stay in the allocator's per-thread arenas and the process's footprint grows
/// with every blocking thread that ever hashed.
fn verify(password: &[u8], phc: &str, memory: &mut Vec<Block>) -> bool {
    use subtle::ConstantTimeEq;
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params);
    let hashed =
        argon2.hash_password_into_with_memory(password, salt, &mut out, &mut memory[..blocks]);
    hashed.is_ok() && bool::from(out.ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn guard() -> LoginGuard {
        LoginGuard::new(2, 50, std::time::Duration::from_secs(1))
    }

    fn t0() -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000)
    }

    #[test]
    fn the_sixth_attempt_from_one_client_waits_and_the_wait_grows() {
        let g = guard();
        let now = t0();
        for _ in 0..5 {
            assert!(matches!(
                g.admit("a@x", "1.1.1.1", None, now),
                Admission::Go(_)
            ));
        }
        match g.admit("a@x", "1.1.1.1", None, now) {
            Admission::Throttled {
                until,
                limit,
                audit,
            } => {
                assert_eq!(until, now + Duration::seconds(1));
                assert_eq!(limit, Limit::AccountFromClient);
                assert!(audit);
            }
            other => panic!("{other:?}"),
        }
        // Only the first refusal is audited.
        assert!(matches!(
            g.admit("a@x", "1.1.1.1", None, now),
            Admission::Throttled { audit: false, .. }
        ));
        // Another client is not held, another email neither.
        assert!(matches!(
            g.admit("a@x", "2.2.2.2", None, now),
            Admission::Go(_)
        ));
        assert!(matches!(
            g.admit("b@x", "1.1.1.1", None, now),
            Admission::Go(_)
        ));
        let later = now + Duration::seconds(1);
        assert!(matches!(
            g.admit("a@x", "1.1.1.1", None, later),
            Admission::Go(_)
        ));
        assert!(matches!(
            g.admit("a@x", "1.1.1.1", None, later + Duration::seconds(1)),
            Admission::Throttled { .. }
        ));
    }

    #[test]
    fn a_success_starts_the_account_again_and_a_refund_uncounts() {
        let g = guard();
        let now = t0();
        let mut last = None;
        for _ in 0..5 {
            if let Admission::Go(t) = g.admit("a@x", "1.1.1.1", None, now) {
                last = Some(t);
            }
        }
        let ticket = last.expect("admitted");
        g.refund(&ticket);
        let Admission::Go(ticket) = g.admit("a@x", "1.1.1.1", None, now) else {
            panic!("the refunded attempt did not count");
        };
        g.succeeded(&ticket);
        for _ in 0..5 {
            assert!(matches!(
                g.admit("a@x", "1.1.1.1", None, now),
                Admission::Go(_)
            ));
        }
    }

    #[test]
    fn the_database_hold_applies_only_to_clients_with_failures_of_their_own() {
        let g = guard();
        let now = t0();
        let until = now + Duration::seconds(30);
        assert!(matches!(
            g.admit("a@x", "1.1.1.1", Some(until), now),
            Admission::Go(_)
        ));
        assert!(matches!(
            g.admit("a@x", "1.1.1.1", Some(until), now),
            Admission::Throttled {
                limit: Limit::Account,
                ..
            }
        ));
        assert!(matches!(
            g.admit("a@x", "2.2.2.2", Some(until), now),
            Admission::Go(_)
        ));
    }

    #[test]
    fn random_emails_cannot_grow_the_table_past_its_bound() {
        let g = guard();
        let now = t0();
        for i in 0..10_000 {
            let _ = g.admit(
                &format!("{i}@x"),
                &format!("10.0.{}.{}", i / 256, i % 256),
                None,
                now + Duration::milliseconds(i),
            );
            assert!(g.entries() <= 50, "{} entries", g.entries());
        }
    }

    #[test]
    fn failures_are_forgotten_after_an_hour_without_attempts() {
        let g = guard();
        let now = t0();
        for _ in 0..8 {
            let _ = g.admit("a@x", "1.1.1.1", None, now);
        }
        assert!(matches!(
            g.admit("a@x", "1.1.1.1", None, now),
            Admission::Throttled { .. }
        ));
        assert!(matches!(
            g.admit("a@x", "1.1.1.1", None, now + Duration::hours(1)),
            Admission::Go(_)
        ));
    }

    #[test]
    fn verification_in_reused_memory_matches_argon2() {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::encode_b64(&[7u8; 16]).expect("salt");
        let phc = Argon2::default()
            .hash_password(b"correct horse", &salt)
            .expect("hash")
            .to_string();
        let mut memory = Vec::new();
        assert!(verify(b"correct horse", &phc, &mut memory));
        assert!(!verify(b"correct horsf", &phc, &mut memory));
        assert!(
            verify(b"correct horse", &phc, &mut memory),
            "dirty memory is fine"
        );
        assert!(!verify(b"correct horse", "not a hash", &mut memory));
    }
}
