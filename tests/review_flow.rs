//! The reviewer's experience end to end, on the real application: a launched campaign mails
//! each reviewer one invitation through a real SMTP server (aiosmtpd on loopback), the link
//! read out of that mail opens the reviewer's page on the real web server, and decisions are
//! POSTed as a browser would post the page's form. Checked against the database: what was
//! recorded, by whom and how, and that looking (GET, HEAD, mail scanners) changes nothing.
//!
//! Every test gets its own database (SQLite, or PostgreSQL with ATTEST_TEST_DATABASE_URL) and
//! its own SMTP server. Without aiosmtpd a test prints `SKIPPED …` locally and fails under CI.

mod common;

use attest::domain::closing::{Channel, MadeBy, Verdict};
use attest::domain::mail_state::InvitationState;
use attest::domain::mail_state::MailState;
use attest::domain::retry::backoff;
use chrono::{DateTime, Duration, Utc};
use common::app::{Launched, Page, TestApp};
use entity::{audit_event, campaign, campaign_reviewer, decision, outbox_mail, reviewer_token};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use std::collections::{BTreeMap, BTreeSet, HashSet};

// ---------------------------------------------------------------------------------------------
// Helpers: the review form as a browser sends it, and what the database holds.
// ---------------------------------------------------------------------------------------------

/// A submitted review form: the anti-forgery field, the chosen radios with their
/// justification boxes, and the button that was pressed.
#[derive(Debug, Clone, Default)]
struct Form(Vec<(String, String)>);

impl Form {
    fn new(csrf: &str) -> Self {
        Self(vec![("csrf".into(), csrf.into())])
    }

    /// No anti-forgery field at all.
    fn without_csrf() -> Self {
        Self::default()
    }

    fn choose(mut self, item: i64, verdict: &str, why: &str) -> Self {
        self.0.push((format!("item-{item}"), verdict.into()));
        self.0.push((format!("why-{item}"), why.into()));
        self
    }

    fn field(mut self, name: &str, value: &str) -> Self {
        self.0.push((name.into(), value.into()));
        self
    }

    fn action(self, action: &str) -> Self {
        self.field("action", action)
    }
}

/// The id of the item of `holder` (external id) in `role`.
async fn item_id(app: &TestApp, launched: &Launched, holder: &str, role: &str) -> i64 {
    let found: Vec<i64> = app
        .items(launched.campaign_id)
        .await
        .iter()
        .filter(|i| i.holder_external_id == holder && i.role_name == role)
        .map(|i| i.id)
        .collect();
    assert_eq!(found.len(), 1, "one item of {holder} in {role}: {found:?}");
    found[0]
}

/// The decision rows of a campaign, oldest first.
async fn decisions(app: &TestApp, campaign_id: i64) -> Vec<decision::Model> {
    decision::Entity::find()
        .filter(decision::Column::CampaignId.eq(campaign_id))
        .order_by_asc(decision::Column::Id)
        .all(app.engine.store().conn())
        .await
        .expect("read decisions")
}

async fn audit_count(app: &TestApp) -> u64 {
    audit_event::Entity::find()
        .count(app.engine.store().conn())
        .await
        .expect("count audit events")
}

/// Everything a reviewer's request could change.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snapshot {
    decisions: u64,
    verdicts: Vec<ItemState>,
    /// (reviewer, signed off at, reviewer's items) per campaign reviewer.
    reviewers: Vec<(i64, Option<DateTime<Utc>>, i64)>,
    audit_events: u64,
    campaign_state: String,
    mails: u64,
    tokens: u64,
}

/// An item's decision as the page and the closing read it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ItemState {
    id: i64,
    verdict: Option<String>,
    made_by: Option<String>,
    current_decision: Option<i64>,
}

async fn snapshot(app: &TestApp, campaign_id: i64) -> Snapshot {
    let conn = app.engine.store().conn();
    let verdicts = app
        .items(campaign_id)
        .await
        .into_iter()
        .map(|i| ItemState {
            id: i.id,
            verdict: i.verdict,
            made_by: i.made_by,
            current_decision: i.current_decision_id,
        })
        .collect();
    let reviewers = campaign_reviewer::Entity::find()
        .filter(campaign_reviewer::Column::CampaignId.eq(campaign_id))
        .order_by_asc(campaign_reviewer::Column::ReviewerId)
        .all(conn)
        .await
        .expect("read campaign reviewers")
        .into_iter()
        .map(|r| (r.reviewer_id, r.signed_off_at, r.items_assigned))
        .collect();
    let campaign_state = campaign::Entity::find_by_id(campaign_id)
        .one(conn)
        .await
        .expect("read campaign")
        .expect("the campaign exists")
        .state
        .to_string();
    Snapshot {
        decisions: decision::Entity::find()
            .count(conn)
            .await
            .expect("count decisions"),
        verdicts,
        reviewers,
        audit_events: audit_count(app).await,
        campaign_state,
        mails: outbox_mail::Entity::find()
            .count(conn)
            .await
            .expect("count mails"),
        tokens: reviewer_token::Entity::find()
            .count(conn)
            .await
            .expect("count tokens"),
    }
}

/// The outbox rows of a campaign with `template`, by id.
async fn outbox(app: &TestApp, campaign_id: i64, template: &str) -> Vec<outbox_mail::Model> {
    outbox_mail::Entity::find()
        .filter(outbox_mail::Column::CampaignId.eq(campaign_id))
        .filter(outbox_mail::Column::Template.eq(template))
        .order_by_asc(outbox_mail::Column::Id)
        .all(app.engine.store().conn())
        .await
        .expect("read outbox")
}

async fn reviewer_row(app: &TestApp, campaign_id: i64, reviewer: i64) -> campaign_reviewer::Model {
    campaign_reviewer::Entity::find()
        .filter(campaign_reviewer::Column::CampaignId.eq(campaign_id))
        .filter(campaign_reviewer::Column::ReviewerId.eq(reviewer))
        .one(app.engine.store().conn())
        .await
        .expect("read campaign reviewer")
        .unwrap_or_else(|| panic!("principal #{reviewer} reviews campaign #{campaign_id}"))
}

/// Asserts a redirect back to the review page with `?{notice}`; returns the page it leads to.
async fn assert_redirected(app: &TestApp, page: &Page, link: &str, notice: &str) -> Page {
    let token = link.rsplit('/').next().expect("a token in the link");
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "a POST that worked redirects back to the page:\n{}",
        page.body
    );
    assert_eq!(
        page.location.as_deref(),
        Some(format!("/r/{token}?{notice}").as_str())
    );
    let next = app.get(page.location.as_deref().unwrap_or_default()).await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.body);
    next
}

/// A token attest never issued, shaped like one (43 base64url characters).
const FORGED: &str = "q0Xw3R1m2nB7cD5eF9gH4iJ6kL8mN0oP2qR4sT6uV8w";

// ---------------------------------------------------------------------------------------------
// 1. The invitation.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_mails_one_invitation_per_reviewer_with_a_working_link() {
    let test = "launch_mails_one_invitation_per_reviewer_with_a_working_link";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    let launched = app.launch().await;
    assert!(
        app.smtp.messages().is_empty(),
        "nothing is sent before the mail worker runs"
    );
    let handled = app.drain_mail().await;

    let reviewers = launched.reviewers();
    assert_eq!(reviewers.len(), 2, "m1 and m2 review: {launched:?}");
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for reviewer in &reviewers {
        expected.insert(app.email_of(*reviewer).await, *reviewer);
    }
    let mails = app.smtp.messages();
    assert_eq!(handled, reviewers.len(), "one mail handled per reviewer");
    assert_eq!(
        mails.len(),
        reviewers.len(),
        "one mail per reviewer, not per item: {:#?}",
        mails
            .iter()
            .map(|m| (&m.to, &m.subject))
            .collect::<Vec<_>>()
    );
    let recipients: BTreeSet<String> = mails.iter().map(|m| m.to.clone()).collect();
    assert_eq!(
        recipients,
        expected.keys().cloned().collect::<BTreeSet<_>>(),
        "every reviewer, and only reviewers, got an invitation"
    );

    let mut links = HashSet::new();
    for mail in &mails {
        let reviewer = expected[&mail.to];
        let mine = launched.items_of(reviewer);
        assert_eq!(mail.envelope_to, vec![mail.to.clone()], "{}", mail.raw);
        assert_eq!(mail.content_type, "multipart/alternative", "{}", mail.raw);
        assert_eq!(
            mail.part_types,
            vec!["text/plain".to_string(), "text/html".to_string()],
            "a text and an HTML part:\n{}",
            mail.raw
        );
        assert!(
            mail.subject.contains(&format!(
                "{} to review",
                attest::domain::figures::count(mine.len() as i64, "eligibility", "eligibilities")
            )),
            "the subject counts the reviewer's items: {}",
            mail.subject
        );
        assert!(
            !mail.message_id.is_empty(),
            "a Message-ID header:\n{}",
            mail.raw
        );
        // The same link in both parts (review_link asserts it).
        let link = mail.review_link(&app.base_url);
        assert!(
            links.insert(link.clone()),
            "each reviewer has their own link"
        );
        let token = link.rsplit('/').next().unwrap_or_default();
        assert!(
            token.len() >= 43
                && token
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "256 random bits, base64url: {token}"
        );

        let page = app.get(&link).await;
        assert_eq!(page.status, StatusCode::OK, "{link}:\n{}", page.body);
        assert!(page.content_type.starts_with("text/html"));
        for (other, items) in &launched.items_by_reviewer {
            for item in items {
                assert_eq!(
                    page.offers(*item),
                    *other == reviewer,
                    "the page of {} shows item #{item} only if it is theirs",
                    mail.to
                );
            }
        }
        assert!(page.says(&format!("0 of {} decided", mine.len())));
    }
    let m1 = app.principal("m1").await;
    let maria = app.get(&app.link_for("maria@org.test")).await;
    assert!(
        maria.says(&format!("Hello {}", m1.display_name)),
        "{}",
        maria.body
    );
    for name in ["Anna One", "Arne Two", "Aiko Three"] {
        assert!(maria.says(name), "Maria's page lists {name}");
    }
    for name in ["Bea One", "Bo Two"] {
        assert!(!maria.says(name), "Maria's page does not list {name}");
    }
}

/// The opening tag of the HTML link whose text is `link` (entities decoded), if there is one.
fn anchor_around(html: &str, link: &str) -> Option<String> {
    let html = common::smtp::unescape_html(html);
    let end = html.find(&format!(">{link}</a>"))?;
    let start = html[..end].rfind("<a ")?;
    Some(html[start..=end].to_string())
}

/// Checks what issue 14 asks of every mail attest sends: `Auto-Submitted: auto-generated`
/// (RFC 3834, so vacation responders stay quiet), and a review link written out in the HTML
/// part that a phone may break anywhere (inline styles: mail clients drop `<style>`).
fn assert_newcomer_friendly(raw: &[u8], base_url: &str, what: &str) {
    use mailparse::MailHeaderMap;
    let mail = mailparse::parse_mail(raw).expect("a mail");
    assert_eq!(
        mail.headers.get_first_value("Auto-Submitted").as_deref(),
        Some("auto-generated"),
        "{what}: Auto-Submitted header"
    );
    let html = mail
        .subparts
        .iter()
        .find(|p| p.ctype.mimetype == "text/html")
        .expect("an HTML part")
        .get_body()
        .expect("the HTML part decodes");
    let link = common::smtp::links_in(&html)
        .into_iter()
        .find(|l| l.starts_with(&format!("{base_url}/r/")))
        .unwrap_or_else(|| panic!("{what}: a review link in the HTML part:\n{html}"));
    let anchor = anchor_around(&html, &link)
        .unwrap_or_else(|| panic!("{what}: the link {link} is written out as a link:\n{html}"));
    for style in ["word-break: break-all", "overflow-wrap: anywhere"] {
        assert!(anchor.contains(style), "{what}: {style} on {anchor}");
    }
}

/// Issue 14: invitations through the SMTP server and as `.eml` files say they are automatic,
/// and the long link in them wraps on a phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mails_say_they_are_automatic_and_their_long_link_wraps_on_a_phone() {
    let test = "mails_say_they_are_automatic_and_their_long_link_wraps_on_a_phone";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    let launched = app.launch().await;
    app.drain_mail().await;
    let mails = app.smtp.messages();
    assert_eq!(mails.len(), 2, "an invitation to each reviewer");
    for mail in &mails {
        assert_newcomer_friendly(mail.raw.as_bytes(), &app.base_url, &mail.to);
    }

    // Without an SMTP server mail is written to .eml files: the same mail.
    let outbox = app.db.dir().join("outbox");
    let files = attest::mail::Mailer::new(
        app.engine.clone(),
        std::sync::Arc::new(attest::mail::transport::EmlFiles::quiet(outbox.clone())),
        common::app::MAIL_FROM,
        &app.base_url,
    )
    .expect("mailer");
    app.engine
        .resend_invitation(launched.campaign_id, "m1", false, "test")
        .await
        .expect("resend");
    assert_eq!(files.drain().await.expect("write the mail"), 1);
    let written: Vec<_> = std::fs::read_dir(&outbox)
        .expect("the outbox folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    assert_eq!(written.len(), 1, "{written:?}");
    let raw = std::fs::read(&written[0]).expect("read the .eml");
    assert_newcomer_friendly(&raw, &app.base_url, &written[0].display().to_string());
}

// ---------------------------------------------------------------------------------------------
// 2. Deciding from the link.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_posted_from_the_mailed_link_are_recorded_as_the_reviewers() {
    let test = "decisions_posted_from_the_mailed_link_are_recorded_as_the_reviewers";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    let launched = app.launch().await;
    app.drain_mail().await;
    let id = launched.campaign_id;
    let m1 = app.principal("m1").await.id;
    let m2 = app.principal("m2").await.id;
    let a1_ga = item_id(&app, &launched, "a1", "Global Administrator").await;
    let a1_pra = item_id(&app, &launched, "a1", "Privileged Role Administrator").await;
    let a2_ga = item_id(&app, &launched, "a2", "Global Administrator").await;
    let a3_pra = item_id(&app, &launched, "a3", "Privileged Role Administrator").await;
    assert_eq!(
        launched.items_of(m1),
        &BTreeSet::from([a1_ga, a1_pra, a2_ga, a3_pra])
    );

    let link = app.link_for("maria@org.test");
    let page = app.get(&link).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.says("0 of 4 decided"), "{}", page.body);
    assert!(page.says("required to revoke"), "{}", page.body);
    let csrf = page.csrf();

    // One item, attested.
    let answer = app
        .post(
            &link,
            &Form::new(&csrf)
                .choose(a2_ga, "attest", "")
                .action("save")
                .0,
        )
        .await;
    let page = assert_redirected(&app, &answer, &link, "saved=1").await;
    assert!(page.says("Saved 1 decision."), "{}", page.body);
    assert!(page.says("1 of 4 decided"), "{}", page.body);
    assert!(page.is_checked(a2_ga, "attest"), "{}", page.body);
    let rows = decisions(&app, id).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let first = rows[0].clone();
    assert_eq!(first.item_id, a2_ga);
    assert_eq!(first.verdict, Verdict::Attest.as_str());
    assert_eq!(first.made_by, MadeBy::Human.as_str());
    assert_eq!(first.channel, Channel::Link.as_str());
    assert_eq!(first.client_addr.as_deref(), Some("127.0.0.1"));
    assert_eq!(first.reviewer_id, Some(m1));
    assert_eq!(first.acting_for_id, None);
    assert_eq!(first.justification, None);
    assert_eq!(first.supersedes_id, None);
    assert_eq!(first.decided_at, app.engine.now());
    let item = app.item(a2_ga).await;
    assert_eq!(item.verdict.as_deref(), Some(Verdict::Attest.as_str()));
    assert_eq!(item.current_decision_id, Some(first.id));

    // A revoke without the justification the definition requires: refused whole.
    let audit_before = audit_count(&app).await;
    for why in ["", "   "] {
        let refused = app
            .post(
                &link,
                &Form::new(&csrf)
                    .choose(a3_pra, "revoke", why)
                    .choose(a1_ga, "attest", "")
                    .action("save")
                    .0,
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
        assert!(
            refused.says("justification is required"),
            "the page says why: {}",
            refused.body
        );
        assert!(refused.says("Nothing was saved"), "{}", refused.body);
        assert!(
            refused.is_checked(a3_pra, "revoke"),
            "the re-shown form keeps the reviewer's choice"
        );
        assert_eq!(decisions(&app, id).await.len(), 1, "nothing was recorded");
        assert_eq!(app.item(a3_pra).await.verdict, None);
        assert_eq!(
            app.item(a1_ga).await.verdict,
            None,
            "the valid half of the request was not recorded either"
        );
        assert_eq!(audit_count(&app).await, audit_before);
    }

    // The same revoke with a justification.
    let why = "Left the platform team in December";
    let answer = app
        .post(
            &link,
            &Form::new(&csrf)
                .choose(a3_pra, "revoke", why)
                .action("save")
                .0,
        )
        .await;
    let page = assert_redirected(&app, &answer, &link, "saved=1").await;
    assert!(page.says("2 of 4 decided"), "{}", page.body);
    assert!(page.is_checked(a3_pra, "revoke"), "{}", page.body);
    assert!(page.body.contains(&format!(r#"value="{why}""#)));
    let rows = decisions(&app, id).await;
    assert_eq!(rows.len(), 2);
    let revoke = &rows[1];
    assert_eq!(revoke.item_id, a3_pra);
    assert_eq!(revoke.verdict, Verdict::Revoke.as_str());
    assert_eq!(revoke.justification.as_deref(), Some(why));
    assert_eq!(revoke.made_by, MadeBy::Human.as_str());
    assert_eq!(revoke.channel, Channel::Link.as_str());
    assert_eq!(revoke.client_addr.as_deref(), Some("127.0.0.1"));
    assert_eq!(revoke.reviewer_id, Some(m1));
    assert_eq!(audit_count(&app).await, audit_before + 1);

    // The same POST again (a double click, a retried request) records nothing new.
    let again = app
        .post(
            &link,
            &Form::new(&csrf)
                .choose(a3_pra, "revoke", why)
                .action("save")
                .0,
        )
        .await;
    assert_redirected(&app, &again, &link, "saved=0").await;
    assert_eq!(decisions(&app, id).await.len(), 2);

    // A change of mind: a new row superseding the old one, which stays as it was.
    let answer = app
        .post(
            &link,
            &Form::new(&csrf)
                .choose(a2_ga, "revoke", "No longer on call")
                .action("save")
                .0,
        )
        .await;
    assert_redirected(&app, &answer, &link, "saved=1").await;
    let rows = decisions(&app, id).await;
    assert_eq!(rows.len(), 3);
    let changed = &rows[2];
    assert_eq!(changed.item_id, a2_ga);
    assert_eq!(changed.verdict, Verdict::Revoke.as_str());
    assert_eq!(changed.supersedes_id, Some(first.id));
    assert_eq!(rows[0], first, "the superseded decision is not touched");
    let item = app.item(a2_ga).await;
    assert_eq!(item.verdict.as_deref(), Some(Verdict::Revoke.as_str()));
    assert_eq!(item.current_decision_id, Some(changed.id));

    // Bulk: revoking the rest needs a justification too; keeping the rest does not.
    let refused = app
        .post(
            &link,
            &Form::new(&csrf)
                .field("bulk_why", "")
                .action("revoke_rest")
                .0,
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.says("justification is required"),
        "{}",
        refused.body
    );
    assert_eq!(decisions(&app, id).await.len(), 3);
    let answer = app
        .post(
            &link,
            &Form::new(&csrf)
                .field("bulk_why", "")
                .action("attest_rest")
                .0,
        )
        .await;
    let page = assert_redirected(&app, &answer, &link, "saved=2").await;
    assert!(page.says("Saved 2 decisions."), "{}", page.body);
    assert!(page.says("4 of 4 decided"), "{}", page.body);
    let rows = decisions(&app, id).await;
    assert_eq!(rows.len(), 5);
    let bulk: BTreeMap<i64, &decision::Model> = rows[3..].iter().map(|d| (d.item_id, d)).collect();
    assert_eq!(
        bulk.keys().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([a1_ga, a1_pra])
    );
    for d in bulk.values() {
        assert_eq!(d.verdict, Verdict::Attest.as_str());
        assert_eq!(d.reviewer_id, Some(m1));
        assert_eq!(d.channel, Channel::Link.as_str());
        assert_eq!(d.client_addr.as_deref(), Some("127.0.0.1"));
        assert_eq!(d.supersedes_id, None);
    }

    // Mark revokes all of his at once, with one justification.
    let mark_link = app.link_for("mark@org.test");
    let mark_page = app.get(&mark_link).await;
    let answer = app
        .post(
            &mark_link,
            &Form::new(&mark_page.csrf())
                .field("bulk_why", "Team disbanded")
                .action("revoke_rest")
                .0,
        )
        .await;
    let page = assert_redirected(&app, &answer, &mark_link, "saved=2").await;
    assert!(page.says("2 of 2 decided"), "{}", page.body);
    let rows = decisions(&app, id).await;
    assert_eq!(rows.len(), 7);
    for d in &rows[5..] {
        assert!(launched.items_of(m2).contains(&d.item_id));
        assert_eq!(d.verdict, Verdict::Revoke.as_str());
        assert_eq!(d.justification.as_deref(), Some("Team disbanded"));
        assert_eq!(d.reviewer_id, Some(m2));
        assert_eq!(d.channel, Channel::Link.as_str());
        assert_eq!(d.client_addr.as_deref(), Some("127.0.0.1"));
    }
    for item in launched.items_of(m2) {
        assert!(page.is_checked(*item, "revoke"));
    }

    // Maria's page shows every choice as stored.
    let page = app.get(&link).await;
    assert!(page.says("4 of 4 decided"), "{}", page.body);
    for (item, verdict) in [
        (a1_ga, "attest"),
        (a1_pra, "attest"),
        (a2_ga, "revoke"),
        (a3_pra, "revoke"),
    ] {
        let other = if verdict == "attest" {
            "revoke"
        } else {
            "attest"
        };
        assert!(page.is_checked(item, verdict), "item #{item}: {verdict}");
        assert!(!page.is_checked(item, other), "item #{item}: not {other}");
        assert_eq!(
            app.item(item)
                .await
                .verdict
                .map(|v| v.to_string())
                .as_deref(),
            Some(verdict)
        );
    }
    assert!(page.body.contains(r#"value="No longer on call""#));
}

// ---------------------------------------------------------------------------------------------
// 3. Mail scanners.
// ---------------------------------------------------------------------------------------------

/// The `<fieldset>` of `item` on a review page.
fn fieldset_of(page: &Page, item: i64) -> String {
    let marker = format!(r#"id="item-{item}""#);
    let at = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("the page has item #{item}:\n{}", page.body));
    let start = page.body[..at].rfind("<fieldset").expect("its fieldset");
    let end = at + page.body[at..].find("</fieldset>").expect("its end");
    page.body[start..end].to_string()
}

/// Issue 14: a refused save names the item by holder, role and scope, links to its row, and
/// the row keeps the reviewer's choice visibly marked as not saved (as does every other choice
/// of that form, since nothing of it was recorded), while what was saved before looks saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_save_names_the_item_links_to_it_and_marks_choices_not_saved() {
    let test = "a_refused_save_names_the_item_links_to_it_and_marks_choices_not_saved";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    let launched = app.launch().await;
    app.drain_mail().await;
    let id = launched.campaign_id;
    let a1_ga = item_id(&app, &launched, "a1", "Global Administrator").await;
    let a2_ga = item_id(&app, &launched, "a2", "Global Administrator").await;
    let a3_pra = item_id(&app, &launched, "a3", "Privileged Role Administrator").await;
    let link = app.link_for("maria@org.test");
    let csrf = app.get(&link).await.csrf();
    let saved = app
        .post(
            &link,
            &Form::new(&csrf)
                .choose(a2_ga, "attest", "")
                .action("save")
                .0,
        )
        .await;
    assert_redirected(&app, &saved, &link, "saved=1").await;

    let refused = app
        .post(
            &link,
            &Form::new(&csrf)
                .choose(a2_ga, "attest", "")
                .choose(a3_pra, "revoke", " ")
                .choose(a1_ga, "attest", "")
                .action("save")
                .0,
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains(&format!(
            r##"Not saved: <a href="#item-{a3_pra}">Aiko Three — Privileged Role Administrator (/)</a>: a justification is required to revoke"##
        )),
        "the error names and links to the refused item:\n{}",
        refused.body
    );
    assert_eq!(
        refused.body.matches("Not saved: <a href=").count(),
        1,
        "only the refused item is listed:\n{}",
        refused.body
    );
    assert!(refused.says("Nothing was saved"), "{}", refused.body);

    let aiko = fieldset_of(&refused, a3_pra);
    assert!(aiko.contains(r#"class="item unsaved""#), "{aiko}");
    assert!(refused.is_checked(a3_pra, "revoke"), "{aiko}");
    assert!(
        aiko.contains("Not saved: your choice (revoke) is shown but not recorded: a justification is required to revoke"),
        "{aiko}"
    );
    assert!(aiko.contains(r#"aria-invalid="true""#), "{aiko}");
    let anna = fieldset_of(&refused, a1_ga);
    assert!(anna.contains(r#"class="item unsaved""#), "{anna}");
    assert!(anna.contains("Not saved: your choice (keep)"), "{anna}");
    let arne = fieldset_of(&refused, a2_ga);
    assert!(
        arne.contains(r#"class="item decided""#),
        "saved before: {arne}"
    );
    assert!(!arne.contains("Not saved"), "{arne}");

    assert_eq!(
        decisions(&app, id).await.len(),
        1,
        "nothing more was recorded"
    );
    assert_eq!(app.item(a3_pra).await.verdict, None);
    assert_eq!(app.item(a1_ga).await.verdict, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_every_mailed_link_changes_nothing() {
    let test = "opening_every_mailed_link_changes_nothing";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    let launched = app.launch().await;
    app.drain_mail().await;
    // One decision already made, so there is something a scanner could disturb.
    let link = app.link_for("maria@org.test");
    let a2_ga = item_id(&app, &launched, "a2", "Global Administrator").await;
    let page = app.get(&link).await;
    let answer = app
        .post(
            &link,
            &Form::new(&page.csrf()).choose(a2_ga, "attest", "").0,
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);

    let before = snapshot(&app, launched.campaign_id).await;
    let mails = app.smtp.messages();
    assert_eq!(mails.len(), 2);
    let mut opened = 0;
    for mail in &mails {
        let links = mail.links();
        assert!(!links.is_empty(), "the mail has links:\n{}", mail.raw);
        for url in links {
            let review = url.starts_with(&format!("{}/r/", app.base_url));
            let mut urls = vec![url.clone()];
            if review {
                // Scanners also try what lies near a link.
                urls.push(format!("{url}/sign-off"));
                urls.push(format!("{url}?saved=1"));
                urls.push(format!("{url}?signed=1"));
            }
            for url in urls {
                let get = app
                    .follower
                    .get(&url)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("GET {url}: {e}"));
                let status = get.status();
                let _ = get.text().await;
                let head = app
                    .follower
                    .head(&url)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("HEAD {url}: {e}"));
                let plain = app.get(&url).await;
                opened += 3;
                if url.ends_with("/sign-off") {
                    assert!(
                        [StatusCode::METHOD_NOT_ALLOWED, StatusCode::OK].contains(&status),
                        "GET {url}: {status}"
                    );
                    assert!(
                        !plain.status.is_redirection(),
                        "a GET of the sign-off does not sign off"
                    );
                } else if review {
                    assert_eq!(status, StatusCode::OK, "GET {url}");
                    assert_eq!(head.status(), StatusCode::OK, "HEAD {url}");
                    assert_eq!(plain.status, StatusCode::OK, "GET {url}");
                }
            }
        }
    }
    assert!(opened >= 24, "every link was opened ({opened} requests)");
    let after = snapshot(&app, launched.campaign_id).await;
    assert_eq!(after, before, "opening links changed nothing");
    assert_eq!(after.decisions, 1);
    assert!(after
        .reviewers
        .iter()
        .all(|(_, signed, _)| signed.is_none()));
    assert_eq!(after.campaign_state, "active");
}

// ---------------------------------------------------------------------------------------------
// 4. Refusals.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_say_why_and_change_nothing() {
    let test = "refused_requests_say_why_and_change_nothing";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    let launched = app.launch().await;
    app.drain_mail().await;
    let id = launched.campaign_id;
    let maria = app.link_for("maria@org.test");
    let mark = app.link_for("mark@org.test");
    let maria_csrf = app.get(&maria).await.csrf();
    let mark_csrf = app.get(&mark).await.csrf();
    let a1_ga = item_id(&app, &launched, "a1", "Global Administrator").await;
    let b1_ga = item_id(&app, &launched, "b1", "Global Administrator").await;
    let before = snapshot(&app, id).await;

    // A forged token, and a real one cut short: "not valid", for GET and POST alike.
    let truncated = &maria[..maria.len() - 3];
    for url in [
        format!("{}/r/{FORGED}", app.base_url),
        truncated.to_string(),
    ] {
        let page = app.get(&url).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "GET {url}");
        assert!(page.says("not valid"), "{}", page.body);
        assert!(page.content_type.starts_with("text/html"));
        let page = app
            .post(&url, &Form::new(&maria_csrf).choose(a1_ga, "attest", "").0)
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "POST {url}");
        assert!(page.says("not valid"), "{}", page.body);
        let page = app
            .post(&format!("{url}/sign-off"), &Form::new(&maria_csrf).0)
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "POST {url}/sign-off");
    }

    // Maria's link deciding Mark's item.
    let page = app
        .post(
            &maria,
            &Form::new(&maria_csrf).choose(b1_ga, "attest", "").0,
        )
        .await;
    assert!(
        page.status.is_client_error(),
        "refused: {} {}",
        page.status,
        page.body
    );
    assert!(page.says("not assigned to you"), "{}", page.body);
    // Nor with an item of hers alongside.
    let page = app
        .post(
            &maria,
            &Form::new(&maria_csrf)
                .choose(a1_ga, "attest", "")
                .choose(b1_ga, "revoke", "not mine")
                .0,
        )
        .await;
    assert!(page.status.is_client_error(), "{}", page.status);
    assert_eq!(snapshot(&app, id).await, before);

    // No anti-forgery field, a wrong one, and another link's: 403.
    let wrong = "0".repeat(maria_csrf.len());
    for (what, form) in [
        ("no csrf", Form::without_csrf().choose(a1_ga, "attest", "")),
        (
            "a wrong csrf",
            Form::new(&wrong).choose(a1_ga, "attest", ""),
        ),
        (
            "Mark's csrf",
            Form::new(&mark_csrf).choose(a1_ga, "attest", ""),
        ),
        ("an empty csrf", Form::new("").choose(a1_ga, "attest", "")),
    ] {
        let page = app.post(&maria, &form.clone().action("save").0).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{what}: {}", page.body);
        assert!(page.says("could not be accepted"), "{what}: {}", page.body);
        assert!(page.says("Nothing was changed"), "{what}: {}", page.body);
        let page = app
            .post(&maria, &form.field("bulk_why", "").action("attest_rest").0)
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{what} (bulk)");
    }
    for form in [Form::without_csrf(), Form::new(&mark_csrf)] {
        let page = app.post(&format!("{maria}/sign-off"), &form.0).await;
        assert_eq!(
            page.status,
            StatusCode::FORBIDDEN,
            "sign-off: {}",
            page.body
        );
    }
    assert_eq!(
        snapshot(&app, id).await,
        before,
        "no refused request changed anything"
    );

    // The campaign closes: the links say so, and take no more decisions.
    app.engine.close(id, "test").await.expect("close");
    let closed = snapshot(&app, id).await;
    assert_ne!(closed.campaign_state, "active");
    let page = app.get(&maria).await;
    assert_eq!(page.status, StatusCode::GONE, "{}", page.body);
    assert!(page.says("closed"), "{}", page.body);
    let page = app
        .post(
            &maria,
            &Form::new(&maria_csrf)
                .choose(a1_ga, "revoke", "too late")
                .action("save")
                .0,
        )
        .await;
    assert_eq!(page.status, StatusCode::GONE, "{}", page.body);
    assert!(page.says("closed"), "{}", page.body);
    let page = app
        .post(
            &mark,
            &Form::new(&mark_csrf)
                .field("bulk_why", "")
                .action("attest_rest")
                .0,
        )
        .await;
    assert_eq!(page.status, StatusCode::GONE, "{}", page.body);
    let page = app
        .post(&format!("{maria}/sign-off"), &Form::new(&maria_csrf).0)
        .await;
    assert_eq!(page.status, StatusCode::GONE, "{}", page.body);
    assert_eq!(
        snapshot(&app, id).await,
        closed,
        "nothing changed after close"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. The SMTP server is down.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_waits_for_a_server_that_is_down_and_arrives_once() {
    let test = "mail_waits_for_a_server_that_is_down_and_arrives_once";
    let Some(mut app) = TestApp::spawn(test).await else {
        return;
    };
    app.smtp.stop();
    let launched = app.launch().await;
    let id = launched.campaign_id;
    let reviewers = launched.reviewers();
    let failed_at = app.engine.now();
    let handled = app.mailer.send_step().await.expect("send step");
    assert_eq!(handled, reviewers.len(), "each invitation was tried");
    let rows = outbox(&app, id, "invitation").await;
    assert_eq!(rows.len(), reviewers.len());
    for row in &rows {
        assert_eq!(row.state, MailState::Pending.as_str(), "{row:?}");
        assert_eq!(row.attempts, 1, "{row:?}");
        assert!(
            row.last_error.as_deref().is_some_and(|e| !e.is_empty()),
            "the failure is recorded: {row:?}"
        );
        assert_eq!(row.next_attempt_at, failed_at + backoff(1), "{row:?}");
        assert_eq!(row.sent_at, None);
        assert_eq!(row.message_id, None);
    }
    assert!(app.smtp.messages().is_empty());

    app.smtp.restart();
    assert_eq!(
        app.mailer.drain().await.expect("drain"),
        0,
        "nothing is retried before its backoff has passed"
    );
    assert!(app.smtp.messages().is_empty());
    app.clock.advance(backoff(1) + Duration::seconds(1));
    assert_eq!(app.mailer.drain().await.expect("drain"), reviewers.len());
    assert_eq!(app.mailer.drain().await.expect("drain"), 0);

    let mails = app.smtp.messages();
    let mut by_recipient: BTreeMap<String, usize> = BTreeMap::new();
    for mail in &mails {
        *by_recipient.entry(mail.to.clone()).or_default() += 1;
    }
    let mut expected = BTreeMap::new();
    for reviewer in &reviewers {
        expected.insert(app.email_of(*reviewer).await, 1);
    }
    assert_eq!(
        by_recipient, expected,
        "every invitation arrived exactly once"
    );
    let ids: HashSet<&str> = mails.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids.len(), mails.len(), "Message-IDs are unique");
    let rows = outbox(&app, id, "invitation").await;
    let recorded: HashSet<&str> = rows
        .iter()
        .filter_map(|r| r.message_id.as_deref())
        .collect();
    assert_eq!(recorded, ids, "the outbox records the Message-IDs sent");
    for row in &rows {
        assert_eq!(row.state, MailState::Sent.as_str(), "{row:?}");
        assert_eq!(row.attempts, 2, "{row:?}");
        assert_eq!(row.last_error, None, "{row:?}");
    }
    // The links of the mails that finally went out work.
    for mail in &mails {
        let page = app.get(&mail.review_link(&app.base_url)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    }
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 6. Sign-off.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_off_is_recorded_and_ends_the_reviewers_reminders() {
    let test = "a_sign_off_is_recorded_and_ends_the_reviewers_reminders";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    let launched = app.launch().await;
    app.drain_mail().await;
    let id = launched.campaign_id;
    let m1 = app.principal("m1").await.id;
    let m2 = app.principal("m2").await.id;
    let link = app.link_for("maria@org.test");
    let page = app.get(&link).await;
    assert!(page.says("I have finished"), "{}", page.body);
    let audit_before = audit_count(&app).await;

    app.clock.advance(Duration::hours(3));
    let signed_at = app.engine.now();
    let answer = app
        .post(&format!("{link}/sign-off"), &Form::new(&page.csrf()).0)
        .await;
    let page = assert_redirected(&app, &answer, &link, "signed=1").await;
    assert!(page.says("your sign-off is recorded"), "{}", page.body);
    assert!(page.says("You signed off on"), "{}", page.body);
    let row = reviewer_row(&app, id, m1).await;
    assert_eq!(row.signed_off_at, Some(signed_at));
    assert_eq!(row.signed_off_addr.as_deref(), Some("127.0.0.1"));
    assert_eq!(reviewer_row(&app, id, m2).await.signed_off_at, None);
    assert_eq!(audit_count(&app).await, audit_before + 1);
    let last = audit_event::Entity::find()
        .order_by_desc(audit_event::Column::Seq)
        .one(app.engine.store().conn())
        .await
        .expect("read audit")
        .expect("an audit event");
    assert_eq!(last.action, "review.sign_off");
    assert_eq!(last.actor, format!("reviewer:{m1}"));
    // Maria signed off without deciding: her items are still open.
    assert!(app
        .items(id)
        .await
        .iter()
        .filter(|i| i.reviewer_id == Some(m1))
        .all(|i| i.verdict.is_none()));

    // The first reminder is due a week before the deadline: Mark gets one, Maria none.
    app.clock.set(launched.due_at - Duration::days(7));
    let report = app.engine.remind_step().await.expect("remind");
    assert_eq!(report.reminders, 1, "{report:?}");
    let reminders = outbox(&app, id, "reminder").await;
    let to: Vec<Option<i64>> = reminders.iter().map(|m| m.recipient_id).collect();
    assert_eq!(to, vec![Some(m2)], "only Mark is reminded");
    app.drain_mail().await;
    assert_eq!(
        app.smtp.messages_to("maria@org.test").len(),
        1,
        "Maria got her invitation and nothing more"
    );
    let mark = app.smtp.messages_to("mark@org.test");
    assert_eq!(mark.len(), 2);
    assert!(
        mark[1].subject.starts_with("Reminder:"),
        "{}",
        mark[1].subject
    );

    // Nor at the second offset.
    app.clock.set(launched.due_at - Duration::days(2));
    app.engine.remind_step().await.expect("remind");
    let to: Vec<Option<i64>> = outbox(&app, id, "reminder")
        .await
        .iter()
        .map(|m| m.recipient_id)
        .collect();
    assert!(!to.contains(&Some(m1)), "no reminder for Maria: {to:?}");
}

/// Issue 15: an SMTP outage longer than the retries gives the invitations up, visibly, and
/// they go out (once each) when the server answers again, without an admin.
#[tokio::test]
async fn invitations_given_up_in_a_long_mail_outage_are_shown_and_sent_once_the_server_is_back() {
    use attest::domain::retry::MAX_ATTEMPTS;
    let test = "invitations_given_up_in_a_long_mail_outage";
    let Some(mut app) = TestApp::spawn(test).await else {
        return;
    };
    app.smtp.stop();
    let launched = app.launch().await;
    let id = launched.campaign_id;
    let reviewers = launched.reviewers().len() as i64;
    for attempt in 1..=MAX_ATTEMPTS {
        assert_eq!(
            app.mailer.send_step().await.expect("send step") as i64,
            reviewers,
            "attempt {attempt}"
        );
        app.clock.advance(backoff(attempt) + Duration::seconds(1));
    }
    // Given up: the campaign says so in numbers, and each row says why.
    let counts = app.engine.campaign(id).await.expect("show").counts;
    assert_eq!(counts.mail_failed, reviewers, "{counts:?}");
    assert_eq!(counts.mail_sent, 0);
    for row in outbox(&app, id, "invitation").await {
        assert_eq!(row.state, MailState::Failed.as_str(), "{row:?}");
        assert!(
            row.last_error
                .as_deref()
                .is_some_and(|e| e.contains("unreachable")),
            "{row:?}"
        );
    }
    // While the server is down, a probe now and then finds it still down.
    app.clock.advance(Duration::minutes(6));
    app.mailer.drain().await.expect("drain");
    assert_eq!(
        app.engine
            .campaign(id)
            .await
            .expect("show")
            .counts
            .mail_failed,
        reviewers
    );
    assert!(app.smtp.messages().is_empty());

    // The server is back: within the probe interval everything goes out, once.
    app.smtp.restart();
    app.clock.advance(Duration::minutes(6));
    app.mailer.drain().await.expect("drain");
    let counts = app.engine.campaign(id).await.expect("show").counts;
    assert_eq!(counts.mail_failed, 0, "{counts:?}");
    // Every invitation, and the one mail that tells the owner they had failed.
    assert_eq!(counts.mail_sent, reviewers + 1, "{counts:?}");
    let mut to: Vec<String> = app
        .smtp
        .messages()
        .iter()
        .filter(|m| m.subject.starts_with("Access review"))
        .map(|m| m.to.clone())
        .collect();
    to.sort();
    let before = to.len();
    to.dedup();
    assert_eq!(before, to.len(), "an invitation went out twice: {to:?}");
    assert_eq!(to.len() as i64, reviewers);
    let requeued = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("mail.requeued"))
        .count(app.engine.store().conn())
        .await
        .expect("audit");
    assert_eq!(requeued, 1, "the automatic re-queue is audited");
}

/// A process that sent a step of mail and was killed before it recorded the sends leaves those
/// mails leased to itself. Another process takes them over seconds after the first stops
/// renewing its heartbeat (not when the 5-minute lease runs out), and the copies it sends
/// carry the same links as the first copies (both processes have the same ATTEST_LINK_KEY):
/// one link per mail, never a second valid one.
#[tokio::test]
async fn a_mail_sent_again_after_a_crash_carries_the_same_link_and_is_taken_over_within_seconds() {
    use attest::engine::mail_links::LinkKey;
    use attest::mail::transport::Smtp;
    use attest::mail::Mailer;
    let test = "a_mail_sent_again_after_a_crash_carries_the_same_link";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    let key = || LinkKey::from_secret("the-link-key-every-instance-shares-0123").expect("key");
    let mailer = |engine: attest::engine::Engine| {
        let transport = Smtp::from_url(&app.smtp.url()).expect("SMTP transport");
        Mailer::new(
            engine,
            std::sync::Arc::new(transport),
            common::app::MAIL_FROM,
            &app.base_url,
        )
        .expect("mailer")
    };
    let launched = app.launch().await;
    let id = launched.campaign_id;
    let reviewers = launched.reviewers().len();

    // The first process sends every invitation, then dies before recording any of it.
    let crashed = app
        .db
        .engine_at(app.clock.clone())
        .await
        .with_link_key(key());
    crashed.register_process("serve").await.expect("register");
    common::fail_mail_records(&app.engine, true).await;
    assert!(mailer(crashed).send_step().await.is_err());
    common::fail_mail_records(&app.engine, false).await;
    let first = app.smtp.messages();
    assert_eq!(first.len(), reviewers, "the first copies went out");

    // Another process: 10 seconds after the last heartbeat the first may only be busy…
    let other = app
        .db
        .engine_at(app.clock.clone())
        .await
        .with_link_key(key());
    other.register_process("serve").await.expect("register");
    let other = mailer(other);
    app.clock.advance(Duration::seconds(10));
    assert_eq!(
        other.send_step().await.expect("step"),
        0,
        "not taken over yet"
    );
    // …at 16 seconds it is gone, and its mail is sent again.
    app.clock.advance(Duration::seconds(6));
    assert_eq!(other.drain().await.expect("drain"), reviewers);

    let all = app.smtp.messages();
    assert_eq!(all.len(), 2 * reviewers, "each invitation went out twice");
    for copy in &first {
        let copies: Vec<_> = all.iter().filter(|m| m.to == copy.to).collect();
        assert_eq!(copies.len(), 2, "two copies to {}", copy.to);
        for again in copies {
            assert_eq!(again.message_id, copy.message_id, "same Message-ID");
            assert_eq!(
                again.links(),
                copy.links(),
                "the copy to {} carries the first copy's link",
                copy.to
            );
        }
    }
    let tokens = reviewer_token::Entity::find()
        .filter(reviewer_token::Column::CampaignId.eq(id))
        .count(app.engine.store().conn())
        .await
        .expect("tokens");
    assert_eq!(tokens as usize, reviewers, "one link per mail, not two");
    let counts = app.engine.campaign(id).await.expect("show").counts;
    assert_eq!(counts.mail_sent as usize, reviewers, "{counts:?}");
    // The one link works.
    let link = first[0]
        .links()
        .into_iter()
        .find(|l| l.contains("/r/"))
        .expect("a review link");
    let page = app.http.get(&link).send().await.expect("open the link");
    assert_eq!(page.status(), StatusCode::OK);
}

/// Where each reviewer's mail stands, as the console page, `campaign show` (text and JSON) and
/// the API say it: the same words everywhere, and the invitation state asked for.
async fn assert_mail_state_shown(app: &TestApp, session: &str, id: i64, state: InvitationState) {
    let mail = app.engine.reviewer_mail(id).await.expect("reviewer mail");
    assert!(!mail.is_empty());
    for m in &mail {
        assert_eq!(m.invitation.state, state, "{m:?}");
    }
    let cookie = format!("attest_session={session}");

    let page = app
        .http
        .get(app.url(&format!("/admin/campaigns/{id}")))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("GET the campaign page");
    assert_eq!(page.status(), StatusCode::OK);
    let html = common::smtp::unescape_html(&page.text().await.expect("page"));
    assert!(html.contains(r#"<th scope="col">Mail</th>"#), "{html}");
    assert_eq!(
        html.matches(&format!(r#"data-mail="{}""#, state.as_str()))
            .count(),
        mail.len(),
        "{html}"
    );
    for m in &mail {
        assert!(
            html.contains(&m.text),
            "the page says {:?}:\n{html}",
            m.text
        );
    }

    let (code, out, err) =
        common::attest_cli(&app.db, &["campaign", "show", &id.to_string(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).expect("show --json");
    let listed = shown["reviewers"].as_array().expect("a reviewers array");
    assert_eq!(listed.len(), mail.len(), "{out}");
    for (json, m) in listed.iter().zip(&mail) {
        assert_eq!(json["reviewer"], m.reviewer.as_str(), "{json}");
        assert_eq!(json["invitation"]["state"], state.as_str(), "{json}");
        assert_eq!(json["text"], m.text.as_str(), "{json}");
    }
    let (code, out, err) = common::attest_cli(&app.db, &["campaign", "show", &id.to_string()]);
    assert_eq!(code, 0, "{err}");
    if state == InvitationState::Failed {
        assert!(
            out.contains(&format!(
                "FAILED mail was not delivered (to {} reviewers)",
                mail.len()
            )),
            "{out}"
        );
    }
    let all_sent = mail.iter().all(|m| m.all_sent);
    assert_eq!(out.contains("mail per reviewer"), !all_sent, "{out}");
    for m in mail.iter().filter(|m| !m.all_sent) {
        assert!(
            out.contains(&m.text),
            "campaign show says {:?}:\n{out}",
            m.text
        );
    }
    let (_, out, _) = common::attest_cli(
        &app.db,
        &["campaign", "show", &id.to_string(), "--reviewers"],
    );
    for m in &mail {
        assert!(
            out.contains(&m.text),
            "--reviewers lists {:?}:\n{out}",
            m.text
        );
    }

    let api = app
        .http
        .get(app.url(&format!("/api/v1/campaigns/{id}/reviewers")))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("GET reviewers");
    assert_eq!(api.status(), StatusCode::OK);
    let api: serde_json::Value = api.json().await.expect("JSON");
    let items = api["items"].as_array().expect("items");
    assert_eq!(api["total"], mail.len() as u64, "{api}");
    for (json, m) in items.iter().zip(&mail) {
        assert_eq!(json["invitation"]["state"], state.as_str(), "{json}");
        assert_eq!(json["text"], m.text.as_str(), "{json}");
    }
}

/// The mails to the campaign's owner saying invitations were not delivered.
fn owner_notices(app: &TestApp) -> Vec<common::smtp::ParsedMail> {
    app.smtp
        .messages()
        .into_iter()
        .filter(|m| m.subject.starts_with("Invitations not delivered"))
        .collect()
}

#[tokio::test]
async fn each_reviewers_mail_state_shows_an_outage_and_the_owner_is_told_once_when_the_server_is_back(
) {
    use attest::domain::access::Role;
    use attest::domain::retry::MAX_ATTEMPTS;
    let test = "each_reviewers_mail_state_shows_an_outage";
    let Some(mut app) = TestApp::spawn(test).await else {
        return;
    };
    let password = "a long test password";
    app.engine
        .add_account("admin@org.test", Role::Admin, password, "test")
        .await
        .expect("add the admin");
    let session = app
        .engine
        .login("admin@org.test", password, None)
        .await
        .expect("login")
        .expect("the admin signs in")
        .token;
    let launched = app.launch().await;
    let id = launched.campaign_id;
    let reviewers = launched.reviewers().len();
    // Before any attempt: queued, and `campaign show` lists them as not all sent.
    assert_mail_state_shown(&app, &session, id, InvitationState::Queued).await;

    // The server is down: after the first attempt each invitation is retrying, with the
    // error and when it is tried next.
    app.smtp.stop();
    app.mailer.send_step().await.expect("send step");
    let next = app.engine.now() + backoff(1);
    for m in app.engine.reviewer_mail(id).await.expect("mail") {
        assert_eq!(m.invitation.attempts, 1, "{m:?}");
        assert!(m.invitation.error.is_some(), "{m:?}");
        assert_eq!(m.invitation.next_attempt_at, Some(next), "{m:?}");
        assert!(
            m.text
                .starts_with("invitation retrying (1 attempt failed, next "),
            "{m:?}"
        );
        assert!(!m.all_sent);
    }
    assert_mail_state_shown(&app, &session, id, InvitationState::Retrying).await;

    // Given up after every attempt: failed, with the error, and the dashboard names how many
    // reviewers are affected. Nobody can be told yet: mail does not go out.
    app.clock.advance(backoff(1) + Duration::seconds(1));
    for attempt in 2..=MAX_ATTEMPTS {
        app.mailer.send_step().await.expect("send step");
        app.clock.advance(backoff(attempt) + Duration::seconds(1));
    }
    for m in app.engine.reviewer_mail(id).await.expect("mail") {
        assert_eq!(m.invitation.attempts, MAX_ATTEMPTS, "{m:?}");
        assert!(
            m.text.starts_with(
                "invitation failed: gave up while the mail server was unreachable or busy (6 attempts): "
            ),
            "{m:?}"
        );
    }
    assert_mail_state_shown(&app, &session, id, InvitationState::Failed).await;
    let dashboard = app
        .http
        .get(app.url("/admin"))
        .header("cookie", format!("attest_session={session}"))
        .send()
        .await
        .expect("GET /admin")
        .text()
        .await
        .expect("dashboard");
    assert!(
        dashboard.contains(&format!(
            "{reviewers} mails were not delivered, to {reviewers} reviewers"
        )),
        "{dashboard}"
    );
    app.clock.advance(Duration::minutes(6));
    app.mailer.drain().await.expect("drain");
    assert!(app.smtp.messages().is_empty());
    assert_eq!(outbox(&app, id, "invitations_failed").await.len(), 0);

    // The server is back: every invitation goes out, and the owner gets one mail saying how
    // many reviewers never got theirs, the last error and what happens now.
    app.smtp.restart();
    app.clock.advance(Duration::minutes(6));
    app.mailer.drain().await.expect("drain");
    assert_mail_state_shown(&app, &session, id, InvitationState::Sent).await;
    let told = owner_notices(&app);
    assert_eq!(told.len(), 1, "{told:?}");
    let notice = &told[0];
    assert_eq!(notice.to, "olga@org.test");
    assert!(
        notice
            .subject
            .contains(&format!("{reviewers} reviewers of reviewer-flow")),
        "{}",
        notice.subject
    );
    let html = common::smtp::unescape_html(&notice.html)
        .replace("<strong>", "")
        .replace("</strong>", "");
    for body in [notice.text.clone(), html] {
        assert!(
            body.contains(&format!("{reviewers} reviewers of campaign reviewer-flow")),
            "{body}"
        );
        assert!(
            body.contains("gave up while the mail server was unreachable or busy (6 attempts): "),
            "{body}"
        );
        assert!(
            body.contains(&format!(
                "{reviewers} of them failed because the mail server could not be reached"
            )),
            "{body}"
        );
        assert!(
            body.contains("queued again and are going out now"),
            "{body}"
        );
        assert!(
            !body.contains("resend-failed"),
            "nothing is left to re-queue: {body}"
        );
        assert!(body.contains(&format!("/admin/campaigns/{id}")), "{body}");
    }

    // Not again for the same outage.
    app.clock.advance(Duration::minutes(30));
    app.mailer.drain().await.expect("drain");
    assert_eq!(owner_notices(&app).len(), 1);
}

#[tokio::test]
async fn an_invitation_that_cannot_be_sent_tells_the_owner_how_to_re_queue_it_once() {
    use sea_orm::{ActiveModelTrait, Set};
    let test = "an_invitation_that_cannot_be_sent_tells_the_owner";
    let Some(app) = TestApp::spawn(test).await else {
        return;
    };
    app.import_org().await;
    app.define().await;
    // Mark's address in the directory is broken: his invitation fails for good at its first
    // attempt, while the server takes everyone else's.
    let mark = app.principal("m2").await;
    let mut broken: entity::principal::ActiveModel = mark.into();
    broken.email = Set(Some("mark at org.test".into()));
    broken
        .update(app.engine.store().conn())
        .await
        .expect("break the address");
    let id = app.launch_defined().await.campaign_id;
    app.mailer.drain().await.expect("drain");
    let mail = app.engine.reviewer_mail(id).await.expect("mail");
    let failed: Vec<_> = mail
        .iter()
        .filter(|m| m.invitation.state == InvitationState::Failed)
        .collect();
    assert_eq!(failed.len(), 1, "{mail:?}");
    assert_eq!(failed[0].reviewer, "m2");
    assert!(
        failed[0]
            .text
            .starts_with("invitation failed: bad recipient address \"mark at org.test\""),
        "{:?}",
        failed[0]
    );
    let told = owner_notices(&app);
    assert_eq!(told.len(), 1, "{told:?}");
    let text = &told[0].text;
    assert!(
        text.contains("1 reviewer of campaign reviewer-flow"),
        "{text}"
    );
    assert!(text.contains("bad recipient address"), "{text}");
    assert!(
        text.contains(&format!("attest campaign resend-failed {id}")),
        "{text}"
    );
    assert!(!text.contains("could not be reached"), "{text}");
    app.clock.advance(Duration::hours(1));
    app.mailer.drain().await.expect("drain");
    assert_eq!(owner_notices(&app).len(), 1, "told once");
}

#[tokio::test]
async fn the_mail_retry_policy_comes_from_attest_toml_and_a_bad_value_names_its_key() {
    let test = "the_mail_retry_policy_comes_from_attest_toml";
    let Some(mut app) = TestApp::spawn(test).await else {
        return;
    };
    for (toml, complaint) in [
        (
            "[mail]\nmax_attempts = 0\n",
            "[mail] max_attempts = 0: must be from 1 to 50",
        ),
        (
            "[mail]\nretry_base_seconds = 0\n",
            "[mail] retry_base_seconds = 0: must be from 1 to 86400",
        ),
        (
            "[mail]\nretry_base_seconds = 600\nretry_max_seconds = 60\n",
            "[mail] retry_max_seconds = 60: must be from retry_base_seconds (600) to 604800",
        ),
        ("[mail]\nmax_attempt = 3\n", "max_attempt"),
    ] {
        let file = app.db.file("bad.toml", toml);
        let (code, _, err) = common::attest_cli(
            &app.db,
            &["--config", file.to_str().expect("path"), "config"],
        );
        assert_eq!(code, 2, "{toml}: {err}");
        assert!(err.contains(complaint), "{toml}: {err}");
    }
    let file = app.db.file(
        "attest.toml",
        "[mail]\nmax_attempts = 2\nretry_base_seconds = 30\nretry_max_seconds = 60\n",
    );
    let (code, out, err) = common::attest_cli(&app.db, &["config"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("[mail]\nmax_attempts = 2\nretry_base_seconds = 30"),
        "{out}"
    );
    let config = attest::config::Config::load(Some(&file)).expect("config");

    // The mailer takes it: tried twice, 30 seconds apart, then given up.
    let mailer = app.mailer.clone().with_retry(config.mail.retry());
    app.smtp.stop();
    let launched = app.launch().await;
    mailer.send_step().await.expect("send step");
    let next = app.engine.now() + Duration::seconds(30);
    for m in app
        .engine
        .reviewer_mail(launched.campaign_id)
        .await
        .expect("mail")
    {
        assert_eq!(m.invitation.state, InvitationState::Retrying, "{m:?}");
        assert_eq!(m.invitation.next_attempt_at, Some(next), "{m:?}");
    }
    app.clock.advance(Duration::seconds(31));
    mailer.send_step().await.expect("send step");
    for m in app
        .engine
        .reviewer_mail(launched.campaign_id)
        .await
        .expect("mail")
    {
        assert_eq!(m.invitation.state, InvitationState::Failed, "{m:?}");
        assert!(m.text.contains("(2 attempts)"), "{m:?}");
    }
}
