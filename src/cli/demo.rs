//! `attest demo`: a realistic organisation in the configured database, seeded through the same
//! import path a real file takes; a campaign launched over it; and the server running, with a
//! reviewer's link printed that works when clicked. What the demo shows is what attest does.

use super::output::say;
use super::Failure;
use crate::config::Config;
use crate::domain::lifecycle::CampaignState;
use crate::domain::records::ImportKind;
use crate::engine::definitions::DefinitionText;
use crate::engine::import::{ImportInput, ImportOptions};
use crate::engine::{Engine, EngineError, NoProgress};
use crate::store::campaigns::CampaignRow;
use crate::synth::{write_org, OrgSpec};

/// The demo organisation: 300 people, about four eligibilities each.
const DEMO: OrgSpec = OrgSpec {
    people: 300,
    eligibilities: 1200,
    seed: 2026,
};

/// The demo campaign's definition, stored once the organisation is seeded.
const DEMO_CAMPAIGN: &str = "demo-high-risk-quarterly";

/// The demo's campaign: the high-risk roles, reviewed by managers every quarter.
const DEFINITION: &str = r#"
name = "demo-high-risk-quarterly"
description = "Quarterly review of eligibility for high-risk privileged roles (demo data)"
owner = "p0000000"
schedule = "quarterly"
timezone = "Europe/Berlin"
duration_days = 14
reviewers = "manager"
fallback_reviewer = "p0000001"
on_no_response = "recommendation"
reminders_days_before = [7, 2]
escalate_after_days = 10
require_justification = ["revoke"]
recommend_revoke_after_inactive_days = 90

[scope]
risk = ["high"]
"#;

pub async fn run(engine: Engine, config: &Config, actor: &str) -> Result<(), Failure> {
    let dir = tempfile::tempdir().map_err(|e| Failure::runtime(e.to_string()))?;
    // Anchored at the start of today, so running the demo again the same day changes nothing.
    let today = engine
        .now()
        .date_naive()
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let database = crate::config::mask_url(&config.database_url);
    // The demo's definition is stored once the organisation is in: seeded before. Importing the
    // generated files again would list again every eligibility the demo's campaigns removed,
    // which an import makes active again (a "reappeared" finding): the demo leaves it removed.
    let seeded = engine
        .definitions()
        .await?
        .iter()
        .any(|d| d.name == DEMO_CAMPAIGN);
    if seeded {
        say!(
            "The demo organisation is already in {database}: not imported again, so what the demo's campaigns removed stays removed."
        );
    } else {
        seed(&engine, dir.path(), today, &database, actor).await?;
    }
    let definition = dir.path().join("demo-high-risk-quarterly.toml");
    std::fs::write(&definition, DEFINITION).map_err(|e| Failure::runtime(e.to_string()))?;
    engine
        .define(
            &DefinitionText::new(definition.display().to_string(), DEFINITION),
            actor,
        )
        .await?;
    let campaign = demo_campaign(&engine, actor).await?;
    let view = engine.campaign(campaign.id).await?;
    let reviewers = engine.reviewer_summaries(campaign.id).await?;
    let Some(busiest) = reviewers.iter().max_by_key(|r| r.items) else {
        return Err(Failure::runtime(
            "the demo campaign has no items".to_string(),
        ));
    };
    let reviewer = engine.principal_id(&busiest.id).await?.ok_or_else(|| {
        Failure::runtime(format!(
            "the demo's reviewer {} is not in the directory",
            busiest.id
        ))
    })?;
    let count = busiest.items;
    let token = engine.issue_token(campaign.id, reviewer, None).await?;
    let base = config.base_url.trim_end_matches('/').to_string();
    let reviewer_name = busiest.name.clone();
    say!(
        "Campaign #{} ({} {}): {} for {}, deadline {}.",
        campaign.id,
        campaign.name,
        campaign.period,
        crate::domain::figures::count(view.summary.population, "item", "items"),
        crate::domain::figures::count(view.summary.reviewers, "reviewer", "reviewers"),
        campaign.due_at.map(|t| t.to_rfc3339()).unwrap_or_default()
    );
    let link = format!("{base}/r/{token}");
    let admin = demo_admin(&engine, actor).await?;
    let outbox = match &config.smtp_url {
        Some(url) => format!("through {}", crate::config::mask_url(url)),
        None => format!("as .eml files into {}/", config.outbox_dir.display()),
    };
    super::serve::serve(
        engine,
        config,
        std::time::Duration::from_secs(30),
        move || {
            say!("");
            say!("attest is running on {base}  (Ctrl-C stops it)");
            say!("Invitations to every reviewer are being sent {outbox}.");
            say!("");
            say!(
                "Open {reviewer_name}'s review ({}) — no password, the link is the key:",
                crate::domain::figures::count(count, "item", "items")
            );
            say!("  {link}");
            say!("");
            say!("Admins and auditors sign in at {base}/login:");
            say!("  {admin}");
        },
    )
    .await
}

/// Imports the generated organisation through the normal import path.
async fn seed(
    engine: &Engine,
    dir: &std::path::Path,
    today: chrono::DateTime<chrono::Utc>,
    database: &str,
    actor: &str,
) -> Result<(), Failure> {
    let files = write_org(&DEMO, dir, today).map_err(|e| Failure::runtime(e.to_string()))?;
    say!("Seeding the demo organisation into {database}:");
    for (kind, path) in [
        (ImportKind::People, &files.people),
        (ImportKind::Roles, &files.roles),
        (ImportKind::Eligibility, &files.eligibility),
    ] {
        // Named for what they are: the generated files live in a folder deleted afterwards, and
        // an audit event naming that folder would point at nothing.
        let name = format!(
            "demo organisation ({})",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let report = engine
            .import(
                kind,
                ImportInput::open(path)?.named(&name),
                ImportOptions::default(),
                actor,
                &NoProgress,
            )
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
    Ok(())
}

/// The demo campaign of this period: launched now, or the open one of an earlier run; when
/// this period's has ended, a new, off-cycle one (an ended campaign takes no more decisions).
async fn demo_campaign(engine: &Engine, actor: &str) -> Result<CampaignRow, Failure> {
    match engine
        .launch(DEMO_CAMPAIGN, false, actor, &NoProgress)
        .await
    {
        Ok(campaign) => return Ok(campaign),
        Err(EngineError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let open = engine.campaigns(&[CampaignState::Active]).await?;
    if let Some(view) = open.into_iter().find(|c| c.campaign.name == DEMO_CAMPAIGN) {
        say!(
            "Campaign #{} of an earlier run is still open: showing it again.",
            view.campaign.id
        );
        return Ok(view.campaign);
    }
    let campaign = engine
        .launch(DEMO_CAMPAIGN, true, actor, &NoProgress)
        .await?;
    say!(
        "This period's demo campaign has ended: launched a new, off-cycle one, #{}.",
        campaign.id
    );
    Ok(campaign)
}

/// The demo's admin account: created (with its password printed) on the first run.
const DEMO_ADMIN: &str = "admin@attest.demo";

async fn demo_admin(engine: &Engine, actor: &str) -> Result<String, Failure> {
    let password = crate::engine::accounts::generate_password()?;
    match engine.add_account(DEMO_ADMIN, crate::domain::access::Role::Admin, &password, actor).await {
        Ok(_) => Ok(format!("{DEMO_ADMIN} / {password}")),
        Err(EngineError::Conflict(_)) => Ok(format!(
            "{DEMO_ADMIN} (its password was printed when the demo first ran; `attest user add` makes another account)"
        )),
        Err(e) => Err(e.into()),
    }
}
