//! Item 9 and 10 of issue 12: `evidence verify` says who signed a bundle only when a key is
//! pinned, refuses what the signature does not cover and reads any bundle with bounded memory;
//! `evidence export --out` never overwrites without `--force` and never writes through a link;
//! reviewer links stay out of the log at the default level.
//!
//! Everything runs through the real `attest` binary, as an auditor or admin would.

use crate::common::app::{DEFINITION, ELIGIBILITY, PEOPLE, ROLES};
use crate::common::{attest_cli, attest_cli_without_database, TestDb};
use attest::evidence::manifest::parse_strict;
use attest::evidence::signing::sign;
use ed25519_dalek::SigningKey;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A database with one closed campaign, its bundle exported as a folder, and the instance key.
struct Exported {
    db: TestDb,
    bundle: PathBuf,
    key: String,
}

fn ok(db: &TestDb, args: &[&str]) -> String {
    let (code, out, err) = attest_cli(db, args);
    assert_eq!(code, 0, "attest {args:?}:\nstdout:\n{out}\nstderr:\n{err}");
    out
}

async fn exported() -> Exported {
    let db = TestDb::new().await;
    for (kind, content) in [
        ("people", PEOPLE),
        ("roles", ROLES),
        ("eligibility", ELIGIBILITY),
    ] {
        let path = db.file(&format!("{kind}.csv"), content);
        ok(&db, &["import", kind, &path.to_string_lossy()]);
    }
    let definition = db.file("definition.toml", DEFINITION);
    ok(&db, &["campaign", "define", &definition.to_string_lossy()]);
    let launched = ok(&db, &["campaign", "launch", "reviewer-flow", "--json"]);
    let id = serde_json::from_str::<serde_json::Value>(&launched).expect("launch --json")["id"]
        .as_i64()
        .expect("id")
        .to_string();
    ok(&db, &["campaign", "close", &id]);
    let bundle = db.dir().join("bundle");
    ok(
        &db,
        &[
            "evidence",
            "export",
            &id,
            "--out",
            &bundle.to_string_lossy(),
        ],
    );
    let key = ok(&db, &["evidence", "key"]).trim().to_string();
    Exported { db, bundle, key }
}

/// `attest evidence verify` with no instance database at hand (an auditor's laptop).
fn verify_offline(bundle: &Path, key: Option<&str>) -> (i32, String, String) {
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let bundle = bundle.to_string_lossy();
    let mut args = vec!["evidence", "verify", bundle.as_ref()];
    if let Some(key) = key {
        args.extend(["--key", key]);
    }
    attest_cli_without_database(elsewhere.path(), &args)
}

fn verify_here(e: &Exported, bundle: &Path) -> (i32, String, String) {
    attest_cli(&e.db, &["evidence", "verify", &bundle.to_string_lossy()])
}

fn manifest_text(bundle: &Path) -> String {
    std::fs::read_to_string(bundle.join("manifest.json")).expect("manifest")
}

/// The bundle's manifest signed again, correctly, with a key that is not the instance's.
fn re_sign(bundle: &Path) {
    let manifest = parse_strict(&manifest_text(bundle)).expect("a valid manifest");
    let forged = sign(
        &SigningKey::from_bytes(&[9u8; 32]),
        manifest.body.campaign_id,
        manifest.body.generated_at,
        manifest.body.files,
    );
    std::fs::write(
        bundle.join("manifest.json"),
        serde_json::to_vec(&forged).expect("json"),
    )
    .expect("write manifest");
}

fn copy(from: &Path, to: &Path) -> PathBuf {
    std::fs::create_dir_all(to).expect("create copy");
    for entry in std::fs::read_dir(from).expect("read bundle") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
    to.to_path_buf()
}

#[tokio::test]
async fn a_bundle_re_signed_with_another_key_is_never_called_intact() {
    let e = exported().await;
    let forged = copy(&e.bundle, &e.db.dir().join("forged"));
    re_sign(&forged);

    // Offline, nothing pinned: the signature is valid, but whose it is, nobody can say.
    for bundle in [&e.bundle, &forged] {
        let (code, out, err) = verify_offline(bundle, None);
        assert_eq!(code, 3, "exit code for an unpinned bundle\n{out}\n{err}");
        assert!(
            out.contains("signature valid, signer NOT pinned"),
            "stdout:\n{out}"
        );
        assert!(!out.contains("bundle intact"), "stdout:\n{out}");
        assert!(err.contains("--key"), "stderr says how to pin:\n{err}");
    }
    // Pinned by --key: the real bundle passes, the forged one names both keys.
    let (code, out, _) = verify_offline(&e.bundle, Some(&e.key));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("bundle intact"), "{out}");
    let (code, out, err) = verify_offline(&forged, Some(&e.key));
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("NOT intact") && err.contains(&e.key), "{err}");

    // On the instance, its own keys pin the signer without --key.
    let (code, out, err) = verify_here(&e, &e.bundle);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("signed by this instance's key"), "{out}");
    let (code, out, err) = verify_here(&e, &forged);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("this instance's key"), "{err}");
    assert!(!out.contains("bundle intact"), "{out}");
}

#[tokio::test]
async fn manifest_fields_the_signature_does_not_cover_are_refused() {
    let e = exported().await;
    let bundle = copy(&e.bundle, &e.db.dir().join("annotated"));
    let mut manifest: serde_json::Value =
        serde_json::from_str(&manifest_text(&bundle)).expect("json");
    manifest["approved_by"] = "the external auditor".into();
    std::fs::write(bundle.join("manifest.json"), manifest.to_string()).expect("write");
    let (code, out, err) = verify_offline(&bundle, Some(&e.key));
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("unknown field `approved_by`"), "{err}");
}

#[tokio::test]
async fn oversized_manifests_and_files_are_refused_without_reading_them() {
    let e = exported().await;
    // A manifest padded with 8 MiB of white space is still valid JSON.
    let padded = copy(&e.bundle, &e.db.dir().join("padded"));
    let mut text = manifest_text(&padded);
    text.push_str(&" ".repeat(8 << 20));
    std::fs::write(padded.join("manifest.json"), text).expect("write");
    let (code, _, err) = verify_offline(&padded, Some(&e.key));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("manifest.json: larger than 64 KiB"),
        "stderr:\n{err}"
    );

    // A data file longer than its manifest entry is refused by its size.
    let grown = copy(&e.bundle, &e.db.dir().join("grown"));
    let audit = grown.join("audit.jsonl");
    let mut bytes = std::fs::read(&audit).expect("read");
    bytes.extend(std::iter::repeat_n(b'x', 4 << 20));
    std::fs::write(&audit, bytes).expect("write");
    let (code, _, err) = verify_offline(&grown, Some(&e.key));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("audit.jsonl") && err.contains("but the manifest says"),
        "stderr:\n{err}"
    );

    // A manifest naming a file outside the bundle is refused before anything is opened.
    let escaping = copy(&e.bundle, &e.db.dir().join("escaping"));
    let mut manifest: serde_json::Value =
        serde_json::from_str(&manifest_text(&escaping)).expect("json");
    manifest["files"][0]["name"] = "../../etc/passwd".into();
    std::fs::write(escaping.join("manifest.json"), manifest.to_string()).expect("write");
    let (code, _, err) = verify_offline(&escaping, Some(&e.key));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a file name a bundle holds"), "{err}");
}

#[tokio::test]
async fn export_never_overwrites_without_force_nor_writes_through_a_link() {
    let e = exported().await;
    let id = {
        let out = ok(&e.db, &["campaign", "list", "--json"]);
        let list: serde_json::Value = serde_json::from_str(&out).expect("json");
        list[0]["id"].as_i64().expect("id").to_string()
    };
    let dir = e.db.dir();
    let export = |out: &Path, force: bool| {
        let out = out.to_string_lossy().into_owned();
        let mut args = vec!["evidence", "export", id.as_str(), "--out", out.as_str()];
        if force {
            args.push("--force");
        }
        attest_cli(&e.db, &args)
    };

    // An existing file is refused, and left as it was.
    let existing = dir.join("existing.zip");
    std::fs::write(&existing, b"precious").expect("write");
    let (code, _, err) = export(&existing, false);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("exists") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(&existing).expect("read"), b"precious");
    // With --force it is replaced by a bundle that verifies.
    let (code, _, err) = export(&existing, true);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = verify_offline(&existing, Some(&e.key));
    assert_eq!(code, 0, "{out}\n{err}");

    // A symbolic link is never written through, not even with --force.
    let target = dir.join("target.txt");
    std::fs::write(&target, b"not yours").expect("write");
    let link = dir.join("link.zip");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    for force in [false, true] {
        let (code, _, err) = export(&link, force);
        assert_eq!(code, 2, "force {force}: {err}");
        assert!(err.contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read(&target).expect("read"), b"not yours");
        assert!(std::fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink());
    }
    // Nor is a folder link, and a non-empty folder is never written into.
    let folder_link = dir.join("folder-link");
    std::os::unix::fs::symlink(dir.join("bundle"), &folder_link).expect("symlink");
    let (code, _, err) = export(&folder_link, true);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = export(&e.bundle, true);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not empty"), "{err}");
    // No partial export was left beside them.
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// `attest serve` writing invitations as .eml files (no SMTP): at the default log level its
/// log names the mails but never carries a reviewer's link.
#[tokio::test]
async fn reviewer_links_stay_out_of_the_log_at_the_default_level() {
    let db = TestDb::new().await;
    for (kind, content) in [
        ("people", PEOPLE),
        ("roles", ROLES),
        ("eligibility", ELIGIBILITY),
    ] {
        let path = db.file(&format!("{kind}.csv"), content);
        ok(&db, &["import", kind, &path.to_string_lossy()]);
    }
    let definition = db.file("definition.toml", DEFINITION);
    ok(&db, &["campaign", "define", &definition.to_string_lossy()]);
    ok(&db, &["campaign", "launch", "reviewer-flow"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let log = db.dir().join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_attest"))
        .args(["serve", "--tick", "1"])
        .current_dir(db.dir())
        .env("ATTEST_DATABASE_URL", &db.url)
        .env("ATTEST_BIND", format!("127.0.0.1:{port}"))
        .env("ATTEST_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env_remove("ATTEST_LOG")
        .env_remove("ATTEST_SMTP_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start attest serve");
    // The worker logs each mail once it is written: wait for the two invitations' lines.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.matches("mail written to").count() >= 2 || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        text.matches("mail written to").count() >= 2,
        "serve logged no invitations:\n{text}"
    );
    let mails: Vec<PathBuf> = std::fs::read_dir(db.dir().join("outbox"))
        .expect("outbox")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    let mail = std::fs::read_to_string(&mails[0]).expect("read mail");
    assert!(
        mail.contains("/r/"),
        "the invitation carries a link:\n{mail}"
    );
    assert!(
        !text.contains("/r/"),
        "the default log carries a reviewer link:\n{text}"
    );
}
