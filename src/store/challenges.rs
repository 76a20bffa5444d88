//! Challenge periods: the held revocations of a closed campaign, the holders' reasons and the
//! answers (`domain::challenge`). Opening them at close is set-based (one INSERT … SELECT for
//! the challenges, one for their mail), so a large close costs two statements, and nothing at
//! all when the definition has no challenge period.

use crate::domain::challenge::ChallengeState;
use crate::domain::closing::RemediationState;
use crate::store::sql::Sql;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use entity::{challenge, remediation};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect,
};

/// The mail template to a holder whose revocation may be challenged.
pub const MAIL_OPENED: &str = "challenge_opened";
/// The mail template to the reviewer once a holder gave a reason.
pub const MAIL_SUBMITTED: &str = "challenge_submitted";

/// Who a challenge link belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Holder,
    Reviewer,
}

/// One challenge with what people read about it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema, FromQueryResult)]
pub struct ChallengeView {
    pub id: i64,
    pub campaign_id: i64,
    pub item_id: i64,
    pub eligibility_id: i64,
    /// The holder's person id, name and address.
    pub holder: String,
    pub holder_name: String,
    #[serde(skip)]
    pub holder_principal_id: i64,
    pub role: String,
    pub scope: String,
    /// "human" (a reviewer revoked) or "policy" (nobody answered).
    pub revoked_by: String,
    /// The item's reviewer (person id and name), who answers.
    pub reviewer: Option<String>,
    pub reviewer_name: Option<String>,
    #[serde(skip)]
    pub reviewer_principal_id: Option<i64>,
    #[schema(value_type = String)]
    pub state: ChallengeState,
    pub closes_at: DateTime<Utc>,
    pub reason: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub answered_by: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
    /// The removal's state now (absent once the eligibility was kept after all).
    pub removal_state: Option<String>,
}

const VIEW: &str = "SELECT ch.id, ch.campaign_id, ch.item_id, i.eligibility_id, i.holder_external_id AS holder, \
     i.holder_name, ch.holder_id AS holder_principal_id, i.role_name AS role, i.scope, ch.revoked_by, \
     p.external_id AS reviewer, p.display_name AS reviewer_name, ch.reviewer_id AS reviewer_principal_id, \
     ch.state, ch.closes_at, ch.reason, ch.submitted_at, ch.answered_by, ch.answered_at, r.state AS removal_state \
     FROM challenge ch JOIN review_item i ON i.id = ch.item_id \
     LEFT JOIN principal p ON p.id = ch.reviewer_id LEFT JOIN remediation r ON r.item_id = ch.item_id WHERE ";

/// Opens a challenge for every removal planned for the campaign, and queues a mail to each
/// holder (keyed by the challenge, so never twice). Returns how many were opened.
pub async fn open(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    closes_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let backend = conn.get_database_backend();
    // hand-written: close path, one INSERT … SELECT over the campaign's planned removals.
    let mut sql = Sql::new(
        backend,
        "INSERT INTO challenge (campaign_id, item_id, holder_id, reviewer_id, revoked_by, state, closes_at, created_at) \
         SELECT i.campaign_id, i.id, i.principal_id, i.reviewer_id, COALESCE(i.made_by, 'policy'), ",
    );
    sql.bind(ChallengeState::Open)
        .push(", ")
        .bind(closes_at)
        .push(", ")
        .bind(now)
        // Removals only: a conversion to eligible (standing access) takes nothing away.
        .push(" FROM remediation r JOIN review_item i ON i.id = r.item_id WHERE r.kind = 'remove' AND r.campaign_id = ")
        .bind(campaign_id)
        .push(" ON CONFLICT (item_id) DO NOTHING");
    let opened = conn.execute_raw(sql.build()).await?.rows_affected();
    // hand-written: one mail per challenge in one INSERT … SELECT, keyed by the challenge.
    let mut sql = Sql::new(
        backend,
        "INSERT INTO outbox_mail (idempotency_key, campaign_id, recipient_id, to_address, template, payload, state, \
         attempts, next_attempt_at, last_error, created_at) SELECT ",
    );
    sql.bind(format!("{MAIL_OPENED}/"))
        .push(" || CAST(ch.id AS TEXT), ch.campaign_id, p.id, COALESCE(p.email, ''), ")
        .bind(MAIL_OPENED)
        .push(", '{\"challenge_id\":' || CAST(ch.id AS TEXT) || '}', CASE WHEN p.email IS NULL THEN 'failed' ELSE 'pending' END, 0, ")
        .bind(now)
        .push(", CASE WHEN p.email IS NULL THEN 'the holder has no email address' END, ")
        .bind(now)
        .push(" FROM challenge ch JOIN principal p ON p.id = ch.holder_id WHERE ch.campaign_id = ")
        .bind(campaign_id)
        .push(" ON CONFLICT (idempotency_key) DO NOTHING");
    conn.execute_raw(sql.build()).await?;
    Ok(opened)
}

/// The challenges of a campaign, oldest first.
pub async fn of_campaign(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<Vec<ChallengeView>, StoreError> {
    let mut sql = Sql::new(conn.get_database_backend(), VIEW);
    sql.push("ch.campaign_id = ")
        .bind(campaign_id)
        .push(" ORDER BY ch.id");
    Ok(ChallengeView::find_by_statement(sql.build())
        .all(conn)
        .await?)
}

/// One challenge.
pub async fn view(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<ChallengeView>, StoreError> {
    let mut sql = Sql::new(conn.get_database_backend(), VIEW);
    sql.push("ch.id = ").bind(id);
    Ok(ChallengeView::find_by_statement(sql.build())
        .one(conn)
        .await?)
}

/// The challenge whose holder's or reviewer's link has this token hash.
pub async fn by_token_hash(
    conn: &impl ConnectionTrait,
    hash: &str,
) -> Result<Option<(i64, Party)>, StoreError> {
    let row = challenge::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(challenge::Column::HolderTokenHash.eq(hash))
                .add(challenge::Column::ReviewerTokenHash.eq(hash)),
        )
        .one(conn)
        .await?;
    Ok(row.map(|c| {
        let party = if c.holder_token_hash.as_deref() == Some(hash) {
            Party::Holder
        } else {
            Party::Reviewer
        };
        (c.id, party)
    }))
}

/// The nonce and token hash of a party's link, if one was issued.
pub async fn link(
    conn: &impl ConnectionTrait,
    id: i64,
    party: Party,
) -> Result<Option<(String, String)>, StoreError> {
    let Some(c) = challenge::Entity::find_by_id(id).one(conn).await? else {
        return Ok(None);
    };
    Ok(match party {
        Party::Holder => c.holder_nonce.zip(c.holder_token_hash),
        Party::Reviewer => c.reviewer_nonce.zip(c.reviewer_token_hash),
    })
}

/// Records a party's new link (its nonce and the hash of its token).
pub async fn set_link(
    conn: &impl ConnectionTrait,
    id: i64,
    party: Party,
    nonce: &str,
    hash: &str,
) -> Result<(), StoreError> {
    let (n, h) = match party {
        Party::Holder => (
            challenge::Column::HolderNonce,
            challenge::Column::HolderTokenHash,
        ),
        Party::Reviewer => (
            challenge::Column::ReviewerNonce,
            challenge::Column::ReviewerTokenHash,
        ),
    };
    challenge::Entity::update_many()
        .col_expr(n, Expr::value(nonce))
        .col_expr(h, Expr::value(hash))
        .filter(challenge::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Records the holder's reason; false when one was given already (or the challenge ended).
pub async fn submit(
    conn: &impl ConnectionTrait,
    id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let done = challenge::Entity::update_many()
        .col_expr(
            challenge::Column::State,
            Expr::value(ChallengeState::Submitted),
        )
        .col_expr(challenge::Column::Reason, Expr::value(reason))
        .col_expr(challenge::Column::SubmittedAt, Expr::value(now))
        .filter(challenge::Column::Id.eq(id))
        .filter(challenge::Column::State.eq(ChallengeState::Open))
        .filter(challenge::Column::ClosesAt.gt(now))
        .exec(conn)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Records the answer; false when it was answered already (or the challenge ended).
pub async fn answer(
    conn: &impl ConnectionTrait,
    id: i64,
    state: ChallengeState,
    by: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let done = challenge::Entity::update_many()
        .col_expr(challenge::Column::State, Expr::value(state))
        .col_expr(challenge::Column::AnsweredBy, Expr::value(by))
        .col_expr(challenge::Column::AnsweredAt, Expr::value(now))
        .filter(challenge::Column::Id.eq(id))
        .filter(challenge::Column::State.eq(ChallengeState::Submitted))
        .filter(challenge::Column::ClosesAt.gt(now))
        .exec(conn)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Cancels the removal of an item kept after a challenge: only one not attempted yet (held
/// removals never are before their window ends). False when there is none.
pub async fn cancel_removal(conn: &impl ConnectionTrait, item_id: i64) -> Result<bool, StoreError> {
    let done = remediation::Entity::delete_many()
        .filter(remediation::Column::ItemId.eq(item_id))
        .filter(remediation::Column::Attempts.eq(0))
        .filter(remediation::Column::State.is_in([
            RemediationState::Pending,
            RemediationState::AwaitingConfirmation,
        ]))
        .exec(conn)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Lets an upheld revocation's removal run at once (one held by a safety rail still waits for
/// an admin's confirmation).
pub async fn release_removal(
    conn: &impl ConnectionTrait,
    item_id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    remediation::Entity::update_many()
        .col_expr(remediation::Column::NextAttemptAt, Expr::value(now))
        .col_expr(remediation::Column::UpdatedAt, Expr::value(now))
        .filter(remediation::Column::ItemId.eq(item_id))
        .filter(remediation::Column::State.eq(RemediationState::Pending))
        .filter(remediation::Column::Attempts.eq(0))
        .exec(conn)
        .await?;
    Ok(())
}

/// Challenges whose window ended unanswered: `(id, campaign_id, state now)`.
pub async fn ended_unanswered(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<Vec<(i64, i64, ChallengeState)>, StoreError> {
    Ok(challenge::Entity::find()
        .select_only()
        .columns([
            challenge::Column::Id,
            challenge::Column::CampaignId,
            challenge::Column::State,
        ])
        .filter(challenge::Column::State.is_in([ChallengeState::Open, ChallengeState::Submitted]))
        .filter(challenge::Column::ClosesAt.lte(now))
        .order_by_asc(challenge::Column::Id)
        .into_tuple()
        .all(conn)
        .await?)
}

/// Ends the window of the challenges of `ids` that are still in `from`, as `to` (at the time
/// the window closed). Returns how many changed.
pub async fn end_window(
    conn: &impl ConnectionTrait,
    ids: &[i64],
    from: ChallengeState,
    to: ChallengeState,
) -> Result<u64, StoreError> {
    let mut changed = 0;
    for chunk in ids.chunks(2000) {
        changed += challenge::Entity::update_many()
            .col_expr(challenge::Column::State, Expr::value(to))
            .col_expr(
                challenge::Column::AnsweredAt,
                Expr::col(challenge::Column::ClosesAt),
            )
            .filter(challenge::Column::Id.is_in(chunk.iter().copied()))
            .filter(challenge::Column::State.eq(from))
            .exec(conn)
            .await?
            .rows_affected;
    }
    Ok(changed)
}

/// How many of a campaign's challenges were made (a reason given), kept after all, upheld,
/// and are still within their period unanswered.
pub async fn counts(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
) -> Result<(i64, i64, i64, i64), StoreError> {
    let rows: Vec<(ChallengeState, i64)> = challenge::Entity::find()
        .select_only()
        .column(challenge::Column::State)
        .column_as(challenge::Column::Id.count(), "n")
        .filter(challenge::Column::CampaignId.eq(campaign_id))
        .group_by(challenge::Column::State)
        .into_tuple()
        .all(conn)
        .await?;
    let mut made = 0;
    let mut kept = 0;
    let mut upheld = 0;
    let mut open = 0;
    for (state, n) in rows {
        match state {
            ChallengeState::Lapsed => {}
            ChallengeState::Open => open += n,
            ChallengeState::Submitted => {
                made += n;
                open += n;
            }
            ChallengeState::Expired => made += n,
            ChallengeState::Kept => {
                made += n;
                kept += n;
            }
            ChallengeState::Upheld => {
                made += n;
                upheld += n;
            }
        }
    }
    Ok((made, kept, upheld, open))
}

/// An item kept after a challenge: its outcome is a person's keep from now on.
pub async fn keep_item(conn: &impl ConnectionTrait, item_id: i64) -> Result<(), StoreError> {
    use crate::domain::closing::Outcome;
    entity::review_item::Entity::update_many()
        .col_expr(
            entity::review_item::Column::Outcome,
            Expr::value(Outcome::Kept.as_str()),
        )
        .filter(entity::review_item::Column::Id.eq(item_id))
        .exec(conn)
        .await?;
    Ok(())
}
