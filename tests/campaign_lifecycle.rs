//! Acceptance tests for the campaign engine, end to end through the scheduler's `tick` with an
//! injected clock: a quarter from definition to removal, the refusals (second launch, decisions
//! on a stopped campaign, someone else's item) and who reviews what.
//!
//! Every test gets its own database (SQLite, or PostgreSQL with ATTEST_TEST_DATABASE_URL).

mod campaign_support;
mod common;

use attest::domain::closing::Verdict;
use attest::engine::{EngineError, NoProgress};
use attest::scheduler::tick;
use campaign_support::*;
use chrono::Duration;
use common::{at, TestDb};
use entity::role;
use sea_orm::EntityTrait;
use std::collections::BTreeSet;

// ---------------------------------------------------------------------------------------------
// 1. A full quarter.
// ---------------------------------------------------------------------------------------------

/// Two managers with three reports each, a fallback reviewer (who holds a role too), an owner
/// and a break-glass account. Two high-risk roles (reviewed) with several holders each; a
/// low-risk role outside the campaign's scope.
const LIFECYCLE_PEOPLE: &str = "\
id,name,email,manager_id,kind,enabled
own,Olga Owner,olga@org.test,,user,true
fb,Frank Fallback,frank@org.test,own,user,true
m1,Maria Manager,maria@org.test,own,user,true
m2,Mark Manager,mark@org.test,own,user,true
a1,Anna One,anna@org.test,m1,user,true
a2,Arne Two,arne@org.test,m1,user,true
a3,Aiko Three,aiko@org.test,m1,user,true
b1,Bea One,bea@org.test,m2,user,true
b2,Bo Two,bo@org.test,m2,user,true
b3,Bruno Three,bruno@org.test,m2,user,true
bg1,Emergency access,bg1@org.test,,break_glass,true
";

const LIFECYCLE_ROLES: &str = "\
name,owner_id,risk,description
Global Administrator,own,high,Everything
Privileged Role Administrator,own,high,Assigns roles
Reader,own,low,Reads
";

const LIFECYCLE_ELIGIBILITY: &str = "\
principal_id,role,scope,start,end,last_activated_at
a1,Global Administrator,/,2025-01-10,,2026-12-01
a2,Global Administrator,/,2025-01-10,,2026-12-01
b1,Global Administrator,/,2025-01-10,,2026-12-01
b2,Global Administrator,/,2025-01-10,,2026-12-01
bg1,Global Administrator,/,2025-01-10,,
a3,Privileged Role Administrator,/,2025-01-10,,2026-12-01
b3,Privileged Role Administrator,/,2025-01-10,,2026-12-01
a1,Privileged Role Administrator,/subscriptions/prod,2025-01-10,,2026-12-01
fb,Privileged Role Administrator,/,2025-01-10,,2026-12-01
a1,Reader,/,2025-01-10,,
b2,Reader,/,2025-01-10,,
";

const QUARTERLY: &str = r#"
name = "high-risk-quarterly"
description = "Quarterly review of high-risk role eligibility"
owner = "own"
schedule = "quarterly"
timezone = "Europe/Berlin"
duration_days = 14
reviewers = "manager"
fallback_reviewer = "fb"
on_no_response = "remove"
reminders_days_before = [7, 2]
escalate_after_days = 10
require_justification = ["revoke"]

[scope]
risk = ["high"]
"#;

const GA: &str = "Global Administrator";
const PRA: &str = "Privileged Role Administrator";

#[tokio::test]
async fn a_quarter_runs_from_schedule_to_removal_with_an_injected_clock() {
    let db = TestDb::new().await;
    let clock = clock_at(at("2026-12-20T10:00:00Z"));
    let engine = db.engine_at(clock.clone()).await;
    import_org(
        &db,
        &engine,
        &OrgFiles {
            people: LIFECYCLE_PEOPLE,
            roles: LIFECYCLE_ROLES,
            eligibility: LIFECYCLE_ELIGIBILITY,
        },
    )
    .await;
    define(&db, &engine, "definition.toml", QUARTERLY).await;
    let p = principal_ids(&engine).await;
    let conn = engine.store().conn();

    // Defined in December: nothing is due yet.
    let report = tick(&engine).await.expect("tick on 20 December");
    assert!(report.launched.is_empty(), "{report:?}");
    assert!(all_campaigns(&engine).await.is_empty());

    // 1 January 08:59 in Berlin (07:59 UTC) is a minute early.
    clock.set(at("2027-01-01T07:59:00Z"));
    let report = tick(&engine).await.expect("tick a minute early");
    assert!(
        report.launched.is_empty(),
        "launched before 09:00 Berlin: {report:?}"
    );

    // 1 January 09:00 in Berlin = 08:00 UTC: the Q1 campaign launches.
    let launch = at("2027-01-01T08:00:00Z");
    clock.set(launch);
    let report = tick(&engine).await.expect("tick at the launch time");
    assert_eq!(report.launched.len(), 1, "{report:?}");
    let cid = report.launched[0];
    let campaigns = all_campaigns(&engine).await;
    assert_eq!(campaigns.len(), 1);
    let view = engine.campaign(cid).await.expect("show campaign");
    assert_eq!(view.campaign.period, "2027-Q1");
    assert_eq!(view.campaign.state.as_str(), "active");
    assert!(!view.campaign.adhoc);
    assert_eq!(view.campaign.launched_at, Some(launch));
    let due = at("2027-01-15T08:00:00Z");
    assert_eq!(view.campaign.due_at, Some(due), "launch + 14 days");

    // Items = the active high-risk eligibility, each once.
    let reader_id = role::Entity::find()
        .all(conn)
        .await
        .expect("roles")
        .into_iter()
        .find(|r| r.name == "Reader")
        .expect("Reader")
        .id;
    let in_scope: BTreeSet<i64> = all_eligibility(&engine)
        .await
        .into_iter()
        .filter(|e| e.role_id != reader_id)
        .map(|e| e.id)
        .collect();
    assert_eq!(in_scope.len(), 9);
    let its = items(&engine, cid).await;
    assert_population(&its, &in_scope);
    assert_eq!(view.campaign.population, 9);
    assert_eq!(view.counts.items, 9);
    assert_eq!(view.counts.undecided, 9);

    // Reviewers: the managers; the fallback for the break-glass account (no manager); the
    // fallback's own manager for the fallback's eligibility.
    for (holder, role, reviewer) in [
        ("a1", GA, "m1"),
        ("a2", GA, "m1"),
        ("a3", PRA, "m1"),
        ("a1", PRA, "m1"),
        ("b1", GA, "m2"),
        ("b2", GA, "m2"),
        ("b3", PRA, "m2"),
        ("bg1", GA, "fb"),
        ("fb", PRA, "own"),
    ] {
        assert_eq!(
            item(&its, holder, role).reviewer_id,
            Some(p[reviewer]),
            "reviewer of {holder} in {role}"
        );
    }
    let bg = item(&its, "bg1", GA);
    assert!(bg.excluded && bg.flagged, "break-glass item: {bg:?}");

    // One invitation per reviewer, never one per item.
    let invitations = mails(&engine, cid, "invitation").await;
    let mut expected = vec![p["m1"], p["m2"], p["fb"], p["own"]];
    expected.sort_unstable();
    assert_eq!(recipients(&engine, cid, "invitation").await, expected);
    let addresses: BTreeSet<&str> = invitations.iter().map(|m| m.to_address.as_str()).collect();
    assert_eq!(
        addresses,
        BTreeSet::from([
            "frank@org.test",
            "maria@org.test",
            "mark@org.test",
            "olga@org.test"
        ])
    );

    // A second tick at the same moment changes nothing.
    let report = tick(&engine).await.expect("second tick at launch");
    assert!(report.launched.is_empty(), "{report:?}");
    assert_eq!(all_campaigns(&engine).await.len(), 1);
    assert_eq!(mails(&engine, cid, "invitation").await.len(), 4);

    // Decisions, two days in.
    clock.set(at("2027-01-03T10:00:00Z"));
    let id = |holder: &str, role: &str| item(&its, holder, role).id;
    let r = decide(
        &engine,
        cid,
        p["m1"],
        &[id("a1", GA), id("a2", GA), id("a1", PRA)],
        Verdict::Attest,
        None,
    )
    .await
    .expect("m1 attests three");
    assert_eq!(r.decided, 3);
    let before = decision_count(&engine).await;
    for blank in [None, Some("   ")] {
        match decide(
            &engine,
            cid,
            p["m1"],
            &[id("a3", PRA)],
            Verdict::Revoke,
            blank,
        )
        .await
        {
            Err(EngineError::Invalid(msg)) => assert!(msg.contains("justification"), "{msg}"),
            other => {
                panic!("a revoke without justification ({blank:?}) was not refused: {other:?}")
            }
        }
    }
    assert_eq!(
        decision_count(&engine).await,
        before,
        "a refused revoke recorded a decision"
    );
    assert_eq!(reload_item(&engine, id("a3", PRA)).await.verdict, None);
    decide(
        &engine,
        cid,
        p["m1"],
        &[id("a3", PRA)],
        Verdict::Revoke,
        Some("Moved to the data team in December"),
    )
    .await
    .expect("m1 revokes with a justification");
    decide(
        &engine,
        cid,
        p["m2"],
        &[id("b1", GA)],
        Verdict::Attest,
        None,
    )
    .await
    .expect("m2 attests one");
    let counts = engine.campaign(cid).await.expect("show").counts;
    assert_eq!(
        (
            counts.decided,
            counts.undecided,
            counts.attested,
            counts.revoked
        ),
        (5, 4, 4, 1),
        "{counts:?}"
    );

    // Seven days before the deadline: one reminder to each reviewer with open items.
    clock.set(due - Duration::days(7) - Duration::minutes(1));
    let report = tick(&engine).await.expect("tick before the first reminder");
    assert_eq!(report.reminders, 0, "a reminder came early: {report:?}");
    clock.set(due - Duration::days(7));
    let report = tick(&engine).await.expect("tick at the first reminder");
    assert_eq!(report.reminders, 3, "{report:?}");
    let mut expected = vec![p["m2"], p["fb"], p["own"]];
    expected.sort_unstable();
    assert_eq!(
        recipients(&engine, cid, "reminder").await,
        expected,
        "reminders go to m2, fb and own only (m1 decided everything)"
    );
    clock.set(due - Duration::days(7) + Duration::hours(12));
    let report = tick(&engine).await.expect("tick later that day");
    assert_eq!(report.reminders, 0, "{report:?}");
    assert_eq!(mails(&engine, cid, "reminder").await.len(), 3);

    // Ten days after launch: what is still open moves to the fallback reviewer.
    clock.set(launch + Duration::days(10) - Duration::minutes(1));
    let report = tick(&engine).await.expect("tick before escalation");
    assert_eq!(report.escalated_items, 0, "escalated early: {report:?}");
    clock.set(launch + Duration::days(10));
    let report = tick(&engine).await.expect("tick at escalation");
    assert_eq!(report.escalated_items, 2, "{report:?}");
    for holder_role in [("b2", GA), ("b3", PRA)] {
        let it = reload_item(&engine, id(holder_role.0, holder_role.1)).await;
        assert_eq!(it.reviewer_id, Some(p["fb"]), "{it:?}");
        assert_eq!(it.escalated_from_id, Some(p["m2"]), "{it:?}");
        assert_eq!(it.escalated_at, Some(launch + Duration::days(10)));
    }
    let bg = reload_item(&engine, id("bg1", GA)).await;
    assert_eq!(
        (bg.reviewer_id, bg.escalated_from_id),
        (Some(p["fb"]), None)
    );
    // The fallback never receives their own eligibility.
    let own_item = reload_item(&engine, id("fb", PRA)).await;
    assert_eq!(
        (own_item.reviewer_id, own_item.escalated_from_id),
        (Some(p["own"]), None),
        "{own_item:?}"
    );
    for decided in [id("a1", GA), id("b1", GA)] {
        assert_eq!(reload_item(&engine, decided).await.escalated_at, None);
    }
    assert_eq!(recipients(&engine, cid, "escalation").await, vec![p["fb"]]);
    // Who did not answer stays visible: the report counts the items escalated away from m2
    // (their own row now holds none), and so does the console's reviewer table.
    let folder = db.dir().join("escalated-bundle");
    engine
        .export_evidence(cid, &folder, Default::default())
        .await
        .expect("export");
    let report = std::fs::read_to_string(folder.join("report.html")).expect("report.html");
    let m2_row = report
        .lines()
        .find(|l| l.contains("<span class=\"muted\">m2</span>"))
        .unwrap_or_else(|| panic!("no row for m2 in report.html:\n{report}"));
    assert!(
        m2_row.contains("<b class=\"bad\">2</b>"),
        "m2's row does not count the 2 items escalated away: {m2_row}"
    );
    let summaries = attest::store::evidence::reviewer_summaries(engine.store().conn(), cid)
        .await
        .expect("summaries");
    let m2 = summaries.iter().find(|r| r.id == "m2").expect("m2");
    assert_eq!(m2.escalated_away, 2, "{m2:?}");
    match decide(
        &engine,
        cid,
        p["m2"],
        &[id("b2", GA)],
        Verdict::Attest,
        None,
    )
    .await
    {
        Err(EngineError::Forbidden(_)) => {}
        other => panic!("m2 decided an item escalated away from them: {other:?}"),
    }
    let report = tick(&engine).await.expect("tick again after escalation");
    assert_eq!(
        (report.escalated_items, report.reminders),
        (0, 0),
        "{report:?}"
    );
    assert_eq!(mails(&engine, cid, "escalation").await.len(), 1);

    // Two days before the deadline: the second reminder, to whoever still has open items.
    clock.set(due - Duration::days(2));
    let report = tick(&engine).await.expect("tick at the second reminder");
    assert_eq!(report.reminders, 2, "{report:?}");
    let mut expected = vec![p["m2"], p["fb"], p["fb"], p["own"], p["own"]];
    expected.sort_unstable();
    assert_eq!(recipients(&engine, cid, "reminder").await, expected);
    let report = tick(&engine).await.expect("tick again");
    assert_eq!(report.reminders, 0, "{report:?}");

    // The deadline: close, remove, complete.
    clock.set(due - Duration::minutes(1));
    let report = tick(&engine).await.expect("tick before the deadline");
    assert!(report.closed.is_empty(), "closed early: {report:?}");
    clock.set(due);
    let report = tick(&engine).await.expect("tick at the deadline");
    assert_eq!(report.closed, vec![cid], "{report:?}");
    clock.set(due + Duration::minutes(1));
    tick(&engine).await.expect("tick after the deadline");

    let view = engine.campaign(cid).await.expect("show");
    assert_eq!(
        view.campaign.state.as_str(),
        "completed",
        "{:?}",
        view.campaign
    );
    assert_eq!(view.campaign.closed_at, Some(due));
    assert!(view.campaign.completed_at.is_some());
    assert_eq!(view.campaign.rail_reason, None);

    // Removed: the revocation and the two unanswered items, by this campaign.
    let mut receipts = std::collections::HashMap::new();
    for (holder, role, scope) in [
        ("a3", PRA, "/"),
        ("b2", GA, "/"),
        ("b3", PRA, "/"),
        ("fb", PRA, "/"),
    ] {
        let e = eligibility_of(&engine, holder, role, scope).await;
        assert_eq!(e.status.as_str(), "removed", "{holder} in {role}: {e:?}");
        assert_eq!(e.removed_by_campaign_id, Some(cid), "{e:?}");
        assert!(e.removal_receipt.is_some(), "{e:?}");
        receipts.insert(e.id, e.removal_receipt.clone());
    }
    // Kept: the attested, the break-glass account, and everything outside the scope.
    for (holder, role, scope) in [
        ("a1", GA, "/"),
        ("a2", GA, "/"),
        ("b1", GA, "/"),
        ("a1", PRA, "/subscriptions/prod"),
        ("bg1", GA, "/"),
        ("a1", "Reader", "/"),
        ("b2", "Reader", "/"),
    ] {
        let e = eligibility_of(&engine, holder, role, scope).await;
        assert_eq!(
            e.status.as_str(),
            "active",
            "{holder} in {role} at {scope}: {e:?}"
        );
        assert_eq!(e.removed_by_campaign_id, None, "{e:?}");
    }

    let its = items(&engine, cid).await;
    let outcome = |holder: &str, role: &str| item(&its, holder, role).outcome.clone();
    assert_eq!(outcome("a1", GA).as_deref(), Some("kept"));
    assert_eq!(outcome("a3", PRA).as_deref(), Some("revoked"));
    assert_eq!(outcome("b2", GA).as_deref(), Some("removed_by_policy"));
    assert_eq!(outcome("b3", PRA).as_deref(), Some("removed_by_policy"));
    assert_eq!(outcome("fb", PRA).as_deref(), Some("removed_by_policy"));
    let bg = item(&its, "bg1", GA);
    assert_eq!(bg.outcome.as_deref(), Some("kept_excluded"), "{bg:?}");
    assert!(bg.flagged, "{bg:?}");

    // Every removal done, with a receipt, verified by reading the source back.
    let rems = remediations(&engine, cid).await;
    let removed_items: BTreeSet<i64> = rems.iter().map(|r| r.item_id).collect();
    assert_eq!(
        removed_items,
        BTreeSet::from([id("a3", PRA), id("b2", GA), id("b3", PRA), id("fb", PRA)])
    );
    for r in &rems {
        assert_eq!(r.state.as_str(), "removed", "{r:?}");
        assert!(r.receipt.as_deref().is_some_and(|s| !s.is_empty()), "{r:?}");
        assert!(r.verified_at.is_some() && r.removed_at.is_some(), "{r:?}");
        assert_eq!(
            receipts.get(&r.eligibility_id),
            Some(&r.receipt),
            "the eligibility carries the remediation's receipt"
        );
        let tries = attempts(&engine, r.id).await;
        let outcomes: Vec<&str> = tries.iter().map(|a| a.outcome.as_str()).collect();
        // One line for the attempt; its read-back is the removal's verified_at (above).
        assert_eq!(outcomes, ["removed"], "{outcomes:?}");
    }

    // Policy decisions never look like a person's.
    let ds = decisions(&engine, cid).await;
    let policy_items: BTreeSet<i64> = ds
        .iter()
        .filter(|d| d.made_by.as_str() == "policy")
        .map(|d| d.item_id)
        .collect();
    assert_eq!(
        policy_items,
        BTreeSet::from([id("b2", GA), id("b3", PRA), id("bg1", GA), id("fb", PRA)])
    );
    for d in &ds {
        match d.made_by.as_str() {
            "policy" => {
                assert_eq!(d.reviewer_id, None, "{d:?}");
                assert_ne!(d.channel.as_str(), "link", "{d:?}");
            }
            "human" => {
                assert!(d.reviewer_id.is_some(), "{d:?}");
                assert_eq!(d.channel.as_str(), "link", "{d:?}");
            }
            other => panic!("made_by {other}"),
        }
    }
    assert_eq!(
        ds.iter().filter(|d| d.made_by.as_str() == "human").count(),
        5
    );
    for it in &its {
        let expected = if policy_items.contains(&it.id) {
            "policy"
        } else {
            "human"
        };
        assert_eq!(it.made_by.as_deref(), Some(expected), "{it:?}");
    }
    let revoke = ds
        .iter()
        .find(|d| d.item_id == id("a3", PRA))
        .expect("the revocation");
    assert_eq!(
        revoke.justification.as_deref(),
        Some("Moved to the data team in December")
    );

    let counts = view.counts;
    assert_eq!(
        (
            counts.items,
            counts.attested,
            counts.revoked,
            counts.removed_by_policy,
            counts.excluded,
            counts.escalated,
            counts.removed,
            counts.removals_failed,
            counts.undecided
        ),
        (9, 4, 1, 3, 1, 2, 4, 0, 0),
        "{counts:?}"
    );
    assert_eq!(recipients(&engine, cid, "outcome").await, vec![p["own"]]);

    // Later in Q1: nothing launches again.
    clock.set(at("2027-02-15T09:00:00Z"));
    let report = tick(&engine).await.expect("tick in February");
    assert!(report.launched.is_empty(), "{report:?}");
    assert_eq!(all_campaigns(&engine).await.len(), 1);

    // 1 April 09:00 in Berlin is 07:00 UTC (summer time): Q2 launches then, not at 08:00.
    clock.set(at("2027-04-01T06:59:00Z"));
    let report = tick(&engine).await.expect("tick a minute before Q2");
    assert!(report.launched.is_empty(), "{report:?}");
    clock.set(at("2027-04-01T07:00:00Z"));
    let report = tick(&engine).await.expect("tick at Q2");
    assert_eq!(report.launched.len(), 1, "{report:?}");
    let q2 = engine.campaign(report.launched[0]).await.expect("show Q2");
    assert_eq!(q2.campaign.period, "2027-Q2");
    assert_eq!(q2.campaign.state.as_str(), "active");
    // The four removed eligibilities are gone from the population.
    assert_eq!(q2.counts.items, 5, "{:?}", q2.counts);
    assert_eq!(all_campaigns(&engine).await.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// 6. Refusals: a second launch, decisions on a stopped campaign, someone else's item.
// ---------------------------------------------------------------------------------------------

const SMALL_PEOPLE: &str = "\
id,name,email,manager_id,kind,enabled
own,Olga Owner,olga@org.test,,user,true
fb,Frank Fallback,frank@org.test,own,user,true
m1,Maria Manager,maria@org.test,own,user,true
m2,Mark Manager,mark@org.test,own,user,true
a1,Anna One,anna@org.test,m1,user,true
a2,Arne Two,arne@org.test,m1,user,true
b1,Bea One,bea@org.test,m2,user,true
";

const SMALL_ROLES: &str = "\
name,owner_id,risk,description
Global Administrator,own,high,
";

const SMALL_ELIGIBILITY: &str = "\
principal_id,role,scope,start,end,last_activated_at
a1,Global Administrator,/,2025-01-10,,2027-02-01
a2,Global Administrator,/,2025-01-10,,2027-02-01
b1,Global Administrator,/,2025-01-10,,2027-02-01
";

const OPS_REVIEW: &str = r#"
name = "ops-review"
owner = "own"
schedule = "quarterly"
timezone = "UTC"
duration_days = 14
reviewers = "manager"
fallback_reviewer = "fb"
on_no_response = "keep"
reminders_days_before = [7]
require_justification = ["revoke"]
"#;

/// Whether `text` names `id` as a number of its own (not inside another number).
fn names_number(text: &str, id: i64) -> bool {
    text.split(|c: char| !c.is_ascii_digit())
        .any(|word| word == id.to_string())
}

#[tokio::test]
async fn second_launches_stopped_campaigns_and_other_reviewers_items_are_refused() {
    let db = TestDb::new().await;
    let clock = clock_at(at("2027-03-10T10:00:00Z"));
    let engine = db.engine_at(clock.clone()).await;
    import_org(
        &db,
        &engine,
        &OrgFiles {
            people: SMALL_PEOPLE,
            roles: SMALL_ROLES,
            eligibility: SMALL_ELIGIBILITY,
        },
    )
    .await;
    define(&db, &engine, "ops.toml", OPS_REVIEW).await;
    let p = principal_ids(&engine).await;

    // Some campaigns first, so ids are not all 1.
    let first = engine
        .launch("ops-review", true, "admin", &NoProgress)
        .await
        .expect("an ad-hoc launch");
    engine.cancel(first.id, "admin").await.expect("cancel it");
    clock.advance(Duration::seconds(1));

    let regular = engine
        .launch("ops-review", false, "admin", &NoProgress)
        .await
        .expect("first launch of Q1");
    assert_eq!(regular.period, "2027-Q1");
    assert_eq!(regular.state.as_str(), "active");
    assert!(!regular.adhoc);

    // A second launch in the same period is refused and names the campaign that covers it.
    clock.advance(Duration::minutes(5));
    match engine
        .launch("ops-review", false, "admin", &NoProgress)
        .await
    {
        Err(EngineError::Conflict(msg)) => {
            assert!(
                names_number(&msg, regular.id),
                "the message does not name #{}: {msg}",
                regular.id
            );
            assert!(msg.contains("2027-Q1"), "{msg}");
        }
        other => panic!("a second launch in 2027-Q1 was not refused: {other:?}"),
    }
    let regulars: Vec<_> = all_campaigns(&engine)
        .await
        .into_iter()
        .filter(|c| !c.adhoc)
        .collect();
    assert_eq!(regulars.len(), 1, "{regulars:?}");

    // --adhoc starts an extra, marked campaign.
    let extra = engine
        .launch("ops-review", true, "admin", &NoProgress)
        .await
        .expect("ad-hoc launch");
    assert!(extra.adhoc);
    assert_ne!(extra.id, regular.id);
    assert_eq!(extra.state.as_str(), "active");
    assert_eq!(
        engine.campaign(extra.id).await.expect("show").counts.items,
        3
    );
    assert_eq!(all_campaigns(&engine).await.len(), 3);

    // A reviewer may not decide an item assigned to someone else, not even in a batch with
    // their own; nothing is recorded.
    let reg_items = items(&engine, regular.id).await;
    let a1 = item(&reg_items, "a1", "Global Administrator").id;
    let a2 = item(&reg_items, "a2", "Global Administrator").id;
    let b1 = item(&reg_items, "b1", "Global Administrator").id;
    let before = decision_count(&engine).await;
    for batch in [vec![b1], vec![a1, b1]] {
        match decide(&engine, regular.id, p["m1"], &batch, Verdict::Attest, None).await {
            Err(EngineError::Forbidden(_)) => {}
            other => panic!("m1 decided {batch:?} (b1 is m2's): {other:?}"),
        }
    }
    assert_eq!(decision_count(&engine).await, before);
    assert_eq!(reload_item(&engine, a1).await.verdict, None);
    assert_eq!(reload_item(&engine, b1).await.verdict, None);
    decide(&engine, regular.id, p["m1"], &[a1], Verdict::Attest, None)
        .await
        .expect("m1 attests a1");

    // Cancel the ad-hoc campaign after a revocation: it stops, and removes nothing.
    let ext_items = items(&engine, extra.id).await;
    let ext_a2 = item(&ext_items, "a2", "Global Administrator").id;
    decide(
        &engine,
        extra.id,
        p["m1"],
        &[ext_a2],
        Verdict::Revoke,
        Some("no longer needed"),
    )
    .await
    .expect("revoke in the ad-hoc campaign");
    let cancelled = engine.cancel(extra.id, "admin").await.expect("cancel");
    assert_eq!(cancelled.state.as_str(), "cancelled");
    assert!(cancelled.cancelled_at.is_some());
    let before = decision_count(&engine).await;
    match decide(&engine, extra.id, p["m1"], &[ext_a2], Verdict::Attest, None).await {
        Err(EngineError::Conflict(_)) => {}
        other => panic!("a decision on a cancelled campaign was accepted: {other:?}"),
    }
    assert_eq!(decision_count(&engine).await, before);

    // Drive both campaigns past their deadlines.
    let due = regular.due_at.expect("due_at");
    for when in [due - Duration::days(7), due, due + Duration::hours(1)] {
        clock.set(when);
        tick(&engine).await.expect("tick");
    }
    let extra_now = engine.campaign(extra.id).await.expect("show cancelled");
    assert_eq!(extra_now.campaign.state.as_str(), "cancelled");
    assert_eq!(extra_now.campaign.closed_at, None);
    assert!(remediations(&engine, extra.id).await.is_empty());
    assert!(
        mails(&engine, extra.id, "reminder").await.is_empty(),
        "a cancelled campaign sent reminders"
    );
    assert_eq!(
        active_eligibility_ids(&engine).await.len(),
        3,
        "a cancelled campaign removed eligibility"
    );
    // The regular campaign ran: a reminder to the reviewers with open items, closed, kept.
    let mut expected = vec![p["m1"], p["m2"]];
    expected.sort_unstable();
    assert_eq!(recipients(&engine, regular.id, "reminder").await, expected);
    let closed = engine.campaign(regular.id).await.expect("show closed");
    assert_eq!(closed.campaign.state.as_str(), "completed");
    assert_eq!(closed.counts.kept_by_policy, 2, "{:?}", closed.counts);

    // A closed campaign accepts no decisions, and a completed one cannot be cancelled.
    let before = decision_count(&engine).await;
    match decide(
        &engine,
        regular.id,
        p["m1"],
        &[a2],
        Verdict::Revoke,
        Some("late"),
    )
    .await
    {
        Err(EngineError::Conflict(_)) => {}
        other => panic!("a decision on a closed campaign was accepted: {other:?}"),
    }
    assert_eq!(decision_count(&engine).await, before);
    assert_eq!(
        reload_item(&engine, a2).await.made_by.as_deref(),
        Some("policy")
    );
    assert!(matches!(
        engine.cancel(regular.id, "admin").await,
        Err(EngineError::Conflict(_))
    ));
    assert_eq!(active_eligibility_ids(&engine).await.len(), 3);
}

// ---------------------------------------------------------------------------------------------
// 7. Who reviews what, as a launch resolves it.
// ---------------------------------------------------------------------------------------------

/// `boss` ← `mgr` ← `h1`; `boss` ← `gone` (disabled) ← `h2`; `boss` ← `svc` (service) ← `h5`;
/// `h3` has no manager; the fallback `fb` has none either and holds a role; `mgr` holds one.
const RESOLUTION_PEOPLE: &str = "\
id,name,email,manager_id,kind,enabled
own,Olga Owner,olga@org.test,,user,true
fb,Frank Fallback,frank@org.test,,user,true
boss,Bea Boss,boss@org.test,,user,true
mgr,Mia Manager,mia@org.test,boss,user,true
gone,Gil Gone,gil@org.test,boss,user,false
svc,Robot,,boss,service,true
h1,Hana One,h1@org.test,mgr,user,true
h2,Hugo Two,h2@org.test,gone,user,true
h3,Hedda Three,h3@org.test,,user,true
h5,Hilde Five,h5@org.test,svc,user,true
";

const RESOLUTION_ROLES: &str = "\
name,owner_id,risk,description
Global Administrator,own,high,
Billing Administrator,own,high,
";

const RESOLUTION_ELIGIBILITY: &str = "\
principal_id,role,scope,start,end,last_activated_at
h1,Global Administrator,/,2025-01-10,,2027-02-01
h2,Global Administrator,/,2025-01-10,,2027-02-01
h3,Global Administrator,/,2025-01-10,,2027-02-01
h5,Global Administrator,/,2025-01-10,,2027-02-01
fb,Billing Administrator,/,2025-01-10,,2027-02-01
mgr,Billing Administrator,/,2025-01-10,,2027-02-01
";

const RESOLUTION_DEFINITION: &str = r#"
name = "who-reviews"
owner = "own"
schedule = "quarterly"
timezone = "UTC"
duration_days = 14
reviewers = "manager"
fallback_reviewer = "fb"
on_no_response = "keep"
"#;

#[tokio::test]
async fn a_launch_assigns_each_item_to_the_right_reviewer() {
    let db = TestDb::new().await;
    let clock = clock_at(at("2027-03-10T10:00:00Z"));
    let engine = db.engine_at(clock.clone()).await;
    import_org(
        &db,
        &engine,
        &OrgFiles {
            people: RESOLUTION_PEOPLE,
            roles: RESOLUTION_ROLES,
            eligibility: RESOLUTION_ELIGIBILITY,
        },
    )
    .await;
    define(&db, &engine, "who.toml", RESOLUTION_DEFINITION).await;
    let p = principal_ids(&engine).await;
    let campaign = engine
        .launch("who-reviews", false, "admin", &NoProgress)
        .await
        .expect("launch");
    assert_eq!(campaign.state.as_str(), "active");
    let its = items(&engine, campaign.id).await;
    assert_eq!(its.len(), 6);

    let ga = "Global Administrator";
    let billing = "Billing Administrator";
    for (holder, role, reviewer, reason, flagged) in [
        // A normal manager.
        ("h1", ga, "mgr", "manager", false),
        // The manager is disabled: up the chain.
        ("h2", ga, "boss", "manager_chain", false),
        // The manager is a service account: up the chain.
        ("h5", ga, "boss", "manager_chain", false),
        // No manager: the fallback.
        ("h3", ga, "fb", "fallback", false),
        // The fallback holds a role and has no manager: the owner, flagged.
        ("fb", billing, "own", "owner", true),
        // A reviewer in this campaign (of h1) who holds a role: their manager, not themselves.
        ("mgr", billing, "boss", "manager", false),
    ] {
        let it = item(&its, holder, role);
        assert_eq!(
            (it.reviewer_id, it.reviewer_reason.as_deref(), it.flagged),
            (Some(p[reviewer]), Some(reason), flagged),
            "{holder} in {role}: {it:?}"
        );
        if flagged {
            assert!(
                it.flag_reason.as_deref().is_some_and(|r| !r.is_empty()),
                "{it:?}"
            );
        }
    }
    for it in &its {
        assert_ne!(
            it.reviewer_id,
            Some(it.principal_id),
            "a holder reviews their own item: {it:?}"
        );
    }

    // One invitation to each of the four reviewers; none to the disabled or service accounts.
    let mut expected = vec![p["mgr"], p["boss"], p["fb"], p["own"]];
    expected.sort_unstable();
    assert_eq!(
        recipients(&engine, campaign.id, "invitation").await,
        expected
    );
    assert_eq!(reviewers_of(&its), expected);
    assert_eq!(
        engine
            .campaign(campaign.id)
            .await
            .expect("show")
            .counts
            .reviewers,
        4
    );
}
