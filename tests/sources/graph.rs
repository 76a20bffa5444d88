//! The Microsoft Entra PIM source against the Graph test server (see common::graph_server).
//!
//! Each test has its own server and its own environment variable for the client secret, so
//! they run in parallel. Throttled answers carry `Retry-After: 1`, so a test that is throttled
//! waits a second per throttled answer and no longer.

use crate::common::graph_server::{
    GraphServer, Org, ACTIVATIONS_PATH, GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR,
    READ_WRITE, REQUESTS_PATH,
};
use attest::domain::directory::{PrincipalKind, Risk};
use attest::sources::connector::Connector;
use attest::sources::graph::GraphConnector;
use attest::sources::{Removal, RemovalTarget};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const CLIENT_ID: &str = "6d5c2f1e-3b7a-4c9d-8e0f-1a2b3c4d5e6f";
const SECRET: &str = "s3cr3t~Graph.Value_0123456789abcdefXYZ";
const NAME: &str = "entra-test";

/// A connector to `server` whose secret is read from `variable` (set here to `secret`).
fn connector(server: &GraphServer, variable: &str, secret: &str) -> GraphConnector {
    std::env::set_var(variable, secret);
    let mut config = server.entra_config(variable);
    config
        .role_risk
        .insert("User Administrator".into(), "medium".into());
    GraphConnector::new(NAME, &config)
        .expect("connector")
        .with_retry_cap(Duration::from_secs(2))
}

fn target(principal: &str, role: &str) -> RemovalTarget {
    RemovalTarget {
        eligibility_id: 1,
        item_id: 42,
        principal_external_id: principal.into(),
        role_name: role.into(),
        scope: "/".into(),
        campaign_id: 7,
        kind: Default::default(),
        assignment: Default::default(),
    }
}

fn assert_one_line(error: &str) {
    assert!(
        error.starts_with(&format!("source {NAME}: ")),
        "not prefixed with the source: {error}"
    );
    assert!(
        !error.contains('\n') && !error.contains('\r'),
        "not one line: {error:?}"
    );
    assert!(
        !error.contains(SECRET),
        "the error shows the secret: {error}"
    );
    assert!(!error.contains("eyJ"), "the error shows a token: {error}");
}

fn time(value: &str) -> chrono::DateTime<chrono::Utc> {
    crate::common::at(value)
}

/// Checks a snapshot against the org the server was seeded with.
fn assert_snapshot_is(org: &Org, snapshot: &attest::sources::connector::Snapshot) {
    let listed: BTreeSet<(String, String, String)> = snapshot
        .eligibility
        .iter()
        .map(|e| (e.principal.clone(), e.role.clone(), e.scope.clone()))
        .collect();
    let expected: BTreeSet<(String, String, String)> = org.eligibility.iter().cloned().collect();
    assert_eq!(
        snapshot.eligibility.len(),
        expected.len(),
        "eligibilities (the pending and the group-inherited schedules must not count)"
    );
    assert_eq!(listed, expected);
    for e in &snapshot.eligibility {
        let key = (e.principal.clone(), e.role.clone(), e.scope.clone());
        assert_eq!(
            e.last_activated_at,
            org.last_activated.get(&key).map(|t| time(t)),
            "last activation of {key:?} (the newest Activated instance, never an Assigned one)"
        );
        assert_eq!(e.start, Some(time("2025-01-15T09:00:00Z")), "{key:?}");
        assert_eq!(e.end, None, "{key:?} has no expiration");
    }
    let people: BTreeMap<&str, &attest::sources::connector::SyncPerson> = snapshot
        .people
        .iter()
        .map(|p| (p.external_id.as_str(), p))
        .collect();
    assert_eq!(
        people.len(),
        snapshot.people.len(),
        "a person is listed once"
    );
    assert_eq!(
        people.len(),
        org.users.len() + 2,
        "every user (holders and the managers above them), the service principal and the group"
    );
    for user in &org.users {
        let person = people
            .get(user.id.as_str())
            .unwrap_or_else(|| panic!("{} is not listed", user.display_name));
        assert_eq!(person.name, user.display_name);
        assert_eq!(person.email, user.mail, "{}", user.display_name);
        assert_eq!(person.kind, PrincipalKind::User);
        assert!(person.enabled);
        assert_eq!(
            person.manager, user.manager,
            "manager of {}",
            user.display_name
        );
    }
    assert_eq!(
        people[org.service_principal.as_str()].kind,
        PrincipalKind::Service
    );
    assert_eq!(people[org.group.as_str()].kind, PrincipalKind::Service);
    assert_eq!(people[org.group.as_str()].name, "Helpdesk Admins");
    let roles: BTreeMap<&str, Risk> = snapshot
        .roles
        .iter()
        .map(|r| (r.name.as_str(), r.risk))
        .collect();
    assert_eq!(
        roles,
        BTreeMap::from([
            ("Global Administrator", Risk::High),
            ("Privileged Role Administrator", Risk::High),
            ("User Administrator", Risk::Medium),
        ])
    );
    assert!(
        snapshot
            .roles
            .iter()
            .all(|r| r.owner.is_none() && r.description.is_some()),
        "{:?}",
        snapshot.roles
    );
}

#[tokio::test]
async fn graph_snapshot_pages_through_a_throttled_listing_and_resolves_managers_and_activations() {
    let server = GraphServer::start(CLIENT_ID, SECRET).await;
    let org = server.seed_org(20, 200);
    server.set_page_size(50);
    // The second page of schedules is throttled once, the activations are unavailable once.
    server.throttle("$skiptoken=roleEligibilitySchedules.50", &[429]);
    server.throttle(ACTIVATIONS_PATH, &[503]);
    let source = connector(&server, "ATTEST_TEST_GRAPH_SECRET_SNAPSHOT", SECRET);

    let started = Instant::now();
    let snapshot = source.snapshot().await.expect("snapshot");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the connector did not wait out Retry-After twice"
    );
    assert!(
        org.eligibility.len() > 200,
        "several pages: {}",
        org.eligibility.len()
    );
    assert_snapshot_is(&org, &snapshot);
    assert!(
        snapshot
            .warnings
            .iter()
            .any(|w| w.contains("Helpdesk Admins") && w.contains("not member by member")),
        "{:?}",
        snapshot.warnings
    );
    assert!(
        snapshot
            .warnings
            .iter()
            .any(|w| w.starts_with("1 eligibilities inherited through a group")),
        "{:?}",
        snapshot.warnings
    );

    let log = server.log();
    let schedules: Vec<_> = log
        .iter()
        .filter(|l| l.target.contains("roleEligibilitySchedules"))
        .collect();
    assert!(
        schedules[0]
            .target
            .contains("$expand=principal,roleDefinition"),
        "{schedules:?}"
    );
    let throttled = schedules
        .iter()
        .position(|l| l.status == 429)
        .expect("the throttled page is in the log");
    assert_eq!(
        schedules[throttled + 1].target,
        schedules[throttled].target,
        "the throttled page is asked for again"
    );
    assert_eq!(schedules[throttled + 1].status, 200);
    assert_eq!(
        schedules.iter().filter(|l| l.status == 200).count(),
        (org.eligibility.len() + 2).div_ceil(50),
        "every page once: {schedules:?}"
    );
    let activations: Vec<_> = log
        .iter()
        .filter(|l| l.target.starts_with(ACTIVATIONS_PATH))
        .collect();
    assert_eq!(activations[0].status, 503);
    assert_eq!(activations[1].status, 200);
    assert!(
        activations[1]
            .target
            .contains("$filter=assignmentType eq 'Activated'"),
        "{activations:?}"
    );
    // Every user's manager is asked for exactly once: holders, then up the chain.
    let managers: Vec<&str> = log
        .iter()
        .filter(|l| l.target.contains("/manager"))
        .map(|l| l.target.as_str())
        .collect();
    let distinct: BTreeSet<&str> = managers.iter().copied().collect();
    assert_eq!(managers.len(), distinct.len(), "a manager asked for twice");
    assert_eq!(managers.len(), org.users.len());
    assert_eq!(server.tokens_issued(), 1, "the token is cached");
}

#[tokio::test]
async fn graph_token_that_expires_mid_run_is_renewed_once() {
    let server = GraphServer::start(CLIENT_ID, SECRET).await;
    let org = server.seed_org(3, 12);
    let source = connector(&server, "ATTEST_TEST_GRAPH_SECRET_EXPIRY", SECRET);
    // Schedules, activations, then manager lookups: the token expires among the lookups.
    server.expire_tokens_after(5);
    let snapshot = source.snapshot().await.expect("snapshot across the expiry");
    assert_snapshot_is(&org, &snapshot);
    assert_eq!(
        server.tokens_issued(),
        2,
        "one new token, not one per request"
    );
    let log = server.log();
    assert!(
        log.iter().any(|l| l.status == 401),
        "the token never expired: {log:?}"
    );

    // A tenant that rejects every token: one renewal, then a clear error, no loop.
    server.issue_expired_tokens(true);
    server.expire_tokens_now();
    let error = source
        .snapshot()
        .await
        .expect_err("every token is refused")
        .0;
    assert_one_line(&error);
    assert!(error.contains("InvalidAuthenticationToken"), "{error}");
    assert!(error.contains("token is expired"), "{error}");
    assert_eq!(server.tokens_issued(), 3);
}

#[tokio::test]
async fn graph_remove_revokes_the_eligibility_reads_it_back_and_is_idempotent() {
    let server = GraphServer::start(CLIENT_ID, SECRET).await;
    let org = server.seed_org(2, 6);
    let source = connector(&server, "ATTEST_TEST_GRAPH_SECRET_REMOVE", SECRET);
    // Admin 0 holds Global Administrator and Privileged Role Administrator.
    let holder = org.eligible_users[0].clone();
    let global = target(&holder, "Global Administrator");
    let privileged = target(&holder, "Privileged Role Administrator");
    assert_eq!(source.is_present(&global).await.expect("read"), Some(true));

    let removal = source.remove(&global).await.expect("remove");
    let Removal::Removed { receipt } = removal else {
        panic!("not removed: {removal:?}");
    };
    assert!(
        receipt.starts_with(&format!("{}:{NAME}:request ", "entra"))
            && receipt.ends_with(" Revoked"),
        "{receipt}"
    );
    let left = server.schedules();
    assert!(
        !left
            .iter()
            .any(|s| s.principal_id == holder && s.role_definition_id == GLOBAL_ADMINISTRATOR),
        "the server still lists it"
    );
    assert!(
        left.iter()
            .any(|s| s.principal_id == holder
                && s.role_definition_id == PRIVILEGED_ROLE_ADMINISTRATOR),
        "the other role was removed too"
    );
    assert_eq!(source.is_present(&global).await.expect("read"), Some(false));
    assert_eq!(
        source.is_present(&privileged).await.expect("read"),
        Some(true)
    );

    let again = source.remove(&global).await.expect("remove again");
    let Removal::AlreadyGone { receipt } = again else {
        panic!("removed twice: {again:?}");
    };
    assert!(
        receipt.starts_with(&format!("entra:{NAME}:not listed: ")),
        "{receipt}"
    );

    let posted = server.removal_requests();
    assert_eq!(
        posted.len(),
        1,
        "the second removal asked Graph again: {posted:?}"
    );
    let body = &posted[0];
    assert_eq!(body["action"], "adminRemove");
    assert_eq!(body["principalId"], holder.as_str());
    assert_eq!(body["roleDefinitionId"], GLOBAL_ADMINISTRATOR);
    assert_eq!(body["directoryScopeId"], "/");
    let justification = body["justification"].as_str().expect("justification");
    assert!(
        justification.contains("campaign 7") && justification.contains("item 42"),
        "{justification}"
    );
    assert!(
        server.log().iter().any(|l| l
            .target
            .contains(&format!("$filter=principalId eq '{holder}'"))),
        "the lookup does not filter by principal"
    );

    // Graph says "does not exist" while still listing it: not trusted, an error to retry.
    let other = org.eligible_users[1].clone();
    server.fail_removals(
        &other,
        400,
        "RoleAssignmentDoesNotExist",
        "The Role assignment does not exist.",
        1,
    );
    let privileged_other = target(&other, "Privileged Role Administrator");
    let error = source
        .remove(&privileged_other)
        .await
        .expect_err("contradicted by the read-back")
        .0;
    assert_one_line(&error);
    assert!(
        error.contains("RoleAssignmentDoesNotExist") && error.contains("still lists"),
        "{error}"
    );
    assert_eq!(
        source.is_present(&privileged_other).await.expect("read"),
        Some(true)
    );
}

#[tokio::test]
async fn graph_removal_that_fails_is_one_clear_error_and_the_next_call_succeeds() {
    let server = GraphServer::start(CLIENT_ID, SECRET).await;
    let org = server.seed_org(2, 6);
    let source = connector(&server, "ATTEST_TEST_GRAPH_SECRET_FAIL", SECRET);
    let holder = org.eligible_users[2].clone();
    let user_admin = target(&holder, "User Administrator");

    server.fail_removals(
        &holder,
        500,
        "UnknownError",
        "An unexpected error occurred.",
        1,
    );
    let error = source
        .remove(&user_admin)
        .await
        .expect_err("server error")
        .0;
    assert_one_line(&error);
    assert_eq!(
        error,
        format!(
            "source {NAME}: Graph refused the removal of {holder} as User Administrator at /: \
             UnknownError: An unexpected error occurred."
        )
    );
    assert_eq!(
        source.is_present(&user_admin).await.expect("read"),
        Some(true)
    );

    server.fail_removals(
        &holder,
        400,
        "RoleAssignmentRequestPolicyValidationFailed",
        "The following policy rules failed: [\"ExpirationRule\"]",
        1,
    );
    let error = source.remove(&user_admin).await.expect_err("policy").0;
    assert_one_line(&error);
    assert!(
        error.contains(
            "RoleAssignmentRequestPolicyValidationFailed: The following policy rules failed"
        ),
        "{error}"
    );

    // The next call goes through, after waiting out one 503.
    server.throttle(REQUESTS_PATH, &[503]);
    let removal = source.remove(&user_admin).await.expect("the retry");
    assert!(matches!(removal, Removal::Removed { .. }), "{removal:?}");
    assert_eq!(
        source.is_present(&user_admin).await.expect("read"),
        Some(false)
    );
    let posts: Vec<u16> = server
        .log()
        .iter()
        .filter(|l| l.method == "POST" && l.target == REQUESTS_PATH)
        .map(|l| l.status)
        .collect();
    assert_eq!(posts, vec![500, 400, 503, 201]);

    // Throttled on and on: it gives up after five retries, saying so (no wait in this test).
    let impatient =
        connector(&server, "ATTEST_TEST_GRAPH_SECRET_FAIL", SECRET).with_retry_cap(Duration::ZERO);
    let other = target(&org.eligible_users[0], "Global Administrator");
    server.throttle(REQUESTS_PATH, &[429; 7]);
    let error = impatient.remove(&other).await.expect_err("throttled").0;
    assert_one_line(&error);
    assert!(
        error.contains("was throttled") && error.contains("429 Too Many Requests to 6 tries"),
        "{error}"
    );
    let throttled = server
        .log()
        .iter()
        .filter(|l| l.method == "POST" && l.status == 429)
        .count();
    assert_eq!(throttled, 6, "one try and five retries");
    assert_eq!(
        impatient.is_present(&other).await.expect("read"),
        Some(true)
    );
}

#[tokio::test]
async fn graph_test_checks_credentials_reachability_and_the_removal_permission() {
    let server = GraphServer::start(CLIENT_ID, SECRET).await;
    let org = server.seed_org(2, 9);
    let source = connector(&server, "ATTEST_TEST_GRAPH_SECRET_PROBE", SECRET);
    let probe = source.test().await.expect("test");
    assert_eq!(probe.eligibility, Some(org.eligibility.len() as u64));
    assert_eq!(probe.people, Some(org.eligible_users.len() as u64 + 2));
    assert!(
        probe
            .checks
            .iter()
            .any(|c| c == &format!("application permission {READ_WRITE} granted")),
        "{:?}",
        probe.checks
    );
    assert!(
        server.removal_requests().is_empty(),
        "test changed something"
    );

    // A wrong secret: Entra's AADSTS reason, never the secret sent.
    let wrong = "wrong~Secret.Value_9876543210";
    let bad = connector(&server, "ATTEST_TEST_GRAPH_SECRET_PROBE_WRONG", wrong);
    let error = bad.test().await.expect_err("wrong secret").0;
    assert_one_line(&error);
    assert!(!error.contains(wrong), "{error}");
    assert!(
        error.starts_with(&format!(
            "source {NAME}: Microsoft Entra refused the client credentials of {CLIENT_ID}: \
             AADSTS7000215: Invalid client secret provided."
        )),
        "{error}"
    );
    assert!(!error.contains("Trace ID"), "{error}");

    // Nothing listens on a port just released.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    std::env::set_var("ATTEST_TEST_GRAPH_SECRET_PROBE_CLOSED", SECRET);
    let mut config = server.entra_config("ATTEST_TEST_GRAPH_SECRET_PROBE_CLOSED");
    config.authority_url = format!("http://127.0.0.1:{port}");
    config.graph_url = format!("http://127.0.0.1:{port}");
    let closed = GraphConnector::new(NAME, &config).expect("connector");
    let error = closed.test().await.expect_err("unreachable").0;
    assert_one_line(&error);
    assert!(
        error.starts_with(&format!(
            "source {NAME}: cannot reach http://127.0.0.1:{port}: "
        )),
        "{error}"
    );

    // A token without the permission removal needs.
    server.set_roles(&["User.Read.All", "RoleEligibilitySchedule.Read.Directory"]);
    let reader = connector(&server, "ATTEST_TEST_GRAPH_SECRET_PROBE_READER", SECRET);
    let error = reader.test().await.expect_err("read-only app").0;
    assert_one_line(&error);
    assert_eq!(
        error,
        format!(
            "source {NAME}: the app registration {CLIENT_ID} lacks the Microsoft Graph application \
             permission RoleEligibilitySchedule.ReadWrite.Directory (grant it and give admin consent)"
        )
    );

    // An app that may not even read gets the same advice from Graph's 403.
    server.set_roles(&["User.Read.All"]);
    let none = connector(&server, "ATTEST_TEST_GRAPH_SECRET_PROBE_NONE", SECRET);
    let error = none.snapshot().await.expect_err("403").0;
    assert_one_line(&error);
    assert!(
        error.contains(&format!(
            "the app registration {CLIENT_ID} lacks the Microsoft Graph application permission \
             RoleEligibilitySchedule.ReadWrite.Directory"
        )) && error.contains("403 Authorization_RequestDenied"),
        "{error}"
    );

    // An app that may remove but not read managers or activations still syncs, and says what
    // it could not know.
    server.set_roles(&[READ_WRITE]);
    let narrow = connector(&server, "ATTEST_TEST_GRAPH_SECRET_PROBE_NARROW", SECRET);
    let probe = narrow.test().await.expect("test");
    assert!(
        probe.checks.iter().any(|c| c
            == "application permission User.Read.All not granted: syncs will not know managers"),
        "{:?}",
        probe.checks
    );
    let snapshot = narrow.snapshot().await.expect("snapshot");
    assert_eq!(snapshot.eligibility.len(), org.eligibility.len());
    assert!(snapshot
        .eligibility
        .iter()
        .all(|e| e.last_activated_at.is_none()));
    assert_eq!(snapshot.people.len(), org.eligible_users.len() + 2);
    assert!(snapshot.people.iter().all(|p| p.manager.is_none()));
    assert!(
        probe.checks.iter().any(|c| c
            == "application permission RoleAssignmentSchedule.ReadWrite.Directory not granted: \
                syncs will not know standing access"),
        "{:?}",
        probe.checks
    );
    for missing in [
        "User.Read.All",
        "RoleAssignmentSchedule.Read.Directory",
        "RoleAssignmentSchedule.ReadWrite.Directory",
    ] {
        assert!(
            snapshot.warnings.iter().any(|w| w.contains(&format!(
                "lacks the Microsoft Graph application permission {missing}"
            ))),
            "{missing}: {:?}",
            snapshot.warnings
        );
    }
}
