//! The console: `/admin` for admins (campaigns, their progress, close / cancel / confirm) and
//! `/audit` for auditors and admins (read-only: campaigns, completeness, items, the audit log,
//! evidence downloads). Server-rendered, no JavaScript; every form carries the session's
//! anti-forgery value and every change is audited by the engine.

use super::auth::{Admin, Reader};
use super::AppState;
use crate::domain::audit_chain::ChainedEvent;
use crate::engine::accounts::Operator;
use crate::engine::campaigns::CampaignView;
use crate::engine::{Engine, EngineError};
use crate::store::campaigns::{CampaignCounts, CampaignRow};
use crate::store::evidence::{self as ev, ReviewerSummary};
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use futures::TryStreamExt;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(admin_dashboard))
        .route("/admin/campaigns/{id}", get(admin_campaign))
        .route("/admin/campaigns/{id}/{action}", post(admin_action))
        .route("/audit", get(audit_dashboard))
        .route("/audit/campaigns/{id}", get(audit_campaign))
        .route("/audit/campaigns/{id}/evidence.zip", get(evidence_download))
        .route("/audit/log", get(audit_log))
}

#[derive(Template)]
#[template(path = "pages/review/problem.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: &'a str,
}

pub fn message_page(status: StatusCode, title: &str, message: &str) -> Response {
    match (MessagePage { title, message }).render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => (status, format!("{title}: {message} ({e})")).into_response(),
    }
}

/// A form without the session's anti-forgery value: refused, audited, nothing changed.
pub async fn forgery_refused(state: &AppState, operator: &Operator) -> Response {
    let _ = state
        .engine
        .audit_denied(
            &operator.actor,
            "console.forgery_refused",
            "a form arrived without the session's anti-forgery value",
        )
        .await;
    message_page(
        StatusCode::FORBIDDEN,
        "This form could not be accepted",
        "It did not carry this session's anti-forgery value (it may be old, or from another site). Nothing was changed.",
    )
}

fn failure(e: EngineError) -> Response {
    match e {
        EngineError::NotFound(m) => message_page(StatusCode::NOT_FOUND, "Not found", &m),
        EngineError::Conflict(m) | EngineError::Invalid(m) | EngineError::Forbidden(m) => {
            message_page(
                StatusCode::CONFLICT,
                "That could not be done",
                &format!("{m}. Nothing was changed."),
            )
        }
        other => {
            tracing::error!("console: {other}");
            message_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Something went wrong",
                "Nothing was changed; please try again.",
            )
        }
    }
}

/// One line of the campaigns table.
struct CampaignLine {
    id: i64,
    name: String,
    adhoc: bool,
    period: String,
    state: String,
    deadline: String,
    items: i64,
    decided_percent: String,
    revoked: i64,
    auto_removed: i64,
    overdue_reviewers: i64,
}

fn line(view: &CampaignView, open_reviewers: i64) -> CampaignLine {
    let c = &view.campaign;
    let n = &view.counts;
    CampaignLine {
        id: c.id,
        name: c.name.clone(),
        adhoc: c.adhoc,
        period: c.period.clone(),
        state: c.state.to_string(),
        deadline: c
            .due_at
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default(),
        items: n.items,
        decided_percent: (n.decided * 100)
            .checked_div(n.items)
            .map_or_else(|| "—".into(), |p| format!("{p}%")),
        revoked: n.revoked,
        auto_removed: n.removed_by_policy,
        overdue_reviewers: open_reviewers,
    }
}

#[derive(Template)]
#[template(path = "pages/console/campaigns.html")]
struct CampaignsPage<'a> {
    heading: &'a str,
    base: &'a str,
    admin: bool,
    csrf: &'a str,
    actor: &'a str,
    campaigns: Vec<CampaignLine>,
}

async fn campaigns_page(state: &AppState, operator: &Operator, admin: bool) -> Response {
    let views = match state.engine.campaigns(&[]).await {
        Ok(views) => views,
        Err(e) => return failure(e),
    };
    let mut lines = Vec::with_capacity(views.len());
    for view in &views {
        let open = if view.campaign.state.accepts_decisions() {
            ev::reviewer_summaries(state.engine.store().conn(), view.campaign.id)
                .await
                .map(|rs| {
                    rs.iter()
                        .filter(|r| r.decided < r.items && r.signed_off_at.is_none())
                        .count() as i64
                })
                .unwrap_or(0)
        } else {
            0
        };
        lines.push(line(view, open));
    }
    let page = CampaignsPage {
        heading: if admin {
            "Campaigns"
        } else {
            "Campaigns (read-only)"
        },
        base: if admin { "/admin" } else { "/audit" },
        admin,
        csrf: operator.csrf.as_deref().unwrap_or(""),
        actor: &operator.actor,
        campaigns: lines,
    };
    render(page)
}

fn render(template: impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => failure(EngineError::Io(format!("rendering: {e}"))),
    }
}

async fn admin_dashboard(State(state): State<AppState>, Admin(operator): Admin) -> Response {
    campaigns_page(&state, &operator, true).await
}

async fn audit_dashboard(State(state): State<AppState>, Reader(operator): Reader) -> Response {
    campaigns_page(&state, &operator, false).await
}

/// One item row of the campaign page.
struct ItemLine {
    id: i64,
    holder_name: String,
    holder_id: String,
    role: String,
    scope: String,
    reviewer: String,
    verdict: String,
    made_by: String,
    justification: String,
    outcome: String,
    flagged: bool,
    removal: String,
}

#[derive(Template)]
#[template(path = "pages/console/campaign.html")]
struct CampaignPage<'a> {
    c: &'a CampaignRow,
    n: &'a CampaignCounts,
    deadline: String,
    reviewers: Vec<ReviewerSummary>,
    items: Vec<ItemLine>,
    admin: bool,
    csrf: &'a str,
    actor: &'a str,
    notice: Option<String>,
}

/// How many items a campaign page lists; the evidence bundle has them all.
const PAGE_ITEMS: usize = 500;

#[derive(serde::Deserialize, Default)]
struct Notice {
    done: Option<String>,
}

async fn campaign_page(
    state: &AppState,
    operator: &Operator,
    id: i64,
    admin: bool,
    notice: Option<String>,
) -> Response {
    let view = match state.engine.campaign(id).await {
        Ok(view) => view,
        Err(e) => return failure(e),
    };
    let conn = state.engine.store().conn();
    let reviewers = ev::reviewer_summaries(conn, id).await.unwrap_or_default();
    let mut items = Vec::new();
    match ev::item_rows(conn, id).await {
        Ok(rows) => {
            let mut rows = std::pin::pin!(rows);
            while let Ok(Some(row)) = rows.try_next().await {
                let s = |name: &str| {
                    row.try_get::<Option<String>>("", name)
                        .ok()
                        .flatten()
                        .unwrap_or_default()
                };
                items.push(ItemLine {
                    id: row.try_get("", "id").unwrap_or_default(),
                    holder_name: s("holder_name"),
                    holder_id: s("holder_external_id"),
                    role: s("role_name"),
                    scope: s("scope"),
                    reviewer: s("reviewer_id"),
                    verdict: s("verdict"),
                    made_by: s("made_by"),
                    justification: s("justification"),
                    outcome: s("outcome"),
                    flagged: row.try_get("", "flagged").unwrap_or(false),
                    removal: s("removal_state"),
                });
                if items.len() >= PAGE_ITEMS {
                    break;
                }
            }
        }
        Err(e) => return failure(e.into()),
    }
    let page = CampaignPage {
        c: &view.campaign,
        n: &view.counts,
        deadline: view
            .campaign
            .due_at
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default(),
        reviewers,
        items,
        admin,
        csrf: operator.csrf.as_deref().unwrap_or(""),
        actor: &operator.actor,
        notice,
    };
    render(page)
}

async fn admin_campaign(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Path(id): Path<i64>,
    Query(q): Query<Notice>,
) -> Response {
    campaign_page(&state, &operator, id, true, q.done).await
}

async fn audit_campaign(
    State(state): State<AppState>,
    Reader(operator): Reader,
    Path(id): Path<i64>,
) -> Response {
    campaign_page(&state, &operator, id, false, None).await
}

#[derive(serde::Deserialize)]
struct ActionForm {
    csrf: Option<String>,
    confirm: Option<String>,
}

async fn admin_action(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Path((id, action)): Path<(i64, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    if !Engine::csrf_ok(&operator, form.csrf.as_deref()) {
        return forgery_refused(&state, &operator).await;
    }
    if form.confirm.as_deref() != Some("yes") {
        return message_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Please confirm",
            "Tick the confirmation box to go ahead. Nothing was changed.",
        );
    }
    let engine = &state.engine;
    let done = match action.as_str() {
        "close" => engine
            .close(id, &operator.actor)
            .await
            .map(|_| "closed".to_string()),
        "cancel" => engine
            .cancel(id, &operator.actor)
            .await
            .map(|_| "cancelled".to_string()),
        "confirm-removals" => engine
            .confirm_removals(id, &operator.actor)
            .await
            .map(|n| format!("{n} removals confirmed")),
        _ => {
            return message_page(
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such action.",
            )
        }
    };
    match done {
        Ok(what) => Redirect::to(&format!(
            "/admin/campaigns/{id}?done={}",
            url::form_urlencoded::byte_serialize(what.as_bytes()).collect::<String>()
        ))
        .into_response(),
        Err(e) => failure(e),
    }
}

#[derive(Template)]
#[template(path = "pages/console/audit_log.html")]
struct AuditLogPage<'a> {
    admin: bool,
    csrf: &'a str,
    actor: &'a str,
    chain: String,
    events: Vec<ChainedEvent>,
}

async fn audit_log(State(state): State<AppState>, Reader(operator): Reader) -> Response {
    let events = match crate::store::audit::recent(state.engine.store().conn(), 500).await {
        Ok(events) => events,
        Err(e) => return failure(e.into()),
    };
    let chain = match state.engine.verify_audit_log().await {
        Ok(Ok(n)) => format!("Hash chain intact over all {n} events. The newest 500 are shown."),
        Ok(Err(broken)) => format!("HASH CHAIN BROKEN: {broken}"),
        Err(e) => format!("could not verify the chain: {e}"),
    };
    render(AuditLogPage {
        admin: operator.role.may_change(),
        csrf: operator.csrf.as_deref().unwrap_or(""),
        actor: &operator.actor,
        chain,
        events,
    })
}

/// The campaign's evidence as a zip: the stored bundle (made at completion) when there is one,
/// else one generated now for this download (an open campaign's evidence so far).
pub async fn evidence_zip(engine: &Engine, id: i64) -> Result<Response, EngineError> {
    let campaign = engine.campaign_row(id).await?;
    let name = crate::engine::evidence::bundle_file_name(&campaign);
    let disposition = format!("attachment; filename=\"{name}\"");
    let headers = [
        (header::CONTENT_TYPE, "application/zip".to_string()),
        (header::CONTENT_DISPOSITION, disposition),
    ];
    if let Some(bundle) = ev::latest_bundle(engine.store().conn(), id).await? {
        let conn = engine.store().conn().clone();
        let chunks = futures::stream::try_unfold(0i32, move |seq| {
            let conn = conn.clone();
            async move {
                match ev::chunk(&conn, bundle.id, seq).await {
                    Ok(Some(data)) => Ok(Some((axum::body::Bytes::from(data), seq + 1))),
                    Ok(None) => Ok(None),
                    Err(e) => Err(std::io::Error::other(e.to_string())),
                }
            }
        });
        return Ok((headers, Body::from_stream(chunks)).into_response());
    }
    let dir = tempfile::tempdir().map_err(|e| EngineError::Io(e.to_string()))?;
    let path = dir.path().join(&name);
    engine
        .export_evidence(id, &path, crate::engine::evidence::ExportOptions::default())
        .await?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| EngineError::Io(e.to_string()))?;
    Ok((headers, bytes).into_response())
}

async fn evidence_download(
    State(state): State<AppState>,
    Reader(_operator): Reader,
    Path(id): Path<i64>,
) -> Response {
    match evidence_zip(&state.engine, id).await {
        Ok(response) => response,
        Err(e) => failure(e),
    }
}
