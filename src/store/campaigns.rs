//! Campaign definitions and campaigns: versions, launches claimed once per period, the state
//! machine's compare-and-set moves, and the counts progress is shown with.

use super::sql::Sql;
use super::StoreError;
use crate::domain::closing::RemediationState;
use crate::domain::definition::CampaignSpec;
use crate::domain::lifecycle::CampaignState;
use chrono::{DateTime, Utc};
use entity::{campaign, campaign_definition};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
};
use serde::Serialize;

/// One stored version of a definition.
#[derive(Debug, Clone)]
pub struct DefinitionVersion {
    pub id: i64,
    pub version: i32,
    pub spec: CampaignSpec,
    pub spec_hash: String,
    pub created_at: DateTime<Utc>,
}

fn definition_from(model: campaign_definition::Model) -> Result<DefinitionVersion, DbErr> {
    let spec = serde_json::from_str(&model.spec)
        .map_err(|e| DbErr::Json(format!("definition {}: {e}", model.name)))?;
    Ok(DefinitionVersion {
        id: model.id,
        version: model.version,
        spec,
        spec_hash: model.spec_hash,
        created_at: model.created_at,
    })
}

/// The newest version of the named definition.
pub async fn latest_definition(
    conn: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<DefinitionVersion>, StoreError> {
    campaign_definition::Entity::find()
        .filter(campaign_definition::Column::Name.eq(name))
        .order_by_desc(campaign_definition::Column::Version)
        .one(conn)
        .await?
        .map(definition_from)
        .transpose()
        .map_err(StoreError::from)
}

/// When the named definition was first stored: schedules never launch for periods before it.
pub async fn first_defined_at(
    conn: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(campaign_definition::Entity::find()
        .filter(campaign_definition::Column::Name.eq(name))
        .order_by_asc(campaign_definition::Column::Version)
        .one(conn)
        .await?
        .map(|m| m.created_at))
}

/// The newest version of every definition, by name.
pub async fn latest_definitions(
    conn: &impl ConnectionTrait,
) -> Result<Vec<DefinitionVersion>, StoreError> {
    let all = campaign_definition::Entity::find()
        .order_by_asc(campaign_definition::Column::Name)
        .order_by_desc(campaign_definition::Column::Version)
        .all(conn)
        .await?;
    let mut latest: Vec<campaign_definition::Model> = Vec::new();
    for model in all {
        if latest.last().is_none_or(|l| l.name != model.name) {
            latest.push(model);
        }
    }
    latest
        .into_iter()
        .map(definition_from)
        .collect::<Result<_, DbErr>>()
        .map_err(StoreError::from)
}

/// Stores a new version; the unique (name, version) makes concurrent defines safe.
#[allow(clippy::too_many_arguments)]
pub async fn insert_definition(
    conn: &impl ConnectionTrait,
    spec: &CampaignSpec,
    version: i32,
    body: &str,
    spec_json: &str,
    spec_hash: &str,
    owner_id: Option<i64>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO campaign_definition (name, version, description, owner_id, schedule, timezone, body, spec, spec_hash, created_by, created_at) VALUES ",
    );
    sql.tuple([
        spec.name.as_str().into(),
        version.into(),
        spec.description.clone().into(),
        owner_id.into(),
        spec.schedule.as_str().into(),
        spec.timezone.as_str().into(),
        body.into(),
        spec_json.into(),
        spec_hash.into(),
        actor.into(),
        now.into(),
    ])
    .push(" RETURNING id");
    let row = conn
        .query_one_raw(sql.build())
        .await?
        .ok_or_else(|| DbErr::RecordNotInserted)?;
    row.try_get("", "id").map_err(StoreError::from)
}

/// A campaign row as the engine uses it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CampaignRow {
    pub id: i64,
    pub definition_id: i64,
    pub name: String,
    pub version: i32,
    pub period: String,
    pub launch_key: String,
    pub adhoc: bool,
    pub state: CampaignState,
    #[serde(skip)]
    pub spec: CampaignSpec,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub launched_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Who closed it: an admin (early) or `scheduler` (at the deadline).
    pub closed_by: Option<String>,
    pub cancelled_by: Option<String>,
    pub population: i64,
    pub items_created: i64,
    #[serde(skip)]
    pub launch_cursor: Option<i64>,
    #[serde(skip)]
    pub lease_owner: Option<String>,
    #[serde(skip)]
    pub lease_until: Option<DateTime<Utc>>,
    pub rail_reason: Option<String>,
    pub created_by: String,
}

fn campaign_from(m: campaign::Model) -> Result<CampaignRow, DbErr> {
    let spec = serde_json::from_str(&m.frozen_definition)
        .map_err(|e| DbErr::Json(format!("campaign {}: {e}", m.id)))?;
    let state = m.state.parse().map_err(DbErr::Type)?;
    Ok(CampaignRow {
        id: m.id,
        definition_id: m.definition_id,
        name: m.definition_name,
        version: m.definition_version,
        period: m.period,
        launch_key: m.launch_key,
        adhoc: m.adhoc,
        state,
        spec,
        scheduled_for: m.scheduled_for,
        launched_at: m.launched_at,
        due_at: m.due_at,
        closed_at: m.closed_at,
        completed_at: m.completed_at,
        cancelled_at: m.cancelled_at,
        closed_by: m.closed_by,
        cancelled_by: m.cancelled_by,
        population: m.population,
        items_created: m.items_created,
        launch_cursor: m.launch_cursor,
        lease_owner: m.lease_owner,
        lease_until: m.lease_until,
        rail_reason: m.rail_reason,
        created_by: m.created_by,
    })
}

pub async fn campaign(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<CampaignRow>, StoreError> {
    campaign::Entity::find_by_id(id)
        .one(conn)
        .await?
        .map(campaign_from)
        .transpose()
        .map_err(StoreError::from)
}

pub async fn campaign_by_key(
    conn: &impl ConnectionTrait,
    name: &str,
    launch_key: &str,
) -> Result<Option<CampaignRow>, StoreError> {
    campaign::Entity::find()
        .filter(campaign::Column::DefinitionName.eq(name))
        .filter(campaign::Column::LaunchKey.eq(launch_key))
        .one(conn)
        .await?
        .map(campaign_from)
        .transpose()
        .map_err(StoreError::from)
}

/// Campaigns, newest first; only those in `states` when given.
pub async fn campaigns(
    conn: &impl ConnectionTrait,
    states: &[CampaignState],
) -> Result<Vec<CampaignRow>, StoreError> {
    let mut query = campaign::Entity::find().order_by_desc(campaign::Column::Id);
    if !states.is_empty() {
        query = query.filter(campaign::Column::State.is_in(states.iter().copied()));
    }
    query
        .all(conn)
        .await?
        .into_iter()
        .map(campaign_from)
        .collect::<Result<_, DbErr>>()
        .map_err(StoreError::from)
}

/// What a new campaign row starts with.
pub struct NewCampaign<'a> {
    pub definition: &'a DefinitionVersion,
    pub spec_json: &'a str,
    pub period: &'a str,
    pub launch_key: &'a str,
    pub adhoc: bool,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub due_at: DateTime<Utc>,
    pub lease_owner: &'a str,
    pub lease_until: DateTime<Utc>,
    pub actor: &'a str,
    pub now: DateTime<Utc>,
}

/// Inserts a campaign in `launching`, leased to its launcher. `Ok(None)` when the definition
/// already has a campaign for that launch key: the unique constraint is what makes a period
/// launch once, however many instances try.
pub async fn insert_campaign(
    conn: &impl ConnectionTrait,
    c: &NewCampaign<'_>,
) -> Result<Option<i64>, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "INSERT INTO campaign (definition_id, definition_name, definition_version, period, launch_key, adhoc, state, \
         frozen_definition, scheduled_for, launched_at, due_at, population, items_created, lease_owner, lease_until, \
         created_by, created_at, updated_at) VALUES ",
    );
    sql.tuple([
        c.definition.id.into(),
        c.definition.spec.name.as_str().into(),
        c.definition.version.into(),
        c.period.into(),
        c.launch_key.into(),
        c.adhoc.into(),
        CampaignState::Launching.into(),
        c.spec_json.into(),
        c.scheduled_for.into(),
        c.now.into(),
        c.due_at.into(),
        0i64.into(),
        0i64.into(),
        c.lease_owner.into(),
        c.lease_until.into(),
        c.actor.into(),
        c.now.into(),
        c.now.into(),
    ])
    .push(" RETURNING id");
    match conn.query_one_raw(sql.build()).await {
        Ok(Some(row)) => Ok(Some(row.try_get("", "id")?)),
        Ok(None) => Err(StoreError::from(DbErr::RecordNotInserted)),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Ok(None),
        Err(e) => Err(StoreError::from(e)),
    }
}

/// Takes (or renews) the launch lease of a campaign still launching; false when another
/// instance holds an unexpired lease and is alive, or the launch is over.
pub async fn claim_launch(
    conn: &impl ConnectionTrait,
    id: i64,
    owner: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE campaign SET lease_owner = ",
    );
    sql.bind(owner)
        .push(", lease_until = ")
        .bind(until)
        .push(", updated_at = ")
        .bind(now)
        .push(" WHERE id = ")
        .bind(id)
        .push(" AND state = 'launching' AND (lease_owner = ")
        .bind(owner)
        .push(" OR");
    super::process::push_lease_free(&mut sql, "", now);
    sql.push(")");
    Ok(conn.execute_raw(sql.build()).await?.rows_affected() == 1)
}

/// Records a committed launch batch: where to resume and how many items it added.
pub async fn advance_launch(
    conn: &impl ConnectionTrait,
    id: i64,
    cursor: i64,
    added: u64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE campaign SET launch_cursor = ",
    );
    sql.bind(cursor)
        .push(", items_created = items_created + ")
        .bind(added as i64)
        .push(", updated_at = ")
        .bind(now)
        .push(" WHERE id = ")
        .bind(id)
        .push(" AND state = 'launching'");
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// Sets a launch's cursor and item count from the items that exist. A bulk copy (PostgreSQL)
/// commits on its own before its batch is recorded; after a crash in between, the launch must
/// resume after the items already there, not copy them again.
pub async fn reconcile_launch(conn: &impl ConnectionTrait, id: i64) -> Result<(), StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE campaign SET launch_cursor = (SELECT MAX(eligibility_id) FROM review_item WHERE campaign_id = ",
    );
    sql.bind(id)
        .push("), items_created = (SELECT COUNT(*) FROM review_item WHERE campaign_id = ")
        .bind(id)
        .push(") WHERE id = ")
        .bind(id)
        .push(" AND state = 'launching' AND launch_cursor IS DISTINCT FROM (SELECT MAX(eligibility_id) FROM review_item WHERE campaign_id = ")
        .bind(id)
        .push(")");
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// Gives up a launch lease early (after a failure), so a restart need not wait for it to expire.
pub async fn release_launch(
    conn: &impl ConnectionTrait,
    id: i64,
    owner: &str,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE campaign SET lease_until = NULL WHERE id = ",
    );
    sql.bind(id).push(" AND lease_owner = ").bind(owner);
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// Moves a campaign to `to` only from one of `from` (compare-and-set), stamping `stamp` (a
/// timestamp column of ours) with `now`; false when the campaign was not in any of them.
pub async fn transition(
    conn: &impl ConnectionTrait,
    id: i64,
    from: &[CampaignState],
    to: CampaignState,
    stamp: Option<&'static str>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    debug_assert!(from.iter().all(|f| f.may_become(to)));
    let mut sql = Sql::new(conn.get_database_backend(), "UPDATE campaign SET state = ");
    sql.bind(to).push(", updated_at = ").bind(now);
    if let Some(column) = stamp {
        sql.push(&format!(", {column} = ")).bind(now);
    }
    sql.push(" WHERE id = ").bind(id).push(" AND state IN ");
    sql.tuple(from.iter().map(|&s| s.into()));
    Ok(conn.execute_raw(sql.build()).await?.rows_affected() == 1)
}

/// Sets the population once the launch has read the whole source, and ends the lease.
pub async fn finish_launch(
    conn: &impl ConnectionTrait,
    id: i64,
    population: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE campaign SET state = 'active', population = ",
    );
    sql.bind(population)
        .push(", lease_owner = NULL, lease_until = NULL, updated_at = ")
        .bind(now)
        .push(" WHERE id = ")
        .bind(id)
        .push(" AND state = 'launching'");
    Ok(conn.execute_raw(sql.build()).await?.rows_affected() == 1)
}

impl CampaignRow {
    /// How the campaign stopped taking decisions, for its summary's words.
    pub fn ending(&self) -> crate::domain::summary::Ending {
        crate::domain::summary::Ending {
            due_at: self.due_at,
            closed_at: self.closed_at,
            closed_by: self.closed_by.clone(),
            completed_at: self.completed_at,
            cancelled_at: self.cancelled_at,
            cancelled_by: self.cancelled_by.clone(),
        }
    }

    /// The campaign's one summary, from its counts.
    pub fn summary(&self, counts: &CampaignCounts) -> crate::domain::summary::CampaignSummary {
        crate::domain::summary::CampaignSummary::new(self.state, counts, &self.ending())
    }
}

/// Records who closed (`closed_by`) or cancelled (`cancelled_by`) a campaign.
pub async fn set_ended_by(
    conn: &impl ConnectionTrait,
    id: i64,
    column: EndedBy,
    actor: &str,
) -> Result<(), StoreError> {
    let column = match column {
        EndedBy::Closed => "closed_by",
        EndedBy::Cancelled => "cancelled_by",
    };
    let mut sql = Sql::new(
        conn.get_database_backend(),
        &format!("UPDATE campaign SET {column} = "),
    );
    sql.bind(actor).push(" WHERE id = ").bind(id);
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// Which end [`set_ended_by`] records.
#[derive(Debug, Clone, Copy)]
pub enum EndedBy {
    Closed,
    Cancelled,
}

pub async fn set_rail_reason(
    conn: &impl ConnectionTrait,
    id: i64,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(
        conn.get_database_backend(),
        "UPDATE campaign SET rail_reason = ",
    );
    sql.bind(reason.map(str::to_string))
        .push(" WHERE id = ")
        .bind(id);
    conn.execute_raw(sql.build()).await?;
    Ok(())
}

/// Locks the campaign row against a concurrent state change until the transaction ends
/// (PostgreSQL; SQLite has one writer at a time anyway) and returns its state.
pub async fn lock_state(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<CampaignState>, StoreError> {
    let mut query = campaign::Entity::find_by_id(id)
        .select_only()
        .column(campaign::Column::State);
    if super::backend::locks_rows(conn.get_database_backend()) {
        query = query.lock_shared();
    }
    query.into_tuple().one(conn).await.map_err(StoreError::from)
}

/// Item, remediation and mail counts of a campaign: the raw material of its summary.
pub use crate::domain::summary::CampaignCounts;

pub async fn counts(conn: &impl ConnectionTrait, id: i64) -> Result<CampaignCounts, StoreError> {
    let backend = conn.get_database_backend();
    let mut sql = Sql::new(
        backend,
        "SELECT COUNT(*) AS items, COUNT(DISTINCT reviewer_id) AS reviewers, \
         SUM(CASE WHEN made_by = 'human' THEN 1 ELSE 0 END) AS decided, \
         SUM(CASE WHEN verdict IS NULL THEN 1 ELSE 0 END) AS undecided, \
         SUM(CASE WHEN made_by = 'human' AND verdict = 'attest' THEN 1 ELSE 0 END) AS attested, \
         SUM(CASE WHEN made_by = 'human' AND verdict = 'revoke' THEN 1 ELSE 0 END) AS revoked, \
         SUM(CASE WHEN outcome = 'kept_by_policy' THEN 1 ELSE 0 END) AS kept_by_policy, \
         SUM(CASE WHEN outcome = 'removed_by_policy' THEN 1 ELSE 0 END) AS removed_by_policy, \
         SUM(CASE WHEN excluded THEN 1 ELSE 0 END) AS excluded, \
         SUM(CASE WHEN outcome = 'kept_excluded' THEN 1 ELSE 0 END) AS kept_excluded, \
         SUM(CASE WHEN flagged THEN 1 ELSE 0 END) AS flagged, \
         SUM(CASE WHEN escalated_at IS NOT NULL THEN 1 ELSE 0 END) AS escalated, \
         SUM(CASE WHEN recommendation = 'revoke' THEN 1 ELSE 0 END) AS recommended_revoke \
         FROM review_item WHERE campaign_id = ",
    );
    sql.bind(id);
    let row = conn
        .query_one_raw(sql.build())
        .await?
        .ok_or(DbErr::RecordNotFound("counts".into()))?;
    let get = |name: &str| -> Result<i64, DbErr> {
        Ok(row.try_get::<Option<i64>>("", name)?.unwrap_or(0))
    };
    let mut counts = CampaignCounts {
        items: get("items")?,
        reviewers: get("reviewers")?,
        decided: get("decided")?,
        undecided: get("undecided")?,
        attested: get("attested")?,
        revoked: get("revoked")?,
        kept_by_policy: get("kept_by_policy")?,
        removed_by_policy: get("removed_by_policy")?,
        excluded: get("excluded")?,
        kept_excluded: get("kept_excluded")?,
        flagged: get("flagged")?,
        escalated: get("escalated")?,
        recommended_revoke: get("recommended_revoke")?,
        ..CampaignCounts::default()
    };
    let mut sql = Sql::new(
        backend,
        "SELECT state, CASE WHEN last_error IS NULL THEN 0 ELSE 1 END AS retrying, COUNT(*) AS n \
         FROM remediation WHERE campaign_id = ",
    );
    sql.bind(id)
        .push(" GROUP BY state, CASE WHEN last_error IS NULL THEN 0 ELSE 1 END");
    for row in conn.query_all_raw(sql.build()).await? {
        let retrying: i32 = row.try_get("", "retrying")?;
        let n: i64 = row.try_get("", "n")?;
        match row.try_get("", "state")? {
            RemediationState::Pending => {
                counts.removals_pending += n;
                if retrying == 1 {
                    counts.removals_retrying += n;
                }
            }
            RemediationState::AwaitingConfirmation => counts.removals_awaiting_confirmation += n,
            RemediationState::Removed => counts.removed += n,
            RemediationState::AlreadyGone => counts.already_gone += n,
            RemediationState::Failed => counts.removals_failed += n,
        }
    }
    let mail = super::outbox::mail_counts(conn, id).await?;
    counts.mail_queued = mail.queued;
    counts.mail_retrying = mail.retrying;
    counts.mail_sent = mail.sent;
    counts.mail_failed = mail.failed;
    counts.mail_failed_reviewers = mail.failed_reviewers;
    counts.mail_skipped = mail.skipped;
    Ok(counts)
}

/// The newest version of the named definition as it was written: (version, TOML text).
pub async fn definition_body(
    conn: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<(i32, String)>, StoreError> {
    Ok(campaign_definition::Entity::find()
        .filter(campaign_definition::Column::Name.eq(name))
        .order_by_desc(campaign_definition::Column::Version)
        .one(conn)
        .await?
        .map(|m| (m.version, m.body)))
}
