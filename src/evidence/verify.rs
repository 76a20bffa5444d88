//! `attest evidence verify`: checks a bundle offline, with nothing but the bundle (and, ideally,
//! the instance's public key pinned with `--key`). Every file's hash, the manifest's signature,
//! the row count against the population, and the audit excerpt's hash chain.

use super::manifest::{check_signature, Manifest};
use crate::domain::audit_chain::{ChainVerifier, ChainedEvent};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// What passed, in order; a failure names the first problem after the checks that passed.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    pub passed: Vec<String>,
    pub problem: Option<String>,
}

enum Bundle {
    Dir(PathBuf),
    Zip(zip::ZipArchive<File>),
}

impl Bundle {
    fn open(path: &Path) -> Result<Self, String> {
        if path.is_dir() {
            return Ok(Bundle::Dir(path.to_path_buf()));
        }
        let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        zip::ZipArchive::new(file)
            .map(Bundle::Zip)
            .map_err(|e| format!("{}: not a folder or a readable zip: {e}", path.display()))
    }

    fn names(&mut self) -> Result<Vec<String>, String> {
        match self {
            Bundle::Dir(dir) => {
                let mut names = Vec::new();
                for entry in std::fs::read_dir(&*dir).map_err(|e| e.to_string())? {
                    let entry = entry.map_err(|e| e.to_string())?;
                    names.push(entry.file_name().to_string_lossy().into_owned());
                }
                Ok(names)
            }
            Bundle::Zip(zip) => Ok(zip.file_names().map(str::to_string).collect()),
        }
    }

    fn reader(&mut self, name: &str) -> io::Result<Box<dyn Read + '_>> {
        match self {
            Bundle::Dir(dir) => Ok(Box::new(BufReader::new(File::open(dir.join(name))?))),
            Bundle::Zip(zip) => Ok(Box::new(
                zip.by_name(name)
                    .map_err(|e| io::Error::new(io::ErrorKind::NotFound, e))?,
            )),
        }
    }
}

impl Verification {
    fn pass(&mut self, what: impl Into<String>) {
        self.passed.push(what.into());
    }
}

/// Verifies the bundle at `path` (folder or zip). With `pinned`, the manifest must be signed by
/// that key (hex, as `attest evidence key` prints it).
pub fn verify(path: &Path, pinned: Option<&str>) -> Verification {
    let mut v = Verification::default();
    if let Err(problem) = run(path, pinned, &mut v) {
        v.problem = Some(problem);
    }
    v
}

fn run(path: &Path, pinned: Option<&str>, v: &mut Verification) -> Result<(), String> {
    let mut bundle = Bundle::open(path)?;
    let mut text = String::new();
    bundle
        .reader("manifest.json")
        .and_then(|mut r| r.read_to_string(&mut text))
        .map_err(|e| format!("manifest.json: cannot be read: {e}"))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| format!("manifest.json: not a valid manifest: {e}"))?;
    check_signature(&manifest)?;
    v.pass(format!(
        "manifest.json: signature valid (Ed25519 key {})",
        manifest.body.public_key
    ));
    match pinned {
        Some(key) if !key.trim().eq_ignore_ascii_case(&manifest.body.public_key) => {
            return Err(format!(
                "manifest.json: signed by key {}, not by the pinned key {} (the bundle was re-signed)",
                manifest.body.public_key,
                key.trim()
            ));
        }
        Some(_) => v.pass("manifest.json: signed by the pinned key"),
        None => v.pass("manifest.json: no key pinned (pass --key to reject a bundle re-signed with another key)"),
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
        let mut reader = bundle
            .reader(&entry.name)
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

    let mut campaign = String::new();
    bundle
        .reader("campaign.json")
        .and_then(|mut r| r.read_to_string(&mut campaign))
        .map_err(|e| format!("campaign.json: {e}"))?;
    let campaign: serde_json::Value =
        serde_json::from_str(&campaign).map_err(|e| format!("campaign.json: not JSON: {e}"))?;
    if campaign["campaign"]["id"].as_i64() != Some(manifest.body.campaign_id) {
        return Err("campaign.json: names another campaign than the manifest".into());
    }
    let population = campaign["population"]["at_launch"]["count"]
        .as_u64()
        .ok_or("campaign.json: population.at_launch.count is missing")?;
    let (rows, listing) = {
        let reader = bundle
            .reader("items.csv")
            .map_err(|e| format!("items.csv: {e}"))?;
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(reader);
        let mut rows = 0u64;
        let mut listing = Sha256::new();
        let mut record = csv::StringRecord::new();
        while csv
            .read_record(&mut record)
            .map_err(|e| format!("items.csv: {e}"))?
        {
            rows += 1;
            let cell = |i: usize| record.get(i).unwrap_or("");
            listing.update(format!("{},{},{},{}\n", cell(1), cell(2), cell(6), cell(8)).as_bytes());
        }
        (rows, hex::encode(listing.finalize()))
    };
    if rows != population {
        return Err(format!(
            "items.csv: {rows} rows, but campaign.json says the population was {population}"
        ));
    }
    v.pass(format!(
        "items.csv: {rows} rows, one per eligibility in the population"
    ));
    if campaign["population"]["at_launch"]["sha256"].as_str() != Some(listing.as_str()) {
        return Err("items.csv: its population listing does not match the SHA-256 recorded in campaign.json".into());
    }
    v.pass("items.csv: the population listing matches the SHA-256 in campaign.json");

    let reader = BufReader::new(
        bundle
            .reader("audit.jsonl")
            .map_err(|e| format!("audit.jsonl: {e}"))?,
    );
    let mut verifier: Option<ChainVerifier> = None;
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| format!("audit.jsonl: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let event: ChainedEvent =
            serde_json::from_str(&line).map_err(|e| format!("audit.jsonl line {}: {e}", i + 1))?;
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
