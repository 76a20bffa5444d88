//! Campaign definitions in the console: the list with each schedule and next launch, one
//! definition's TOML, uploading a new one (or a new version), a preview of what a launch would
//! create, and launching now.

use super::{datetime, done_url, forged, render, unconfirmed, Chrome};
use crate::engine::definitions::DefinitionText;
use crate::engine::definitions::DefinitionView;
use crate::engine::launch::Preview;
use crate::engine::{EngineError, NoProgress};
use crate::web::auth::Admin;
use crate::web::error::console_failure;
use crate::web::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

/// One definition's line in the list.
struct DefinitionLine {
    name: String,
    version: i32,
    description: String,
    schedule: String,
    timezone: String,
    duration_days: u32,
    next_launch: String,
    next_period: String,
    defined_at: String,
    source: Option<String>,
    source_error: Option<String>,
}

impl From<DefinitionView> for DefinitionLine {
    fn from(d: DefinitionView) -> Self {
        Self {
            name: d.name,
            version: d.version,
            description: d.description.unwrap_or_default(),
            schedule: d.schedule,
            timezone: d.timezone,
            duration_days: d.duration_days,
            next_launch: datetime(d.next_launch),
            next_period: d.next_period.unwrap_or_default(),
            defined_at: datetime(Some(d.defined_at)),
            source: d.source,
            source_error: d.source_error,
        }
    }
}

#[derive(Template)]
#[template(path = "pages/console/definitions.html")]
struct DefinitionsPage<'a> {
    chrome: Chrome<'a>,
    definitions: Vec<DefinitionLine>,
    /// The upload box's text: kept after a refused upload so it can be corrected.
    draft: String,
    error: Option<String>,
}

pub(super) async fn list(State(state): State<AppState>, Admin(operator): Admin) -> Response {
    list_page(&state, &operator, String::new(), None, StatusCode::OK).await
}

async fn list_page(
    state: &AppState,
    operator: &crate::engine::accounts::Operator,
    draft: String,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let definitions = match state.engine.definitions().await {
        Ok(d) => d.into_iter().map(DefinitionLine::from).collect(),
        Err(e) => return console_failure(e),
    };
    let mut response = render(DefinitionsPage {
        chrome: Chrome::new(operator, true, "definitions"),
        definitions,
        draft,
        error,
    });
    if response.status() == StatusCode::OK {
        *response.status_mut() = status;
    }
    response
}

#[derive(serde::Deserialize)]
pub(super) struct UploadForm {
    csrf: Option<String>,
    #[serde(default)]
    toml: String,
}

/// The name the uploaded text is given in messages and the audit log.
const UPLOAD_NAME: &str = "uploaded-definition.toml";

/// Stores an uploaded definition through the same path as `attest campaign define FILE`.
pub(super) async fn upload(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Form(form): Form<UploadForm>,
) -> Response {
    if let Some(refused) = forged(&state, &operator, form.csrf.as_deref()).await {
        return refused;
    }
    let text = form.toml.replace("\r\n", "\n");
    if text.trim().is_empty() {
        return list_page(
            &state,
            &operator,
            text,
            Some("Paste a campaign definition (TOML) into the box first.".into()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let defined = state
        .engine
        .define(
            &DefinitionText::new(UPLOAD_NAME, text.as_str()),
            &operator.actor,
        )
        .await;
    match defined {
        Ok(report) => Redirect::to(&done_url(
            &definition_path(&report.name),
            &[(
                "done",
                if report.changed {
                    "defined"
                } else {
                    "unchanged"
                },
            )],
        ))
        .into_response(),
        Err(EngineError::Invalid(message)) => {
            list_page(
                &state,
                &operator,
                text,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => console_failure(e),
    }
}

fn definition_path(name: &str) -> String {
    format!(
        "/admin/definitions/{}",
        url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()
    )
}

#[derive(serde::Deserialize, Default)]
pub(super) struct Done {
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/console/definition.html")]
struct DefinitionPage<'a> {
    chrome: Chrome<'a>,
    d: DefinitionLine,
    toml: String,
    notice: Option<&'static str>,
}

pub(super) async fn show(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Path(name): Path<String>,
    Query(q): Query<Done>,
) -> Response {
    let (_, toml) = match state.engine.definition_source(&name).await {
        Ok(found) => found,
        Err(e) => return console_failure(e),
    };
    let d = match state.engine.definitions().await {
        Ok(all) => all.into_iter().find(|d| d.name == name),
        Err(e) => return console_failure(e),
    };
    let Some(d) = d else {
        return console_failure(EngineError::NotFound(format!(
            "no campaign definition named \"{name}\""
        )));
    };
    render(DefinitionPage {
        chrome: Chrome::new(&operator, true, "definitions"),
        d: d.into(),
        toml,
        notice: match q.done.as_deref() {
            Some("defined") => Some("Stored as a new version. Campaigns launched from now on use it; running ones keep theirs."),
            Some("unchanged") => Some("This is the same as the newest stored version: nothing new was stored."),
            _ => None,
        },
    })
}

#[derive(Template)]
#[template(path = "pages/console/preview.html")]
struct PreviewPage<'a> {
    chrome: Chrome<'a>,
    p: Preview,
}

/// What a launch would create, without creating anything (a GET: it changes nothing).
pub(super) async fn preview(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Path(name): Path<String>,
) -> Response {
    match state.engine.preview(&name).await {
        Ok(p) => render(PreviewPage {
            chrome: Chrome::new(&operator, true, "definitions"),
            p,
        }),
        Err(e) => console_failure(e),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct LaunchForm {
    csrf: Option<String>,
    confirm: Option<String>,
    adhoc: Option<String>,
}

/// Launches the definition now: mails go to every reviewer, so it needs its confirmation.
pub(super) async fn launch(
    State(state): State<AppState>,
    Admin(operator): Admin,
    Path(name): Path<String>,
    Form(form): Form<LaunchForm>,
) -> Response {
    if let Some(refused) = forged(&state, &operator, form.csrf.as_deref()).await {
        return refused;
    }
    if let Some(refused) = unconfirmed(form.confirm.as_deref()) {
        return refused;
    }
    let adhoc = form.adhoc.as_deref() == Some("yes");
    match state
        .engine
        .launch(&name, adhoc, &operator.actor, &NoProgress)
        .await
    {
        Ok(campaign) => Redirect::to(&done_url(
            &format!("/admin/campaigns/{}", campaign.id),
            &[("done", "launched")],
        ))
        .into_response(),
        Err(e) => console_failure(e),
    }
}
