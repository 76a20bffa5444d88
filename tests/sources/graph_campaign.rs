//! Issue 13's acceptance against the Graph test server: a sync through a throttled page, a
//! campaign over Microsoft Entra PIM, removals sent as `adminRemove` requests (one failing
//! first and succeeding on retry), read back from Graph, and a re-sync that reinstates nothing.

use crate::common::graph_server::{GraphServer, ELIGIBILITY_PATH};
use crate::common::{at, TestDb};
use attest::clock::ManualClock;
use attest::domain::closing::Channel;
use attest::domain::closing::Verdict;
use attest::engine::decide::DecisionRequest;
use attest::engine::definitions::DefinitionText;
use attest::engine::evidence::ExportOptions;
use attest::engine::NoProgress;
use attest::sources::config::SourceConfig;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::BTreeMap;
use std::sync::Arc;

const CLIENT_ID: &str = "0b6f1c2d-8a4e-4f3b-9c7d-2e1f0a9b8c7d";
const SECRET: &str = "campaign~Graph.Secret_9876543210";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_over_entra_pim_removes_through_graph_retries_a_failed_removal_and_reinstates_nothing(
) {
    let server = GraphServer::start(CLIENT_ID, SECRET).await;
    server.set_page_size(20);
    let org = server.seed_org(4, 60);
    let secret_env = "ATTEST_TEST_ENTRA_SECRET_CAMPAIGN";
    std::env::set_var(secret_env, SECRET);
    let config = server.entra_config(secret_env);
    let db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(at("2026-10-01T08:00:00Z")));
    let engine = db
        .engine_at(clock.clone())
        .await
        .with_sources(BTreeMap::from([(
            "entra".to_string(),
            SourceConfig::Entra(config),
        )]));

    // The second page of eligibility schedules is throttled once; the sync waits it out.
    server.throttle("skiptoken", &[429]);
    let synced = engine.sync_source("entra", "test").await.expect("sync");
    let global: Vec<&(String, String, String)> = org
        .eligibility
        .iter()
        .filter(|(_, role, _)| role == "Global Administrator")
        .collect();
    assert!(global.len() > 10, "{global:?}");
    assert_eq!(
        synced.eligibility,
        org.eligibility.len() as u64,
        "{synced:?}"
    );
    let throttled = server
        .log()
        .iter()
        .filter(|l| l.target.contains(ELIGIBILITY_PATH) && l.status == 429)
        .count();
    assert_eq!(throttled, 1, "the throttled page was not asked for");

    let owner = &org.users[0].id;
    let definition = format!(
        r#"
name = "entra-global-admins"
owner = "{owner}"
schedule = "quarterly"
duration_days = 14
reviewers = "manager"
fallback_reviewer = "{owner}"
on_no_response = "remove"
max_auto_remove_percent = 100
source = "entra"

[scope]
roles = ["Global Administrator"]
"#
    );
    engine
        .define(&DefinitionText::new("entra.toml", &definition), "test")
        .await
        .expect("define");
    let campaign = engine
        .launch("entra-global-admins", false, "test", &NoProgress)
        .await
        .expect("launch");
    let items = entity::review_item::Entity::find()
        .filter(entity::review_item::Column::CampaignId.eq(campaign.id))
        .order_by_asc(entity::review_item::Column::Id)
        .all(engine.store().conn())
        .await
        .expect("items");
    assert_eq!(items.len(), global.len());
    let (revoked, unanswered) = (&items[0], &items[1]);
    let kept: Vec<i64> = items[2..].iter().map(|i| i.id).collect();
    for (ids, verdict) in [(vec![revoked.id], Verdict::Revoke), (kept, Verdict::Attest)] {
        engine
            .decide(&DecisionRequest {
                campaign_id: campaign.id,
                item_ids: &ids,
                verdict,
                justification: Some("reviewed"),
                reviewer: None,
                acting_for: None,
                channel: Channel::Api,
                client_addr: None,
                actor: "account:admin@example.com",
            })
            .await
            .expect("decide");
    }

    // Graph refuses the revoked one's removal once.
    server.fail_removals(
        &revoked.holder_external_id,
        500,
        "UnknownError",
        "An unexpected error occurred",
        1,
    );
    engine.close(campaign.id, "test").await.expect("close");
    let _ = engine.confirm_removals(campaign.id, "test").await;
    while engine.remediate_step().await.expect("remediate") > 0 {}
    let listed = |principal: &str| {
        server.schedules().iter().any(|s| {
            s.principal_id == principal
                && s.role_definition_id == crate::common::graph_server::GLOBAL_ADMINISTRATOR
        })
    };
    assert!(
        !listed(&unanswered.holder_external_id),
        "unanswered still eligible"
    );
    assert!(
        listed(&revoked.holder_external_id),
        "the failed removal went through?"
    );

    // After the backoff the removal is tried again and goes through.
    clock.advance(chrono::Duration::hours(1));
    while engine.remediate_step().await.expect("remediate") > 0 {}
    assert!(
        !listed(&revoked.holder_external_id),
        "revoked still eligible"
    );
    for item in &items[2..] {
        assert!(
            listed(&item.holder_external_id),
            "kept {} was removed",
            item.holder_external_id
        );
    }
    let requests = server.removal_requests();
    assert_eq!(
        requests.len(),
        3,
        "two removals, one retried: {requests:#?}"
    );
    for request in &requests {
        assert_eq!(request["action"], "adminRemove");
        let justification = request["justification"].as_str().unwrap_or_default();
        assert!(
            justification.contains(&format!("campaign {}", campaign.id)),
            "{justification}"
        );
    }

    // The evidence carries Graph's receipts.
    let folder = db.dir().join("bundle");
    engine
        .export_evidence(campaign.id, &folder, ExportOptions::default())
        .await
        .expect("export");
    let items_csv = std::fs::read_to_string(folder.join("items.csv")).expect("items.csv");
    assert!(items_csv.contains("entra:entra:request"), "{items_csv}");
    assert!(!items_csv.contains(SECRET));

    // Re-syncing lists what Graph lists now: nothing comes back.
    let again = engine
        .sync_source("entra", "test")
        .await
        .expect("sync again");
    assert_eq!(again.reappeared, 0, "{again:?}");
    assert_eq!(again.new, 0, "{again:?}");
    assert_eq!(
        again.eligibility,
        org.eligibility.len() as u64 - 2,
        "{again:?}"
    );
}
