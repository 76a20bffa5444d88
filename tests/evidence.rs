//! Acceptance tests for evidence bundles (README, "Evidence for auditors"): what `attest
//! evidence export` writes, that `attest evidence verify` accepts it and names whatever was
//! changed afterwards, that items.csv is the database row by row (and safe to open in a
//! spreadsheet), the coverage and monthly reports, and a screenshot of report.html.
//!
//! Every test runs its own completed campaign (see `evidence_support`) in its own database:
//! SQLite, or PostgreSQL with ATTEST_TEST_DATABASE_URL.

mod campaign_support;
mod common;
mod evidence_support;

use attest::engine::evidence::{ExportOptions, ITEM_COLUMNS};
use attest::evidence::manifest::Manifest;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use common::attest_cli;
use entity::{
    campaign, decision, eligibility, evidence_bundle, evidence_chunk, principal, remediation,
    review_item,
};
use evidence_support::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use sha2::Digest;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

/// The same rule as CWE-1236 asks for, written independently of the code under test: a cell a
/// spreadsheet would evaluate gets a leading apostrophe.
fn spreadsheet_safe(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

fn starts_like_a_formula(cell: &str) -> bool {
    matches!(
        cell.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    )
}

/// Parses a CSV file (RFC 4180) with the csv crate: (header, records).
fn read_csv(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .expect("a header row")
        .iter()
        .map(str::to_string)
        .collect();
    let records: Vec<Vec<String>> = reader
        .records()
        .map(|r| {
            r.expect("an RFC 4180 record")
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect();
    (header, records)
}

/// Every file of a folder bundle, by name.
fn folder_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read bundle folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn all_bundle_names() -> Vec<String> {
    let mut names: Vec<String> = DATA_FILES.iter().map(|s| s.to_string()).collect();
    names.push("manifest.json".into());
    names.sort();
    names
}

/// Asserts that verify accepted `path` and printed its checks.
fn assert_verified(s: &Scenario, path: &Path, key: &str) {
    let (code, out, err) = s.verify_cli(path, Some(key));
    assert_eq!(
        code,
        0,
        "attest evidence verify {} --key {key} failed:\nstdout:\n{out}\nstderr:\n{err}",
        path.display()
    );
    for expected in [
        "manifest.json: signature valid".to_string(),
        "manifest.json: signed by the pinned key".to_string(),
        format!("items.csv: {POPULATION} rows"),
        "audit.jsonl: hash chain unbroken".to_string(),
        "bundle intact".to_string(),
    ] {
        assert!(
            out.contains(&expected),
            "verify of {} does not print \"{expected}\":\n{out}",
            path.display()
        );
    }
    for name in DATA_FILES {
        assert!(
            out.lines()
                .any(|l| l.contains(&format!("{name}: SHA-256 matches"))),
            "verify of {} does not print the hash check of {name}:\n{out}",
            path.display()
        );
    }
    let library = attest::evidence::verify::verify(path, Some(key));
    assert_eq!(
        library.problem,
        None,
        "verify() of {} found a problem",
        path.display()
    );
}

/// Checks that a folder bundle's manifest lists exactly the data files, with their real hashes.
fn assert_manifest_matches_folder(dir: &Path, key: &str, campaign_id: i64) {
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("read manifest"))
            .expect("manifest.json parses");
    assert_eq!(
        manifest.body.public_key, key,
        "manifest signed by another key"
    );
    assert_eq!(manifest.body.campaign_id, campaign_id);
    assert_eq!(manifest.body.format, "attest-evidence/1");
    let listed: Vec<&str> = manifest
        .body
        .files
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(listed, DATA_FILES.to_vec(), "files listed in the manifest");
    for f in &manifest.body.files {
        let bytes = std::fs::read(dir.join(&f.name)).expect("read listed file");
        assert_eq!(f.bytes, bytes.len() as u64, "{}: byte count", f.name);
        assert_eq!(f.sha256, sha256_hex(&bytes), "{}: SHA-256", f.name);
    }
    attest::evidence::signing::check_signature(&manifest).expect("the signature verifies");
}

fn export_cli(s: &Scenario, out: &Path, bom: bool) {
    let id = s.campaign_id.to_string();
    let out_arg = out.to_string_lossy().into_owned();
    let mut args = vec!["evidence", "export", id.as_str(), "--out", out_arg.as_str()];
    if bom {
        args.push("--bom");
    }
    let (code, stdout, stderr) = attest_cli(&s.db, &args);
    assert_eq!(
        code, 0,
        "attest {args:?} failed:\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("attest evidence verify"),
        "export does not say how to verify:\n{stdout}"
    );
}

async fn export_engine(s: &Scenario, out: &Path, bom: bool) {
    let report = s
        .engine
        .export_evidence(
            s.campaign_id,
            out,
            ExportOptions {
                bom,
                ..ExportOptions::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("export to {}: {e}", out.display()));
    assert_eq!(report.campaign_id, s.campaign_id);
    let names: Vec<&str> = report.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, DATA_FILES.to_vec());
}

// ---------------------------------------------------------------------------------------------
// 1. Export (engine and CLI, folder and zip) and verify; the bundle stored on completion.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_completed_campaign_exports_bundles_that_verify() {
    let s = Scenario::completed().await;
    let key = s.public_key_cli();
    let engine_key = s.engine.signing_key().await.expect("signing key");
    assert_eq!(
        hex::encode(engine_key.verifying_key().to_bytes()),
        key,
        "attest evidence key prints another key than the engine signs with"
    );

    let engine_dir = s.path("engine-bundle");
    let engine_zip = s.path("engine-bundle.zip");
    let cli_dir = s.path("cli-bundle");
    let cli_zip = s.path("out/cli-bundle.zip");
    export_engine(&s, &engine_dir, false).await;
    export_engine(&s, &engine_zip, false).await;
    export_cli(&s, &cli_dir, false);
    export_cli(&s, &cli_zip, false);

    for dir in [&engine_dir, &cli_dir] {
        assert_eq!(folder_names(dir), all_bundle_names(), "{}", dir.display());
        assert_manifest_matches_folder(dir, &key, s.campaign_id);
    }
    for zip in [&engine_zip, &cli_zip] {
        assert_eq!(zip_names(zip), all_bundle_names(), "{}", zip.display());
    }
    for path in [&engine_dir, &engine_zip, &cli_dir, &cli_zip] {
        assert_verified(&s, path, &key);
    }

    // The population, decisions and re-read state are the same whoever exports, however.
    for name in [
        "items.csv",
        "decisions.csv",
        "after_remediation.csv",
        "audit.jsonl",
    ] {
        let reference = std::fs::read(engine_dir.join(name)).expect("read");
        assert_eq!(
            std::fs::read(cli_dir.join(name)).expect("read"),
            reference,
            "{name}: the CLI's folder differs from the engine's"
        );
        for zip in [&engine_zip, &cli_zip] {
            assert_eq!(
                zip_entry(zip, name),
                reference,
                "{name} in {} differs from the folder's",
                zip.display()
            );
        }
    }

    // campaign.json states the population, decisions and outcome counts.
    let campaign: serde_json::Value =
        serde_json::from_slice(&std::fs::read(engine_dir.join("campaign.json")).expect("read"))
            .expect("campaign.json is JSON");
    assert_eq!(campaign["campaign"]["id"], s.campaign_id);
    assert_eq!(campaign["campaign"]["state"], "completed");
    assert_eq!(
        campaign["population"]["at_launch"]["count"],
        POPULATION as u64
    );
    assert_eq!(
        campaign["population"]["decisions"]["count"],
        DECISION_ROWS as u64
    );
    assert_eq!(
        campaign["population"]["after_remediation"]["inconsistent"],
        0
    );
    assert_eq!(campaign["counts"]["revoked"], HUMAN_REVOKED as u64);
    assert_eq!(
        campaign["counts"]["removed_by_policy"],
        POLICY_REMOVED as u64
    );
    assert_eq!(campaign["counts"]["excluded"], EXCLUDED as u64);

    // Completing the campaign stored a bundle in the database: its chunks, in order, are a zip
    // whose hash the row records and which verifies against the instance's key.
    let conn = s.engine.store().conn();
    let bundles = evidence_bundle::Entity::find()
        .filter(evidence_bundle::Column::CampaignId.eq(s.campaign_id))
        .order_by_asc(evidence_bundle::Column::Id)
        .all(conn)
        .await
        .expect("read evidence_bundle");
    let stored = bundles
        .iter()
        .find(|b| b.reason == "completed")
        .unwrap_or_else(|| panic!("no bundle stored on completion: {bundles:?}"));
    let chunks = evidence_chunk::Entity::find()
        .filter(evidence_chunk::Column::BundleId.eq(stored.id))
        .order_by_asc(evidence_chunk::Column::Seq)
        .all(conn)
        .await
        .expect("read evidence_chunk");
    assert!(!chunks.is_empty(), "the stored bundle has no chunks");
    let seqs: Vec<i32> = chunks.iter().map(|c| c.seq).collect();
    assert_eq!(
        seqs,
        (0..chunks.len() as i32).collect::<Vec<_>>(),
        "chunks are not numbered 0.."
    );
    let zip: Vec<u8> = chunks.iter().flat_map(|c| c.data.iter().copied()).collect();
    assert_eq!(zip.len() as i64, stored.bytes, "stored byte count");
    assert_eq!(sha256_hex(&zip), stored.sha256, "stored SHA-256");
    let stored_path = s.path("stored.zip");
    std::fs::write(&stored_path, &zip).expect("write stored zip");
    assert_eq!(zip_names(&stored_path), all_bundle_names());
    assert_verified(&s, &stored_path, &key);
    let manifest_in_zip: Manifest =
        serde_json::from_slice(&zip_entry(&stored_path, "manifest.json")).expect("manifest");
    let manifest_in_row: Manifest =
        serde_json::from_str(&stored.manifest).expect("evidence_bundle.manifest is a manifest");
    assert_eq!(manifest_in_row, manifest_in_zip);
    assert_eq!(
        zip_entry(&stored_path, "items.csv"),
        std::fs::read(engine_dir.join("items.csv")).expect("read"),
        "the stored items.csv differs from a later export of the same campaign"
    );
}

/// A campaign whose bundle is larger than one stored chunk (1 MiB): 1,200 items, each attested
/// with its own 1,000-character justification that does not compress.
#[tokio::test]
async fn a_stored_bundle_of_several_chunks_concatenates_to_a_zip_that_verifies() {
    use attest::domain::closing::Channel;
    use attest::engine::decide::{Choice, Decider};
    use base64::Engine as _;
    const HOLDERS: usize = 1200;
    let db = common::TestDb::new().await;
    let launched_at = (Utc::now() - Duration::days(3)).trunc_subsecs(0);
    let clock = campaign_support::clock_at(launched_at);
    let engine = db.engine_at(clock.clone()).await;
    let mut people = String::from(
        "id,name,email,manager_id,kind,enabled\nown,Olga Owner,,,user,true\nfb,Frank Fallback,,,user,true\nm1,Maria Manager,,own,user,true\n",
    );
    let mut eligibility = String::from("principal_id,role,scope,start,end,last_activated_at\n");
    for i in 0..HOLDERS {
        people.push_str(&format!("h{i:04},Holder {i:04},,m1,user,true\n"));
        eligibility.push_str(&format!("h{i:04},Global Administrator,/,2025-01-10,,\n"));
    }
    campaign_support::import_org(
        &db,
        &engine,
        &campaign_support::OrgFiles {
            people: &people,
            roles: "name,owner_id,risk,description\nGlobal Administrator,own,high,\n",
            eligibility: &eligibility,
        },
    )
    .await;
    campaign_support::define(
        &db,
        &engine,
        "big.toml",
        "name = \"big\"\nowner = \"own\"\nschedule = \"quarterly\"\nduration_days = 14\n\
         reviewers = \"manager\"\nfallback_reviewer = \"fb\"\non_no_response = \"keep\"\n",
    )
    .await;
    let campaign = engine
        .launch("big", false, "admin", &attest::engine::NoProgress)
        .await
        .expect("launch");
    let items = campaign_support::items(&engine, campaign.id).await;
    assert_eq!(items.len(), HOLDERS);
    let mut seed = sha2::Sha256::digest(b"attest evidence chunks").to_vec();
    let justifications: Vec<String> = items
        .iter()
        .map(|_| {
            let mut bytes = Vec::new();
            while bytes.len() < 750 {
                seed = sha2::Sha256::digest(&seed).to_vec();
                bytes.extend_from_slice(&seed);
            }
            format!(
                "k{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..750])
            )
        })
        .collect();
    let choices: Vec<Choice> = items
        .iter()
        .zip(&justifications)
        .map(|(item, why)| Choice {
            item_id: item.id,
            verdict: attest::domain::closing::Verdict::Attest,
            justification: Some(why),
        })
        .collect();
    let m1 = campaign_support::principal_ids(&engine).await["m1"];
    clock.set(launched_at + Duration::hours(2));
    let actor = format!("reviewer:{m1}");
    engine
        .decide_each(
            campaign.id,
            &choices,
            &Decider {
                reviewer: Some(m1),
                acting_for: None,
                channel: Channel::Link,
                client_addr: Some("192.0.2.10"),
                actor: &actor,
            },
        )
        .await
        .expect("m1 attests everything");
    clock.set(launched_at + Duration::days(1));
    engine.close(campaign.id, "admin").await.expect("close");
    while engine.remediate_step().await.expect("remediate") > 0 {}
    assert_eq!(
        engine.complete_finished().await.expect("complete"),
        vec![campaign.id]
    );

    let conn = engine.store().conn();
    let stored = evidence_bundle::Entity::find()
        .filter(evidence_bundle::Column::CampaignId.eq(campaign.id))
        .one(conn)
        .await
        .expect("read evidence_bundle")
        .expect("a bundle stored on completion");
    let chunks = evidence_chunk::Entity::find()
        .filter(evidence_chunk::Column::BundleId.eq(stored.id))
        .order_by_asc(evidence_chunk::Column::Seq)
        .all(conn)
        .await
        .expect("read evidence_chunk");
    assert!(
        chunks.len() >= 2,
        "the bundle ({} bytes) fits one chunk: make it larger",
        stored.bytes
    );
    for (k, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk.seq, k as i32, "chunk numbering");
        if k + 1 < chunks.len() {
            assert_eq!(chunk.data.len(), 1 << 20, "chunk {k} is not 1 MiB");
        }
    }
    let zip: Vec<u8> = chunks.iter().flat_map(|c| c.data.iter().copied()).collect();
    assert_eq!(zip.len() as i64, stored.bytes);
    assert_eq!(sha256_hex(&zip), stored.sha256);
    let path = db.dir().join("stored.zip");
    std::fs::write(&path, &zip).expect("write");
    let key = hex::encode(
        engine
            .signing_key()
            .await
            .expect("key")
            .verifying_key()
            .to_bytes(),
    );
    let (code, out, err) = attest_cli(
        &db,
        &["evidence", "verify", &path.to_string_lossy(), "--key", &key],
    );
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains(&format!("items.csv: {HOLDERS} rows")), "{out}");
    let (_, rows) = read_csv(&zip_entry(&path, "items.csv"));
    let column = ITEM_COLUMNS
        .iter()
        .position(|c| *c == "justification")
        .expect("justification column");
    let got: BTreeSet<&str> = rows.iter().map(|r| r[column].as_str()).collect();
    let want: BTreeSet<&str> = justifications.iter().map(String::as_str).collect();
    assert_eq!(got, want, "the justifications in the stored items.csv");
}

// ---------------------------------------------------------------------------------------------
// 2. Tampering: verify exits 1 and names what broke.
// ---------------------------------------------------------------------------------------------

/// Verifies a doctored copy; returns a complaint when verify did not fail naming `names`.
fn expect_rejected(
    s: &Scenario,
    case: &str,
    path: &Path,
    key: Option<&str>,
    names: &[&str],
) -> Option<String> {
    let (code, out, err) = s.verify_cli(path, key);
    let mut wrong = Vec::new();
    if code != 1 {
        wrong.push(format!("exit code {code}, expected 1"));
    }
    if out.contains("bundle intact") {
        wrong.push("stdout says \"bundle intact\"".into());
    }
    if !err.contains("NOT intact") {
        wrong.push("stderr does not say \"NOT intact\"".into());
    }
    for name in names {
        if !err.contains(name) {
            wrong.push(format!("stderr does not name \"{name}\""));
        }
    }
    (!wrong.is_empty()).then(|| {
        format!(
            "{case}: {}\n  stdout: {}\n  stderr: {}",
            wrong.join("; "),
            out.trim().replace('\n', "\n          "),
            err.trim()
        )
    })
}

#[tokio::test]
async fn changing_any_file_of_a_bundle_is_caught_and_named() {
    let s = Scenario::completed().await;
    let key = s.public_key_cli();
    let original = s.path("original");
    export_engine(&s, &original, false).await;
    assert_verified(&s, &original, &key);

    type Tamper = Box<dyn Fn(&Path)>;
    let mut cases: Vec<(String, &str, Tamper)> = Vec::new();
    for name in DATA_FILES {
        cases.push((
            format!("one byte of {name} changed"),
            name,
            Box::new(move |dir: &Path| flip_middle_byte(&dir.join(name))),
        ));
    }
    cases.push((
        "one hex digit of a hash in manifest.json changed".into(),
        "manifest.json",
        Box::new(|dir: &Path| flip_manifest_hash_digit(&dir.join("manifest.json"))),
    ));
    cases.push((
        "one byte in the middle of manifest.json changed".into(),
        "manifest.json",
        Box::new(|dir: &Path| flip_middle_byte(&dir.join("manifest.json"))),
    ));
    cases.push((
        "one data row of items.csv deleted".into(),
        "items.csv",
        Box::new(|dir: &Path| {
            delete_csv_record(&dir.join("items.csv"), 3);
        }),
    ));
    cases.push((
        "one line of audit.jsonl dropped".into(),
        "audit.jsonl",
        Box::new(|dir: &Path| {
            let lines = std::fs::read_to_string(dir.join("audit.jsonl"))
                .expect("read")
                .lines()
                .count();
            assert!(lines >= 3, "audit.jsonl has only {lines} lines");
            delete_line(&dir.join("audit.jsonl"), lines / 2);
        }),
    ));

    let mut failures = Vec::new();
    for (i, (case, name, tamper)) in cases.iter().enumerate() {
        let copy = s.path(&format!("tampered-{i}"));
        copy_bundle(&original, &copy);
        tamper(&copy);
        if let Some(problem) = expect_rejected(&s, case, &copy, Some(&key), &[name]) {
            failures.push(problem);
        }
    }
    assert!(
        failures.is_empty(),
        "verify accepted, or did not name, these changes:\n{}",
        failures.join("\n")
    );
    // The original is untouched by all this and still verifies.
    assert_verified(&s, &original, &key);
}

#[tokio::test]
async fn a_bundle_re_signed_with_another_key_is_rejected() {
    let s = Scenario::completed().await;
    let key = s.public_key_cli();
    let attacker = hex::encode(attacker_key().verifying_key().to_bytes());
    assert_ne!(attacker, key);
    let original = s.path("original");
    export_engine(&s, &original, false).await;
    assert_verified(&s, &original, &key);
    let mut failures = Vec::new();

    // Re-signed with the attacker's key, every hash correct: the pinned key rejects it, and
    // the message names the key that signed it.
    let resigned = s.path("resigned");
    copy_bundle(&original, &resigned);
    let manifest = resign(&resigned, &attacker_key());
    assert_eq!(manifest.body.public_key, attacker);
    failures.extend(expect_rejected(
        &s,
        "re-signed with another key, verified with --key",
        &resigned,
        Some(&key),
        &["manifest.json", &attacker],
    ));
    // Without a pinned key, away from the instance, the signature itself is valid: verify says
    // so, names the key it was signed with, never calls the bundle intact, and exits 3.
    let (code, out, err) = s.verify_cli(&resigned, None);
    assert_eq!(
        code, 3,
        "an unmodified re-signed bundle without --key: {err}"
    );
    assert!(
        out.contains(&attacker),
        "verify does not name the signing key:\n{out}"
    );
    assert!(out.contains("signer NOT pinned"), "{out}");
    assert!(!out.contains("bundle intact"), "{out}");
    // On the instance, its own key pins the signer: the re-signed bundle is refused.
    let (code, out, err) = s.verify_cli_on_instance(&resigned);
    assert_eq!(
        code, 1,
        "re-signed, verified on the instance:\n{out}\n{err}"
    );
    assert!(
        err.contains("this instance's key") && err.contains(&attacker),
        "{err}"
    );

    // A doctored bundle: a row deleted from items.csv, every hash recomputed, re-signed, and no
    // --key given. The row count against campaign.json's population still gives it away.
    let doctored = s.path("doctored");
    copy_bundle(&original, &doctored);
    let removed = delete_csv_record(&doctored.join("items.csv"), 0);
    assert!(!removed.is_empty());
    resign(&doctored, &attacker_key());
    failures.extend(expect_rejected(
        &s,
        "items.csv lost a row, re-signed, no --key",
        &doctored,
        None,
        &[
            "items.csv",
            &format!("{} rows", POPULATION - 1),
            &format!("{POPULATION}"),
        ],
    ));
    failures.extend(expect_rejected(
        &s,
        "items.csv lost a row, re-signed, with --key",
        &doctored,
        Some(&key),
        &["manifest.json"],
    ));

    // A line dropped from the middle of audit.jsonl, re-signed, no --key: the hash chain breaks.
    let chain = s.path("chain");
    copy_bundle(&original, &chain);
    let lines = std::fs::read_to_string(chain.join("audit.jsonl"))
        .expect("read")
        .lines()
        .count();
    assert!(lines >= 3, "audit.jsonl has only {lines} lines");
    delete_line(&chain.join("audit.jsonl"), lines / 2);
    resign(&chain, &attacker_key());
    failures.extend(expect_rejected(
        &s,
        "a line dropped from audit.jsonl, re-signed, no --key",
        &chain,
        None,
        &["audit.jsonl"],
    ));

    assert!(
        failures.is_empty(),
        "verify accepted, or did not name, these doctored bundles:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn a_changed_file_inside_a_zip_bundle_is_caught_and_named() {
    let s = Scenario::completed().await;
    let key = s.public_key_cli();
    let original = s.path("bundle.zip");
    export_cli(&s, &original, false);
    assert_verified(&s, &original, &key);

    let tampered = s.path("tampered.zip");
    rewrite_zip(&original, &tampered, "items.csv", |bytes| {
        let i = bytes.len() / 2;
        bytes[i] = if bytes[i] == b'x' { b'y' } else { b'x' };
    });
    assert_eq!(zip_names(&tampered), all_bundle_names());
    assert_ne!(
        zip_entry(&tampered, "items.csv"),
        zip_entry(&original, "items.csv")
    );
    if let Some(problem) = expect_rejected(
        &s,
        "one byte of items.csv changed inside the zip",
        &tampered,
        Some(&key),
        &["items.csv"],
    ) {
        panic!("{problem}");
    }

    // The same zip, untouched but rewritten entry by entry, still verifies.
    let rewritten = s.path("rewritten.zip");
    rewrite_zip(&original, &rewritten, "", |_| {});
    assert_verified(&s, &rewritten, &key);
}

// ---------------------------------------------------------------------------------------------
// 3. items.csv is the database, row by row, and opens safely in a spreadsheet.
// ---------------------------------------------------------------------------------------------

/// Columns holding timestamps: compared as instants, not as text.
const TIME_COLUMNS: [&str; 6] = [
    "eligible_since",
    "last_activated_at",
    "decided_at",
    "removed_at",
    "removal_verified_at",
    "previous_decided_at",
];

/// Each item's expected cells (before spreadsheet protection), read from the database through
/// the entities, independently of the export's own query.
async fn expected_items(s: &Scenario) -> BTreeMap<i64, HashMap<&'static str, String>> {
    let conn = s.engine.store().conn();
    let people: HashMap<i64, principal::Model> = principal::Entity::find()
        .all(conn)
        .await
        .expect("principals")
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let decisions: HashMap<i64, decision::Model> = decision::Entity::find()
        .filter(decision::Column::CampaignId.eq(s.campaign_id))
        .all(conn)
        .await
        .expect("decisions")
        .into_iter()
        .map(|d| (d.id, d))
        .collect();
    let removals: HashMap<i64, remediation::Model> = remediation::Entity::find()
        .filter(remediation::Column::CampaignId.eq(s.campaign_id))
        .all(conn)
        .await
        .expect("remediation")
        .into_iter()
        .map(|r| (r.item_id, r))
        .collect();
    let items = review_item::Entity::find()
        .filter(review_item::Column::CampaignId.eq(s.campaign_id))
        .all(conn)
        .await
        .expect("items");
    let ext = |id: Option<i64>| {
        id.map(|id| people[&id].external_id.clone())
            .unwrap_or_default()
    };
    let t = |at: Option<DateTime<Utc>>| at.map(|t| t.to_rfc3339()).unwrap_or_default();
    let o = |s: &Option<String>| s.clone().unwrap_or_default();
    // Each eligibility's last review: the latest campaign completed before this one launched
    // that had an item for it.
    let this = campaign::Entity::find_by_id(s.campaign_id)
        .one(conn)
        .await
        .expect("campaign")
        .expect("the campaign exists");
    let earlier: HashMap<i64, campaign::Model> = campaign::Entity::find()
        .filter(campaign::Column::State.eq("completed"))
        .all(conn)
        .await
        .expect("campaigns")
        .into_iter()
        .filter(|c| {
            c.id != this.id && c.completed_at.is_some() && c.completed_at <= this.launched_at
        })
        .map(|c| (c.id, c))
        .collect();
    let mut last_review: HashMap<i64, review_item::Model> = HashMap::new();
    for p in review_item::Entity::find()
        .filter(review_item::Column::CampaignId.is_in(earlier.keys().copied()))
        .all(conn)
        .await
        .expect("earlier items")
    {
        let key = |i: &review_item::Model| (earlier[&i.campaign_id].completed_at, i.campaign_id);
        if last_review
            .get(&p.eligibility_id)
            .is_none_or(|q| key(q) < key(&p))
        {
            last_review.insert(p.eligibility_id, p);
        }
    }
    let all_decisions: HashMap<i64, decision::Model> = decision::Entity::find()
        .all(conn)
        .await
        .expect("decisions")
        .into_iter()
        .map(|d| (d.id, d))
        .collect();
    let mut expected = BTreeMap::new();
    for i in items {
        let prev = last_review.get(&i.eligibility_id);
        let prev_decision = prev.and_then(|p| p.current_decision_id.map(|id| &all_decisions[&id]));
        let d = i.current_decision_id.map(|id| &decisions[&id]);
        let r = removals.get(&i.id);
        let made_by = i
            .made_by
            .map(|m| m.as_str().to_string())
            .unwrap_or_default();
        let decided_by = if made_by == "policy" {
            "policy".to_string()
        } else {
            ext(d.and_then(|d| d.reviewer_id))
        };
        let row: HashMap<&'static str, String> = HashMap::from([
            ("item_id", i.id.to_string()),
            ("eligibility_id", i.eligibility_id.to_string()),
            ("holder_id", i.holder_external_id.clone()),
            ("holder_name", i.holder_name.clone()),
            ("holder_email", o(&i.holder_email)),
            ("holder_kind", i.holder_kind.as_str().to_string()),
            ("role", i.role_name.clone()),
            ("role_risk", i.role_risk.as_str().to_string()),
            ("scope", i.scope.clone()),
            ("eligible_since", t(i.since)),
            ("last_activated_at", t(i.last_activated_at)),
            ("recommendation", i.recommendation.as_str().to_string()),
            ("recommendation_reason", o(&i.recommendation_reason)),
            ("reviewer_id", ext(i.reviewer_id)),
            (
                "reviewer_name",
                i.reviewer_id
                    .map(|id| people[&id].display_name.clone())
                    .unwrap_or_default(),
            ),
            ("reviewer_reason", o(&i.reviewer_reason)),
            ("escalated_from", ext(i.escalated_from_id)),
            ("flagged", if i.flagged { "yes" } else { "no" }.to_string()),
            ("flag_reason", o(&i.flag_reason)),
            (
                "decision",
                i.verdict
                    .map(|v| v.as_str().to_string())
                    .unwrap_or_default(),
            ),
            ("decided_by_kind", made_by.clone()),
            ("decided_by", decided_by),
            ("acting_for", ext(d.and_then(|d| d.acting_for_id))),
            ("decided_at", t(i.decided_at)),
            (
                "channel",
                d.map(|d| d.channel.as_str().to_string())
                    .unwrap_or_default(),
            ),
            (
                "justification",
                d.and_then(|d| d.justification.clone()).unwrap_or_default(),
            ),
            ("outcome", o(&i.outcome)),
            (
                "removal_state",
                r.map(|r| r.state.as_str().to_string()).unwrap_or_default(),
            ),
            (
                "removal_attempts",
                r.map(|r| r.attempts.to_string()).unwrap_or_default(),
            ),
            (
                "removal_receipt",
                r.and_then(|r| r.receipt.clone()).unwrap_or_default(),
            ),
            ("removed_at", t(r.and_then(|r| r.removed_at))),
            ("removal_verified_at", t(r.and_then(|r| r.verified_at))),
            (
                "removal_error",
                r.and_then(|r| r.last_error.clone()).unwrap_or_default(),
            ),
            (
                "new_since_last_review",
                if prev.is_none() { "yes" } else { "no" }.to_string(),
            ),
            (
                "previous_campaign_id",
                prev.map(|p| p.campaign_id.to_string()).unwrap_or_default(),
            ),
            (
                "previous_campaign",
                prev.map(|p| {
                    let c = &earlier[&p.campaign_id];
                    format!("{} {}", c.definition_name, c.period)
                })
                .unwrap_or_default(),
            ),
            (
                "previous_decision",
                prev.and_then(|p| p.verdict.clone()).unwrap_or_default(),
            ),
            (
                "previous_decided_by_kind",
                prev.and_then(|p| p.made_by.clone()).unwrap_or_default(),
            ),
            (
                "previous_decided_by",
                match prev {
                    Some(p) if p.made_by.as_deref() == Some("policy") => "policy".to_string(),
                    Some(_) => prev_decision
                        .and_then(|d| {
                            d.reviewer_id
                                .map(|id| people[&id].external_id.clone())
                                .or(d.actor.clone())
                        })
                        .unwrap_or_default(),
                    None => String::new(),
                },
            ),
            ("previous_decided_at", t(prev.and_then(|p| p.decided_at))),
            ("holder_context", {
                let spec: serde_json::Value =
                    serde_json::from_str(&this.frozen_definition).expect("frozen definition");
                let frozen: serde_json::Map<String, serde_json::Value> = i
                    .holder_context
                    .as_deref()
                    .map(|c| serde_json::from_str(c).expect("frozen context"))
                    .unwrap_or_default();
                let named: serde_json::Map<String, serde_json::Value> = spec["context"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|n| {
                        let n = n.as_str()?;
                        Some((n.to_string(), frozen.get(n)?.clone()))
                    })
                    .collect();
                if named.is_empty() {
                    String::new()
                } else {
                    serde_json::Value::Object(named).to_string()
                }
            }),
            (
                "previous_justification",
                prev_decision
                    .and_then(|d| d.justification.clone())
                    .unwrap_or_default(),
            ),
            ("assignment", i.assignment.clone()),
            ("remediation", r.map(|r| r.kind.clone()).unwrap_or_default()),
            (
                "decided_in_stage",
                d.map(|d| d.stage.to_string()).unwrap_or_default(),
            ),
        ]);
        expected.insert(i.id, row);
    }
    expected
}

/// items.csv as a map from item id to its cells by column name.
fn items_by_id(bytes: &[u8]) -> BTreeMap<i64, HashMap<String, String>> {
    let (header, records) = read_csv(bytes);
    assert_eq!(header, ITEM_COLUMNS.to_vec(), "the header of items.csv");
    let mut rows = BTreeMap::new();
    for record in records {
        assert_eq!(record.len(), ITEM_COLUMNS.len(), "{record:?}");
        let row: HashMap<String, String> = header.iter().cloned().zip(record).collect();
        let id: i64 = row["item_id"].parse().expect("item_id is a number");
        assert!(rows.insert(id, row).is_none(), "item {id} appears twice");
    }
    rows
}

fn same_instant(cell: &str, expected: &str) -> bool {
    match (cell.is_empty(), expected.is_empty()) {
        (true, true) => true,
        (false, false) => {
            let a = DateTime::parse_from_rfc3339(cell);
            let b = DateTime::parse_from_rfc3339(expected);
            matches!((a, b), (Ok(a), Ok(b)) if a == b)
        }
        _ => false,
    }
}

/// Issue 14: `--bom` is for spreadsheets, and an auditor opens every CSV of the bundle in one:
/// each starts with EF BB BF (and is otherwise the file without it), and the bundle verifies.
#[tokio::test]
async fn bom_starts_every_csv_of_the_bundle_and_it_still_verifies() {
    let s = Scenario::completed().await;
    let key = s.public_key_cli();
    let plain = s.path("plain");
    let bom = s.path("bom");
    export_cli(&s, &plain, false);
    export_cli(&s, &bom, true);
    assert_verified(&s, &bom, &key);
    let zip = s.path("bom.zip");
    export_cli(&s, &zip, true);
    assert_verified(&s, &zip, &key);

    let csvs: Vec<&str> = DATA_FILES
        .iter()
        .copied()
        .filter(|n| n.ends_with(".csv"))
        .collect();
    assert_eq!(
        csvs,
        [
            "items.csv",
            "decisions.csv",
            "after_remediation.csv",
            "suspensions.csv"
        ],
        "the bundle's CSV files"
    );
    for name in csvs {
        let with = std::fs::read(bom.join(name)).expect("read the --bom file");
        let without = std::fs::read(plain.join(name)).expect("read the plain file");
        assert!(
            with.starts_with(&[0xEF, 0xBB, 0xBF]),
            "{name} does not start with EF BB BF with --bom: {:?}",
            &with[..with.len().min(8)]
        );
        assert!(
            !without.starts_with(&[0xEF, 0xBB, 0xBF]),
            "{name} starts with a BOM without --bom"
        );
        assert_eq!(&with[3..], &without[..], "{name} after the BOM");
    }
}

#[tokio::test]
async fn items_csv_is_the_database_row_by_row_and_safe_in_a_spreadsheet() {
    let s = Scenario::completed().await;
    let key = s.public_key_cli();
    let plain = s.path("plain");
    let bom = s.path("bom");
    export_engine(&s, &plain, false).await;
    export_cli(&s, &bom, true);
    assert_verified(&s, &bom, &key);

    let plain_bytes = std::fs::read(plain.join("items.csv")).expect("read items.csv");
    let bom_bytes = std::fs::read(bom.join("items.csv")).expect("read items.csv");
    assert!(
        !plain_bytes.starts_with(&[0xEF, 0xBB, 0xBF]),
        "items.csv starts with a BOM without --bom"
    );
    assert!(
        bom_bytes.starts_with(&[0xEF, 0xBB, 0xBF]),
        "items.csv does not start with EF BB BF with --bom: {:?}",
        &bom_bytes[..bom_bytes.len().min(8)]
    );
    assert_eq!(
        &bom_bytes[3..],
        &plain_bytes[..],
        "with --bom, items.csv is the same file after the BOM"
    );
    // The csv crate reads the BOM file as is (it skips a leading UTF-8 BOM).
    let rows = items_by_id(&plain_bytes);
    assert_eq!(
        items_by_id(&bom_bytes),
        rows,
        "the BOM file parses differently"
    );

    // Nothing missing, nothing extra.
    let expected = expected_items(&s).await;
    assert_eq!(expected.len(), POPULATION);
    assert_eq!(
        rows.keys().collect::<BTreeSet<_>>(),
        expected.keys().collect::<BTreeSet<_>>(),
        "items.csv does not list exactly the campaign's items"
    );

    // Every cell is the database's value (spreadsheet-protected where it must be).
    let mut mismatches = Vec::new();
    for (id, want) in &expected {
        let got = &rows[id];
        for column in ITEM_COLUMNS {
            let cell = &got[*column];
            let value = &want[column];
            let ok = if TIME_COLUMNS.contains(column) {
                same_instant(cell, value)
            } else {
                *cell == spreadsheet_safe(value)
            };
            if !ok {
                mismatches.push(format!(
                    "item {id} ({}), {column}: items.csv has {cell:?}, the database {value:?}",
                    want["holder_id"]
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "items.csv differs from the database:\n{}",
        mismatches.join("\n")
    );

    // What each holder's row must say, as the scenario set it up.
    let by_holder: HashMap<&str, &HashMap<String, String>> = rows
        .values()
        .map(|r| (r["holder_id"].as_str(), r))
        .collect();
    let mut wrong = Vec::new();
    let check = |wrong: &mut Vec<String>, holder: &str, column: &str, value: &str| {
        let cell = by_holder
            .get(holder)
            .map(|r| r[column].as_str())
            .unwrap_or("<no row>");
        if cell != value {
            wrong.push(format!("{holder}.{column}: {cell:?}, expected {value:?}"));
        }
    };
    let human = |decision: &str, by: &str, outcome: &str| {
        [
            ("decision", decision.to_string()),
            ("decided_by_kind", "human".to_string()),
            ("decided_by", by.to_string()),
            ("channel", "link".to_string()),
            ("outcome", outcome.to_string()),
        ]
    };
    let mut plan: Vec<(String, Vec<(&str, String)>)> = vec![
        ("f1".into(), human("revoke", "m1", "revoked").to_vec()),
        ("o1".into(), human("revoke", "m1", "revoked").to_vec()),
        ("f2".into(), human("attest", "m1", "kept").to_vec()),
        ("f3".into(), human("attest", "m1", "kept").to_vec()),
        ("f4".into(), human("attest", "m1", "kept").to_vec()),
        ("o2".into(), human("attest", "m1", "kept").to_vec()),
    ];
    for holder in stamped() {
        plan.push((holder, human("attest", "m2", "kept").to_vec()));
    }
    for holder in ["n1", "n2"] {
        plan.push((
            holder.into(),
            vec![
                ("decision", "revoke".into()),
                ("decided_by_kind", "policy".into()),
                ("decided_by", "policy".into()),
                ("outcome", "removed_by_policy".into()),
            ],
        ));
    }
    plan.push((
        "bg1".into(),
        vec![
            ("decided_by_kind", "policy".into()),
            ("decided_by", "policy".into()),
            ("outcome", "kept_excluded".into()),
            ("flagged", "yes".into()),
            ("holder_kind", "break_glass".into()),
            ("removal_state", String::new()),
        ],
    ));
    for (holder, cells) in &plan {
        for (column, value) in cells {
            check(&mut wrong, holder, column, value);
        }
    }
    for holder in REMOVED {
        check(&mut wrong, holder, "removal_state", "removed");
        let row = by_holder[holder];
        for column in ["removal_receipt", "removed_at", "removal_verified_at"] {
            if row[column].is_empty() {
                wrong.push(format!("{holder}.{column} is empty for a removal done"));
            }
        }
    }
    for holder in ["f2", "f3", "f4", "o2", "s01", "bg1"] {
        check(&mut wrong, holder, "removal_state", "");
        check(&mut wrong, holder, "removal_receipt", "");
    }
    // Formula-like names and justifications carry a leading apostrophe…
    check(&mut wrong, "f1", "holder_name", &format!("'{NAME_EQ}"));
    check(&mut wrong, "f2", "holder_name", &format!("'{NAME_PLUS}"));
    check(&mut wrong, "f3", "holder_name", &format!("'{NAME_MINUS}"));
    check(&mut wrong, "f4", "holder_name", &format!("'{NAME_AT}"));
    check(&mut wrong, "f1", "justification", &format!("'{WHY_EQ}"));
    check(&mut wrong, "f2", "justification", &format!("'{WHY_PLUS}"));
    check(&mut wrong, "f3", "justification", &format!("'{WHY_MINUS}"));
    check(&mut wrong, "f4", "justification", &format!("'{WHY_AT}"));
    // …while ordinary text round-trips exactly.
    check(&mut wrong, "o1", "holder_name", NAME_COMMA);
    check(&mut wrong, "o2", "holder_name", NAME_UNICODE);
    check(&mut wrong, "o1", "justification", WHY_PLAIN);
    check(&mut wrong, "o2", "justification", WHY_PRA);
    check(&mut wrong, "s01", "reviewer_name", "Max Stamp");
    assert!(
        wrong.is_empty(),
        "items.csv does not say what happened:\n{}",
        wrong.join("\n")
    );

    // The database holds the names and justifications unprotected (the apostrophe is only for
    // the CSV), so the comparison above really tested the protection.
    let conn = s.engine.store().conn();
    let f1 = review_item::Entity::find_by_id(s.items["f1"])
        .one(conn)
        .await
        .expect("read f1")
        .expect("f1's item");
    assert_eq!(f1.holder_name, NAME_EQ);

    // No cell of any CSV in the bundle can run as a formula.
    for name in ["items.csv", "decisions.csv", "after_remediation.csv"] {
        let (header, records) = read_csv(&std::fs::read(plain.join(name)).expect("read"));
        for record in &records {
            assert_eq!(record.len(), header.len(), "{name}: {record:?}");
            for (column, cell) in header.iter().zip(record) {
                assert!(
                    !starts_like_a_formula(cell),
                    "{name}, column {column}: {cell:?} would run as a formula"
                );
            }
        }
    }

    // decisions.csv: every decision, the superseded one included, protected the same way.
    let (header, records) =
        read_csv(&std::fs::read(plain.join("decisions.csv")).expect("read decisions.csv"));
    assert_eq!(records.len(), DECISION_ROWS, "decision rows");
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("decisions.csv has no {name} column: {header:?}"))
    };
    let f1_id = s.items["f1"].to_string();
    let f1_rows: Vec<&Vec<String>> = records
        .iter()
        .filter(|r| r[col("item_id")] == f1_id)
        .collect();
    assert_eq!(f1_rows.len(), 2, "f1's two decisions: {f1_rows:?}");
    assert_eq!(f1_rows[0][col("decision")], "attest");
    assert_eq!(f1_rows[1][col("decision")], "revoke");
    assert_eq!(f1_rows[1][col("justification")], format!("'{WHY_EQ}"));
    assert_eq!(
        f1_rows[1][col("supersedes_decision_id")],
        f1_rows[0][col("decision_id")],
        "the change of mind does not name the decision it supersedes"
    );
    let by_policy = records
        .iter()
        .filter(|r| r[col("decided_by_kind")] == "policy")
        .count();
    assert_eq!(by_policy, DECISION_ROWS - 17, "policy decision rows");

    // after_remediation.csv: every removal re-read as gone, everything kept still there.
    let (header, records) =
        read_csv(&std::fs::read(plain.join("after_remediation.csv")).expect("read"));
    assert_eq!(records.len(), POPULATION);
    let col = |name: &str| header.iter().position(|h| h == name).expect("column");
    for r in &records {
        assert_eq!(r[col("consistent")], "yes", "{r:?}");
        let holder = r[col("holder_id")].as_str();
        let e =
            campaign_support::eligibility_of(&s.engine, holder, &r[col("role")], &r[col("scope")])
                .await;
        assert_eq!(r[col("status_now")], e.status.as_str(), "{r:?}");
        let removed = REMOVED.contains(&holder);
        assert_eq!(
            e.status.as_str(),
            if removed { "removed" } else { "active" },
            "{holder}: {e:?}"
        );
    }
    let receipts: Vec<String> = eligibility::Entity::find()
        .filter(eligibility::Column::RemovedByCampaignId.eq(s.campaign_id))
        .all(conn)
        .await
        .expect("eligibility")
        .into_iter()
        .map(|e| e.removal_receipt.unwrap_or_default())
        .collect();
    assert_eq!(receipts.len(), REMOVED.len(), "{receipts:?}");
}

// ---------------------------------------------------------------------------------------------
// 4. Coverage and monthly reports.
// ---------------------------------------------------------------------------------------------

fn cli_json(s: &Scenario, args: &[&str]) -> serde_json::Value {
    let (code, out, err) = attest_cli(&s.db, args);
    assert_eq!(code, 0, "attest {args:?}: {err}");
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("attest {args:?} is not JSON ({e}):\n{out}"))
}

fn close_to(value: &serde_json::Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() < 1e-9)
}

#[tokio::test]
async fn coverage_and_monthly_reports_count_the_campaign() {
    let s = Scenario::completed().await;
    let campaign = s.engine.campaign(s.campaign_id).await.expect("show");

    let coverage = cli_json(&s, &["report", "coverage", "--json"]);
    let roles = coverage.as_array().expect("coverage is an array");
    let role = |name: &str| {
        roles
            .iter()
            .find(|r| r["role"] == name)
            .unwrap_or_else(|| panic!("no {name} in coverage: {coverage:#}"))
    };
    for name in [GA, PRA] {
        let r = role(name);
        assert_eq!(r["last_campaign_id"], s.campaign_id, "{name}: {r:#}");
        assert_eq!(r["last_campaign"], DEFINITION, "{name}: {r:#}");
        assert_eq!(
            r["last_period"],
            campaign.campaign.period.as_str(),
            "{name}: {r:#}"
        );
        assert_eq!(
            r["within_cadence"], true,
            "{name} was reviewed last week: {r:#}"
        );
    }
    assert_eq!(role(GA)["active_holders"], 14, "{:#}", role(GA));
    assert_eq!(role(PRA)["active_holders"], 1, "{:#}", role(PRA));
    let reader = role(READER);
    assert_eq!(reader["active_holders"], 2, "{reader:#}");
    assert!(reader["last_campaign_id"].is_null(), "{reader:#}");
    assert_eq!(
        reader["within_cadence"], false,
        "a role with holders that was never reviewed: {reader:#}"
    );

    // As of the end of the launch day, before the campaign closed: every Global Administrator
    // eligibility still existed (the removals came later) and no campaign had completed.
    let launched = campaign.campaign.launched_at.expect("launched");
    let completed = campaign.campaign.completed_at.expect("completed");
    assert!(
        launched.date_naive() < completed.date_naive(),
        "the scenario spans days"
    );
    let day = launched.format("%Y-%m-%d").to_string();
    let then = cli_json(&s, &["report", "coverage", "--as-of", &day, "--json"]);
    let ga_then = then
        .as_array()
        .expect("coverage")
        .iter()
        .find(|r| r["role"] == GA)
        .expect("GA then")
        .clone();
    let ga_role = entity::role::Entity::find()
        .filter(entity::role::Column::Name.eq(GA))
        .one(s.engine.store().conn())
        .await
        .expect("roles")
        .expect("the GA role")
        .id;
    let ga_all = entity::eligibility::Entity::find()
        .filter(entity::eligibility::Column::RoleId.eq(ga_role))
        .all(s.engine.store().conn())
        .await
        .expect("eligibility")
        .len();
    assert!(ga_all > 14, "the campaign removed some: {ga_all}");
    assert_eq!(ga_then["active_holders"], ga_all, "{ga_then:#}");
    assert!(ga_then["last_campaign_id"].is_null(), "{ga_then:#}");
    // A date in the future, or not a date, is refused and says why.
    let (code, _, err) = attest_cli(&s.db, &["report", "coverage", "--as-of", "2999-01-01"]);
    assert_eq!((code, err.contains("in the future")), (2, true), "{err}");
    let (code, _, err) = attest_cli(&s.db, &["report", "coverage", "--as-of", "2026-1-5"]);
    assert_eq!((code, err.contains("YYYY-MM-DD")), (2, true), "{err}");

    let month = s.closed_at.format("%Y-%m").to_string();
    let monthly = cli_json(&s, &["report", "monthly", "--month", &month, "--json"]);
    assert_eq!(monthly["month"], month.as_str());
    assert_eq!(monthly["campaigns_completed"], 1, "{monthly:#}");
    assert_eq!(monthly["campaigns_completed_on_time"], 1, "{monthly:#}");
    assert_eq!(monthly["items_closed"], POPULATION as u64, "{monthly:#}");
    assert!(
        close_to(
            &monthly["completion_rate"],
            HUMAN_DECIDED as f64 / POPULATION as f64
        ),
        "completion rate: {monthly:#}"
    );
    assert!(
        close_to(
            &monthly["revocation_rate"],
            HUMAN_REVOKED as f64 / HUMAN_DECIDED as f64
        ),
        "revocation rate: {monthly:#}"
    );
    assert_eq!(
        monthly["auto_removals"], POLICY_REMOVED as u64,
        "{monthly:#}"
    );
    let risk = |name: &str| {
        monthly["eligible_by_risk"]
            .as_array()
            .expect("eligible_by_risk")
            .iter()
            .find(|r| r["risk"] == name)
            .map(|r| r["eligible"].clone())
    };
    assert_eq!(risk("high"), Some(serde_json::json!(15)), "{monthly:#}");
    assert_eq!(risk("low"), Some(serde_json::json!(2)), "{monthly:#}");

    // A month without any campaign: nothing completed, no rates.
    let before = (s.launched_at - Duration::days(62))
        .format("%Y-%m")
        .to_string();
    let empty = cli_json(&s, &["report", "monthly", "--month", &before, "--json"]);
    assert_eq!(empty["campaigns_completed"], 0, "{empty:#}");
    assert_eq!(empty["items_closed"], 0, "{empty:#}");
    assert!(empty["completion_rate"].is_null(), "{empty:#}");
    assert_eq!(empty["auto_removals"], 0, "{empty:#}");

    // The human-readable form says the same.
    let (code, out, err) = attest_cli(&s.db, &["report", "monthly", "--month", &month]);
    assert_eq!(code, 0, "{err}");
    let pct = format!("{:.1}%", HUMAN_DECIDED as f64 * 100.0 / POPULATION as f64);
    assert!(out.contains(&pct), "completion rate {pct} not in:\n{out}");
    assert!(
        out.contains("12.5%"),
        "revocation rate 12.5% not in:\n{out}"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. report.html: rubber-stamping flagged, and a screenshot for people to look at.
// ---------------------------------------------------------------------------------------------

/// `$CARGO_TARGET_DIR/screenshots`, or `./target/screenshots`.
fn screenshot_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_relative() { root.join(t) } else { t })
        .unwrap_or_else(|| root.join("target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// Runs Chromium headless to screenshot `page` into `png`, killing it (its whole process
/// group) if it takes longer than two minutes.
fn screenshot(chromium: &Path, page: &Path, png: &Path) {
    use std::os::unix::process::CommandExt;
    let profile = tempfile::tempdir().expect("a Chromium profile folder");
    let log = profile.path().join("chromium.log");
    let mut child = std::process::Command::new(chromium)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!(
            "--user-data-dir={}",
            profile.path().join("profile").display()
        ))
        .arg("--window-size=1280,2000")
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("chromium log"))
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", chromium.display()));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(120) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            panic!(
                "chromium did not finish the screenshot within 120 s:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(
        status.success(),
        "chromium failed ({status}):\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

#[tokio::test]
async fn report_html_flags_rubber_stamping_and_renders_in_chromium() {
    let s = Scenario::completed().await;
    let bundle = s.path("bundle");
    export_engine(&s, &bundle, false).await;
    let html = std::fs::read_to_string(bundle.join("report.html")).expect("read report.html");

    // m2 decided ten items in the same second: flagged, by id. m1 took their time: not flagged.
    let flags: Vec<&str> = html
        .lines()
        .filter(|l| l.contains("Possible rubber-stamping"))
        .collect();
    assert_eq!(
        flags.len(),
        1,
        "rubber-stamping flags in report.html: {flags:#?}"
    );
    assert!(
        flags[0].contains("<strong>m2</strong>") && flags[0].contains("<strong>10</strong> items"),
        "the flag does not name m2 and their 10 items: {}",
        flags[0]
    );
    let campaign: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("campaign.json")).expect("read"))
            .expect("campaign.json");
    let stamps = campaign["rubber_stamp_flags"].as_array().expect("flags");
    assert_eq!(stamps.len(), 1, "{stamps:?}");
    assert_eq!(stamps[0]["reviewer"], "m2");
    assert_eq!(stamps[0]["items"], 10);

    // The summary: population, revocations, automatic removals, the break-glass exception, the
    // removals with their receipts, and the control mapping.
    for (what, text) in [
        (
            "population",
            format!("data-figure=\"population\">{POPULATION}</b>eligibilities"),
        ),
        (
            "revocations",
            format!("data-figure=\"revoked_by_people\">{HUMAN_REVOKED}</b>revoked by people"),
        ),
        (
            "automatic removals",
            format!("data-figure=\"revoked_by_policy\">{POLICY_REMOVED}</b>revoked by policy"),
        ),
        (
            "exclusions",
            format!("data-figure=\"excluded\">{EXCLUDED}</b>excluded and kept"),
        ),
        (
            "removals done",
            format!(
                "data-figure=\"removals_done\">{}</b>removed and read back",
                REMOVED.len()
            ),
        ),
        (
            "receipts",
            format!("{} removals have a receipt", REMOVED.len()),
        ),
        ("SOC 2", "CC6.2".to_string()),
        ("ISO 27001", "A.5.18".to_string()),
        ("PCI DSS", "7.2.4".to_string()),
        ("NIST 800-53", "AC-2(j)".to_string()),
        ("NIST CSF", "PR.AA-05".to_string()),
    ] {
        assert!(
            html.contains(&text),
            "report.html lacks the {what} ({text:?})"
        );
    }
    // Names are text, never markup: m3's name is escaped.
    assert!(
        !html.contains(NAME_MARKUP),
        "a reviewer's name appears unescaped in report.html"
    );
    assert!(
        html.replace("&#60;", "&lt;")
            .replace("&#62;", "&gt;")
            .replace("&#38;", "&amp;")
            .contains("Mute &lt;i&gt;Manager&lt;/i&gt; &amp; Co"),
        "m3's name is not in report.html as escaped text"
    );

    let png = screenshot_dir().join("evidence-report.png");
    let _ = std::fs::remove_file(&png);
    let Some(chromium) = on_path("chromium").or_else(|| on_path("chromium-browser")) else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromium is missing: install it with `apt-get install -y chromium`");
        }
        common::skipped(
            "the report.html screenshot",
            "chromium is missing (apt-get install -y chromium)",
        );
        return;
    };
    let page = std::fs::canonicalize(bundle.join("report.html")).expect("report path");
    screenshot(&chromium, &page, &png);
    let bytes =
        std::fs::read(&png).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", png.display()));
    assert!(!bytes.is_empty(), "{} is empty", png.display());
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        png.display()
    );
    eprintln!("screenshot: {}", png.display());
}
