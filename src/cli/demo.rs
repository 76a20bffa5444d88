//! `attest demo`: a realistic organisation in the configured database, seeded through the same
//! import path a real file takes, so what the demo shows is what attest does.

use super::output::say;
use super::Failure;
use crate::domain::records::ImportKind;
use crate::engine::import::ImportOptions;
use crate::engine::{Engine, NoProgress};
use crate::synth::{write_org, OrgSpec};

/// The demo organisation: 300 people, about four eligibilities each.
const DEMO: OrgSpec = OrgSpec {
    people: 300,
    eligibilities: 1200,
    seed: 2026,
};

pub async fn run(engine: &Engine, actor: &str) -> Result<(), Failure> {
    let dir = tempfile::tempdir().map_err(|e| Failure::runtime(e.to_string()))?;
    // Anchored at the start of today, so running the demo again the same day changes nothing.
    let today = engine
        .now()
        .date_naive()
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let files = write_org(&DEMO, dir.path(), today).map_err(|e| Failure::runtime(e.to_string()))?;
    say!("Seeding the demo organisation into the database:");
    for (kind, path) in [
        (ImportKind::People, &files.people),
        (ImportKind::Roles, &files.roles),
        (ImportKind::Eligibility, &files.eligibility),
    ] {
        let report = engine
            .import(kind, path, ImportOptions::default(), actor, &NoProgress)
            .await?;
        say!(
            "  {:<12} {:>5} rows: {} new, {} changed, {} unchanged",
            kind.as_str(),
            report.rows,
            report.inserted,
            report.updated,
            report.unchanged
        );
    }
    let audit = engine.verify_audit_log().await?;
    match audit {
        Ok(events) => say!("Audit log: {events} events, hash chain intact."),
        Err(broken) => return Err(Failure::runtime(format!("audit log broken: {broken}"))),
    }
    say!("");
    say!("Look around:");
    say!("  attest eligibility list --role \"Global Administrator\"");
    say!("  attest eligibility list --principal breakglass1");
    say!("  attest audit log");
    Ok(())
}
