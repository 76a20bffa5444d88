//! Issue 17's standing access over Microsoft Entra, against the Graph test server: a sync lists
//! active `Assigned` role assignments beside eligibility (never a PIM activation, never one
//! inherited through a group), a campaign reviews them, a revoked one is removed with an
//! `adminRemove` of roleAssignmentScheduleRequests and a converted one becomes an eligibility
//! first, both read back from Graph; the evidence says so and verifies; a re-sync brings
//! nothing back. Then the connector alone: conversions retried after a crash between their two
//! steps, and a standing removal never read back as gone from the wrong list.

use crate::common::graph_server::{
    GraphServer, ACTIVATION_REQUESTS_PATH, ASSIGNMENTS_PATH, ASSIGNMENT_READ_WRITE,
    GLOBAL_ADMINISTRATOR, READ_WRITE,
};
use crate::common::{at, attest_cli, TestDb};
use attest::clock::ManualClock;
use attest::domain::closing::{Channel, RemediationKind, Verdict};
use attest::domain::eligibility::Assignment;
use attest::engine::decide::DecisionRequest;
use attest::engine::definitions::DefinitionText;
use attest::engine::evidence::ExportOptions;
use attest::engine::NoProgress;
use attest::sources::config::SourceConfig;
use attest::sources::connector::Connector;
use attest::sources::graph::GraphConnector;
use attest::sources::{Removal, RemovalTarget};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

const CLIENT_ID: &str = "7d2e4f60-1b3c-4a5d-8e9f-0a1b2c3d4e5f";
const SECRET: &str = "standing~Graph.Secret_1357924680";
const CONVERTED_END: &str = "2027-06-30T00:00:00Z";

fn decide(ids: &[i64], verdict: Verdict, campaign_id: i64) -> DecisionRequest<'_> {
    DecisionRequest {
        campaign_id,
        item_ids: ids,
        verdict,
        justification: Some("reviewed"),
        reviewer: None,
        acting_for: None,
        channel: Channel::Api,
        client_addr: None,
        actor: "account:admin@example.com",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standing_access_in_entra_is_reviewed_then_revoked_and_converted_through_graph() {
    let server = GraphServer::start(CLIENT_ID, SECRET).await;
    server.set_roles(&[READ_WRITE, "User.Read.All", ASSIGNMENT_READ_WRITE]);
    // Pages of two: the three standing assignments come on two pages.
    server.set_page_size(2);
    let owner = server.add_user("Olivia Owner", None);
    let eve = server.add_user("Eve Eligible", Some(&owner));
    let sam = server.add_user("Sam Standing", Some(&owner));
    let cora = server.add_user("Cora Convert", Some(&owner));
    let ivan = server.add_user("Ivan Inherited", Some(&owner));
    server.add_eligibility(&eve, GLOBAL_ADMINISTRATOR);
    // Eve's PIM activation of her eligibility is listed among the assignments: not standing.
    server.add_assignment(
        &eve,
        GLOBAL_ADMINISTRATOR,
        "/",
        "Activated",
        "Direct",
        Some("2026-10-01T10:00:00Z"),
    );
    server.add_assignment(&sam, GLOBAL_ADMINISTRATOR, "/", "Assigned", "Direct", None);
    server.add_assignment(
        &cora,
        GLOBAL_ADMINISTRATOR,
        "/",
        "Assigned",
        "Direct",
        Some(CONVERTED_END),
    );
    // Ivan holds it through a role-assignable group: the group's own assignment, not his.
    server.add_assignment(
        &ivan,
        GLOBAL_ADMINISTRATOR,
        "/",
        "Assigned",
        "Inherited",
        None,
    );

    let secret_env = "ATTEST_TEST_ENTRA_SECRET_STANDING";
    std::env::set_var(secret_env, SECRET);
    let db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(at("2026-10-01T08:00:00Z")));
    let engine = db
        .engine_at(clock.clone())
        .await
        .with_sources(BTreeMap::from([(
            "entra".to_string(),
            SourceConfig::Entra(server.entra_config(secret_env)),
        )]));

    // The first page of assignments is throttled once; the sync waits it out.
    server.throttle(ASSIGNMENTS_PATH, &[429]);
    let synced = engine.sync_source("entra", "test").await.expect("sync");
    assert_eq!(synced.eligibility, 3, "{synced:?}");
    assert!(
        synced
            .warnings
            .iter()
            .any(|w| w.starts_with("1 standing assignments inherited through a group")),
        "{:?}",
        synced.warnings
    );
    let asked: Vec<(String, u16)> = server
        .log()
        .into_iter()
        .filter(|l| l.target.starts_with(ASSIGNMENTS_PATH))
        .map(|l| (l.target, l.status))
        .collect();
    assert_eq!(
        asked.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
        [429, 200, 200],
        "{asked:?}"
    );
    assert!(
        asked[0].0.contains("$filter=assignmentType eq 'Assigned'")
            && asked[0].0.contains("$expand=principal,roleDefinition"),
        "{asked:?}"
    );
    let rows = entity::eligibility::Entity::find()
        .order_by_asc(entity::eligibility::Column::Id)
        .all(engine.store().conn())
        .await
        .expect("eligibility");
    assert_eq!(rows.len(), 3);

    let definition = format!(
        r#"
name = "entra-standing"
owner = "{owner}"
schedule = "quarterly"
duration_days = 14
reviewers = "manager"
fallback_reviewer = "{owner}"
on_no_response = "keep"
source = "entra"

[scope]
roles = ["Global Administrator"]
"#
    );
    engine
        .define(&DefinitionText::new("standing.toml", &definition), "test")
        .await
        .expect("define");
    let campaign = engine
        .launch("entra-standing", false, "test", &NoProgress)
        .await
        .expect("launch");
    let items = entity::review_item::Entity::find()
        .filter(entity::review_item::Column::CampaignId.eq(campaign.id))
        .order_by_asc(entity::review_item::Column::Id)
        .all(engine.store().conn())
        .await
        .expect("items");
    let by_holder: HashMap<&str, &entity::review_item::Model> = items
        .iter()
        .map(|i| (i.holder_external_id.as_str(), i))
        .collect();
    assert_eq!(
        items.len(),
        3,
        "no item for the activation or Ivan: {items:#?}"
    );
    assert_eq!(by_holder[eve.as_str()].assignment, "eligible");
    for standing in [&sam, &cora] {
        let item = by_holder[standing.as_str()];
        assert_eq!(
            (item.assignment.as_str(), item.recommendation.as_str()),
            ("active", "convert_to_eligible")
        );
    }
    let (eve_item, sam_item, cora_item) = (
        by_holder[eve.as_str()].id,
        by_holder[sam.as_str()].id,
        by_holder[cora.as_str()].id,
    );
    for (id, verdict) in [
        (eve_item, Verdict::Attest),
        (sam_item, Verdict::Revoke),
        (cora_item, Verdict::Convert),
    ] {
        engine
            .decide(&decide(&[id], verdict, campaign.id))
            .await
            .expect("decide");
    }
    // Graph throttles the first standing removal once; the connector waits it out.
    server.throttle(ACTIVATION_REQUESTS_PATH, &[429]);
    engine.close(campaign.id, "test").await.expect("close");
    let _ = engine.confirm_removals(campaign.id, "test").await;
    while engine.remediate_step().await.expect("remediate") > 0 {}

    // Graph: Sam's standing assignment is gone, Cora's is an eligibility ending when it did,
    // Eve's eligibility, her activation and Ivan's inherited assignment are untouched.
    let assignments = server.assignment_schedules();
    let assigned = |who: &str| {
        assignments
            .iter()
            .any(|a| a.principal_id == who && a.assignment_type == "Assigned")
    };
    assert!(!assigned(&sam), "Sam still standing");
    assert!(!assigned(&cora), "Cora still standing");
    assert!(assigned(&ivan), "Ivan's inherited assignment was touched");
    assert!(assignments
        .iter()
        .any(|a| a.principal_id == eve && a.assignment_type == "Activated"));
    let schedules = server.schedules();
    let eligible_end = |who: &str| {
        schedules
            .iter()
            .find(|s| s.principal_id == who && s.status == "Provisioned")
            .map(|s| s.end.clone())
    };
    assert_eq!(eligible_end(&cora), Some(Some(CONVERTED_END.to_string())));
    assert_eq!(eligible_end(&eve), Some(None));
    assert_eq!(eligible_end(&sam), None, "the revoked one became eligible?");
    let posts: Vec<u16> = server
        .log()
        .iter()
        .filter(|l| l.method == "POST" && l.target == ACTIVATION_REQUESTS_PATH)
        .map(|l| l.status)
        .collect();
    assert_eq!(posts, [429, 201, 201], "throttled once, then two removals");
    let removals = server.assignment_requests_posted();
    assert_eq!(removals.len(), 2, "{removals:#?}");
    for request in &removals {
        assert_eq!(request["action"], "adminRemove");
        assert_eq!(request["directoryScopeId"], "/");
        assert!(request["justification"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("campaign {}", campaign.id)));
    }
    let assigns = server.removal_requests();
    assert_eq!(assigns.len(), 1, "one eligibility made: {assigns:#?}");
    assert_eq!(assigns[0]["action"], "adminAssign");
    assert_eq!(assigns[0]["principalId"], cora.as_str());
    assert_eq!(
        assigns[0]["scheduleInfo"]["expiration"],
        serde_json::json!({"type": "afterDateTime", "endDateTime": CONVERTED_END})
    );

    // The database: both remediations done and read back, with Graph's receipts.
    let conn = engine.store().conn();
    let remediations = entity::remediation::Entity::find()
        .filter(entity::remediation::Column::CampaignId.eq(campaign.id))
        .all(conn)
        .await
        .expect("remediations");
    assert_eq!(remediations.len(), 2, "{remediations:#?}");
    let remediation_of = |item: i64| {
        remediations
            .iter()
            .find(|r| r.item_id == item)
            .expect("remediation")
    };
    let sam_removal = remediation_of(sam_item);
    assert_eq!(
        (sam_removal.kind.as_str(), sam_removal.state.as_str()),
        ("remove", "removed"),
        "{sam_removal:?}"
    );
    let receipt = sam_removal.receipt.clone().unwrap_or_default();
    assert!(
        receipt.starts_with("entra:entra:assignment removal request "),
        "{receipt}"
    );
    let cora_conversion = remediation_of(cora_item);
    assert_eq!(
        (
            cora_conversion.kind.as_str(),
            cora_conversion.state.as_str()
        ),
        ("convert", "removed"),
        "{cora_conversion:?}"
    );
    let receipt = cora_conversion.receipt.clone().unwrap_or_default();
    assert!(
        receipt.starts_with("entra:entra:eligibility request ")
            && receipt.contains("; entra:entra:assignment removal request "),
        "{receipt}"
    );
    assert!(sam_removal.verified_at.is_some() && cora_conversion.verified_at.is_some());
    let row_of = |item: i64| {
        let eligibility_id = items
            .iter()
            .find(|i| i.id == item)
            .expect("item")
            .eligibility_id;
        async move {
            entity::eligibility::Entity::find_by_id(eligibility_id)
                .one(conn)
                .await
                .expect("read")
                .expect("row")
        }
    };
    let sam_row = row_of(sam_item).await;
    assert_eq!(sam_row.status, "removed");
    let cora_row = row_of(cora_item).await;
    assert_eq!(
        (cora_row.status.as_str(), cora_row.assignment.as_str()),
        ("active", "eligible")
    );

    // The evidence: items.csv says what each item was and what its remediation did; verify
    // passes.
    let folder = db.dir().join("standing-bundle");
    engine
        .export_evidence(campaign.id, &folder, ExportOptions::default())
        .await
        .expect("export");
    let (code, out, err) = attest_cli(&db, &["evidence", "verify", &folder.to_string_lossy()]);
    assert_eq!(code, 0, "verify:\n{out}\n{err}");
    assert!(
        out.contains("items.csv: 2 rows of standing access, as campaign.json counts"),
        "{out}"
    );
    let text = std::fs::read_to_string(folder.join("items.csv")).expect("items.csv");
    assert!(!text.contains(SECRET));
    let mut csv = csv::Reader::from_reader(text.as_bytes());
    let header = csv.headers().expect("header").clone();
    let column = |name: &str| header.iter().position(|h| h == name).expect(name);
    let mut rows = HashMap::new();
    for record in csv.records() {
        let record = record.expect("record");
        rows.insert(
            record[column("item_id")].to_string(),
            (
                record[column("assignment")].to_string(),
                record[column("remediation")].to_string(),
                record[column("outcome")].to_string(),
            ),
        );
    }
    let row = |item: i64| {
        let (assignment, remediation, outcome) = &rows[&item.to_string()];
        (assignment.as_str(), remediation.as_str(), outcome.as_str())
    };
    assert_eq!(row(sam_item), ("active", "remove", "revoked"));
    assert_eq!(row(cora_item), ("active", "convert", "converted"));
    assert_eq!(row(eve_item), ("eligible", "", "kept"));

    // Re-syncing lists what Graph lists now: Cora eligible, Sam gone, nothing comes back.
    let again = engine
        .sync_source("entra", "test")
        .await
        .expect("sync again");
    assert_eq!(
        (again.reappeared, again.new, again.eligibility),
        (0, 0, 2),
        "{again:?}"
    );
    let cora_row = row_of(cora_item).await;
    assert_eq!(
        (cora_row.status.as_str(), cora_row.assignment.as_str()),
        ("active", "eligible")
    );
}

fn target(principal: &str, assignment: Assignment, kind: RemediationKind) -> RemovalTarget {
    RemovalTarget {
        eligibility_id: 1,
        item_id: 42,
        principal_external_id: principal.into(),
        role_name: "Global Administrator".into(),
        scope: "/".into(),
        campaign_id: 7,
        kind,
        assignment,
    }
}

#[tokio::test]
async fn a_conversion_is_idempotent_and_a_standing_removal_is_never_read_back_from_the_wrong_list()
{
    let server = GraphServer::start(CLIENT_ID, SECRET).await;
    server.set_roles(&[READ_WRITE, ASSIGNMENT_READ_WRITE]);
    let secret_env = "ATTEST_TEST_ENTRA_SECRET_STANDING_CONNECTOR";
    std::env::set_var(secret_env, SECRET);
    let source = GraphConnector::new("entra", &server.entra_config(secret_env))
        .expect("connector")
        .with_retry_cap(Duration::from_secs(2));
    assert!(source.converts());
    let probe = source.test().await.expect("test");
    assert!(
        probe.checks.iter().any(|c| c
            == "application permission RoleAssignmentSchedule.ReadWrite.Directory granted \
                (standing access)"),
        "{:?}",
        probe.checks
    );

    // A crash after the eligibility was made: the retry finds it and only removes the
    // assignment; a further retry finds nothing standing.
    let rita = server.add_user("Rita Retry", None);
    server.add_assignment(&rita, GLOBAL_ADMINISTRATOR, "/", "Assigned", "Direct", None);
    server.add_eligibility(&rita, GLOBAL_ADMINISTRATOR);
    let convert = target(&rita, Assignment::Active, RemediationKind::Convert);
    assert!(source.is_standing(&convert).await.expect("read"));
    let converted = source.convert(&convert).await.expect("convert");
    let Removal::Removed { receipt } = &converted else {
        panic!("{converted:?}");
    };
    assert!(
        receipt.starts_with(
            "entra:entra:eligibility already listed; entra:entra:assignment removal request "
        ),
        "{receipt}"
    );
    assert!(
        server.removal_requests().is_empty(),
        "no second eligibility"
    );
    assert!(!source.is_standing(&convert).await.expect("read"));
    let again = source.convert(&convert).await.expect("convert again");
    assert!(matches!(again, Removal::AlreadyGone { .. }), "{again:?}");
    assert_eq!(
        source.is_present(&convert).await.expect("read"),
        Some(true),
        "converted is still held, as eligible"
    );

    // A permanent standing assignment converts to an eligibility without expiry.
    let pete = server.add_user("Pete Permanent", None);
    server.add_assignment(&pete, GLOBAL_ADMINISTRATOR, "/", "Assigned", "Direct", None);
    let convert = target(&pete, Assignment::Active, RemediationKind::Convert);
    let converted = source.convert(&convert).await.expect("convert");
    assert!(
        matches!(converted, Removal::Removed { .. }),
        "{converted:?}"
    );
    let made = server.removal_requests();
    assert_eq!(made.len(), 1);
    assert_eq!(
        made[0]["scheduleInfo"]["expiration"],
        serde_json::json!({"type": "noExpiration"})
    );
    assert!(!source.is_standing(&convert).await.expect("read"));

    // Revoking standing access that is also eligible removes both forms.
    let bo = server.add_user("Bo Both", None);
    server.add_assignment(&bo, GLOBAL_ADMINISTRATOR, "/", "Assigned", "Direct", None);
    server.add_eligibility(&bo, GLOBAL_ADMINISTRATOR);
    let revoke = target(&bo, Assignment::Active, RemediationKind::Remove);
    let removed = source.remove(&revoke).await.expect("remove");
    let Removal::Removed { receipt } = &removed else {
        panic!("{removed:?}");
    };
    assert!(
        receipt.starts_with("entra:entra:assignment removal request ")
            && receipt.contains("; entra:entra:request "),
        "{receipt}"
    );
    assert_eq!(source.is_present(&revoke).await.expect("read"), Some(false));

    // An app that may not read standing assignments: a standing removal fails, naming the
    // permission, rather than reading "already gone" from the eligibility list; an eligible
    // one goes on as before.
    let stan = server.add_user("Stan Standing", None);
    server.add_assignment(&stan, GLOBAL_ADMINISTRATOR, "/", "Assigned", "Direct", None);
    let ella = server.add_user("Ella Eligible", None);
    server.add_eligibility(&ella, GLOBAL_ADMINISTRATOR);
    server.set_roles(&[READ_WRITE]);
    let narrow = GraphConnector::new("entra", &server.entra_config(secret_env))
        .expect("connector")
        .with_retry_cap(Duration::from_secs(2));
    let standing = target(&stan, Assignment::Active, RemediationKind::Remove);
    let error = narrow.remove(&standing).await.expect_err("no permission").0;
    assert!(
        error.contains(&format!(
            "lacks the Microsoft Graph application permission {ASSIGNMENT_READ_WRITE}"
        )),
        "{error}"
    );
    assert!(narrow.is_present(&standing).await.is_err());
    assert!(narrow.is_standing(&standing).await.is_err());
    let eligible = target(&ella, Assignment::Eligible, RemediationKind::Remove);
    let removed = narrow.remove(&eligible).await.expect("remove eligible");
    assert!(matches!(removed, Removal::Removed { .. }), "{removed:?}");
    assert_eq!(
        narrow.is_present(&eligible).await.expect("read"),
        Some(false)
    );
    assert!(
        server
            .assignment_schedules()
            .iter()
            .any(|a| a.principal_id == stan),
        "Stan's assignment stays, and nothing claimed otherwise"
    );
}

/// The test server answers bad requests as Graph does, so the connector's handling of them is
/// tested against the published shapes: 400 for an unreadable body, a missing field or an
/// unknown expansion, the tenant's justification rule, 403 without the permission.
#[tokio::test]
async fn the_graph_test_server_refuses_bad_assignment_requests_as_graph_does() {
    let server = GraphServer::start(CLIENT_ID, SECRET).await;
    server.set_roles(&[READ_WRITE, ASSIGNMENT_READ_WRITE]);
    let who = server.add_user("Bad Request", None);
    server.add_assignment(&who, GLOBAL_ADMINISTRATOR, "/", "Assigned", "Direct", None);
    let http = reqwest::Client::new();
    let token = |http: reqwest::Client| {
        let url = format!("{}/contoso-test/oauth2/v2.0/token", server.url());
        let scope = format!("{}/.default", server.url());
        async move {
            let answer: serde_json::Value = http
                .post(url)
                .form(&[
                    ("client_id", CLIENT_ID),
                    ("client_secret", SECRET),
                    ("grant_type", "client_credentials"),
                    ("scope", scope.as_str()),
                ])
                .send()
                .await
                .expect("token")
                .json()
                .await
                .expect("token JSON");
            answer["access_token"].as_str().expect("token").to_string()
        }
    };
    let bearer = token(http.clone()).await;
    let post = |body: String| {
        let http = http.clone();
        let url = format!("{}{ACTIVATION_REQUESTS_PATH}", server.url());
        let bearer = bearer.clone();
        async move {
            let reply = http
                .post(url)
                .bearer_auth(bearer)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("post");
            let status = reply.status().as_u16();
            let body: serde_json::Value = reply.json().await.expect("JSON");
            (
                status,
                body["error"]["code"].as_str().unwrap_or("").to_string(),
                body,
            )
        }
    };
    let full = serde_json::json!({
        "action": "adminRemove",
        "principalId": who,
        "roleDefinitionId": GLOBAL_ADMINISTRATOR,
        "directoryScopeId": "/",
        "justification": "test",
    });
    let (status, code, _) = post("{not json".into()).await;
    assert_eq!((status, code.as_str()), (400, "BadRequest"));
    let mut missing = full.clone();
    missing
        .as_object_mut()
        .expect("object")
        .remove("roleDefinitionId");
    let (status, code, _) = post(missing.to_string()).await;
    assert_eq!((status, code.as_str()), (400, "BadRequest"));
    let mut unjustified = full.clone();
    unjustified["justification"] = serde_json::json!(" ");
    let (status, code, _) = post(unjustified.to_string()).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "RoleAssignmentRequestPolicyValidationFailed")
    );
    let (status, _, created) = post(full.to_string()).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["action"], "adminRemove");
    assert_eq!(created["status"], "Revoked");
    assert_eq!(created["principalId"], who.as_str());
    assert!(created["id"].as_str().is_some_and(|id| !id.is_empty()));
    let (status, code, _) = post(full.to_string()).await;
    assert_eq!((status, code.as_str()), (400, "RoleAssignmentDoesNotExist"));
    let listed = http
        .get(format!(
            "{}{ASSIGNMENTS_PATH}?$expand=nothing",
            server.url()
        ))
        .bearer_auth(&bearer)
        .send()
        .await
        .expect("get");
    assert_eq!(listed.status().as_u16(), 400);

    server.set_roles(&[READ_WRITE]);
    let narrow = token(http.clone()).await;
    let reply = http
        .get(format!("{}{ASSIGNMENTS_PATH}", server.url()))
        .bearer_auth(&narrow)
        .send()
        .await
        .expect("get");
    assert_eq!(reply.status().as_u16(), 403);
}
