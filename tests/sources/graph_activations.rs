//! The Entra source's activation history for the weekly activation review: a sync reads the
//! PIM activation requests (`action eq 'selfActivate'`) page by page, records those that made
//! the role active (not a denied one, not another action, not one of a principal holding no
//! eligibility) once each, moves the eligibility's last activation forward, and the week's
//! review shows them.

use crate::common::graph_server::{
    GraphServer, ACTIVATION_REQUESTS_PATH, GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR,
};
use crate::common::{at, TestDb};
use attest::clock::ManualClock;
use attest::sources::config::SourceConfig;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::collections::BTreeMap;
use std::sync::Arc;

const CLIENT_ID: &str = "3c1d2e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f";
const SECRET: &str = "activations~Graph.Secret_24680";

#[tokio::test]
async fn a_sync_records_pim_activations_page_by_page_once_and_the_review_shows_them() {
    let server = GraphServer::start(CLIENT_ID, SECRET).await;
    let org = server.seed_org(2, 6);
    server.set_page_size(2);
    // Admin 0 and Admin 3 hold Global Administrator, Admin 1 Privileged Role Administrator.
    let (admin0, admin1, admin3) = (
        org.eligible_users[0].clone(),
        org.eligible_users[1].clone(),
        org.eligible_users[3].clone(),
    );
    let manager = org.users[0].id.clone();
    let ga = GLOBAL_ADMINISTRATOR;
    let pra = PRIVILEGED_ROLE_ADMINISTRATOR;
    let requests = [
        (
            &admin0,
            ga,
            "selfActivate",
            "Provisioned",
            "2026-11-17T10:00:00Z",
            Some("INC-1"),
        ),
        // Saturday 02:00 UTC: outside working hours (Graph users have no time zone: UTC).
        (
            &admin0,
            ga,
            "selfActivate",
            "Provisioned",
            "2026-11-21T02:00:00Z",
            Some("outage"),
        ),
        (
            &admin3,
            ga,
            "selfActivate",
            "Revoked",
            "2026-11-18T09:00:00Z",
            None,
        ),
        // Never active, not an activation, or by someone who holds no eligibility.
        (
            &admin1,
            pra,
            "selfActivate",
            "Denied",
            "2026-11-19T09:00:00Z",
            None,
        ),
        (
            &admin1,
            pra,
            "adminAssign",
            "Provisioned",
            "2026-11-19T09:00:00Z",
            None,
        ),
        (
            &manager,
            ga,
            "selfActivate",
            "Provisioned",
            "2026-11-19T09:00:00Z",
            None,
        ),
    ];
    for (principal, role, action, status, start, why) in requests {
        server.add_assignment_request(principal, role, action, status, start, why);
    }
    let secret_env = "ATTEST_TEST_ENTRA_SECRET_ACTIVATIONS";
    std::env::set_var(secret_env, SECRET);
    let db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(at("2026-11-25T09:00:00Z")));
    let engine = db
        .engine_at(clock.clone())
        .await
        .with_sources(BTreeMap::from([(
            "entra".to_string(),
            SourceConfig::Entra(server.entra_config(secret_env)),
        )]));

    let synced = engine.sync_source("entra", "test").await.expect("sync");
    assert_eq!(synced.activations_new, 3, "{synced:?}");
    assert!(
        synced
            .warnings
            .iter()
            .any(|w| w.starts_with("1 activations of roles or by principals with no eligibility")),
        "{:?}",
        synced.warnings
    );
    let pages: Vec<_> = server
        .log()
        .into_iter()
        .filter(|l| l.target.starts_with(ACTIVATION_REQUESTS_PATH))
        .collect();
    assert!(
        pages[0].target.contains("$filter=action eq 'selfActivate'"),
        "{pages:?}"
    );
    // Five selfActivate requests, two a page.
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages.iter().all(|l| l.status == 200), "{pages:?}");

    let again = engine
        .sync_source("entra", "test")
        .await
        .expect("sync again");
    assert_eq!(again.activations_new, 0, "a re-sync records nothing twice");

    let review = engine.activation_review("2026-W47").await.expect("review");
    assert_eq!(review.activations, 3);
    let after_hours: Vec<(&str, Option<&str>)> = review
        .after_hours
        .iter()
        .map(|f| (f.holder.as_str(), f.justification.as_deref()))
        .collect();
    assert_eq!(after_hours, vec![(admin0.as_str(), Some("outage"))]);
    assert_eq!(review.after_hours[0].local_time, "Sat 02:00");

    let principal = entity::principal::Entity::find()
        .filter(entity::principal::Column::ExternalId.eq(admin0.as_str()))
        .one(engine.store().conn())
        .await
        .expect("read principal")
        .expect("admin 0 was synced");
    let held = entity::eligibility::Entity::find()
        .filter(entity::eligibility::Column::PrincipalId.eq(principal.id))
        .all(engine.store().conn())
        .await
        .expect("read eligibility");
    let ga_row = held
        .iter()
        .find(|e| {
            e.last_activated_at
                .is_some_and(|t| t >= at("2026-01-01T00:00:00Z"))
        })
        .expect("an eligibility with a recent activation");
    assert_eq!(ga_row.last_activated_at, Some(at("2026-11-21T02:00:00Z")));
}
