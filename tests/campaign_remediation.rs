//! Acceptance tests for what happens after a close: removals that fail in the source are retried
//! with backoff and either succeed or end reported as failed (never dropped), and the safety
//! rails hold automatic removals for an admin when they would remove too much or empty a role.
//!
//! Every test gets its own database (SQLite, or PostgreSQL with ATTEST_TEST_DATABASE_URL).

mod campaign_support;
mod common;

use attest::clock::ManualClock;
use attest::domain::closing::Verdict;
use attest::domain::retry::{backoff, MAX_ATTEMPTS};
use attest::engine::{Engine, EngineError, NoProgress};
use attest::scheduler::tick;
use campaign_support::*;
use chrono::Duration;
use common::{at, TestDb};
use std::sync::Arc;

const GA: &str = "Global Administrator";

const PEOPLE: &str = "\
id,name,email,manager_id,kind,enabled
own,Olga Owner,olga@org.test,,user,true
fb,Frank Fallback,frank@org.test,own,user,true
m1,Maria Manager,maria@org.test,own,user,true
a1,Anna One,anna@org.test,m1,user,true
a2,Arne Two,arne@org.test,m1,user,true
a3,Aiko Three,aiko@org.test,m1,user,true
a4,Alva Four,alva@org.test,m1,user,true
s1,Sam Solo,sam@org.test,m1,user,true
t1,Tove Solo,tove@org.test,m1,user,true
";

const ROLES: &str = "\
name,owner_id,risk,description
Global Administrator,own,high,
Solo Role,own,high,Only one person holds it
Solo Human,own,high,Only one person holds it
";

fn definition(name: &str, on_no_response: &str, scope: &str) -> String {
    format!(
        r#"
name = "{name}"
owner = "own"
schedule = "quarterly"
timezone = "UTC"
duration_days = 14
reviewers = "manager"
fallback_reviewer = "fb"
on_no_response = "{on_no_response}"
require_justification = ["revoke"]
{scope}
"#
    )
}

/// An organisation, a definition and a launched campaign on 10 February 2027 (through `source`
/// when given). Returns the engine, its clock and the campaign id.
async fn launched(
    db: &TestDb,
    eligibility: &str,
    definition_toml: &str,
    faults: Option<Faults>,
) -> (Engine, Arc<ManualClock>, i64, Option<Arc<FlakySource>>) {
    let clock = clock_at(at("2027-02-10T10:00:00Z"));
    let plain = db.engine_at(clock.clone()).await;
    import_org(
        db,
        &plain,
        &OrgFiles {
            people: PEOPLE,
            roles: ROLES,
            eligibility,
        },
    )
    .await;
    define(db, &plain, "definition.toml", definition_toml).await;
    let (engine, source) = match faults {
        Some(faults) => {
            let source = FlakySource::new(&plain, faults);
            (plain.with_source(source.clone()), Some(source))
        }
        None => (plain, None),
    };
    let name = definition_toml
        .lines()
        .find_map(|l| l.strip_prefix("name = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("a name");
    let campaign = engine
        .launch(name, false, "admin", &NoProgress)
        .await
        .expect("launch");
    assert_eq!(campaign.state.as_str(), "active");
    (engine, clock, campaign.id, source)
}

/// Moves the clock to the campaign's deadline and ticks (close, then removals).
async fn close_at_deadline(engine: &Engine, clock: &ManualClock, id: i64) {
    let due = engine
        .campaign(id)
        .await
        .expect("show")
        .campaign
        .due_at
        .expect("due_at");
    clock.set(due);
    let report = tick(engine).await.expect("tick at the deadline");
    assert_eq!(report.closed, vec![id], "{report:?}");
}

const FOUR_HOLDERS: &str = "\
principal_id,role,scope,start,end,last_activated_at
a1,Global Administrator,/,2025-01-10,,2027-02-01
a2,Global Administrator,/,2025-01-10,,2027-02-01
a3,Global Administrator,/,2025-01-10,,2027-02-01
a4,Global Administrator,/,2025-01-10,,2027-02-01
";

// ---------------------------------------------------------------------------------------------
// 4. Removals that fail in the source.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_removal_that_fails_is_retried_with_backoff_until_the_source_recovers() {
    let db = TestDb::new().await;
    let (engine, clock, cid, _source) = launched(
        &db,
        FOUR_HOLDERS,
        &definition("retry-review", "keep", ""),
        Some(Faults {
            remove_fails_for: Some(vec!["a1".into()]),
            remove_failures_left: 2,
            ..Faults::default()
        }),
    )
    .await;
    let p = principal_ids(&engine).await;
    let its = items(&engine, cid).await;
    let (a1, a2, a3, a4) = (
        item(&its, "a1", GA).id,
        item(&its, "a2", GA).id,
        item(&its, "a3", GA).id,
        item(&its, "a4", GA).id,
    );
    decide(
        &engine,
        cid,
        p["m1"],
        &[a1, a2],
        Verdict::Revoke,
        Some("left the team"),
    )
    .await
    .expect("revoke a1 and a2");
    decide(&engine, cid, p["m1"], &[a3, a4], Verdict::Attest, None)
        .await
        .expect("attest a3 and a4");

    close_at_deadline(&engine, &clock, cid).await;
    let due = clock_now(&clock);

    // a2 went through; a1's removal failed once and waits for its retry.
    let rems = remediations(&engine, cid).await;
    assert_eq!(rems.len(), 2, "{rems:?}");
    let r2 = rems.iter().find(|r| r.item_id == a2).expect("a2's removal");
    assert_eq!(r2.state.as_str(), "removed", "{r2:?}");
    let r1 = rems
        .iter()
        .find(|r| r.item_id == a1)
        .expect("a1's removal")
        .clone();
    assert_eq!(r1.state.as_str(), "pending", "{r1:?}");
    assert_eq!(r1.attempts, 1);
    assert!(
        r1.last_error.as_deref().is_some_and(|e| e.contains("503")),
        "{r1:?}"
    );
    assert!(
        r1.next_attempt_at > due,
        "the retry is not in the future: {r1:?}"
    );
    assert_eq!(r1.next_attempt_at, due + backoff(1));
    let tries = attempts(&engine, r1.id).await;
    assert_eq!(tries.len(), 1, "{tries:?}");
    assert_eq!(tries[0].outcome.as_str(), "error");
    assert!(
        tries[0].error.as_deref().is_some_and(|e| e.contains("503")),
        "{tries:?}"
    );
    assert_eq!(
        eligibility_of(&engine, "a1", GA, "/").await.status.as_str(),
        "active"
    );
    assert_eq!(
        eligibility_of(&engine, "a2", GA, "/").await.status.as_str(),
        "removed"
    );
    assert_eq!(
        engine
            .campaign(cid)
            .await
            .expect("show")
            .campaign
            .state
            .as_str(),
        "remediating",
        "completed with a removal still to do"
    );

    // Not before its time.
    clock.set(r1.next_attempt_at - Duration::seconds(1));
    let report = tick(&engine).await.expect("tick before the retry");
    assert_eq!(report.removals_handled, 0, "{report:?}");
    assert_eq!(attempts(&engine, r1.id).await.len(), 1);

    // Second attempt fails too; the wait doubles.
    clock.set(r1.next_attempt_at);
    let report = tick(&engine).await.expect("tick at the retry");
    assert_eq!(report.removals_handled, 1, "{report:?}");
    let r1 = reload_remediation(&engine, cid, a1).await;
    assert_eq!((r1.state.as_str(), r1.attempts), ("pending", 2), "{r1:?}");
    assert_eq!(r1.next_attempt_at, clock_now(&clock) + backoff(2));

    // Third attempt: the source has recovered.
    clock.set(r1.next_attempt_at);
    tick(&engine).await.expect("tick at the second retry");
    let r1 = reload_remediation(&engine, cid, a1).await;
    assert_eq!(r1.state.as_str(), "removed", "{r1:?}");
    assert_eq!(r1.attempts, 3);
    assert!(r1.receipt.is_some() && r1.verified_at.is_some(), "{r1:?}");
    assert_eq!(r1.last_error, None, "{r1:?}");
    let outcomes: Vec<String> = attempts(&engine, r1.id)
        .await
        .iter()
        .map(|a| a.outcome.as_str().to_string())
        .collect();
    assert_eq!(outcomes[..2], ["error", "error"], "{outcomes:?}");
    // One line for the attempt that went through; its read-back is the removal's verified_at.
    assert_eq!(outcomes[2..], ["removed"], "{outcomes:?}");
    let e = eligibility_of(&engine, "a1", GA, "/").await;
    assert_eq!(
        (e.status.as_str(), e.removed_by_campaign_id),
        ("removed", Some(cid))
    );

    let view = engine.campaign(cid).await.expect("show");
    assert_eq!(view.campaign.state.as_str(), "completed");
    assert_eq!((view.counts.removed, view.counts.removals_failed), (2, 0));
    for kept in ["a3", "a4"] {
        assert_eq!(
            eligibility_of(&engine, kept, GA, "/").await.status.as_str(),
            "active"
        );
    }
}

#[tokio::test]
async fn a_removal_the_source_never_accepts_ends_failed_and_is_reported() {
    let db = TestDb::new().await;
    let (engine, clock, cid, source) = launched(
        &db,
        FOUR_HOLDERS,
        &definition("doomed-review", "keep", ""),
        Some(Faults {
            remove_fails_for: None,
            remove_failures_left: u32::MAX,
            ..Faults::default()
        }),
    )
    .await;
    let source = source.expect("the flaky source");
    let p = principal_ids(&engine).await;
    let its = items(&engine, cid).await;
    let a1 = item(&its, "a1", GA).id;
    decide(
        &engine,
        cid,
        p["m1"],
        &[a1],
        Verdict::Revoke,
        Some("left the company"),
    )
    .await
    .expect("revoke a1");
    let others: Vec<i64> = its.iter().map(|i| i.id).filter(|id| *id != a1).collect();
    decide(&engine, cid, p["m1"], &others, Verdict::Attest, None)
        .await
        .expect("attest the rest");

    close_at_deadline(&engine, &clock, cid).await;
    let mut rounds = 1;
    loop {
        let r = reload_remediation(&engine, cid, a1).await;
        assert_eq!(r.attempts, rounds, "{r:?}");
        if r.state.as_str() != "pending" {
            break;
        }
        assert!(r.next_attempt_at > clock_now(&clock), "{r:?}");
        assert_eq!(r.next_attempt_at, clock_now(&clock) + backoff(rounds));
        assert!(
            rounds < MAX_ATTEMPTS,
            "still pending after {rounds} attempts: {r:?}"
        );
        assert_eq!(
            engine
                .campaign(cid)
                .await
                .expect("show")
                .campaign
                .state
                .as_str(),
            "remediating"
        );
        clock.set(r.next_attempt_at);
        tick(&engine).await.expect("tick at the retry");
        rounds += 1;
    }

    let r = reload_remediation(&engine, cid, a1).await;
    assert_eq!(r.state.as_str(), "failed", "{r:?}");
    assert_eq!(r.attempts, MAX_ATTEMPTS);
    assert!(
        r.last_error.as_deref().is_some_and(|e| e.contains("503")),
        "the source's error is not recorded: {r:?}"
    );
    let tries = attempts(&engine, r.id).await;
    assert_eq!(tries.len(), MAX_ATTEMPTS as usize, "{tries:?}");
    assert!(
        tries
            .iter()
            .all(|t| t.outcome.as_str() == "error" && t.error.is_some()),
        "{tries:?}"
    );

    // Nothing dropped: the eligibility is still there, and the item still says revoked.
    let e = eligibility_of(&engine, "a1", GA, "/").await;
    assert_eq!(
        (e.status.as_str(), e.removed_by_campaign_id),
        ("active", None),
        "{e:?}"
    );
    assert_eq!(
        reload_item(&engine, a1).await.outcome.as_deref(),
        Some("revoked")
    );

    // The campaign completes and tells its owner about the failure.
    let view = engine.campaign(cid).await.expect("show");
    assert_eq!(
        view.campaign.state.as_str(),
        "completed",
        "{:?}",
        view.campaign
    );
    assert_eq!(
        (view.counts.removed, view.counts.removals_failed),
        (0, 1),
        "{:?}",
        view.counts
    );
    let outcome = mails(&engine, cid, "outcome").await;
    assert_eq!(outcome.len(), 1, "{outcome:?}");
    assert_eq!(outcome[0].recipient_id, Some(p["own"]));
    let payload: serde_json::Value =
        serde_json::from_str(&outcome[0].payload).expect("payload JSON");
    assert_eq!(payload["counts"]["removals_failed"], 1, "{payload}");

    // And it stops trying.
    clock.advance(Duration::days(2));
    tick(&engine).await.expect("a later tick");
    assert_eq!(source.remove_calls(), MAX_ATTEMPTS as u32);
    assert_eq!(attempts(&engine, r.id).await.len(), MAX_ATTEMPTS as usize);
}

// ---------------------------------------------------------------------------------------------
// 5. Safety rails.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn when_nobody_answers_removals_wait_for_an_admin() {
    let db = TestDb::new().await;
    // Four holders in production (reviewed), one also in dev (outside the scope), so no role
    // would be left empty: only the share of automatic removals holds them.
    let eligibility =
        format!("{FOUR_HOLDERS}a1,Global Administrator,/dev,2025-01-10,,2027-02-01\n")
            .replace(",/,", ",/prod,");
    let (engine, clock, cid, _) = launched(
        &db,
        &eligibility,
        &definition("silent-review", "remove", "[scope]\nscopes = [\"/prod\"]"),
        None,
    )
    .await;
    let p = principal_ids(&engine).await;
    assert_eq!(items(&engine, cid).await.len(), 4);

    close_at_deadline(&engine, &clock, cid).await;
    let view = engine.campaign(cid).await.expect("show");
    let reason = view.campaign.rail_reason.clone().expect("a rail reason");
    assert!(
        reason.contains("50%"),
        "the reason does not name the limit: {reason}"
    );
    assert_eq!(view.campaign.state.as_str(), "remediating");
    assert_eq!(view.counts.removed_by_policy, 4, "{:?}", view.counts);
    let rems = remediations(&engine, cid).await;
    assert_eq!(rems.len(), 4);
    assert!(
        rems.iter()
            .all(|r| r.state.as_str() == "awaiting_confirmation"),
        "{rems:?}"
    );
    assert_eq!(
        recipients(&engine, cid, "removals_awaiting_confirmation").await,
        vec![p["own"]]
    );

    // Closed: a late answer is refused and changes nothing.
    let before = decision_count(&engine).await;
    let late = items(&engine, cid).await[0].clone();
    match decide(&engine, cid, p["m1"], &[late.id], Verdict::Attest, None).await {
        Err(EngineError::Conflict(_)) => {}
        other => panic!("a decision after the close was accepted: {other:?}"),
    }
    assert_eq!(decision_count(&engine).await, before);
    assert_eq!(
        reload_item(&engine, late.id).await.made_by.as_deref(),
        Some("policy")
    );

    // Days pass; nothing is removed without a confirmation.
    for days in [1, 7, 14] {
        clock.advance(Duration::days(days));
        tick(&engine).await.expect("tick while waiting");
        assert_eq!(
            active_eligibility_ids(&engine).await.len(),
            5,
            "removed without confirmation"
        );
        for r in remediations(&engine, cid).await {
            assert_eq!(r.state.as_str(), "awaiting_confirmation", "{r:?}");
            assert!(attempts(&engine, r.id).await.is_empty());
        }
    }
    assert_eq!(
        engine
            .campaign(cid)
            .await
            .expect("show")
            .campaign
            .state
            .as_str(),
        "remediating"
    );
    assert_eq!(
        mails(&engine, cid, "removals_awaiting_confirmation")
            .await
            .len(),
        1
    );

    // The admin confirms: the next tick removes them.
    assert_eq!(
        engine
            .confirm_removals(cid, "admin")
            .await
            .expect("confirm"),
        4
    );
    tick(&engine).await.expect("tick after confirmation");
    for holder in ["a1", "a2", "a3", "a4"] {
        let e = eligibility_of(&engine, holder, GA, "/prod").await;
        assert_eq!(
            (e.status.as_str(), e.removed_by_campaign_id),
            ("removed", Some(cid)),
            "{e:?}"
        );
    }
    assert_eq!(
        eligibility_of(&engine, "a1", GA, "/dev")
            .await
            .status
            .as_str(),
        "active"
    );
    let view = engine.campaign(cid).await.expect("show");
    assert_eq!(view.campaign.state.as_str(), "completed");
    assert_eq!(view.counts.removed, 4);
    assert!(matches!(
        engine.confirm_removals(cid, "admin").await,
        Err(EngineError::Conflict(_) | EngineError::Invalid(_))
    ));
}

#[tokio::test]
async fn a_roles_last_holder_is_never_removed_silently_but_a_human_revocation_is() {
    let db = TestDb::new().await;
    let eligibility = format!(
        "{FOUR_HOLDERS}s1,Solo Role,/,2025-01-10,,2027-02-01\nt1,Solo Human,/,2025-01-10,,2027-02-01\n"
    );
    let (engine, clock, cid, _) = launched(
        &db,
        &eligibility,
        &definition("solo-review", "remove", ""),
        None,
    )
    .await;
    let p = principal_ids(&engine).await;
    let its = items(&engine, cid).await;
    assert_eq!(its.len(), 6);
    let id = |holder: &str, role: &str| item(&its, holder, role).id;
    decide(
        &engine,
        cid,
        p["m1"],
        &[id("a1", GA), id("a2", GA), id("a3", GA)],
        Verdict::Attest,
        None,
    )
    .await
    .expect("attest three");
    decide(
        &engine,
        cid,
        p["m1"],
        &[id("a4", GA), id("t1", "Solo Human")],
        Verdict::Revoke,
        Some("no longer on call"),
    )
    .await
    .expect("revoke two, one the last holder of its role");
    // s1 (the only holder of Solo Role) is never answered: 1 of 6 is under the 50% limit.

    close_at_deadline(&engine, &clock, cid).await;
    let view = engine.campaign(cid).await.expect("show");
    let reason = view.campaign.rail_reason.clone().expect("a rail reason");
    assert!(
        reason.contains("Solo Role"),
        "the reason does not name the role: {reason}"
    );
    assert!(!reason.contains(GA), "{reason}");
    assert_eq!(
        recipients(&engine, cid, "removals_awaiting_confirmation").await,
        vec![p["own"]]
    );

    // The people's revocations are removed at once; the policy's removal waits.
    for (holder, role) in [("a4", GA), ("t1", "Solo Human")] {
        let e = eligibility_of(&engine, holder, role, "/").await;
        assert_eq!(
            (e.status.as_str(), e.removed_by_campaign_id),
            ("removed", Some(cid)),
            "{holder}: {e:?}"
        );
    }
    let rems = remediations(&engine, cid).await;
    assert_eq!(rems.len(), 3, "{rems:?}");
    let solo = rems
        .iter()
        .find(|r| r.item_id == id("s1", "Solo Role"))
        .expect("s1's removal");
    assert_eq!(solo.state.as_str(), "awaiting_confirmation", "{solo:?}");
    for days in [1, 14] {
        clock.advance(Duration::days(days));
        tick(&engine).await.expect("tick while waiting");
        let e = eligibility_of(&engine, "s1", "Solo Role", "/").await;
        assert_eq!(
            e.status.as_str(),
            "active",
            "the last holder was removed without confirmation"
        );
    }
    assert_eq!(
        engine
            .campaign(cid)
            .await
            .expect("show")
            .campaign
            .state
            .as_str(),
        "remediating"
    );
    for holder in ["a1", "a2", "a3"] {
        assert_eq!(
            eligibility_of(&engine, holder, GA, "/")
                .await
                .status
                .as_str(),
            "active"
        );
    }

    engine
        .confirm_removals(cid, "admin")
        .await
        .expect("confirm");
    tick(&engine).await.expect("tick after confirmation");
    assert_eq!(
        eligibility_of(&engine, "s1", "Solo Role", "/")
            .await
            .status
            .as_str(),
        "removed"
    );
    assert_eq!(
        engine
            .campaign(cid)
            .await
            .expect("show")
            .campaign
            .state
            .as_str(),
        "completed"
    );
}

fn clock_now(clock: &ManualClock) -> chrono::DateTime<chrono::Utc> {
    use attest::clock::Clock;
    clock.now()
}

async fn reload_remediation(
    engine: &Engine,
    campaign_id: i64,
    item_id: i64,
) -> entity::remediation::Model {
    remediations(engine, campaign_id)
        .await
        .into_iter()
        .find(|r| r.item_id == item_id)
        .unwrap_or_else(|| panic!("no removal for item {item_id}"))
}

// ---------------------------------------------------------------------------------------------
// Issue 15: a campaign completed without its stored bundle gets one at the next tick.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_campaign_completed_without_a_stored_bundle_gets_one_at_the_next_tick() {
    use sea_orm::{ConnectionTrait, EntityTrait};
    let db = TestDb::new().await;
    let (engine, clock, cid, _) = launched(
        &db,
        FOUR_HOLDERS,
        &definition("bundle-review", "keep", ""),
        None,
    )
    .await;
    close_at_deadline(&engine, &clock, cid).await;
    let bundles = |engine: &Engine| {
        let conn = engine.store().conn().clone();
        async move {
            entity::evidence_bundle::Entity::find()
                .all(&conn)
                .await
                .expect("bundles")
                .into_iter()
                .filter(|b| b.campaign_id == cid)
                .count()
        }
    };
    assert_eq!(bundles(&engine).await, 1, "completing stores the bundle");

    // A crash between completing and storing: the campaign is completed, no bundle exists.
    let conn = engine.store().conn();
    for sql in [
        format!("DELETE FROM evidence_chunk WHERE bundle_id IN (SELECT id FROM evidence_bundle WHERE campaign_id = {cid})"),
        format!("DELETE FROM evidence_bundle WHERE campaign_id = {cid}"),
    ] {
        conn.execute_unprepared(&sql).await.expect("simulate the crash");
    }
    assert_eq!(bundles(&engine).await, 0);

    clock.advance(Duration::minutes(1));
    let report = tick(&engine).await.expect("tick");
    assert_eq!(report.evidence_stored, vec![cid], "{report:?}");
    assert_eq!(bundles(&engine).await, 1);
    let again = tick(&engine).await.expect("tick");
    assert!(again.evidence_stored.is_empty(), "stored twice: {again:?}");

    // It says how it came to be stored.
    let stored = attest::store::evidence::latest_bundle(engine.store().conn(), cid)
        .await
        .expect("stored bundle")
        .expect("one is stored");
    assert!(stored.reason.contains("recovery"), "{stored:?}");
    assert!(stored.bytes > 0, "{stored:?}");
}

#[tokio::test]
async fn closing_a_campaign_that_is_still_removing_carries_its_removals_on() {
    let db = TestDb::new().await;
    // In the past, so that what the closing engine planned is due for the CLI (real clock).
    let engine = db.engine_at(clock_at(at("2026-01-12T10:00:00Z"))).await;
    import_org(
        &db,
        &engine,
        &OrgFiles {
            people: PEOPLE,
            roles: ROLES,
            eligibility: FOUR_HOLDERS,
        },
    )
    .await;
    define(
        &db,
        &engine,
        "definition.toml",
        &definition("carry-on-review", "keep", ""),
    )
    .await;
    let cid = engine
        .launch("carry-on-review", false, "admin", &NoProgress)
        .await
        .expect("launch")
        .id;
    let p = principal_ids(&engine).await;
    let its = items(&engine, cid).await;
    decide(
        &engine,
        cid,
        p["m1"],
        &[item(&its, "a1", GA).id],
        Verdict::Revoke,
        Some("left the team"),
    )
    .await
    .expect("revoke a1");
    // Closed by a process that stopped before carrying out any removal.
    engine.close(cid, "admin").await.expect("close");
    assert_eq!(
        engine
            .campaign(cid)
            .await
            .expect("show")
            .campaign
            .state
            .as_str(),
        "remediating"
    );

    let (code, out, err) = common::attest_cli(&db, &["campaign", "close", &cid.to_string()]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("already closed: carrying on its removals"),
        "{out}"
    );
    let view = engine.campaign(cid).await.expect("show");
    assert_eq!(view.campaign.state.as_str(), "completed", "{out}");
    let a1 = eligibility_of(&engine, "a1", GA, "/").await;
    assert_eq!(a1.status, "removed");

    // Run again (a close retried after its process was killed once it had finished): the close
    // asked for has happened, so it succeeds and says so.
    let (code, out, err) = common::attest_cli(&db, &["campaign", "close", &cid.to_string()]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("already closed and its removals are done"),
        "{out}"
    );
}

/// A campaign closed by an admin with one revocation (a1's GA eligibility) to remove.
async fn closed_with_one_revocation(db: &TestDb, name: &str) -> (Engine, Arc<ManualClock>, i64) {
    closed_with_one_revocation_through(db, name, None).await
}

/// The same, through a stand-in for the built-in source when `faults` are given.
async fn closed_with_one_revocation_through(
    db: &TestDb,
    name: &str,
    faults: Option<Faults>,
) -> (Engine, Arc<ManualClock>, i64) {
    let (engine, clock, cid, _) =
        launched(db, FOUR_HOLDERS, &definition(name, "keep", ""), faults).await;
    let p = principal_ids(&engine).await;
    let its = items(&engine, cid).await;
    decide(
        &engine,
        cid,
        p["m1"],
        &[item(&its, "a1", GA).id],
        Verdict::Revoke,
        Some("left the team"),
    )
    .await
    .expect("revoke a1");
    engine.close(cid, "admin").await.expect("close");
    (engine, clock, cid)
}

#[tokio::test]
async fn a_removal_and_its_record_are_one_transaction_so_a_crash_between_them_misstates_nothing() {
    let db = TestDb::new().await;
    let (engine, clock, cid) = closed_with_one_revocation(&db, "crash-review").await;

    // The step removes, then cannot record: nothing of it may stay.
    common::fail_remediation_records(&engine, true, false).await;
    assert!(engine.remediate_step().await.is_err(), "the step failed");
    let a1 = eligibility_of(&engine, "a1", GA, "/").await;
    assert_eq!(
        a1.status, "active",
        "removed without a record of it: {a1:?}"
    );
    common::fail_remediation_records(&engine, false, false).await;

    // Restarted after the lease: the retry does the removal and records what really happened.
    clock.advance(Duration::minutes(6));
    let retried_at = clock_now(&clock);
    assert_eq!(engine.remediate_step().await.expect("retry"), 1);
    let rems = remediations(&engine, cid).await;
    assert_eq!(rems.len(), 1, "{rems:?}");
    let rem = &rems[0];
    assert_eq!(rem.state.as_str(), "removed", "{rem:?}");
    let receipt = rem.receipt.clone().unwrap_or_default();
    assert!(
        receipt.contains("removed-by-campaign"),
        "the receipt is not the removal's: {receipt}"
    );
    assert_eq!(rem.removed_at, Some(retried_at), "{rem:?}");
    let outcomes: Vec<String> = attempts(&engine, rem.id)
        .await
        .iter()
        .map(|a| a.outcome.as_str().to_string())
        .collect();
    assert!(
        !outcomes.iter().any(|o| o == "already_gone"),
        "recorded as already gone: {outcomes:?}"
    );
    let a1 = eligibility_of(&engine, "a1", GA, "/").await;
    assert_eq!(a1.removal_receipt.as_deref(), Some(receipt.as_str()));
}

/// Issue 15: removals leased by a process that was killed mid-step are taken over by another
/// process once the first has been silent for 15 seconds, not when the 5-minute lease runs out.
/// (A source outside the recording transaction: a stand-in for the built-in one.)
#[tokio::test]
async fn removals_of_a_process_that_stopped_renewing_its_heartbeat_are_taken_over_within_seconds() {
    let db = TestDb::new().await;
    let (engine, clock, cid) =
        closed_with_one_revocation_through(&db, "takeover-review", Some(Faults::default())).await;

    // The first process leases the removal, removes it, and dies before recording it.
    engine.register_process("serve").await.expect("register");
    common::fail_remediation_records(&engine, true, false).await;
    assert!(engine.remediate_step().await.is_err(), "the step failed");
    common::fail_remediation_records(&engine, false, false).await;

    let other = db
        .engine_at(clock.clone())
        .await
        .with_source(FlakySource::new(&engine, Faults::default()));
    clock.advance(Duration::seconds(10));
    assert_eq!(
        other.remediate_step().await.expect("step"),
        0,
        "a process silent for 10 seconds may only be busy"
    );
    clock.advance(Duration::seconds(6));
    let taken_over_at = clock_now(&clock);
    assert_eq!(other.remediate_step().await.expect("take over"), 1);
    let rems = remediations(&other, cid).await;
    assert_eq!(rems.len(), 1, "{rems:?}");
    // The dead process's removal went through: the one taking over finds it gone and proves it.
    assert_eq!(rems[0].state.as_str(), "already_gone", "{:?}", rems[0]);
    assert_eq!(rems[0].verified_at, Some(taken_over_at), "{:?}", rems[0]);
}

/// Removals in attest's own database are carried out and recorded in one transaction with no
/// lease: a process killed in the middle of the step leaves nothing behind, and another process
/// takes the removals at once.
#[tokio::test]
async fn removals_in_the_database_of_a_process_killed_mid_step_are_taken_over_at_once() {
    let db = TestDb::new().await;
    let (engine, clock, cid) = closed_with_one_revocation(&db, "in-db-takeover-review").await;

    engine.register_process("serve").await.expect("register");
    common::fail_remediation_records(&engine, true, false).await;
    assert!(engine.remediate_step().await.is_err(), "the step failed");
    common::fail_remediation_records(&engine, false, false).await;
    let rems = remediations(&engine, cid).await;
    assert_eq!(rems[0].state.as_str(), "pending", "{:?}", rems[0]);
    assert_eq!(rems[0].lease_until, None, "left leased: {:?}", rems[0]);

    let other = db.engine_at(clock.clone()).await;
    let taken_over_at = clock_now(&clock);
    assert_eq!(other.remediate_step().await.expect("take over"), 1);
    let rems = remediations(&other, cid).await;
    assert_eq!(rems[0].state.as_str(), "removed", "{:?}", rems[0]);
    assert_eq!(rems[0].removed_at, Some(taken_over_at), "{:?}", rems[0]);
    assert_eq!(rems[0].attempts, 1, "{:?}", rems[0]);
}

/// Issue 14: policy decisions of a campaign an admin closed early do not claim the deadline
/// passed; a past month's report counts the eligibility of that month, not today's.
#[tokio::test]
async fn an_early_close_says_so_and_a_past_month_counts_its_own_eligibility() {
    let db = TestDb::new().await;
    let (engine, _clock, cid, _) = launched(
        &db,
        FOUR_HOLDERS,
        &definition("early-review", "keep", ""),
        None,
    )
    .await;
    engine
        .close(cid, "account:ada@org.test")
        .await
        .expect("close early");
    let policy: Vec<String> = decisions(&engine, cid)
        .await
        .into_iter()
        .filter(|d| d.made_by.as_str() == "policy")
        .map(|d| d.justification.unwrap_or_default())
        .collect();
    assert_eq!(policy.len(), 4, "{policy:?}");
    for why in &policy {
        assert!(
            why.contains("closed the campaign before its deadline")
                && !why.contains("by the deadline"),
            "{why}"
        );
    }

    // The eligibility was imported in February 2027: January has none, February has four.
    let january = engine.monthly("2027-01").await.expect("january");
    assert!(
        january.eligible_by_role.is_empty(),
        "{:?}",
        january.eligible_by_role
    );
    let february = engine.monthly("2027-02").await.expect("february");
    let ga: i64 = february
        .eligible_by_role
        .iter()
        .filter(|r| r.role == GA)
        .map(|r| r.eligible)
        .sum();
    assert_eq!(ga, 4, "{:?}", february.eligible_by_role);
}

/// Issue 14: a decision an admin records for a reviewer names the admin in decisions.csv.
#[tokio::test]
async fn a_decision_an_admin_records_names_the_admin_in_the_evidence() {
    use attest::domain::closing::Channel;
    use attest::engine::decide::DecisionRequest;
    let db = TestDb::new().await;
    let (engine, _clock, cid, _) = launched(
        &db,
        FOUR_HOLDERS,
        &definition("admin-decides", "keep", ""),
        None,
    )
    .await;
    let its = items(&engine, cid).await;
    engine
        .decide(&DecisionRequest {
            campaign_id: cid,
            item_ids: &[item(&its, "a1", GA).id],
            verdict: Verdict::Attest,
            justification: None,
            reviewer: None,
            acting_for: None,
            channel: Channel::Api,
            client_addr: None,
            actor: "token:quarterly-automation",
        })
        .await
        .expect("decide as an admin");
    let folder = db.dir().join("bundle");
    engine
        .export_evidence(cid, &folder, Default::default())
        .await
        .expect("export");
    let csv = std::fs::read_to_string(folder.join("decisions.csv")).expect("decisions.csv");
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let headers = rows.headers().expect("headers").clone();
    let by = headers
        .iter()
        .position(|h| h == "decided_by")
        .expect("decided_by column");
    let decided_by: Vec<String> = rows
        .records()
        .map(|r| r.expect("row")[by].to_string())
        .collect();
    assert_eq!(
        decided_by,
        vec!["token:quarterly-automation".to_string()],
        "{csv}"
    );
}

/// Issue 14: an item only its own holder could be given (the owner holds it, and is the
/// fallback) never reaches their link: their page does not show it, a forged answer is refused,
/// and it waits in the admins' queue for an admin who is not the holder, with a justification.
#[tokio::test]
async fn nobody_decides_their_own_eligibility_not_even_the_campaign_owner() {
    use attest::domain::closing::Channel;
    use attest::engine::decide::{Choice, Decider};
    let db = TestDb::new().await;
    let eligibility = "\
principal_id,role,scope,start,end,last_activated_at
own,Global Administrator,/,2025-01-10,,2027-02-01
a1,Global Administrator,/,2025-01-10,,2027-02-01
";
    let toml = definition("self-review", "keep", "")
        .replace("fallback_reviewer = \"fb\"", "fallback_reviewer = \"own\"");
    let (engine, _clock, cid, _) = launched(&db, eligibility, &toml, None).await;
    let p = principal_ids(&engine).await;
    let its = items(&engine, cid).await;
    let own_item = item(&its, "own", GA);
    assert_eq!(
        own_item.reviewer_id,
        Some(p["own"]),
        "assigned to the owner, flagged"
    );
    assert!(own_item.flag_reason.is_some());

    // The owner's link never shows it (nobody reviews their own access), and a forged answer
    // is refused.
    let token = engine
        .issue_token(cid, p["own"], None)
        .await
        .expect("token");
    let access = engine
        .open_link(&token)
        .await
        .expect("open")
        .expect("a valid link");
    let page = engine.review_page(&access).await.expect("page");
    assert!(
        page.items.iter().all(|i| i.id != own_item.id),
        "the holder's link shows their own eligibility: {:?}",
        page.items
    );
    let by_link = engine
        .decide_each(
            cid,
            &[Choice {
                item_id: own_item.id,
                verdict: Verdict::Attest,
                justification: Some("mine, I keep it"),
            }],
            &Decider {
                reviewer: Some(p["own"]),
                acting_for: None,
                channel: Channel::Link,
                client_addr: None,
                actor: "reviewer:own",
            },
        )
        .await;
    match by_link {
        Err(EngineError::Forbidden(why)) => assert!(why.contains("your own eligibility"), "{why}"),
        other => panic!("the holder decided their own eligibility: {other:?}"),
    }

    // Nor can the holder hand it to someone of their choosing from their link.
    match engine
        .reassign(&access, Some(&[own_item.id]), "a1", "reviewer:own")
        .await
    {
        Err(EngineError::Forbidden(why)) => assert!(why.contains("not assigned to you"), "{why}"),
        other => panic!("the holder handed over their own eligibility: {other:?}"),
    }

    // It waits in the admins' queue, and only another admin decides it, with a justification.
    let (queued, total) = engine.admin_queue(10).await.expect("queue");
    assert_eq!(total, 1);
    assert_eq!(queued[0].id, own_item.id);
    assert_eq!(queued[0].holder_name, "Olga Owner");
    let admin = |email: &str| attest::engine::accounts::Operator {
        role: attest::domain::access::Role::Admin,
        actor: format!("account:{email}"),
        account_id: None,
        session_id: None,
        csrf: None,
    };
    match engine
        .decide_queued(
            own_item.id,
            Verdict::Attest,
            "I still need it",
            &admin("Olga@org.test"),
        )
        .await
    {
        Err(EngineError::Forbidden(why)) => assert!(why.contains("another admin"), "{why}"),
        other => panic!("the holder, an admin too, decided their own eligibility: {other:?}"),
    }
    match engine
        .decide_queued(own_item.id, Verdict::Attest, "  ", &admin("ada@org.test"))
        .await
    {
        Err(EngineError::Invalid(why)) => assert!(why.contains("justification"), "{why}"),
        other => panic!("an admin decided without a justification: {other:?}"),
    }
    let a1_item = item(&its, "a1", GA);
    assert!(
        engine
            .decide_queued(a1_item.id, Verdict::Attest, "fine", &admin("ada@org.test"))
            .await
            .is_err(),
        "an item with a reviewer of its own is not decided from the queue"
    );
    engine
        .decide_queued(
            own_item.id,
            Verdict::Attest,
            "the owner still needs it",
            &admin("ada@org.test"),
        )
        .await
        .expect("another admin decides it");
    assert_eq!(engine.admin_queue(10).await.expect("queue").1, 0);
    let decided = reload_item(&engine, own_item.id).await;
    assert_eq!(decided.made_by.as_deref(), Some("human"));
    let last = decisions(&engine, cid).await.pop().expect("a decision");
    assert_eq!(last.actor.as_deref(), Some("account:ada@org.test"));
}

/// What a remediation left behind, as an auditor reads it: each removal's state, receipt,
/// attempts and times, its history lines, and the eligibility row it removed.
type RemediationRecord = Vec<(
    String,
    Option<String>,
    i32,
    Option<chrono::DateTime<chrono::Utc>>,
    Option<chrono::DateTime<chrono::Utc>>,
    Vec<(i32, String, Option<String>, Option<String>)>,
    (String, Option<String>, Option<String>, Option<i64>),
)>;

/// Two revocations, one of whose eligibility was removed elsewhere before the close, carried
/// out by `engine`; returns what the removals left behind.
async fn two_revocations_carried_out(db: &TestDb, general_step: bool) -> RemediationRecord {
    use sea_orm::{ConnectionTrait, EntityTrait};
    let (engine, _clock, cid, _) = launched(
        db,
        FOUR_HOLDERS,
        &definition("same-records", "keep", ""),
        None,
    )
    .await;
    // An endpoint that wants an event per removal sends removals through the general step.
    let engine = if general_step {
        engine.with_webhooks(attest::engine::webhooks::WebhookRouting {
            subscriptions: vec![attest::domain::webhooks::Subscription {
                endpoint: "tickets".into(),
                events: vec![],
            }],
            base_url: "http://attest.test".into(),
        })
    } else {
        engine
    };
    let p = principal_ids(&engine).await;
    let its = items(&engine, cid).await;
    decide(
        &engine,
        cid,
        p["m1"],
        &[item(&its, "a1", GA).id, item(&its, "a2", GA).id],
        Verdict::Revoke,
        Some("left the team"),
    )
    .await
    .expect("revoke a1 and a2");
    let a2 = eligibility_of(&engine, "a2", GA, "/").await;
    engine
        .store()
        .conn()
        .execute_unprepared(&format!(
            "UPDATE eligibility SET status = 'removed' WHERE id = {}",
            a2.id
        ))
        .await
        .expect("a2's eligibility removed elsewhere");
    engine.close(cid, "admin").await.expect("close");
    assert_eq!(engine.remediate_step().await.expect("step"), 2);
    assert_eq!(engine.remediate_step().await.expect("nothing left"), 0);
    let mut record = Vec::new();
    for r in remediations(&engine, cid).await {
        let lines = attempts(&engine, r.id)
            .await
            .into_iter()
            .map(|a| {
                (
                    a.attempt,
                    a.outcome.as_str().to_string(),
                    a.receipt,
                    a.error,
                )
            })
            .collect();
        let e = entity::eligibility::Entity::find_by_id(r.eligibility_id)
            .one(engine.store().conn())
            .await
            .expect("read eligibility")
            .expect("the removal's eligibility");
        record.push((
            r.state.as_str().to_string(),
            r.receipt,
            r.attempts,
            r.removed_at,
            r.verified_at,
            lines,
            (
                e.status,
                e.removal_receipt,
                e.removal_reason,
                e.removed_by_campaign_id,
            ),
        ));
    }
    record
}

/// The in-database step (set-based, for the built-in source) records removals exactly as the
/// general step does: states, receipts, attempts, times, history lines and the removed rows.
#[tokio::test]
async fn removals_in_the_database_are_recorded_as_the_general_step_records_them() {
    let fast = two_revocations_carried_out(&TestDb::new().await, false).await;
    let general = two_revocations_carried_out(&TestDb::new().await, true).await;
    assert_eq!(fast, general);
    let states: Vec<&str> = fast.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(states, ["removed", "already_gone"], "{fast:?}");
    let outcomes: Vec<Vec<&str>> = fast
        .iter()
        .map(|r| r.5.iter().map(|l| l.1.as_str()).collect())
        .collect();
    assert_eq!(outcomes, [["removed"], ["already_gone"]]);
    assert!(fast.iter().all(|r| r.4.is_some()), "read back: {fast:?}");
    assert!(
        fast[1]
            .1
            .as_deref()
            .unwrap_or_default()
            .ends_with(":not-active"),
        "{fast:?}"
    );
}
