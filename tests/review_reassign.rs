//! A reviewer hands items to someone better placed, from the mailed link: the items move, the
//! new reviewer gets an invitation of their own, and nothing can be handed to its holder.

mod common;

use common::app::TestApp;
use sea_orm::{ConnectionTrait, Statement};

async fn audit_actions(app: &TestApp, action: &str) -> i64 {
    let conn = app.engine.store().conn();
    let sql = format!("SELECT COUNT(*) AS n FROM audit_event WHERE action = '{action}'");
    let row = conn
        .query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .expect("count")
        .expect("a row");
    row.try_get("", "n").expect("n")
}

#[tokio::test]
async fn a_reviewer_hands_items_over_and_the_new_reviewer_is_invited() {
    let Some(mut app) =
        TestApp::spawn("a_reviewer_hands_items_over_and_the_new_reviewer_is_invited").await
    else {
        return;
    };
    let launched = app.launch().await;
    app.drain_mail().await;
    let maria = app.principal("m1").await;
    let frank = app.principal("fb").await;
    let marias_items: Vec<i64> = launched.items_of(maria.id).iter().copied().collect();
    let link = app.link_for("maria@org.test");
    let page = app.get(&link).await;
    let csrf = page.csrf();

    // Hand one item to Frank, named by email.
    let handed = marias_items[0];
    let response = app
        .post(
            &link,
            &[
                ("csrf", csrf.as_str()),
                ("action", "reassign"),
                ("pick", &handed.to_string()),
                ("to", "frank@org.test"),
            ],
        )
        .await;
    assert_eq!(response.status.as_u16(), 303, "{}", response.body);
    assert!(response
        .location
        .as_deref()
        .unwrap_or("")
        .contains("moved=1"));
    let item = app.item(handed).await;
    assert_eq!(item.reviewer_id, Some(frank.id));
    assert_eq!(item.reviewer_reason.as_deref(), Some("reassigned"));
    assert_eq!(audit_actions(&app, "review.reassign").await, 1);

    // Maria's page no longer offers it; Frank's invitation does.
    let after = app.get(&link).await;
    assert!(
        !after.offers(handed),
        "the handed-over item left Maria's page"
    );
    assert!(after.offers(marias_items[1]));
    app.drain_mail().await;
    let franks_link = app.link_for("frank@org.test");
    let franks_page = app.get(&franks_link).await;
    assert_eq!(franks_page.status.as_u16(), 200);
    assert!(
        franks_page.offers(handed),
        "Frank's page lists the item handed to him"
    );

    // Nobody may be handed their own eligibility: a1 holds the next item.
    let holder_item = marias_items
        .iter()
        .copied()
        .find(|id| *id != handed)
        .expect("another item");
    let holder = app.item(holder_item).await.holder_external_id;
    let holder_email = app.email_of(app.principal(&holder).await.id).await;
    let refused = app
        .post(
            &link,
            &[
                ("csrf", csrf.as_str()),
                ("action", "reassign"),
                ("pick", &holder_item.to_string()),
                ("to", holder_email.as_str()),
            ],
        )
        .await;
    assert_eq!(refused.status.as_u16(), 422, "{}", refused.body);
    assert!(refused.says("nothing was saved"));
    assert_eq!(app.item(holder_item).await.reviewer_id, Some(maria.id));

    // An unknown person is refused too, and a form without its anti-forgery value.
    let unknown = app
        .post(
            &link,
            &[
                ("csrf", csrf.as_str()),
                ("action", "reassign_all"),
                ("to", "nobody@org.test"),
            ],
        )
        .await;
    assert_eq!(unknown.status.as_u16(), 422);
    let forged = app
        .post(
            &link,
            &[("action", "reassign_all"), ("to", "frank@org.test")],
        )
        .await;
    assert_eq!(forged.status.as_u16(), 403);
    assert_eq!(
        audit_actions(&app, "review.reassign").await,
        1,
        "refusals moved nothing"
    );

    // "All undecided" moves the rest.
    let all = app
        .post(
            &link,
            &[
                ("csrf", csrf.as_str()),
                ("action", "reassign_all"),
                ("to", "fb"),
            ],
        )
        .await;
    assert_eq!(all.status.as_u16(), 303, "{}", all.body);
    for id in &marias_items {
        let item = app.item(*id).await;
        if item.holder_external_id != "fb" {
            assert_eq!(item.reviewer_id, Some(frank.id), "item {id} moved to Frank");
        }
    }
    app.stop().await;
}
