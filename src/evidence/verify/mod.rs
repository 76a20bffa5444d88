//! `attest evidence verify`: checks a bundle offline, with nothing but the bundle and the key it
//! should be signed with. Every file's hash, the manifest's signature and signer, the row count
//! against the population, and the audit excerpt's hash chain.
//!
//! A bundle may come from anyone, so reading it is bounded: the manifest is read only up to
//! [`MANIFEST_MAX_BYTES`] and parsed strictly, a zip's directory only up to
//! [`ZIP_DIRECTORY_MAX_BYTES`], no file past the size its manifest gives, a CSV record only up
//! to [`RECORD_MAX_BYTES`] and an audit line up to [`AUDIT_LINE_MAX_BYTES`]. Memory stays
//! within those bounds whatever the bundle holds.
//!
//! This file holds the checks, in order; reading the folder or zip is in `bundle_reader` and
//! reading its CSV files record by record in `csv_records`.

mod bundle_reader;
mod csv_records;

use super::manifest::{parse_strict, Manifest};
use super::signing::check_signature;
use crate::domain::audit_chain::{ChainVerifier, ChainedEvent};
use bundle_reader::Bundle;
use csv_records::{count_inconsistent, count_rows, GuardedCsv};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

/// The largest `manifest.json` read: a manifest lists seven files in about 1.5 KiB.
pub const MANIFEST_MAX_BYTES: u64 = 64 << 10;
/// The largest zip directory read (a bundle's lists seven entries in under 1 KiB).
pub const ZIP_DIRECTORY_MAX_BYTES: u64 = 64 << 10;
/// The longest record of `items.csv` read. Today's limits make a row a few KiB; bundles from
/// before those limits may hold longer justifications, and must still verify.
pub const RECORD_MAX_BYTES: u64 = 16 << 20;
/// The longest line of `audit.jsonl` read: one bulk decision is one event listing every item
/// it decided (1,200 decisions with justifications make a line of about 1.3 MB).
pub const AUDIT_LINE_MAX_BYTES: u64 = 64 << 20;

/// Who signed the bundle, as far as the verification could tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Signer {
    /// Signed by a pinned key (the one given, or one of this instance's).
    Pinned,
    /// The signature is valid for the key the manifest names, but no key was pinned: anyone
    /// could have re-signed the bundle with a key of their own.
    #[default]
    NotPinned,
}

/// The keys a bundle must be signed with, and where they came from (said in the output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// Hex Ed25519 public keys; any one of them will do.
    pub keys: Vec<String>,
    /// "the pinned key", or where the keys were read.
    pub from: String,
}

impl Pin {
    /// One key, given by the user (`--key`).
    pub fn key(key: &str) -> Self {
        Self {
            keys: vec![key.trim().to_string()],
            from: "the pinned key".into(),
        }
    }
}

/// What passed, in order; a failure names the first problem after the checks that passed.
///
/// Integrity (the files are what was signed) and consistency (the access the source showed
/// after remediation matches every outcome) are separate answers: an intact bundle can truly
/// record that some removals did not hold.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    pub passed: Vec<String>,
    pub problem: Option<String>,
    pub signer: Signer,
    /// The key the manifest names (hex), once it was read.
    pub public_key: Option<String>,
    /// Rows of after_remediation.csv whose eligibility is not as its outcome requires, and
    /// how many rows it has (once it was read).
    pub inconsistent: Option<(u64, u64)>,
}

impl Verification {
    fn pass(&mut self, what: impl Into<String>) {
        self.passed.push(what.into());
    }

    /// Intact and signed by a pinned key: the only answer that proves who made the bundle.
    pub fn trusted(&self) -> bool {
        self.problem.is_none() && self.signer == Signer::Pinned
    }
}

/// Verifies the bundle at `path` (folder or zip). With `pinned`, the manifest must be signed by
/// that key (hex, as `attest evidence key` prints it).
pub fn verify(path: &Path, pinned: Option<&str>) -> Verification {
    verify_pinned(path, pinned.map(Pin::key).as_ref())
}

/// Verifies the bundle at `path` against any of the pinned keys, or none.
pub fn verify_pinned(path: &Path, pin: Option<&Pin>) -> Verification {
    let mut v = Verification::default();
    if let Err(problem) = run(path, pin, &mut v) {
        v.problem = Some(problem);
    }
    v
}

/// The parts of `campaign.json` a verification checks; the rest is skipped as it is read, so
/// the file's size does not matter to memory.
#[derive(Deserialize)]
struct CampaignFacts {
    campaign: CampaignId,
    population: Population,
    after_remediation: Option<AfterRemediation>,
    /// The challenge period's file (absent from bundles without one, and older ones).
    #[serde(default)]
    challenges: Option<Carried>,
}

#[derive(Deserialize)]
struct AfterRemediation {
    inconsistent: u64,
}

#[derive(Deserialize)]
struct CampaignId {
    id: i64,
}

#[derive(Deserialize)]
struct Population {
    at_launch: AtLaunch,
    /// Delta-only campaigns' carried decisions (absent from other bundles and older ones).
    #[serde(default)]
    carried_forward: Option<Carried>,
    /// Items that are standing access (absent from bundles written before it was counted).
    #[serde(default)]
    standing_access: Option<Carried>,
}

#[derive(Deserialize)]
struct Carried {
    count: u64,
}

#[derive(Deserialize)]
struct AtLaunch {
    count: u64,
    sha256: String,
}

fn run(path: &Path, pin: Option<&Pin>, v: &mut Verification) -> Result<(), String> {
    let mut bundle = Bundle::open(path)?;
    let text = bundle.read_small("manifest.json", MANIFEST_MAX_BYTES)?;
    let manifest: Manifest = parse_strict(&text)?;
    check_signature(&manifest)?;
    let signer = manifest.body.public_key.clone();
    v.public_key = Some(signer.clone());
    v.pass(format!(
        "manifest.json: signature valid (Ed25519 key {signer})"
    ));
    match pin {
        Some(pin) if pin.keys.iter().any(|k| k.eq_ignore_ascii_case(&signer)) => {
            v.signer = Signer::Pinned;
            v.pass(format!("manifest.json: signed by {}", pin.from));
        }
        Some(pin) => {
            return Err(format!(
                "manifest.json: signed by key {signer}, not by {} {} (the bundle was re-signed, or comes from another instance)",
                pin.from,
                pin.keys.join(", ")
            ));
        }
        None => v.signer = Signer::NotPinned,
    }

    let names = bundle.names()?;
    for name in &names {
        if name != "manifest.json" && !manifest.body.files.iter().any(|f| &f.name == name) {
            return Err(format!(
                "{name}: not listed in the manifest (a file was added)"
            ));
        }
    }
    for entry in &manifest.body.files {
        if !names.contains(&entry.name) {
            return Err(format!(
                "{}: listed in the manifest but missing from the bundle",
                entry.name
            ));
        }
        let size = bundle
            .size(&entry.name)
            .map_err(|e| format!("{}: {e}", entry.name))?;
        if size != entry.bytes {
            return Err(format!(
                "{}: {size} bytes, but the manifest says {} (the file was altered)",
                entry.name, entry.bytes
            ));
        }
        let mut reader = bundle
            .reader(&entry.name, entry.bytes)
            .map_err(|e| format!("{}: {e}", entry.name))?;
        let mut hasher = Sha256::new();
        let bytes = io::copy(&mut reader, &mut HashSink(&mut hasher))
            .map_err(|e| format!("{}: {e}", entry.name))?;
        if hex::encode(hasher.finalize()) != entry.sha256 || bytes != entry.bytes {
            return Err(format!(
                "{}: SHA-256 does not match the manifest (the file was altered)",
                entry.name
            ));
        }
        v.pass(format!("{}: SHA-256 matches ({bytes} bytes)", entry.name));
    }
    // Every file below was just hashed against the manifest: each read is bounded by its size.
    let size_of = |name: &str| {
        manifest
            .body
            .files
            .iter()
            .find(|f| f.name == name)
            .map_or(0, |f| f.bytes)
    };

    let campaign: CampaignFacts = serde_json::from_reader(
        bundle
            .reader("campaign.json", size_of("campaign.json"))
            .map_err(|e| format!("campaign.json: {e}"))?,
    )
    .map_err(|e| format!("campaign.json: not what a bundle holds: {e}"))?;
    if campaign.campaign.id != manifest.body.campaign_id {
        return Err("campaign.json: names another campaign than the manifest".into());
    }
    let population = campaign.population.at_launch.count;
    let (rows, listing, standing) = {
        let mut csv = GuardedCsv::new(
            "items.csv",
            bundle
                .reader("items.csv", size_of("items.csv"))
                .map_err(|e| format!("items.csv: {e}"))?,
        );
        // Bundles written before standing access was tracked have no `assignment` column.
        let assignment = csv.headers()?.iter().position(|h| h == "assignment");
        let (mut rows, mut standing) = (0u64, 0u64);
        let mut listing = Sha256::new();
        let mut record = csv::StringRecord::new();
        while csv.next(&mut record)? {
            rows += 1;
            let cell = |i: usize| record.get(i).unwrap_or("");
            listing.update(format!("{},{},{},{}\n", cell(1), cell(2), cell(6), cell(8)).as_bytes());
            standing += u64::from(assignment.is_some_and(|i| cell(i) == "active"));
        }
        (
            rows,
            hex::encode(listing.finalize()),
            assignment.map(|_| standing),
        )
    };
    if rows != population {
        return Err(format!(
            "items.csv: {rows} rows, but campaign.json says the population was {population}"
        ));
    }
    v.pass(format!(
        "items.csv: {rows} rows, one per eligibility in the population"
    ));
    if campaign.population.at_launch.sha256 != listing {
        return Err("items.csv: its population listing does not match the SHA-256 recorded in campaign.json".into());
    }
    v.pass("items.csv: the population listing matches the SHA-256 in campaign.json");
    match (&campaign.population.standing_access, standing) {
        (Some(recorded), Some(standing)) if recorded.count != standing => {
            return Err(format!(
                "items.csv: {standing} rows of standing access (assignment active), but campaign.json says {}",
                recorded.count
            ))
        }
        (Some(_), Some(standing)) => v.pass(format!(
            "items.csv: {standing} rows of standing access, as campaign.json counts"
        )),
        (Some(_), None) => {
            return Err("items.csv: campaign.json counts standing access, but items.csv has no assignment column".into())
        }
        // Older bundles: neither the count nor the column, nothing to check.
        (None, _) => {}
    }

    if names.iter().any(|n| n == "after_remediation.csv") {
        let (rows, inconsistent) = count_inconsistent(
            bundle
                .reader("after_remediation.csv", size_of("after_remediation.csv"))
                .map_err(|e| format!("after_remediation.csv: {e}"))?,
        )?;
        let recorded = campaign.after_remediation.map(|a| a.inconsistent);
        if recorded.is_some_and(|r| r != inconsistent) {
            return Err(format!(
                "after_remediation.csv: {inconsistent} rows not consistent, but campaign.json says {}",
                recorded.unwrap_or_default()
            ));
        }
        v.inconsistent = Some((inconsistent, rows));
    }

    for (name, recorded, what) in [
        (
            "carried_forward.csv",
            campaign
                .population
                .carried_forward
                .as_ref()
                .map(|c| c.count),
            "decision carried forward",
        ),
        (
            "challenges.csv",
            campaign.challenges.as_ref().map(|c| c.count),
            "revocation held for the challenge period",
        ),
    ] {
        let present = names.iter().any(|n| n == name);
        match (recorded, present) {
            (Some(recorded), true) => {
                let rows = count_rows(
                    name,
                    bundle
                        .reader(name, size_of(name))
                        .map_err(|e| format!("{name}: {e}"))?,
                )?;
                if rows != recorded {
                    return Err(format!(
                        "{name}: {rows} rows, but campaign.json counts {recorded} (one per {what})"
                    ));
                }
                v.pass(format!("{name}: {rows} rows, one per {what}"));
            }
            (Some(_), false) => {
                return Err(format!(
                    "{name}: campaign.json counts its rows, but the bundle has no such file"
                ))
            }
            (None, true) => return Err(format!("{name}: campaign.json does not count its rows")),
            (None, false) => {}
        }
    }

    let mut reader = BufReader::new(
        bundle
            .reader("audit.jsonl", size_of("audit.jsonl"))
            .map_err(|e| format!("audit.jsonl: {e}"))?,
    );
    let mut verifier: Option<ChainVerifier> = None;
    let mut line = Vec::new();
    for number in 1.. {
        line.clear();
        let read = reader
            .by_ref()
            .take(AUDIT_LINE_MAX_BYTES + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("audit.jsonl: {e}"))?;
        if read == 0 {
            break;
        }
        if read as u64 > AUDIT_LINE_MAX_BYTES {
            return Err(format!(
                "audit.jsonl line {number}: longer than {} MiB, more than an audit event",
                AUDIT_LINE_MAX_BYTES >> 20
            ));
        }
        if line.trim_ascii().is_empty() {
            continue;
        }
        let event: ChainedEvent =
            serde_json::from_slice(&line).map_err(|e| format!("audit.jsonl line {number}: {e}"))?;
        let chain =
            verifier.get_or_insert_with(|| ChainVerifier::after(event.seq - 1, &event.prev_hash));
        chain
            .check(&event)
            .map_err(|broken| format!("audit.jsonl: {broken}"))?;
    }
    let checked = verifier.map_or(0, |c| c.checked);
    v.pass(format!(
        "audit.jsonl: hash chain unbroken over {checked} events"
    ));
    Ok(())
}

struct HashSink<'a>(&'a mut Sha256);

impl io::Write for HashSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
