//! Issue 13's acceptance on a real OpenLDAP slapd with a few hundred people: `source sync`
//! imports them, a campaign over the source launches, a revoked and an unanswered membership
//! are gone from the directory after the campaign closes (read with the real `ldapsearch`), kept
//! ones remain, the evidence shows the directory's state after remediation, and re-syncing
//! reinstates nothing; a membership added back by hand is a reappearance, removed again where
//! the source says so. A bad password, an unreachable server and a missing permission each
//! give one clear line and exit 1.

use crate::common::slapd::{
    group_dn, person_dn, uid, Slapd, ADMIN_DN, ADMIN_PASSWORD, PEOPLE_BASE, READER_DN,
    READER_PASSWORD, SERVICE_DN, SERVICE_PASSWORD,
};
use crate::common::{at, attest_cli_env, TestDb};
use attest::clock::ManualClock;
use attest::domain::closing::Channel;
use attest::domain::closing::Verdict;
use attest::engine::decide::DecisionRequest;
use attest::engine::definitions::DefinitionText;
use attest::engine::evidence::ExportOptions;
use attest::engine::{Engine, NoProgress};
use attest::sources::config::{LdapConfig, LdapGroup, OnReappearance, SourceConfig};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::BTreeMap;
use std::sync::Arc;

const PEOPLE: usize = 300;

fn corp(slapd: &Slapd, password_env: &str, on_reappearance: OnReappearance) -> SourceConfig {
    SourceConfig::Ldap(LdapConfig {
        url: slapd.url.clone(),
        starttls: false,
        tls_insecure: false,
        bind_dn: SERVICE_DN.into(),
        password_env: password_env.into(),
        people_base: PEOPLE_BASE.into(),
        people_filter: "(objectClass=inetOrgPerson)".into(),
        member_attribute: "member".into(),
        on_reappearance,
        sync_schedule: None,
        groups: vec![LdapGroup {
            dn: group_dn("domain-admins"),
            role: "Domain Admins".into(),
            scope: "/".into(),
            risk: "high".into(),
            owner: Some(uid(1)),
            description: Some("Full control of the directory".into()),
        }],
    })
}

const DEFINITION: &str = r#"
name = "corp-admins"
owner = "u0001"
schedule = "quarterly"
duration_days = 14
reviewers = "manager"
fallback_reviewer = "u0001"
on_no_response = "remove"
max_auto_remove_percent = 100
source = "corp"

[scope]
roles = ["Domain Admins"]
"#;

/// The member DNs of domain-admins that are people, lower-cased.
fn people_in_group(slapd: &Slapd) -> Vec<String> {
    slapd
        .members("domain-admins")
        .into_iter()
        .map(|v| v.to_ascii_lowercase())
        .filter(|v| v.ends_with(&PEOPLE_BASE.to_ascii_lowercase()))
        .collect()
}

fn ldapmodify(slapd: &Slapd, ldif: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("ldapmodify")
        .args(["-x", "-H", &slapd.url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("run ldapmodify");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(ldif.as_bytes())
        .expect("write ldif");
    assert!(
        child.wait().expect("ldapmodify").success(),
        "ldapmodify failed"
    );
}

async fn items(engine: &Engine, campaign: i64) -> Vec<entity::review_item::Model> {
    entity::review_item::Entity::find()
        .filter(entity::review_item::Column::CampaignId.eq(campaign))
        .order_by_asc(entity::review_item::Column::Id)
        .all(engine.store().conn())
        .await
        .expect("items")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_over_ldap_removes_in_the_directory_and_a_resync_reinstates_nothing() {
    if !crate::common::slapd::available(
        "a_campaign_over_ldap_removes_in_the_directory_and_a_resync_reinstates_nothing",
    ) {
        return;
    }
    let slapd = Slapd::start(PEOPLE);
    let password_env = "ATTEST_TEST_LDAP_PASSWORD_CAMPAIGN";
    std::env::set_var(password_env, SERVICE_PASSWORD);
    let db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(at("2026-10-01T08:00:00Z")));
    let engine = db
        .engine_at(clock.clone())
        .await
        .with_sources(BTreeMap::from([(
            "corp".to_string(),
            corp(&slapd, password_env, OnReappearance::Flag),
        )]));

    // The sync brings in every person and every membership of the group.
    let in_group = people_in_group(&slapd);
    assert!(in_group.len() > 20, "{in_group:?}");
    let synced = engine.sync_source("corp", "test").await.expect("sync");
    assert_eq!(synced.people, PEOPLE as u64, "{synced:?}");
    assert_eq!(synced.eligibility, in_group.len() as u64, "{synced:?}");
    assert_eq!(synced.new, in_group.len() as u64, "{synced:?}");

    // A campaign over the source reviews exactly those memberships.
    engine
        .define(&DefinitionText::new("corp-admins.toml", DEFINITION), "test")
        .await
        .expect("define");
    let campaign = engine
        .launch("corp-admins", false, "test", &NoProgress)
        .await
        .expect("launch");
    let items = items(&engine, campaign.id).await;
    assert_eq!(items.len(), in_group.len());
    let (revoked, unanswered) = (&items[0], &items[1]);
    let kept: Vec<i64> = items[2..].iter().map(|i| i.id).collect();
    let decide = |ids: Vec<i64>, verdict: Verdict| {
        let engine = engine.clone();
        async move {
            engine
                .decide(&DecisionRequest {
                    campaign_id: campaign.id,
                    item_ids: &ids,
                    verdict,
                    justification: Some("reviewed in the access review"),
                    reviewer: None,
                    acting_for: None,
                    channel: Channel::Api,
                    client_addr: None,
                    actor: "account:admin@example.com",
                })
                .await
                .expect("decide")
        }
    };
    decide(vec![revoked.id], Verdict::Revoke).await;
    decide(kept.clone(), Verdict::Attest).await;
    engine.close(campaign.id, "test").await.expect("close");
    let _ = engine.confirm_removals(campaign.id, "test").await;
    while engine.remediate_step().await.expect("remediate") > 0 {}

    // In the directory: the revoked and the unanswered membership are gone, the kept remain.
    let after = people_in_group(&slapd);
    for gone in [revoked, unanswered] {
        let dn = person_dn(&gone.holder_external_id).to_ascii_lowercase();
        assert!(!after.contains(&dn), "{dn} is still a member: {after:?}");
    }
    assert_eq!(after.len(), in_group.len() - 2, "{after:?}");
    for item in &items[2..] {
        let dn = person_dn(&item.holder_external_id).to_ascii_lowercase();
        assert!(after.contains(&dn), "kept {dn} was removed");
    }

    // The evidence shows the directory's receipts and the state after remediation.
    let folder = db.dir().join("bundle");
    engine
        .export_evidence(campaign.id, &folder, ExportOptions::default())
        .await
        .expect("export");
    let after_csv =
        std::fs::read_to_string(folder.join("after_remediation.csv")).expect("after csv");
    let items_csv = std::fs::read_to_string(folder.join("items.csv")).expect("items csv");
    assert!(
        items_csv.contains("ldap:corp:"),
        "items.csv carries no directory receipt:\n{items_csv}"
    );
    for gone in [revoked, unanswered] {
        let row = after_csv
            .lines()
            .find(|l| l.contains(&gone.holder_external_id))
            .unwrap_or_else(|| panic!("no after-remediation row for {}", gone.holder_external_id));
        assert!(row.contains("removed"), "{row}");
    }

    // The next sync lists the same directory: nothing comes back, nothing new.
    let again = engine
        .sync_source("corp", "test")
        .await
        .expect("sync again");
    assert_eq!(again.reappeared, 0, "{again:?}");
    assert_eq!(again.new, 0, "{again:?}");
    assert_eq!(again.changed, 0, "{again:?}");
    assert_eq!(again.eligibility, in_group.len() as u64 - 2);
    assert!(
        entity::mover_event::Entity::find()
            .all(engine.store().conn())
            .await
            .expect("mover events")
            .is_empty(),
        "a sync of the same directory records no move"
    );

    // A person's manager changes in the directory: the next sync records the move.
    let (mover, before, after) = (uid(4), uid(2), uid(3));
    assert_eq!(crate::common::slapd::manager_uid(4), Some(before.clone()));
    ldapmodify(
        &slapd,
        &format!(
            "dn: {}\nchangetype: modify\nreplace: manager\nmanager: {}\n",
            person_dn(&mover),
            person_dn(&after)
        ),
    );
    engine.sync_source("corp", "test").await.expect("sync");
    let moves = entity::mover_event::Entity::find()
        .all(engine.store().conn())
        .await
        .expect("mover events");
    let names = attest::store::directory::names_by_id(
        engine.store().conn(),
        &[
            moves[0].principal_id,
            moves[0].old_manager_id,
            moves[0].new_manager_id,
        ],
    )
    .await
    .expect("names");
    assert_eq!(moves.len(), 1, "{moves:?}");
    assert_eq!(
        (
            names[&moves[0].principal_id].id.clone(),
            names[&moves[0].old_manager_id].id.clone(),
            names[&moves[0].new_manager_id].id.clone()
        ),
        (mover, before, after)
    );
    assert_eq!(moves[0].via, "sync of corp");

    // Someone adds the revoked member back by hand: the next sync says so and records it.
    let revoked_dn = person_dn(&revoked.holder_external_id);
    ldapmodify(
        &slapd,
        &format!(
            "dn: {}\nchangetype: modify\nadd: member\nmember: {revoked_dn}\n",
            group_dn("domain-admins")
        ),
    );
    let back = engine.sync_source("corp", "test").await.expect("sync");
    assert_eq!(back.reappeared, 1, "{back:?}");
    assert_eq!(back.reappeared_examples[0].campaign_id, Some(campaign.id));
    assert_eq!(back.removed_again, 0, "flag only: {back:?}");
    assert!(people_in_group(&slapd).contains(&revoked_dn.to_ascii_lowercase()));

    // With on_reappearance = "remove", a membership the campaign removed that comes back is
    // removed again through the source (the flagged one stays: it is active again).
    let remover = db
        .engine_at(clock.clone())
        .await
        .with_sources(BTreeMap::from([(
            "corp".to_string(),
            corp(&slapd, password_env, OnReappearance::Remove),
        )]));
    let unanswered_dn = person_dn(&unanswered.holder_external_id);
    ldapmodify(
        &slapd,
        &format!(
            "dn: {}\nchangetype: modify\nadd: member\nmember: {unanswered_dn}\n",
            group_dn("domain-admins")
        ),
    );
    let removed_again = remover.sync_source("corp", "test").await.expect("sync");
    assert_eq!(removed_again.reappeared, 1, "{removed_again:?}");
    assert_eq!(removed_again.removed_again, 1, "{removed_again:?}");
    let now = people_in_group(&slapd);
    assert!(
        !now.contains(&unanswered_dn.to_ascii_lowercase()),
        "the reappeared membership is still in the directory"
    );
    assert!(now.contains(&revoked_dn.to_ascii_lowercase()));
}

#[tokio::test]
async fn source_test_and_sync_from_the_command_line_say_what_is_wrong_in_one_line() {
    if !crate::common::slapd::available(
        "source_test_and_sync_from_the_command_line_say_what_is_wrong_in_one_line",
    ) {
        return;
    }
    let slapd = Slapd::start(40);
    let db = TestDb::new().await;
    let closed = {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        socket.local_addr().expect("addr").port()
    };
    let group = group_dn("domain-admins");
    let source = |name: &str, url: &str, bind_dn: &str, env: &str| {
        format!(
            "[sources.{name}]\nkind = \"ldap\"\nurl = \"{url}\"\nbind_dn = \"{bind_dn}\"\npassword_env = \"{env}\"\n\
             people_base = \"{PEOPLE_BASE}\"\n[[sources.{name}.groups]]\ndn = \"{group}\"\nrole = \"Domain Admins\"\n\n"
        )
    };
    let toml = [
        source("corp", &slapd.url, SERVICE_DN, "CORP_PW"),
        source("wrongpw", &slapd.url, SERVICE_DN, "WRONG_PW"),
        source(
            "down",
            &format!("ldap://127.0.0.1:{closed}"),
            SERVICE_DN,
            "CORP_PW",
        ),
        source("readonly", &slapd.url, READER_DN, "READER_PW"),
    ]
    .concat();
    std::fs::write(db.dir().join("attest.toml"), toml).expect("attest.toml");
    let env = [
        ("CORP_PW", SERVICE_PASSWORD),
        ("WRONG_PW", "not-the-password"),
        ("READER_PW", READER_PASSWORD),
    ];

    let (code, out, err) = attest_cli_env(&db, &["source", "test", "corp"], &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("nothing was changed"), "{out}");
    let (code, out, err) = attest_cli_env(&db, &["source", "sync", "corp"], &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("synced corp (ldap): 40 people"), "{out}");
    assert!(out.contains("reappeared: 0"), "{out}");

    for (name, says) in [
        ("wrongpw", "invalid credentials"),
        ("down", "cannot reach"),
        ("readonly", "may not write member"),
    ] {
        // A sync only reads: the read-only account's goes through; `source test` finds it.
        let commands: &[&str] = if name == "readonly" {
            &["test"]
        } else {
            &["test", "sync"]
        };
        for &command in commands {
            let (code, out, err) = attest_cli_env(&db, &["source", command, name], &env);
            assert_eq!(code, 1, "source {command} {name}:\n{out}{err}");
            let lines: Vec<&str> = err.lines().collect();
            assert_eq!(lines.len(), 1, "one line, not {lines:?}");
            assert!(
                lines[0].starts_with(&format!("error: source {name}: ")) && lines[0].contains(says),
                "source {command} {name}: {err}"
            );
            for secret in [SERVICE_PASSWORD, READER_PASSWORD, "not-the-password"] {
                assert!(!err.contains(secret) && !out.contains(secret), "{err}");
            }
        }
    }
    let (_, list, _) = attest_cli_env(&db, &["source", "list"], &env);
    assert!(list.contains("wrongpw (ldap)"), "{list}");
    assert!(
        list.contains("FAILED"),
        "the failed syncs are listed: {list}"
    );
    assert!(!list.contains(SERVICE_PASSWORD), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_launch_whose_source_cannot_be_synced_waits_tells_the_owner_and_launches_later()
{
    if !crate::common::slapd::available(
        "a_scheduled_launch_whose_source_cannot_be_synced_waits_tells_the_owner_and_launches_later",
    ) {
        return;
    }
    let slapd = Slapd::start(40);
    let password_env = "ATTEST_TEST_LDAP_PASSWORD_WAITING";
    std::env::set_var(password_env, SERVICE_PASSWORD);
    let db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(at("2026-12-15T08:00:00Z")));
    let sources = |url: &str| {
        let mut config = corp(&slapd, password_env, OnReappearance::Flag);
        if let SourceConfig::Ldap(ldap) = &mut config {
            ldap.url = url.to_string();
        }
        BTreeMap::from([("corp".to_string(), config)])
    };
    let up = db
        .engine_at(clock.clone())
        .await
        .with_sources(sources(&slapd.url));
    up.sync_source("corp", "test").await.expect("sync");
    up.define(&DefinitionText::new("corp-admins.toml", DEFINITION), "test")
        .await
        .expect("define");

    // The quarter begins while the directory cannot be reached.
    let closed = {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        socket.local_addr().expect("addr").port()
    };
    let down = db
        .engine_at(clock.clone())
        .await
        .with_sources(sources(&format!("ldap://127.0.0.1:{closed}")));
    clock.set(at("2027-01-01T09:30:00Z"));
    let tick = attest::scheduler::tick(&down)
        .await
        .expect("the tick goes on");
    assert!(tick.launched.is_empty(), "{tick:?}");
    clock.advance(chrono::Duration::minutes(1));
    attest::scheduler::tick(&down).await.expect("tick");
    let campaigns = entity::campaign::Entity::find()
        .all(down.store().conn())
        .await
        .expect("campaigns");
    assert!(
        campaigns.is_empty(),
        "launched on stale data: {campaigns:?}"
    );

    // The owner is told once, with the source's own words; the console's definitions say why.
    let waiting = entity::outbox_mail::Entity::find()
        .filter(entity::outbox_mail::Column::Template.eq("launch_waiting"))
        .all(down.store().conn())
        .await
        .expect("mail");
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let outbox = db.dir().join("outbox");
    let mailer = attest::mail::Mailer::new(
        down.clone(),
        Arc::new(attest::mail::transport::EmlFiles::new(outbox.clone())),
        "attest <attest@example.test>",
        "http://attest.example",
    )
    .expect("mailer");
    mailer.drain().await.expect("send");
    let sent: Vec<String> = std::fs::read_dir(&outbox)
        .expect("outbox")
        .map(|e| std::fs::read_to_string(e.expect("entry").path()).expect("eml"))
        .collect();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].contains("corp-admins"), "{}", sent[0]);
    assert!(sent[0].contains("cannot reach"), "{}", sent[0]);
    let definitions = down.definitions().await.expect("definitions");
    assert!(
        definitions[0]
            .source_error
            .as_deref()
            .is_some_and(|e| e.contains("cannot reach")),
        "{definitions:?}"
    );

    // Once the directory answers again, the scheduler launches (after its wait).
    clock.advance(chrono::Duration::minutes(10));
    let tick = attest::scheduler::tick(&up).await.expect("tick");
    assert_eq!(tick.launched.len(), 1, "{tick:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_removal_interrupted_before_it_was_recorded_is_recorded_as_it_happened() {
    if !crate::common::slapd::available(
        "a_directory_removal_interrupted_before_it_was_recorded_is_recorded_as_it_happened",
    ) {
        return;
    }
    let slapd = Slapd::start(40);
    let password_env = "ATTEST_TEST_LDAP_PASSWORD_INTERRUPTED";
    std::env::set_var(password_env, SERVICE_PASSWORD);
    let db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(at("2026-10-01T08:00:00Z")));
    let engine = db
        .engine_at(clock.clone())
        .await
        .with_sources(BTreeMap::from([(
            "corp".to_string(),
            corp(&slapd, password_env, OnReappearance::Flag),
        )]));
    engine.sync_source("corp", "test").await.expect("sync");
    engine
        .define(
            &DefinitionText::new(
                "corp-admins.toml",
                DEFINITION.replace("on_no_response = \"remove\"", "on_no_response = \"keep\""),
            ),
            "test",
        )
        .await
        .expect("define");
    let campaign = engine
        .launch("corp-admins", false, "test", &NoProgress)
        .await
        .expect("launch");
    let revoked = items(&engine, campaign.id).await.remove(0);
    engine
        .decide(&DecisionRequest {
            campaign_id: campaign.id,
            item_ids: &[revoked.id],
            verdict: Verdict::Revoke,
            justification: Some("left"),
            reviewer: None,
            acting_for: None,
            channel: Channel::Api,
            client_addr: None,
            actor: "account:admin@example.com",
        })
        .await
        .expect("revoke");
    engine.close(campaign.id, "test").await.expect("close");
    let dn = person_dn(&revoked.holder_external_id).to_ascii_lowercase();

    // The directory removes the member; attest stops before recording it.
    crate::common::fail_remediation_records(&engine, true, true).await;
    let first_try = attest::clock::Clock::now(clock.as_ref());
    assert!(engine.remediate_step().await.is_err());
    assert!(
        !people_in_group(&slapd).contains(&dn),
        "the directory acted"
    );
    crate::common::fail_remediation_records(&engine, false, true).await;

    // After the lease, the retry finds it gone and records the interrupted attempt's removal.
    clock.advance(chrono::Duration::minutes(6));
    assert_eq!(engine.remediate_step().await.expect("retry"), 1);
    let rem = entity::remediation::Entity::find()
        .filter(entity::remediation::Column::CampaignId.eq(campaign.id))
        .one(engine.store().conn())
        .await
        .expect("remediation")
        .expect("one removal");
    assert_eq!(rem.state.as_str(), "removed", "{rem:?}");
    assert_eq!(rem.removed_at, Some(first_try), "{rem:?}");
    let receipt = rem.receipt.unwrap_or_default();
    assert!(
        receipt.starts_with("ldap:corp:") && receipt.contains("stopped before it was recorded"),
        "{receipt}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_that_would_remove_most_of_a_source_is_refused_unless_forced() {
    if !crate::common::slapd::available(
        "a_sync_that_would_remove_most_of_a_source_is_refused_unless_forced",
    ) {
        return;
    }
    let slapd = Slapd::start(200);
    let password_env = "ATTEST_TEST_LDAP_PASSWORD_MASS";
    std::env::set_var(password_env, SERVICE_PASSWORD);
    let db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(at("2026-10-01T08:00:00Z")));
    let engine = db
        .engine_at(clock.clone())
        .await
        .with_sources(BTreeMap::from([(
            "corp".to_string(),
            corp(&slapd, password_env, OnReappearance::Flag),
        )]));
    let first = engine.sync_source("corp", "test").await.expect("sync");
    assert!(first.eligibility > 10, "{first:?}");

    // The group is emptied (as a broken change on the directory side would leave it).
    ldapmodify(
        &slapd,
        &format!(
            "dn: {}\nchangetype: modify\nreplace: member\nmember: {}\n",
            group_dn("domain-admins"),
            crate::common::slapd::PLACEHOLDER_DN
        ),
    );
    match engine.sync_source("corp", "test").await {
        Err(attest::engine::EngineError::Source(e)) => {
            assert!(
                e.0.contains("--force") && e.0.contains("nothing was changed"),
                "{e}"
            );
        }
        other => panic!("a sync removing everything went through: {other:?}"),
    }
    let still = entity::eligibility::Entity::find()
        .filter(
            entity::eligibility::Column::Status
                .eq(attest::domain::eligibility::EligibilityStatus::Active),
        )
        .all(engine.store().conn())
        .await
        .expect("eligibility");
    assert_eq!(
        still.len() as u64,
        first.eligibility,
        "the refused sync changed rows"
    );
    let listed = engine.list_sources().await.expect("list");
    let state = listed[0].state.as_ref().expect("state");
    assert!(
        state
            .last_sync_error
            .as_deref()
            .is_some_and(|e| e.contains("--force")),
        "{state:?}"
    );

    // The admin says the source really shrank.
    let forced = engine
        .sync_source_with("corp", "test", true, &attest::engine::NoProgress)
        .await
        .expect("forced sync");
    assert_eq!(forced.removed, first.eligibility, "{forced:?}");
}
