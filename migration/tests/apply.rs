//! Applies the migrations on in-memory SQLite and, when `ATTEST_TEST_DATABASE_URL`
//! is set, on a throw-away PostgreSQL database; then checks that every entity
//! round-trips through the resulting schema.

use chrono::{DurationRound, TimeDelta, Utc};
use entity::*;
use migration::{Migrator, MigratorTrait, SchemaManager};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    ModelTrait, Set,
};

const TABLES: [&str; 19] = [
    "source",
    "principal",
    "role",
    "campaign_definition",
    "campaign",
    "eligibility",
    "review_item",
    "decision",
    "remediation",
    "remediation_attempt",
    "reviewer_token",
    "campaign_reviewer",
    "outbox_mail",
    "audit_event",
    "account",
    "activation",
    "activation_review",
    "suspension",
    "suspension_item",
];

async fn migrate_twice(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await?;
    Migrator::up(db, None).await?;
    let manager = SchemaManager::new(db);
    for table in TABLES {
        assert!(manager.has_table(table).await?, "table {table} missing");
    }
    assert!(Migrator::get_pending_migrations(db).await?.is_empty());
    Ok(())
}

/// Down then up again, so that `down` is exercised too.
async fn redo(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::down(db, None).await?;
    let manager = SchemaManager::new(db);
    for table in TABLES {
        assert!(
            !manager.has_table(table).await?,
            "table {table} left behind"
        );
    }
    Migrator::up(db, None).await
}

/// Inserts one row into every table through the entities and reads it back.
async fn round_trip(db: &DatabaseConnection) -> Result<(), DbErr> {
    let now = Utc::now()
        .duration_trunc(TimeDelta::microseconds(1))
        .expect("truncate");

    let src = source::ActiveModel {
        name: Set("builtin".into()),
        kind: Set("builtin".into()),
        config: Set(Some("{}".into())),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;

    let boss = principal::ActiveModel {
        external_id: Set("boss".into()),
        display_name: Set("Boss".into()),
        email: Set(Some("boss@example.com".into())),
        manager_id: Set(None),
        kind: Set("user".into()),
        enabled: Set(true),
        timezone: Set(Some("Europe/Berlin".into())),
        source_id: Set(Some(src.id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let holder = principal::ActiveModel {
        external_id: Set("glass".into()),
        display_name: Set("Break glass".into()),
        email: Set(None),
        manager_id: Set(Some(boss.id)),
        kind: Set("break_glass".into()),
        enabled: Set(true),
        timezone: Set(None),
        source_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;

    let role = role::ActiveModel {
        name: Set("Global Administrator".into()),
        owner_id: Set(Some(boss.id)),
        risk: Set("high".into()),
        description: Set(None),
        source_id: Set(src.id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;

    let def = campaign_definition::ActiveModel {
        name: Set("quarterly".into()),
        version: Set(1),
        description: Set(None),
        owner_id: Set(Some(boss.id)),
        schedule: Set("quarterly".into()),
        timezone: Set("UTC".into()),
        body: Set("name = \"quarterly\"".into()),
        spec: Set("{}".into()),
        spec_hash: Set("00".into()),
        created_by: Set("admin@example.com".into()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;

    let camp = campaign::ActiveModel {
        definition_id: Set(def.id),
        definition_name: Set(def.name.clone()),
        definition_version: Set(def.version),
        period: Set("2026-Q4".into()),
        launch_key: Set("2026-Q4".into()),
        adhoc: Set(false),
        state: Set("active".into()),
        frozen_definition: Set("{}".into()),
        scheduled_for: Set(Some(now)),
        launched_at: Set(Some(now)),
        due_at: Set(Some(now)),
        closed_at: Set(None),
        completed_at: Set(None),
        cancelled_at: Set(None),
        population: Set(1),
        items_created: Set(1),
        launch_cursor: Set(None),
        lease_owner: Set(None),
        lease_until: Set(None),
        rail_reason: Set(Some("first run of this definition".into())),
        created_by: Set("scheduler".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;

    let elig = eligibility::ActiveModel {
        principal_id: Set(holder.id),
        role_id: Set(role.id),
        scope: Set("/".into()),
        start_at: Set(Some(now)),
        end_at: Set(None),
        granted_via: Set("direct".into()),
        last_activated_at: Set(None),
        status: Set("active".into()),
        removed_at: Set(None),
        removed_by_campaign_id: Set(None),
        removal_reason: Set(None),
        removal_receipt: Set(None),
        source_id: Set(src.id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;

    let item = review_item::ActiveModel {
        campaign_id: Set(camp.id),
        eligibility_id: Set(elig.id),
        principal_id: Set(holder.id),
        role_id: Set(role.id),
        scope: Set(elig.scope.clone()),
        holder_external_id: Set(holder.external_id.clone()),
        holder_name: Set(holder.display_name.clone()),
        holder_email: Set(None),
        holder_kind: Set(holder.kind.clone()),
        role_name: Set(role.name.clone()),
        role_risk: Set(role.risk.clone()),
        since: Set(Some(now)),
        last_activated_at: Set(None),
        reviewer_id: Set(Some(boss.id)),
        reviewer_reason: Set(Some("manager".into())),
        flagged: Set(true),
        flag_reason: Set(Some("break-glass".into())),
        recommendation: Set("revoke".into()),
        recommendation_reason: Set(None),
        excluded: Set(false),
        escalated_at: Set(Some(now)),
        escalated_from_id: Set(Some(holder.id)),
        current_decision_id: Set(None),
        verdict: Set(None),
        made_by: Set(None),
        decided_at: Set(None),
        outcome: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;

    let dec = decision::ActiveModel {
        item_id: Set(item.id),
        campaign_id: Set(camp.id),
        verdict: Set("revoke".into()),
        made_by: Set("human".into()),
        reviewer_id: Set(Some(boss.id)),
        acting_for_id: Set(None),
        justification: Set(Some("not needed".into())),
        channel: Set("link".into()),
        client_addr: Set(Some("127.0.0.1".into())),
        decided_at: Set(now),
        supersedes_id: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let mut item_am: review_item::ActiveModel = item.into();
    item_am.current_decision_id = Set(Some(dec.id));
    item_am.verdict = Set(Some("revoke".into()));
    item_am.made_by = Set(Some("human".into()));
    item_am.decided_at = Set(Some(now));
    let item = item_am.update(db).await?;

    let rem = remediation::ActiveModel {
        item_id: Set(item.id),
        campaign_id: Set(camp.id),
        eligibility_id: Set(elig.id),
        state: Set("awaiting_confirmation".into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(None),
        receipt: Set(None),
        removed_at: Set(None),
        verified_at: Set(None),
        lease_until: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;

    let removal = remediation_attempt::ActiveModel {
        remediation_id: Set(rem.id),
        attempt: Set(1),
        at: Set(now),
        outcome: Set("removed".into()),
        receipt: Set(Some("{\"request\":\"r-1\"}".into())),
        error: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let reread = remediation_attempt::ActiveModel {
        remediation_id: Set(rem.id),
        attempt: Set(2),
        at: Set(now),
        outcome: Set("still_present".into()),
        receipt: Set(None),
        error: Set(Some("still listed".into())),
        ..Default::default()
    }
    .insert(db)
    .await?;

    // Each mail carries its own token: two for the same reviewer and campaign.
    let first_token = reviewer_token::ActiveModel {
        campaign_id: Set(camp.id),
        reviewer_id: Set(boss.id),
        token_hash: Set("ab".repeat(32)),
        created_at: Set(now),
        expires_at: Set(now),
        mail_id: Set(Some(1)),
        revoked_at: Set(Some(now)),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let second_token = reviewer_token::ActiveModel {
        campaign_id: Set(camp.id),
        reviewer_id: Set(boss.id),
        token_hash: Set("cd".repeat(32)),
        created_at: Set(now),
        expires_at: Set(now),
        mail_id: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;

    let signer = campaign_reviewer::ActiveModel {
        campaign_id: Set(camp.id),
        reviewer_id: Set(boss.id),
        items_assigned: Set(1),
        signed_off_at: Set(Some(now)),
        signed_off_addr: Set(Some("127.0.0.1".into())),
        last_reminded_at: Set(Some(now)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;

    outbox_mail::ActiveModel {
        idempotency_key: Set("invite:1:1".into()),
        campaign_id: Set(Some(camp.id)),
        recipient_id: Set(Some(boss.id)),
        to_address: Set("boss@example.com".into()),
        template: Set("invite".into()),
        payload: Set("{}".into()),
        state: Set("pending".into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_until: Set(None),
        message_id: Set(None),
        smtp_response: Set(None),
        last_error: Set(None),
        sent_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;

    audit_event::ActiveModel {
        seq: Set(1),
        at: Set(now),
        actor: Set("system".into()),
        action: Set("campaign.launched".into()),
        target: Set(Some(format!("campaign:{}", camp.id))),
        details: Set("{}".into()),
        prev_hash: Set("0".repeat(64)),
        hash: Set("1".repeat(64)),
        ..Default::default()
    }
    .insert(db)
    .await?;

    account::ActiveModel {
        email: Set("admin@example.com".into()),
        role: Set("admin".into()),
        password_hash: Set("$argon2id$...".into()),
        enabled: Set(true),
        failed_logins: Set(0),
        locked_until: Set(None),
        last_login_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;

    let process = attest_process::ActiveModel {
        id: Set("host-1234-serve".into()),
        host: Set("host".into()),
        pid: Set(1234),
        command: Set("serve".into()),
        started_at: Set(now),
        heartbeat_at: Set(now),
        stopped_at: Set(Some(now)),
    }
    .insert(db)
    .await?;

    // Read back.
    assert_eq!(
        attest_process::Entity::find_by_id("host-1234-serve")
            .one(db)
            .await?,
        Some(process)
    );
    let got = review_item::Entity::find_by_id(item.id)
        .one(db)
        .await?
        .expect("review item");
    assert_eq!(got, item);
    assert_eq!(got.holder_kind, "break_glass");
    assert_eq!(got.since, Some(now));
    let got = principal::Entity::find_by_id(holder.id)
        .one(db)
        .await?
        .expect("principal");
    assert_eq!(got, holder);
    let (_, manager) = principal::Entity::find_by_id(holder.id)
        .find_also_linked(principal::ManagerLink)
        .one(db)
        .await?
        .expect("principal");
    assert_eq!(manager.as_ref(), Some(&boss));
    let items = camp.find_related(review_item::Entity).all(db).await?;
    assert_eq!(items.len(), 1);
    let decisions = items[0].find_related(decision::Entity).all(db).await?;
    assert_eq!(decisions, vec![dec]);
    assert_eq!(
        remediation::Entity::find().all(db).await?[0].state,
        "awaiting_confirmation"
    );
    let got = campaign::Entity::find_by_id(camp.id)
        .one(db)
        .await?
        .expect("campaign");
    assert_eq!(got, camp);
    let mut attempts = rem
        .find_related(remediation_attempt::Entity)
        .all(db)
        .await?;
    attempts.sort_by_key(|a| a.attempt);
    assert_eq!(attempts, vec![removal, reread]);
    let mut tokens = camp.find_related(reviewer_token::Entity).all(db).await?;
    tokens.sort_by_key(|t| t.id);
    assert_eq!(tokens, vec![first_token, second_token]);
    let reviewers = camp.find_related(campaign_reviewer::Entity).all(db).await?;
    assert_eq!(reviewers, vec![signer.clone()]);
    let got = signer
        .find_related(principal::Entity)
        .one(db)
        .await?
        .expect("reviewer");
    assert_eq!(got.id, boss.id);

    // Server-side defaults.
    db.execute_unprepared(&format!(
        "INSERT INTO campaign (definition_id, definition_name, definition_version, period, \
         launch_key, state, frozen_definition, created_by, created_at, updated_at) \
         SELECT definition_id, definition_name, definition_version, period, '2026-Q4-x', \
         state, frozen_definition, created_by, created_at, updated_at FROM campaign WHERE id = {}",
        camp.id
    ))
    .await?;
    let all = campaign::Entity::find().all(db).await?;
    let extra = all
        .iter()
        .find(|c| c.launch_key == "2026-Q4-x")
        .expect("row");
    assert_eq!(
        (extra.population, extra.items_created, extra.adhoc),
        (0, 0, false)
    );
    assert_eq!(extra.rail_reason, None);
    db.execute_unprepared(&format!(
        "INSERT INTO campaign_reviewer (campaign_id, reviewer_id, created_at) \
         SELECT {}, reviewer_id, created_at FROM campaign_reviewer WHERE id = {}",
        extra.id, signer.id
    ))
    .await?;
    let extra_reviewer = campaign_reviewer::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .find(|r| r.campaign_id == extra.id)
        .expect("row");
    assert_eq!(
        (
            extra_reviewer.items_assigned,
            extra_reviewer.signed_off_at,
            extra_reviewer.last_reminded_at
        ),
        (0, None, None)
    );

    // Unique constraints hold.
    let dup = audit_event::ActiveModel {
        seq: Set(2),
        at: Set(now),
        actor: Set("system".into()),
        action: Set("fork".into()),
        target: Set(None),
        details: Set("{}".into()),
        prev_hash: Set("0".repeat(64)),
        hash: Set("2".repeat(64)),
        ..Default::default()
    }
    .insert(db)
    .await;
    assert!(dup.is_err(), "audit chain fork must be rejected");
    let dup = campaign_reviewer::ActiveModel {
        campaign_id: Set(camp.id),
        reviewer_id: Set(boss.id),
        items_assigned: Set(0),
        signed_off_at: Set(None),
        signed_off_addr: Set(None),
        last_reminded_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await;
    assert!(
        dup.is_err(),
        "one campaign_reviewer row per reviewer and campaign"
    );

    // Suspensions (migration 18): one open per principal; its items round-trip.
    let open = |reason: &str| suspension::ActiveModel {
        principal_id: Set(holder.id),
        open_principal_id: Set(Some(holder.id)),
        reason: Set(reason.into()),
        requested_by: Set("token:soar".into()),
        state: Set("removing".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let susp = open("SIEM alert").insert(db).await?;
    assert!(
        open("again").insert(db).await.is_err(),
        "one open suspension per principal"
    );
    let item = suspension_item::ActiveModel {
        suspension_id: Set(susp.id),
        eligibility_id: Set(elig.id),
        source: Set("builtin".into()),
        principal_external_id: Set("glass".into()),
        role_name: Set("Global Administrator".into()),
        scope: Set("/".into()),
        removal_state: Set("removed".into()),
        removal_attempts: Set(1),
        removal_receipt: Set(Some("builtin:eligibility/1".into())),
        removed_at: Set(Some(now)),
        ..Default::default()
    }
    .insert(db)
    .await?;
    assert_eq!(
        suspension_item::Entity::find_by_id(item.id).one(db).await?,
        Some(item.clone())
    );
    let mut closed: suspension::ActiveModel = susp.into();
    closed.open_principal_id = Set(None);
    closed.update(db).await?;
    open("a second signal, after the first was restored")
        .insert(db)
        .await?;

    // Foreign keys are enforced (ON DELETE RESTRICT).
    let del = role::Entity::delete_by_id(role.id).exec(db).await;
    assert!(del.is_err(), "deleting a referenced role must fail");
    let del = campaign::Entity::delete_by_id(camp.id).exec(db).await;
    assert!(del.is_err(), "deleting a campaign with items must fail");
    if db.get_database_backend() == DbBackend::Sqlite {
        // PostgreSQL leaves the references of rows written in bulk unchecked (migration 5).
        let del = remediation::Entity::delete_by_id(rem.id).exec(db).await;
        assert!(
            del.is_err(),
            "deleting a remediation with attempts must fail"
        );
    }
    Ok(())
}

async fn exercise(db: &DatabaseConnection) {
    migrate_twice(db).await.expect("migrate");
    redo(db).await.expect("down and up again");
    round_trip(db).await.expect("round trip");
}

#[tokio::test]
async fn applies_on_sqlite_twice() {
    let db = Database::connect("sqlite::memory:").await.expect("connect");
    db.execute_unprepared("PRAGMA foreign_keys = ON")
        .await
        .expect("pragma");
    exercise(&db).await;
}

#[tokio::test]
async fn applies_on_postgres_twice() {
    // Under CI PostgreSQL always runs beside the build; locally it is optional.
    let url = match std::env::var("ATTEST_TEST_DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => url,
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            "postgres://postgres@127.0.0.1:5432/test".to_string()
        }
        _ => {
            eprintln!("SKIPPED applies_on_postgres_twice: needs PostgreSQL (set ATTEST_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test)");
            return;
        }
    };
    let admin = Database::connect(&url).await.expect("connect admin");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let name = format!("mig_{}_{}", std::process::id(), nanos);
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");

    let db_url = match url.rsplit_once('/') {
        Some((base, last)) => {
            let query = last.split_once('?').map(|(_, q)| format!("?{q}"));
            format!("{base}/{name}{}", query.unwrap_or_default())
        }
        None => panic!("ATTEST_TEST_DATABASE_URL has no database path: {url}"),
    };
    let db = Database::connect(&db_url).await.expect("connect test db");
    let outcome = tokio::spawn(async move {
        exercise(&db).await;
        db.close().await.expect("close");
    })
    .await;

    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .expect("drop database");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}
