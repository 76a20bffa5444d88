//! What must hold after a chaos run, each check naming what broke: read from the database (an
//! observer connection that rides out the run's connection cuts), the SMTP server's Maildir and
//! the `attest` CLI (`evidence verify`, `audit verify`).

use super::procs::Env;
use super::reviewers::Decided;
use super::ChaosLog;
use crate::common::smtp::ParsedMail;
use attest::domain::closing::{AttemptOutcome, MadeBy, RemediationState, Verdict};
use attest::domain::directory::PrincipalKind;
use attest::domain::eligibility::EligibilityStatus;
use attest::domain::mail_state::MailState;
use attest::domain::recommendation::Recommendation;
use entity::{
    campaign, campaign_reviewer, decision, eligibility, evidence_bundle, evidence_chunk,
    outbox_mail, remediation, remediation_attempt, review_item,
};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Duplicates the mail worker may send per interruption (a kill, an SMTP outage or a database
/// cut during a step): at most the step it was sending, 200 mails (docs/reliability.md, Mail).
pub const DUPLICATES_PER_INTERRUPTION: usize = 200;

/// A connection of the test's own to the run's database.
pub struct Observer {
    conn: DatabaseConnection,
}

impl Observer {
    pub async fn connect(url: &str) -> Self {
        let conn = retry("connect the observer", || sea_orm::Database::connect(url)).await;
        Self { conn }
    }

    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// The campaign of definition `name`, if one exists yet.
    pub async fn campaign_named(&self, name: &str) -> Option<campaign::Model> {
        retry("read the campaign", || {
            campaign::Entity::find()
                .filter(campaign::Column::DefinitionName.eq(name))
                .order_by_desc(campaign::Column::Id)
                .one(&self.conn)
        })
        .await
    }

    pub async fn campaign(&self, id: i64) -> campaign::Model {
        retry("read the campaign", || {
            campaign::Entity::find_by_id(id).one(&self.conn)
        })
        .await
        .unwrap_or_else(|| panic!("campaign #{id} exists"))
    }

    /// Active eligibility rows: what a campaign over everything reviews.
    pub async fn active_eligibility(&self) -> u64 {
        retry("count active eligibility", || {
            eligibility::Entity::find()
                .filter(eligibility::Column::Status.eq(EligibilityStatus::Active))
                .count(&self.conn)
        })
        .await
    }

    pub async fn outbox(&self) -> Vec<outbox_mail::Model> {
        retry("read the outbox", || {
            outbox_mail::Entity::find()
                .order_by_asc(outbox_mail::Column::Id)
                .all(&self.conn)
        })
        .await
    }

    pub async fn reviewers(&self, campaign_id: i64) -> u64 {
        retry("count reviewers", || {
            campaign_reviewer::Entity::find()
                .filter(campaign_reviewer::Column::CampaignId.eq(campaign_id))
                .count(&self.conn)
        })
        .await
    }

    pub async fn bundles(&self, campaign_id: i64) -> Vec<evidence_bundle::Model> {
        retry("read evidence bundles", || {
            evidence_bundle::Entity::find()
                .filter(evidence_bundle::Column::CampaignId.eq(campaign_id))
                .order_by_asc(evidence_bundle::Column::Id)
                .all(&self.conn)
        })
        .await
    }

    /// Where the run stands, for the log of where a kill landed.
    pub async fn snapshot(&self, campaign: Option<i64>, name: &str) -> String {
        let c = match campaign {
            Some(id) => self.campaign(id).await,
            None => match self.campaign_named(name).await {
                Some(c) => c,
                None => return "no campaign yet".into(),
            },
        };
        let id = c.id;
        let mail = self.outbox().await;
        let sent = mail
            .iter()
            .filter(|m| m.state == MailState::Sent.as_str())
            .count();
        let removals: Vec<remediation::Model> = retry("read removals", || {
            remediation::Entity::find()
                .filter(remediation::Column::CampaignId.eq(id))
                .all(&self.conn)
        })
        .await;
        let done = removals
            .iter()
            .filter(|r| r.state != RemediationState::Pending.as_str())
            .count();
        let decisions = retry("count decisions", || {
            decision::Entity::find()
                .filter(decision::Column::CampaignId.eq(id))
                .count(&self.conn)
        })
        .await;
        format!(
            "{} items {}/{} mail {sent}/{} decisions {decisions} removals {done}/{}",
            c.state,
            c.items_created,
            c.population,
            mail.len(),
            removals.len()
        )
    }
}

/// Runs a database read, again while the database is unreachable or its connection was cut
/// (for up to a minute).
pub async fn retry<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, DbErr>>,
{
    let mut last = None;
    for _ in 0..300 {
        match f().await {
            Ok(value) => return value,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{what}: the database kept failing: {last:?}");
}

/// What a run must leave behind.
pub struct Expected<'a> {
    pub campaign_id: i64,
    /// Active eligibility before the launch: the campaign's population.
    pub population: u64,
    pub decided: &'a Decided,
    pub log: &'a ChaosLog,
    pub mails: &'a [ParsedMail],
    pub base_url: &'a str,
}

/// Every invariant: the failures, each a sentence naming what broke (empty: all held), and the
/// run's figures for its summary line.
pub async fn check(obs: &Observer, env: &Env, x: &Expected<'_>) -> (Vec<String>, String) {
    let mut failures = Vec::new();
    let conn = obs.conn();
    let id = x.campaign_id;
    let c = obs.campaign(id).await;

    // Items = population.
    let items: Vec<review_item::Model> = retry("read items", || {
        review_item::Entity::find()
            .filter(review_item::Column::CampaignId.eq(id))
            .order_by_asc(review_item::Column::Id)
            .all(conn)
    })
    .await;
    if items.len() as u64 != x.population || c.population as u64 != x.population {
        failures.push(format!(
            "items = population: the campaign holds {} items and says its population is {}, but {} eligibilities were active at its launch",
            items.len(),
            c.population,
            x.population
        ));
    }
    let distinct: BTreeSet<i64> = items.iter().map(|i| i.eligibility_id).collect();
    if distinct.len() != items.len() {
        failures.push(format!(
            "items = population: {} items review only {} distinct eligibilities",
            items.len(),
            distinct.len()
        ));
    }

    // Every acknowledged decision present once with its verdict; nothing recorded twice.
    let decisions: Vec<decision::Model> = retry("read decisions", || {
        decision::Entity::find()
            .filter(decision::Column::CampaignId.eq(id))
            .order_by_asc(decision::Column::Id)
            .all(conn)
    })
    .await;
    let mut human: BTreeMap<i64, Vec<&decision::Model>> = BTreeMap::new();
    let mut policy: BTreeMap<i64, usize> = BTreeMap::new();
    for d in &decisions {
        match d.made_by.parse().expect("a stored decision maker") {
            MadeBy::Human => human.entry(d.item_id).or_default().push(d),
            MadeBy::Policy => *policy.entry(d.item_id).or_default() += 1,
        }
    }
    let by_id: BTreeMap<i64, &review_item::Model> = items.iter().map(|i| (i.id, i)).collect();
    let verdict_of = |v: &str| {
        if v == "revoke" {
            Verdict::Revoke
        } else {
            Verdict::Attest
        }
    };
    let mut lost = Vec::new();
    let mut doubled = Vec::new();
    let mut wrong = Vec::new();
    for (item, verdict) in &x.decided.acknowledged {
        let rows = human.get(item).map_or(&[][..], Vec::as_slice);
        match rows.len() {
            0 => lost.push(*item),
            1 if rows[0].verdict == verdict_of(verdict).as_str() => {}
            1 => wrong.push(format!(
                "#{item}: acknowledged {verdict}, recorded {:?}",
                rows[0].verdict
            )),
            _ => doubled.push(format!("#{item} ({} decisions)", rows.len())),
        }
        if let Some(row) = by_id.get(item) {
            if row.verdict.as_deref() != Some(verdict_of(verdict).as_str())
                || row.made_by.as_deref() != Some(MadeBy::Human.as_str())
            {
                wrong.push(format!(
                    "#{item}: acknowledged {verdict}, the item says {:?} by {:?}",
                    row.verdict, row.made_by
                ));
            }
        }
    }
    for (item, rows) in &human {
        if rows.len() > 1 && !x.decided.acknowledged.contains_key(item) {
            doubled.push(format!("#{item} ({} decisions)", rows.len()));
        }
        if !x.decided.acknowledged.contains_key(item) && !x.decided.uncertain.contains_key(item) {
            wrong.push(format!(
                "#{item}: a person's decision recorded that no reviewer posted"
            ));
        }
    }
    if !lost.is_empty() {
        failures.push(format!(
            "acknowledged decisions: {} of {} acknowledged (303) decisions are missing, e.g. items {:?}",
            lost.len(),
            x.decided.acknowledged.len(),
            &lost[..lost.len().min(10)]
        ));
    }
    if !doubled.is_empty() {
        failures.push(format!(
            "decisions recorded once: {} items hold more than one person's decision: {:?}",
            doubled.len(),
            &doubled[..doubled.len().min(10)]
        ));
    }
    if !wrong.is_empty() {
        failures.push(format!(
            "decisions as made: {} items differ from what was posted: {:?}",
            wrong.len(),
            &wrong[..wrong.len().min(10)]
        ));
    }

    // The close: every unanswered item settled once by the policy (recommendation).
    let mut unsettled = Vec::new();
    let mut against_policy = Vec::new();
    let mut policy_removals = 0;
    for item in &items {
        if human.contains_key(&item.id) {
            if policy.contains_key(&item.id) {
                against_policy.push(format!("#{} has a person's and a policy decision", item.id));
            }
            continue;
        }
        if policy.get(&item.id) != Some(&1)
            || item.made_by.as_deref() != Some(MadeBy::Policy.as_str())
        {
            unsettled.push(item.id);
            continue;
        }
        let removable = item.recommendation == Recommendation::Revoke.as_str()
            && item.holder_kind != PrincipalKind::BreakGlass.as_str()
            && !item.excluded;
        let expected = if removable {
            Verdict::Revoke
        } else {
            Verdict::Attest
        };
        if item.verdict.as_deref() != Some(expected.as_str()) {
            against_policy.push(format!(
                "#{} ({:?} recommended, holder {:?}) settled {:?}",
                item.id, item.recommendation, item.holder_kind, item.verdict
            ));
        }
        if removable {
            policy_removals += 1;
        }
    }
    if !unsettled.is_empty() {
        failures.push(format!(
            "close: {} unanswered items have no single policy decision, e.g. {:?}",
            unsettled.len(),
            &unsettled[..unsettled.len().min(10)]
        ));
    }
    if !against_policy.is_empty() {
        failures.push(format!(
            "close: {} items were settled against on_no_response = \"recommendation\": {:?}",
            against_policy.len(),
            &against_policy[..against_policy.len().min(10)]
        ));
    }
    if policy_removals == 0 {
        failures.push(
            "close: no unanswered item was removed by the policy, so the run tested no automatic removal"
                .into(),
        );
    }

    // Every removal carried out once and recorded once, with its true time and receipt.
    failures.extend(check_removals(obs, id, &items).await);

    // The campaign completed with its evidence stored and verified.
    if c.state != "completed" {
        failures.push(format!(
            "completion: campaign #{id} ended the run {} (rail: {:?}), not completed",
            c.state, c.rail_reason
        ));
    }
    failures.extend(check_evidence(obs, env, id).await);

    // Every outbox row delivered, duplicates within the bound and carrying the first link.
    let (mail_failures, mail_figures) = check_mail(obs, x).await;
    failures.extend(mail_failures);

    // The audit chain.
    let (code, out, err) = env.run(&["audit", "verify"]);
    if code != 0 {
        failures.push(format!(
            "audit: `attest audit verify` exited {code}: {}{}",
            out.trim(),
            err.trim()
        ));
    }
    let revoked = items
        .iter()
        .filter(|i| i.verdict.as_deref() == Some(Verdict::Revoke.as_str()))
        .count();
    let figures = format!(
        "items {} decisions acknowledged {} (uncertain {}) removals {revoked} (by policy {policy_removals}) {mail_figures}",
        items.len(),
        x.decided.acknowledged.len(),
        x.decided.uncertain.len(),
    );
    (failures, figures)
}

async fn check_removals(obs: &Observer, id: i64, items: &[review_item::Model]) -> Vec<String> {
    let conn = obs.conn();
    let mut failures = Vec::new();
    let removals: Vec<remediation::Model> = retry("read removals", || {
        remediation::Entity::find()
            .filter(remediation::Column::CampaignId.eq(id))
            .all(conn)
    })
    .await;
    let attempts: Vec<remediation_attempt::Model> = retry("read removal attempts", || {
        remediation_attempt::Entity::find()
            .order_by_asc(remediation_attempt::Column::Id)
            .all(conn)
    })
    .await;
    let eligibilities: BTreeMap<i64, eligibility::Model> =
        retry("read eligibility", || eligibility::Entity::find().all(conn))
            .await
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
    let mut attempts_of: BTreeMap<i64, Vec<&remediation_attempt::Model>> = BTreeMap::new();
    for a in &attempts {
        attempts_of.entry(a.remediation_id).or_default().push(a);
    }
    let by_item: BTreeMap<i64, &remediation::Model> =
        removals.iter().map(|r| (r.item_id, r)).collect();
    let mut missing = Vec::new();
    let mut kept_removed = Vec::new();
    let mut not_removed = Vec::new();
    let mut misrecorded = Vec::new();
    for item in items {
        let elig = eligibilities.get(&item.eligibility_id);
        let revoked = item.verdict.as_deref() == Some(Verdict::Revoke.as_str());
        match (revoked, by_item.get(&item.id)) {
            (true, None) => missing.push(item.id),
            (true, Some(r)) => {
                let removed_attempts = attempts_of.get(&r.id).map_or(0, |a| {
                    a.iter()
                        .filter(|a| a.outcome == AttemptOutcome::Removed.as_str())
                        .count()
                });
                let gone_attempts = attempts_of.get(&r.id).map_or(0, |a| {
                    a.iter()
                        .filter(|a| a.outcome == AttemptOutcome::AlreadyGone.as_str())
                        .count()
                });
                let Some(e) = elig else {
                    not_removed.push(format!(
                        "#{}: eligibility #{} not found",
                        item.id, item.eligibility_id
                    ));
                    continue;
                };
                if e.status != EligibilityStatus::Removed.as_str()
                    || e.removed_by_campaign_id != Some(id)
                {
                    not_removed.push(format!(
                        "#{}: eligibility #{} is {:?} (removed by campaign {:?}); removal {:?} after {} attempts, last error {:?}",
                        item.id, e.id, e.status, e.removed_by_campaign_id, r.state, r.attempts, r.last_error
                    ));
                    continue;
                }
                if r.state != RemediationState::Removed.as_str()
                    || removed_attempts != 1
                    || gone_attempts != 0
                    || r.removed_at != e.removed_at
                    || r.receipt != e.removal_receipt
                {
                    misrecorded.push(format!(
                        "#{}: recorded {:?} at {:?} receipt {:?} ({} 'removed' and {} 'already_gone' attempts), the eligibility was removed at {:?} receipt {:?}",
                        item.id,
                        r.state,
                        r.removed_at,
                        r.receipt,
                        removed_attempts,
                        gone_attempts,
                        e.removed_at,
                        e.removal_receipt
                    ));
                }
            }
            (_, Some(r)) => {
                kept_removed.push(format!("#{} kept but has removal {:?}", item.id, r.state))
            }
            (_, None) => {
                if elig.is_some_and(|e| e.status != EligibilityStatus::Active.as_str()) {
                    kept_removed.push(format!(
                        "#{}: kept, but eligibility #{} is not active",
                        item.id, item.eligibility_id
                    ));
                }
            }
        }
    }
    for (what, list) in [
        (
            "revoked items without a removal",
            missing.iter().map(|i| format!("#{i}")).collect::<Vec<_>>(),
        ),
        ("removals not carried out", not_removed),
        (
            "removals not recorded once with their true time and receipt",
            misrecorded,
        ),
        ("kept items touched by a removal", kept_removed),
    ] {
        if !list.is_empty() {
            failures.push(format!(
                "removals: {} {what}: {:?}",
                list.len(),
                &list[..list.len().min(8)]
            ));
        }
    }
    failures
}

async fn check_evidence(obs: &Observer, env: &Env, id: i64) -> Vec<String> {
    use sha2::Digest;
    let mut failures = Vec::new();
    let bundles = obs.bundles(id).await;
    let Some(stored) = bundles.iter().find(|b| b.reason != "export") else {
        failures.push(format!(
            "evidence: campaign #{id} has no stored bundle (bundles: {:?})",
            bundles.iter().map(|b| &b.reason).collect::<Vec<_>>()
        ));
        return failures;
    };
    let chunks: Vec<evidence_chunk::Model> = retry("read the bundle", || {
        evidence_chunk::Entity::find()
            .filter(evidence_chunk::Column::BundleId.eq(stored.id))
            .order_by_asc(evidence_chunk::Column::Seq)
            .all(obs.conn())
    })
    .await;
    let zip: Vec<u8> = chunks.into_iter().flat_map(|c| c.data).collect();
    let sha = hex::encode(sha2::Sha256::digest(&zip));
    if sha != stored.sha256 || zip.len() as i64 != stored.bytes {
        failures.push(format!(
            "evidence: the stored bundle #{} reads back as {} bytes with SHA-256 {sha}, stored as {} bytes {}",
            stored.id,
            zip.len(),
            stored.bytes,
            stored.sha256
        ));
    }
    let path = env.dir.join(format!("stored-{id}.zip"));
    std::fs::write(&path, &zip).expect("write the stored bundle");
    let path = path.display().to_string();
    let (code, out, err) = env.run(&["evidence", "verify", &path]);
    if code != 0 {
        failures.push(format!(
            "evidence: `attest evidence verify` of the stored bundle ({}) exited {code}: {}{}",
            stored.reason,
            out.trim(),
            err.trim()
        ));
    }
    let export = env
        .dir
        .join(format!("export-{id}.zip"))
        .display()
        .to_string();
    let (code, out, err) = env.run(&["evidence", "export", &id.to_string(), "--out", &export]);
    if code != 0 {
        failures.push(format!(
            "evidence: `attest evidence export {id}` exited {code}: {}{}",
            out.trim(),
            err.trim()
        ));
    } else {
        let (code, out, err) = env.run(&["evidence", "verify", &export]);
        if code != 0 {
            failures.push(format!(
                "evidence: `attest evidence verify` of the export exited {code}: {}{}",
                out.trim(),
                err.trim()
            ));
        }
    }
    failures
}

fn bare_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

async fn check_mail(obs: &Observer, x: &Expected<'_>) -> (Vec<String>, String) {
    let mut failures = Vec::new();
    let outbox = obs.outbox().await;
    let mut copies: BTreeMap<String, Vec<&ParsedMail>> = BTreeMap::new();
    for mail in x.mails {
        copies
            .entry(bare_id(&mail.message_id))
            .or_default()
            .push(mail);
    }
    let mut undelivered = Vec::new();
    let mut unsent = Vec::new();
    let mut duplicates = 0;
    let mut over_bound = Vec::new();
    let mut other_links = Vec::new();
    let per_mail_bound = 1 + x.log.interruptions();
    for row in &outbox {
        if row.state != MailState::Sent.as_str() {
            unsent.push(format!(
                "{} to {} is {:?} after {} attempts ({:?})",
                row.idempotency_key, row.to_address, row.state, row.attempts, row.last_error
            ));
            continue;
        }
        let id = bare_id(row.message_id.as_deref().unwrap_or_default());
        let got = copies.get(&id).map_or(&[][..], Vec::as_slice);
        if got.is_empty() {
            undelivered.push(format!("{} to {}", row.idempotency_key, row.to_address));
            continue;
        }
        let wrong_recipient = got.iter().any(|m| m.to != row.to_address.to_lowercase());
        if wrong_recipient {
            undelivered.push(format!(
                "{}: delivered to {:?}, addressed to {}",
                row.idempotency_key,
                got.iter().map(|m| &m.to).collect::<Vec<_>>(),
                row.to_address
            ));
        }
        duplicates += got.len() - 1;
        if got.len() > per_mail_bound {
            over_bound.push(format!("{} ({} copies)", row.idempotency_key, got.len()));
        }
        let first = got[0].review_links(x.base_url).0;
        for later in &got[1..] {
            let link = later.review_links(x.base_url).0;
            if link != first {
                other_links.push(format!(
                    "{}: first {:?}, then {:?}",
                    row.idempotency_key, first, link
                ));
            }
        }
    }
    let known: BTreeSet<String> = outbox
        .iter()
        .filter_map(|r| r.message_id.as_deref().map(bare_id))
        .collect();
    let strays: Vec<&String> = copies.keys().filter(|k| !known.contains(*k)).collect();
    if !unsent.is_empty() {
        failures.push(format!(
            "mail: {} of {} outbox rows were not sent: {:?}",
            unsent.len(),
            outbox.len(),
            &unsent[..unsent.len().min(8)]
        ));
    }
    if !undelivered.is_empty() {
        failures.push(format!(
            "mail: {} outbox rows recorded as sent never reached the SMTP server (or reached the wrong recipient): {:?}",
            undelivered.len(),
            &undelivered[..undelivered.len().min(8)]
        ));
    }
    if !strays.is_empty() {
        failures.push(format!(
            "mail: the SMTP server received {} Message-IDs that no outbox row has: {:?}",
            strays.len(),
            &strays[..strays.len().min(8)]
        ));
    }
    let bound = DUPLICATES_PER_INTERRUPTION * x.log.interruptions();
    if duplicates > bound || !over_bound.is_empty() {
        failures.push(format!(
            "mail: {duplicates} duplicate deliveries after {} interruptions (bound {bound}; at most {per_mail_bound} copies of one mail): {:?}",
            x.log.interruptions(),
            &over_bound[..over_bound.len().min(8)]
        ));
    }
    if !other_links.is_empty() {
        failures.push(format!(
            "mail: {} re-sent mails carry a different review link than their first copy: {:?}",
            other_links.len(),
            &other_links[..other_links.len().min(4)]
        ));
    }
    let figures = format!(
        "mails {} delivered {} duplicates {duplicates}",
        outbox.len(),
        x.mails.len()
    );
    (failures, figures)
}
