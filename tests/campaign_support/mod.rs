//! Shared helpers for the campaign engine tests (`campaign_*.rs`): a small organisation written
//! as import files, look-ups of what a user would check (items, mails, eligibility, removals),
//! decisions on a reviewer's behalf, and an eligibility source that fails on demand.
#![allow(dead_code)]

use crate::common::TestDb;
use attest::clock::ManualClock;
use attest::domain::closing::Channel;
use attest::domain::closing::Verdict;
use attest::domain::definition::ScopeFilter;
use attest::domain::records::ImportKind;
use attest::engine::decide::{DecideReport, DecisionRequest};
use attest::engine::definitions::DefinitionText;
use attest::engine::import::ImportOptions;
use attest::engine::{Engine, EngineError, NoProgress};
use attest::sources::builtin::BuiltinSource;
use attest::sources::{EligibilitySource, Removal, RemovalTarget, SourceEligibility, SourceError};
use chrono::{DateTime, Utc};
use entity::{
    campaign, decision, eligibility, outbox_mail, principal, remediation, remediation_attempt,
    review_item, role,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// An organisation's three import files.
pub struct OrgFiles<'a> {
    pub people: &'a str,
    pub roles: &'a str,
    pub eligibility: &'a str,
}

/// Imports people, roles and eligibility (in that order) through the engine.
pub async fn import_org(db: &TestDb, engine: &Engine, org: &OrgFiles<'_>) {
    for (kind, name, content) in [
        (ImportKind::People, "people.csv", org.people),
        (ImportKind::Roles, "roles.csv", org.roles),
        (ImportKind::Eligibility, "eligibility.csv", org.eligibility),
    ] {
        let path = db.file(name, content);
        engine
            .import(
                kind,
                attest::engine::import::ImportInput::open(&path).expect("the import file opens"),
                ImportOptions::default(),
                "test",
                &NoProgress,
            )
            .await
            .unwrap_or_else(|e| panic!("import {name}: {e}"));
    }
}

/// Writes a definition file and defines it.
pub async fn define(db: &TestDb, engine: &Engine, file: &str, toml: &str) {
    let path = db.file(file, toml);
    engine
        .define(
            &DefinitionText::read(&path).expect("read the definition"),
            "test",
        )
        .await
        .unwrap_or_else(|e| panic!("define {file}: {e}"));
}

/// A clock standing at `at`.
pub fn clock_at(at: DateTime<Utc>) -> Arc<ManualClock> {
    Arc::new(ManualClock::new(at))
}

/// Principal database ids by external id.
pub async fn principal_ids(engine: &Engine) -> HashMap<String, i64> {
    principal::Entity::find()
        .all(engine.store().conn())
        .await
        .expect("read principals")
        .into_iter()
        .map(|p| (p.external_id, p.id))
        .collect()
}

/// Every campaign, oldest first.
pub async fn all_campaigns(engine: &Engine) -> Vec<campaign::Model> {
    campaign::Entity::find()
        .order_by_asc(campaign::Column::Id)
        .all(engine.store().conn())
        .await
        .expect("read campaigns")
}

/// The items of a campaign, by id.
pub async fn items(engine: &Engine, campaign_id: i64) -> Vec<review_item::Model> {
    review_item::Entity::find()
        .filter(review_item::Column::CampaignId.eq(campaign_id))
        .order_by_asc(review_item::Column::Id)
        .all(engine.store().conn())
        .await
        .expect("read review items")
}

/// The one item of `holder` in `role` (panics when there is not exactly one).
pub fn item<'a>(
    items: &'a [review_item::Model],
    holder: &str,
    role: &str,
) -> &'a review_item::Model {
    let found: Vec<&review_item::Model> = items
        .iter()
        .filter(|i| i.holder_external_id == holder && i.role_name == role)
        .collect();
    assert_eq!(found.len(), 1, "items of {holder} in {role}: {found:?}");
    found[0]
}

/// Re-reads one item.
pub async fn reload_item(engine: &Engine, id: i64) -> review_item::Model {
    review_item::Entity::find_by_id(id)
        .one(engine.store().conn())
        .await
        .expect("read item")
        .expect("the item exists")
}

/// The mails of a campaign with `template`, by id.
pub async fn mails(engine: &Engine, campaign_id: i64, template: &str) -> Vec<outbox_mail::Model> {
    outbox_mail::Entity::find()
        .filter(outbox_mail::Column::CampaignId.eq(campaign_id))
        .filter(outbox_mail::Column::Template.eq(template))
        .order_by_asc(outbox_mail::Column::Id)
        .all(engine.store().conn())
        .await
        .expect("read outbox")
}

/// The recipients (principal ids) of a campaign's mails with `template`, one entry per row.
pub async fn recipients(engine: &Engine, campaign_id: i64, template: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = mails(engine, campaign_id, template)
        .await
        .iter()
        .map(|m| m.recipient_id.expect("a mail to a principal"))
        .collect();
    ids.sort_unstable();
    ids
}

/// Every decision row of a campaign, oldest first.
pub async fn decisions(engine: &Engine, campaign_id: i64) -> Vec<decision::Model> {
    decision::Entity::find()
        .filter(decision::Column::CampaignId.eq(campaign_id))
        .order_by_asc(decision::Column::Id)
        .all(engine.store().conn())
        .await
        .expect("read decisions")
}

/// All decision rows in the database.
pub async fn decision_count(engine: &Engine) -> usize {
    decision::Entity::find()
        .all(engine.store().conn())
        .await
        .expect("read decisions")
        .len()
}

/// The remediation rows of a campaign, by id.
pub async fn remediations(engine: &Engine, campaign_id: i64) -> Vec<remediation::Model> {
    remediation::Entity::find()
        .filter(remediation::Column::CampaignId.eq(campaign_id))
        .order_by_asc(remediation::Column::Id)
        .all(engine.store().conn())
        .await
        .expect("read remediation")
}

/// The attempts at one removal, in order.
pub async fn attempts(engine: &Engine, remediation_id: i64) -> Vec<remediation_attempt::Model> {
    remediation_attempt::Entity::find()
        .filter(remediation_attempt::Column::RemediationId.eq(remediation_id))
        .order_by_asc(remediation_attempt::Column::Id)
        .all(engine.store().conn())
        .await
        .expect("read remediation attempts")
}

/// The eligibility row of `holder` × `role` × `scope`.
pub async fn eligibility_of(
    engine: &Engine,
    holder: &str,
    role_name: &str,
    scope: &str,
) -> eligibility::Model {
    let conn = engine.store().conn();
    let principal = principal::Entity::find()
        .filter(principal::Column::ExternalId.eq(holder))
        .one(conn)
        .await
        .expect("read principal")
        .unwrap_or_else(|| panic!("no principal {holder}"));
    let role = role::Entity::find()
        .filter(role::Column::Name.eq(role_name))
        .one(conn)
        .await
        .expect("read role")
        .unwrap_or_else(|| panic!("no role {role_name}"));
    eligibility::Entity::find()
        .filter(eligibility::Column::PrincipalId.eq(principal.id))
        .filter(eligibility::Column::RoleId.eq(role.id))
        .filter(eligibility::Column::Scope.eq(scope))
        .one(conn)
        .await
        .expect("read eligibility")
        .unwrap_or_else(|| panic!("no eligibility {holder} × {role_name} × {scope}"))
}

/// Every eligibility row, by id.
pub async fn all_eligibility(engine: &Engine) -> Vec<eligibility::Model> {
    eligibility::Entity::find()
        .order_by_asc(eligibility::Column::Id)
        .all(engine.store().conn())
        .await
        .expect("read eligibility")
}

/// Ids of the eligibility still active.
pub async fn active_eligibility_ids(engine: &Engine) -> BTreeSet<i64> {
    all_eligibility(engine)
        .await
        .into_iter()
        .filter(|e| e.status.as_str() == "active")
        .map(|e| e.id)
        .collect()
}

/// A reviewer's decision through their link.
pub async fn decide(
    engine: &Engine,
    campaign_id: i64,
    reviewer: i64,
    item_ids: &[i64],
    verdict: Verdict,
    justification: Option<&str>,
) -> Result<DecideReport, EngineError> {
    let actor = format!("reviewer:{reviewer}");
    engine
        .decide(&DecisionRequest {
            campaign_id,
            item_ids,
            verdict,
            justification,
            reviewer: Some(reviewer),
            acting_for: None,
            channel: Channel::Link,
            client_addr: Some("192.0.2.10"),
            actor: &actor,
        })
        .await
}

/// Asserts that a campaign's items cover each eligibility once and equal `expected`.
pub fn assert_population(items: &[review_item::Model], expected: &BTreeSet<i64>) {
    let mut seen = HashSet::new();
    for item in items {
        assert!(
            seen.insert(item.eligibility_id),
            "eligibility {} has two items in campaign {}",
            item.eligibility_id,
            item.campaign_id
        );
    }
    let got: BTreeSet<i64> = items.iter().map(|i| i.eligibility_id).collect();
    assert_eq!(&got, expected, "the items are not the population in scope");
}

/// The distinct reviewers of a campaign's items.
pub fn reviewers_of(items: &[review_item::Model]) -> Vec<i64> {
    let set: BTreeSet<i64> = items
        .iter()
        .map(|i| i.reviewer_id.expect("every item has a reviewer"))
        .collect();
    set.into_iter().collect()
}

/// How a [`FlakySource`] misbehaves.
#[derive(Debug, Default)]
pub struct Faults {
    /// `enumerate` calls (1-based) that fail.
    pub enumerate_fails_on: Vec<u32>,
    /// Holders (external ids) whose removal fails; `None` = every holder.
    pub remove_fails_for: Option<Vec<String>>,
    /// How many more removals fail (of the holders above); `u32::MAX` = they never recover.
    pub remove_failures_left: u32,
}

/// The built-in source, failing when told to.
pub struct FlakySource {
    inner: BuiltinSource,
    faults: Mutex<Faults>,
    enumerate_calls: AtomicU32,
    remove_calls: AtomicU32,
}

impl FlakySource {
    pub fn new(engine: &Engine, faults: Faults) -> Arc<Self> {
        Arc::new(Self {
            inner: BuiltinSource::new(engine.store().conn().clone()),
            faults: Mutex::new(faults),
            enumerate_calls: AtomicU32::new(0),
            remove_calls: AtomicU32::new(0),
        })
    }

    pub fn enumerate_calls(&self) -> u32 {
        self.enumerate_calls.load(Ordering::SeqCst)
    }

    pub fn remove_calls(&self) -> u32 {
        self.remove_calls.load(Ordering::SeqCst)
    }

    /// The source recovers: removals succeed from now on.
    pub fn recover(&self) {
        self.faults.lock().expect("faults").remove_failures_left = 0;
    }
}

#[async_trait::async_trait]
impl EligibilitySource for FlakySource {
    fn name(&self) -> &str {
        "flaky-builtin"
    }

    async fn enumerate(
        &self,
        filter: &ScopeFilter,
        cursor: Option<i64>,
        limit: u64,
    ) -> Result<Vec<SourceEligibility>, SourceError> {
        let call = self.enumerate_calls.fetch_add(1, Ordering::SeqCst) + 1;
        let fails = self
            .faults
            .lock()
            .expect("faults")
            .enumerate_fails_on
            .contains(&call);
        if fails {
            return Err(SourceError(format!(
                "connection reset while reading batch {call}"
            )));
        }
        self.inner.enumerate(filter, cursor, limit).await
    }

    async fn remove(
        &self,
        target: &RemovalTarget,
        now: DateTime<Utc>,
    ) -> Result<Removal, SourceError> {
        self.remove_calls.fetch_add(1, Ordering::SeqCst);
        let fail = {
            let mut faults = self.faults.lock().expect("faults");
            let applies = faults
                .remove_fails_for
                .as_ref()
                .is_none_or(|holders| holders.contains(&target.principal_external_id));
            let fail = applies && faults.remove_failures_left > 0;
            if fail && faults.remove_failures_left != u32::MAX {
                faults.remove_failures_left -= 1;
            }
            fail
        };
        if fail {
            return Err(SourceError(format!(
                "503 Service Unavailable removing {} from {}",
                target.principal_external_id, target.role_name
            )));
        }
        self.inner.remove(target, now).await
    }

    async fn is_present(&self, target: &RemovalTarget) -> Result<bool, SourceError> {
        self.inner.is_present(target).await
    }
}
