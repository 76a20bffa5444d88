//! Acceptance tests for launches that race or break: two schedulers on one PostgreSQL database
//! at the same due time, and a launch whose source fails part-way, finished by a second launch
//! or a later tick with nothing twice.
//!
//! Every test gets its own database (SQLite, or PostgreSQL with ATTEST_TEST_DATABASE_URL); the
//! two-scheduler test needs PostgreSQL and says SKIPPED without it.

mod campaign_support;
mod common;

use attest::engine::{Engine, EngineError, NoProgress};
use attest::scheduler::tick;
use campaign_support::*;
use common::{at, require_postgres, TestDb};
use sea_orm::{ConnectionTrait, Statement};
use std::fmt::Write as _;

/// An organisation of `managers` managers with `holders` reports between them, each report
/// eligible for "Global Administrator" on `scopes` subscriptions: `holders × scopes` items.
fn generated_org(managers: usize, holders: usize, scopes: usize) -> (String, String, String) {
    let mut people = String::from(
        "id,name,email,manager_id,kind,enabled\n\
         own,Olga Owner,olga@org.test,,user,true\n\
         fb,Frank Fallback,frank@org.test,own,user,true\n",
    );
    for m in 0..managers {
        let _ = writeln!(people, "m{m},Manager {m},m{m}@org.test,own,user,true");
    }
    for h in 0..holders {
        let _ = writeln!(
            people,
            "h{h},Holder {h},h{h}@org.test,m{},user,true",
            h % managers
        );
    }
    let roles = "name,owner_id,risk,description\nGlobal Administrator,own,high,\n".to_string();
    let mut eligibility = String::from("principal_id,role,scope,start,end,last_activated_at\n");
    for h in 0..holders {
        for s in 0..scopes {
            let _ = writeln!(
                eligibility,
                "h{h},Global Administrator,/subscriptions/s{s:03},2025-01-10,,2026-12-01"
            );
        }
    }
    (people, roles, eligibility)
}

async fn import_generated(
    db: &TestDb,
    engine: &Engine,
    managers: usize,
    holders: usize,
    scopes: usize,
) {
    let (people, roles, eligibility) = generated_org(managers, holders, scopes);
    import_org(
        db,
        engine,
        &OrgFiles {
            people: &people,
            roles: &roles,
            eligibility: &eligibility,
        },
    )
    .await;
}

fn quarterly(name: &str, on_no_response: &str) -> String {
    format!(
        r#"
name = "{name}"
owner = "own"
schedule = "quarterly"
timezone = "Europe/Berlin"
duration_days = 14
reviewers = "manager"
fallback_reviewer = "fb"
on_no_response = "{on_no_response}"
reminders_days_before = [7, 2]
"#
    )
}

/// (campaign, eligibility) pairs that have more than one item, over the whole database.
async fn duplicate_items(engine: &Engine) -> Vec<(i64, i64, i64)> {
    let conn = engine.store().conn();
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT campaign_id, eligibility_id, COUNT(*) AS n FROM review_item \
             GROUP BY campaign_id, eligibility_id HAVING COUNT(*) > 1",
        ))
        .await
        .expect("count duplicates");
    rows.iter()
        .map(|r| {
            (
                r.try_get("", "campaign_id").expect("campaign_id"),
                r.try_get("", "eligibility_id").expect("eligibility_id"),
                r.try_get("", "n").expect("n"),
            )
        })
        .collect()
}

/// Checks a finished launch: active, items = the active population once each, one invitation
/// per reviewer.
async fn assert_launched_once(engine: &Engine, campaign_id: i64, population: usize) {
    let view = engine.campaign(campaign_id).await.expect("show");
    assert_eq!(
        view.campaign.state.as_str(),
        "active",
        "{:?}",
        view.campaign
    );
    let its = items(engine, campaign_id).await;
    assert_eq!(its.len(), population);
    assert_population(&its, &active_eligibility_ids(engine).await);
    assert_eq!(view.campaign.population, population as i64);
    assert_eq!(view.campaign.items_created, population as i64);
    assert_eq!(view.counts.items, population as i64);
    let invited = recipients(engine, campaign_id, "invitation").await;
    assert_eq!(
        invited,
        reviewers_of(&its),
        "one invitation per reviewer, none twice"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Two schedulers on one PostgreSQL database.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn two_schedulers_on_one_postgres_database_launch_each_period_once() {
    let Some(url) =
        require_postgres("two_schedulers_on_one_postgres_database_launch_each_period_once")
    else {
        return;
    };
    let db = TestDb::postgres(&url).await;
    let clock = clock_at(at("2026-12-20T10:00:00Z"));
    let one = db.engine_at(clock.clone()).await;
    let two = db.engine_at(clock.clone()).await;
    assert_ne!(one.instance(), two.instance());
    // 1,500 items per campaign: two launch batches, so the race has room.
    import_generated(&db, &one, 6, 30, 50).await;
    let population = 1500;
    define(&db, &one, "a.toml", &quarterly("alpha-quarterly", "keep")).await;
    define(&db, &one, "b.toml", &quarterly("beta-quarterly", "keep")).await;

    for (round, (when, period)) in [
        ("2027-01-01T08:00:00Z", "2027-Q1"),
        // Q2 (summer time): the Q1 campaigns also close in this tick, on both schedulers.
        ("2027-04-01T07:00:00Z", "2027-Q2"),
    ]
    .into_iter()
    .enumerate()
    {
        clock.set(at(when));
        let (r1, r2) = tokio::join!(tick(&one), tick(&two));
        let r1 = r1.unwrap_or_else(|e| panic!("{period}: scheduler one failed: {e}"));
        let r2 = r2.unwrap_or_else(|e| panic!("{period}: scheduler two failed: {e}"));

        let campaigns = all_campaigns(&one).await;
        assert_eq!(
            campaigns.len(),
            2 * (round + 1),
            "{period}: {campaigns:?}\n{r1:?}\n{r2:?}"
        );
        for name in ["alpha-quarterly", "beta-quarterly"] {
            let of_period: Vec<_> = campaigns
                .iter()
                .filter(|c| c.definition_name == name && c.period == period)
                .collect();
            assert_eq!(of_period.len(), 1, "{name} {period}: {of_period:?}");
            assert_launched_once(&one, of_period[0].id, population).await;
        }
        assert!(
            duplicate_items(&one).await.is_empty(),
            "{:?}",
            duplicate_items(&one).await
        );

        // Ticking again on both changes nothing.
        let mails_before = mails_total(&one).await;
        let (r1, r2) = tokio::join!(tick(&one), tick(&two));
        r1.expect("second tick, scheduler one");
        r2.expect("second tick, scheduler two");
        assert_eq!(all_campaigns(&one).await.len(), 2 * (round + 1));
        assert_eq!(mails_total(&one).await, mails_before);
    }

    // The Q1 campaigns were closed once each and their owner told once each.
    for c in all_campaigns(&one)
        .await
        .iter()
        .filter(|c| c.period == "2027-Q1")
    {
        let view = one.campaign(c.id).await.expect("show Q1");
        assert_eq!(
            view.campaign.state.as_str(),
            "completed",
            "{:?}",
            view.campaign
        );
        assert_eq!(view.counts.kept_by_policy, population as i64);
        assert_eq!(mails(&one, c.id, "outcome").await.len(), 1);
    }
}

async fn mails_total(engine: &Engine) -> i64 {
    let conn = engine.store().conn();
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT COUNT(*) AS n FROM outbox_mail",
        ))
        .await
        .expect("count mails")
        .expect("a row");
    row.try_get("", "n").expect("n")
}

// ---------------------------------------------------------------------------------------------
// 3. An interrupted launch is finished, with nothing twice.
// ---------------------------------------------------------------------------------------------

/// 2,500 items in batches of 1,000; the source fails on its third read.
async fn interrupted_setup(
    db: &TestDb,
    defined_at: &str,
) -> (
    Engine,
    std::sync::Arc<FlakySource>,
    std::sync::Arc<attest::clock::ManualClock>,
) {
    let clock = clock_at(at(defined_at));
    let plain = db.engine_at(clock.clone()).await;
    import_generated(db, &plain, 5, 50, 50).await;
    define(db, &plain, "q.toml", &quarterly("big-quarterly", "keep")).await;
    let source = FlakySource::new(
        &plain,
        Faults {
            enumerate_fails_on: vec![3],
            ..Faults::default()
        },
    );
    let engine = plain.with_source(source.clone());
    (engine, source, clock)
}

async fn assert_left_launching(engine: &Engine) -> i64 {
    let campaigns = all_campaigns(engine).await;
    assert_eq!(campaigns.len(), 1, "{campaigns:?}");
    let c = &campaigns[0];
    assert_eq!(c.state.as_str(), "launching", "{c:?}");
    assert_eq!(c.items_created, 2000, "{c:?}");
    assert_eq!(items(engine, c.id).await.len(), 2000);
    assert!(duplicate_items(engine).await.is_empty());
    c.id
}

#[tokio::test]
async fn an_interrupted_launch_is_finished_by_launching_again() {
    let db = TestDb::new().await;
    let (engine, source, _clock) = interrupted_setup(&db, "2027-02-10T10:00:00Z").await;

    match engine
        .launch("big-quarterly", false, "admin", &NoProgress)
        .await
    {
        Err(EngineError::Source(e)) => {
            // The error says what was left behind and how to carry on.
            let e = e.to_string();
            assert!(e.contains("batch 3"), "{e}");
            assert!(
                e.contains("is left launching with 2000 items so far")
                    && e.contains("`attest campaign launch big-quarterly`"),
                "{e}"
            );
        }
        other => panic!("the launch did not fail with the source's error: {other:?}"),
    }
    let id = assert_left_launching(&engine).await;
    assert_eq!(source.enumerate_calls(), 3);

    let resumed = engine
        .launch("big-quarterly", false, "admin", &NoProgress)
        .await
        .expect("launching again finishes the launch");
    assert_eq!(
        resumed.id, id,
        "a second campaign was started instead of resuming"
    );
    assert_launched_once(&engine, id, 2500).await;
    // Resumed after the last committed batch: batch 3, then the empty read that ends it.
    assert_eq!(
        source.enumerate_calls(),
        5,
        "the launch re-read batches it had committed"
    );
    assert_eq!(all_campaigns(&engine).await.len(), 1);
    assert!(duplicate_items(&engine).await.is_empty());

    // Done is done: another launch in the period is refused, and nothing was added.
    assert!(matches!(
        engine
            .launch("big-quarterly", false, "admin", &NoProgress)
            .await,
        Err(EngineError::Conflict(_))
    ));
    assert_launched_once(&engine, id, 2500).await;
}

#[tokio::test]
async fn an_interrupted_scheduled_launch_is_finished_by_a_later_tick() {
    let db = TestDb::new().await;
    let (engine, source, clock) = interrupted_setup(&db, "2026-12-20T10:00:00Z").await;

    clock.set(at("2027-01-01T08:00:00Z"));
    match tick(&engine).await {
        Err(EngineError::Source(_)) => {}
        other => panic!("the tick did not report the source's failure: {other:?}"),
    }
    let id = assert_left_launching(&engine).await;

    clock.set(at("2027-01-01T08:01:00Z"));
    let report = tick(&engine).await.expect("the next tick");
    assert_eq!(report.launched, vec![id], "{report:?}");
    assert_launched_once(&engine, id, 2500).await;
    assert_eq!(source.enumerate_calls(), 5);
    let view = engine.campaign(id).await.expect("show");
    assert_eq!(view.campaign.period, "2027-Q1");

    let report = tick(&engine).await.expect("another tick");
    assert!(report.launched.is_empty(), "{report:?}");
    assert_eq!(all_campaigns(&engine).await.len(), 1);
    assert_launched_once(&engine, id, 2500).await;
}

#[tokio::test]
async fn a_launch_whose_instance_died_is_taken_over_once_its_lease_expires() {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let db = TestDb::new().await;
    let (crashed, _source, clock) = interrupted_setup(&db, "2027-02-10T10:00:00Z").await;
    assert!(crashed
        .launch("big-quarterly", false, "admin", &NoProgress)
        .await
        .is_err());
    let id = assert_left_launching(&crashed).await;
    // The instance died before it could give up its lease (as a killed process would).
    let lease_until = at("2027-02-10T10:02:00Z");
    entity::campaign::ActiveModel {
        id: Set(id),
        lease_owner: Set(Some("crashed-instance".into())),
        lease_until: Set(Some(lease_until)),
        ..Default::default()
    }
    .update(crashed.store().conn())
    .await
    .expect("hold the lease as the dead instance left it");

    // Another instance, on a healthy source, leaves it alone while the lease runs…
    let other = db.engine_at(clock.clone()).await;
    clock.set(lease_until - chrono::Duration::seconds(30));
    tick(&other).await.expect("tick while the lease runs");
    assert_eq!(assert_left_launching(&other).await, id);
    // A launch by hand meanwhile says who holds it and until when, and adds nothing.
    match other
        .launch("big-quarterly", false, "admin", &NoProgress)
        .await
    {
        Err(EngineError::Conflict(message)) => {
            assert!(
                message.contains("being launched by process crashed-instance")
                    && message.contains("2027-02-10 10:02:00 UTC"),
                "{message}"
            );
        }
        answer => panic!("a launch held by another process answered {answer:?}"),
    }
    assert_eq!(assert_left_launching(&other).await, id);

    // …and finishes it once the lease has run out.
    clock.set(lease_until + chrono::Duration::seconds(1));
    tick(&other).await.expect("tick after the lease");
    assert_launched_once(&other, id, 2500).await;
    assert_eq!(all_campaigns(&other).await.len(), 1);
}

/// A process that registered and then died holding a launch (killed: no heartbeat since) is
/// recognised as gone once it has been silent for 15 seconds: its launch is taken over then,
/// long before its 2-minute lease runs out; until then it may only be busy and is left alone.
#[tokio::test]
async fn a_launch_whose_process_stopped_renewing_its_heartbeat_is_taken_over_within_seconds() {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let db = TestDb::new().await;
    let (crashed, _source, clock) = interrupted_setup(&db, "2027-02-10T10:00:00Z").await;
    crashed
        .register_process("campaign launch")
        .await
        .expect("register");
    assert!(crashed
        .launch("big-quarterly", false, "admin", &NoProgress)
        .await
        .is_err());
    let id = assert_left_launching(&crashed).await;
    // Killed before it could give its lease back.
    entity::campaign::ActiveModel {
        id: Set(id),
        lease_owner: Set(Some(crashed.instance().to_string())),
        lease_until: Set(Some(at("2027-02-10T10:02:00Z"))),
        ..Default::default()
    }
    .update(crashed.store().conn())
    .await
    .expect("hold the lease as the killed process left it");

    let other = db.engine_at(clock.clone()).await;
    clock.set(at("2027-02-10T10:00:10Z"));
    tick(&other)
        .await
        .expect("tick 10 s after the last heartbeat");
    assert_eq!(assert_left_launching(&other).await, id);
    match other
        .launch("big-quarterly", false, "admin", &NoProgress)
        .await
    {
        Err(EngineError::Conflict(message)) => assert!(
            message.contains(&format!("process {} on ", std::process::id()))
                && message.contains("(campaign launch)")
                && message.contains("silent for 15 seconds"),
            "{message}"
        ),
        answer => panic!("a launch held by a live process answered {answer:?}"),
    }

    clock.set(at("2027-02-10T10:00:16Z"));
    tick(&other)
        .await
        .expect("tick 16 s after the last heartbeat");
    assert_launched_once(&other, id, 2500).await;
}
