//! A suspension (issue 19) of a person who holds standing access in Microsoft Entra: the active
//! assignment is removed through roleAssignmentScheduleRequests beside their eligibility, and
//! the approved restore puts back exactly what was removed: the standing assignment standing
//! (with its end), the eligibility eligible. A re-sync then finds nothing new or reappeared.

use crate::common::graph_server::{
    GraphServer, ASSIGNMENT_READ_WRITE, GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR,
    READ_WRITE,
};
use crate::common::{at, TestDb};
use attest::clock::ManualClock;
use attest::sources::config::SourceConfig;
use std::collections::BTreeMap;
use std::sync::Arc;

const CLIENT_ID: &str = "3c5e7a90-2d4f-4b6a-9c8e-1f2a3b4c5d6e";
const SECRET: &str = "suspend-standing~Graph.Secret_2468013579";
const STANDING_END: &str = "2027-03-31T00:00:00Z";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspension_removes_standing_access_in_entra_and_the_restore_puts_it_back_standing() {
    let server = GraphServer::start(CLIENT_ID, SECRET).await;
    // Restoring reads role definitions: RoleManagement.Read.Directory.
    server.set_roles(&[
        READ_WRITE,
        ASSIGNMENT_READ_WRITE,
        "User.Read.All",
        "RoleManagement.Read.Directory",
    ]);
    let sue = server.add_user("Sue Suspended", None);
    let other = server.add_user("Otto Other", None);
    server.add_assignment(
        &sue,
        GLOBAL_ADMINISTRATOR,
        "/",
        "Assigned",
        "Direct",
        Some(STANDING_END),
    );
    server.add_eligibility(&sue, PRIVILEGED_ROLE_ADMINISTRATOR);
    server.add_assignment(
        &other,
        GLOBAL_ADMINISTRATOR,
        "/",
        "Assigned",
        "Direct",
        None,
    );
    let secret_env = "ATTEST_TEST_ENTRA_SECRET_STANDING_SUSPEND";
    std::env::set_var(secret_env, SECRET);
    let db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(at("2026-10-01T08:00:00Z")));
    let engine = db.engine_at(clock).await.with_sources(BTreeMap::from([(
        "entra".to_string(),
        SourceConfig::Entra(server.entra_config(secret_env)),
    )]));
    let synced = engine.sync_source("entra", "test").await.expect("sync");
    assert_eq!(synced.eligibility, 3, "{synced:?}");

    let standing_of = |who: &str| -> Vec<(String, Option<String>)> {
        server
            .assignment_schedules()
            .into_iter()
            .filter(|a| a.principal_id == who && a.assignment_type == "Assigned")
            .map(|a| (a.role_definition_id, a.end))
            .collect()
    };
    let eligible_of = |who: &str| -> Vec<String> {
        server
            .schedules()
            .into_iter()
            .filter(|s| s.principal_id == who && s.status == "Provisioned")
            .map(|s| s.role_definition_id)
            .collect()
    };

    let (suspension, new) = engine
        .suspend(&sue, "Defender: token theft", "account:responder@org.test")
        .await
        .expect("suspend");
    assert!(new);
    assert_eq!(suspension.state.as_str(), "suspended", "{suspension:#?}");
    assert!(suspension
        .items
        .iter()
        .all(|i| i.removal_state.as_str() == "removed"));
    assert!(standing_of(&sue).is_empty(), "Sue still standing");
    assert!(eligible_of(&sue).is_empty(), "Sue still eligible");
    assert_eq!(standing_of(&other).len(), 1, "Otto was touched");

    engine
        .request_restore(&sue, "account:responder@org.test")
        .await
        .expect("request restore");
    let restored = engine
        .approve_restore(suspension.id, "account:admin@org.test")
        .await
        .expect("approve");
    assert_eq!(restored.state.as_str(), "restored", "{restored:#?}");
    assert_eq!(
        standing_of(&sue),
        [(
            GLOBAL_ADMINISTRATOR.to_string(),
            Some(STANDING_END.to_string())
        )],
        "the standing assignment is back standing, with its end"
    );
    assert_eq!(eligible_of(&sue), [PRIVILEGED_ROLE_ADMINISTRATOR]);
    let assigns: Vec<serde_json::Value> = server
        .assignment_requests_posted()
        .into_iter()
        .filter(|r| r["action"] == "adminAssign")
        .collect();
    assert_eq!(assigns.len(), 1, "{assigns:#?}");
    assert_eq!(assigns[0]["principalId"], sue.as_str());
    let receipts: Vec<String> = restored
        .items
        .iter()
        .filter_map(|i| i.restore_receipt.clone())
        .collect();
    assert!(
        receipts
            .iter()
            .any(|r| r.starts_with("entra:entra:assignment adminAssign request ")),
        "{receipts:?}"
    );

    let again = engine.sync_source("entra", "test").await.expect("sync");
    assert_eq!(
        (again.reappeared, again.new, again.eligibility),
        (0, 0, 3),
        "{again:?}"
    );
}
