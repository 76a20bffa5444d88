//! Eligibility (who may activate which role where) and the imports that feed it: people, roles
//! and eligibility files sent as the request body, imported whole or not at all.

use super::support::{content_type, AdminChange, ApiPath, ApiQuery, AuthErrors, Page, Paging};
use crate::domain::limits::{bytes_text, IMPORT_UPLOAD_MAX_BYTES};
use crate::domain::records::ImportKind;
use crate::engine::import::{ImportInput, ImportOptions, ImportReport};
use crate::engine::NoProgress;
use crate::import_file::FileFormat;
use crate::store::directory::{EligibilityFilter, EligibilityView};
use crate::web::auth::Reader;
use crate::web::error::{ApiError, ApiResult, ErrorBody};
use crate::web::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::Json;
use futures::TryStreamExt;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EligibilityQuery {
    /// Only this principal's (principal id).
    principal: Option<String>,
    /// Only this role's (its name).
    role: Option<String>,
    /// Words to find in the principal's id or name, the role or the scope.
    search: Option<String>,
    /// Include removed eligibility too (default: active only).
    all: Option<bool>,
}

/// Eligibility, by principal, role and scope.
#[utoipa::path(
    get,
    path = "/api/v1/eligibility",
    tag = "directory",
    params(Paging, EligibilityQuery),
    responses(
        (status = 200, description = "A page of eligibility.", body = Page<EligibilityView>),
        (status = 400, description = "A query parameter is malformed or out of range (`field` names it).", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn eligibility(
    State(state): State<AppState>,
    _reader: Reader,
    ApiQuery(paging): ApiQuery<Paging>,
    ApiQuery(q): ApiQuery<EligibilityQuery>,
) -> ApiResult<Json<Page<EligibilityView>>> {
    let (_, per_page) = paging.resolve();
    let non_empty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    let mut filter = EligibilityFilter {
        principal: non_empty(q.principal),
        role: non_empty(q.role),
        all: q.all.unwrap_or(false),
        search: non_empty(q.search),
        limit: None,
        offset: 0,
    };
    let total = state.engine.eligibility_count(&filter).await?;
    filter.limit = Some(per_page);
    filter.offset = paging.offset();
    let items = state.engine.eligibility(&filter).await?;
    Ok(Json(paging.page(items, total)))
}

/// What an import file holds.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportKindParam {
    People,
    Roles,
    Eligibility,
    /// Activation history, for the weekly activation review.
    Activations,
}

impl From<ImportKindParam> for ImportKind {
    fn from(kind: ImportKindParam) -> Self {
        match kind {
            ImportKindParam::People => ImportKind::People,
            ImportKindParam::Roles => ImportKind::Roles,
            ImportKindParam::Eligibility => ImportKind::Eligibility,
            ImportKindParam::Activations => ImportKind::Activations,
        }
    }
}

/// An import file's format.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportFormat {
    /// CSV with a header row.
    Csv,
    /// A JSON array of objects, or JSON lines.
    Json,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Full sync: what the file no longer lists is removed (eligibility) or disabled (people).
    /// Not for roles.
    prune: Option<bool>,
    /// The body's format. Default: JSON when the Content-Type is JSON, else CSV.
    #[param(inline)]
    format: Option<ImportFormat>,
    /// The file's name as the caller knows it, recorded in the import's audit event and report
    /// as `upload:NAME` (default `upload:KIND.csv` or `.json`). One line, at most 200 characters.
    #[param(max_length = 200, example = "people-2026-11.csv")]
    name: Option<String>,
}

/// The longest file name an upload may give.
const UPLOAD_NAME_MAX_CHARS: usize = 200;

/// Imports a people, roles or eligibility file.
///
/// The file is the request body, in the formats `attest import` reads. A file with a bad row
/// changes nothing: the answer is a 422 listing the bad rows. Re-importing the same file
/// changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/imports/{kind}",
    tag = "directory",
    params(("kind" = inline(ImportKindParam), Path, description = "What the file holds."), ImportQuery),
    request_body(
        description = "The file, read as `format` says, else by its Content-Type: `application/json`, `application/x-ndjson` or `application/jsonl` are JSON (an array of objects, or one object a line), anything else is CSV with a header row. Values are strings or null (`enabled` may also be true or false).",
        content(
            (String = "text/csv"),
            (Vec<Object> = "application/json"),
            (String = "application/x-ndjson"),
        ),
    ),
    responses(
        (status = 200, description = "What the import changed; also the details of its audit event.", body = ImportReport),
        (status = 400, description = "A query parameter is malformed, or the body could not be read.", body = ErrorBody),
        (status = 404, description = "No such kind of import.", body = ErrorBody),
        (status = 413, description = "The file is larger than the API takes (512 MiB).", body = ErrorBody),
        (status = 422, description = "The file was rejected (`code` = `rejected`; `problems` lists the bad rows, `field` names the first one's column) or the options do not fit; nothing was imported.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn import(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    ApiPath(kind): ApiPath<ImportKindParam>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    request: Request,
) -> ApiResult<Json<ImportReport>> {
    let kind = ImportKind::from(kind);
    let format = q
        .format
        .unwrap_or_else(|| match content_type(request.headers()).as_deref() {
            Some("application/json" | "application/x-ndjson" | "application/jsonl") => {
                ImportFormat::Json
            }
            _ => ImportFormat::Csv,
        });
    let extension = match format {
        ImportFormat::Csv => "csv",
        ImportFormat::Json => "json",
    };
    let name = match q.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(given) => {
            crate::domain::limits::check_text(
                given,
                UPLOAD_NAME_MAX_CHARS,
                crate::domain::limits::Lines::Single,
            )
            .map_err(|why| ApiError::bad_request(format!("name: {why}")).with_field("name"))?;
            format!("upload:{given}")
        }
        None => format!("upload:{}.{extension}", kind.as_str()),
    };
    // The engine reads the content twice for people: the body is spooled to an anonymous
    // temporary file (no path; the system removes it when it is closed).
    let file = save_body(request.into_body()).await?;
    let options = ImportOptions {
        prune: q.prune.unwrap_or(false),
    };
    let format = match format {
        ImportFormat::Csv => FileFormat::Csv,
        ImportFormat::Json => FileFormat::Json,
    };
    let report = state
        .engine
        .import(
            kind,
            ImportInput::from_file(file, &name, format),
            options,
            &op.actor,
            &NoProgress,
        )
        .await?;
    Ok(Json(report))
}

/// Streams the body to an anonymous temporary file, refusing more than
/// [`IMPORT_UPLOAD_MAX_BYTES`] (the CLI reads files of any size).
async fn save_body(body: Body) -> ApiResult<std::fs::File> {
    let spool = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(|e| io_error(std::io::Error::other(e)))?
        .map_err(io_error)?;
    let mut file = tokio::fs::File::from_std(spool);
    let mut stream = body.into_data_stream();
    let mut written: u64 = 0;
    while let Some(chunk) = stream
        .try_next()
        .await
        .map_err(|e| ApiError::bad_request(format!("the request body could not be read: {e}")))?
    {
        written += chunk.len() as u64;
        if written > IMPORT_UPLOAD_MAX_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "the file is larger than the {} the API takes; import it with the CLI",
                    bytes_text(IMPORT_UPLOAD_MAX_BYTES)
                ),
            ));
        }
        file.write_all(&chunk).await.map_err(io_error)?;
    }
    file.flush().await.map_err(io_error)?;
    Ok(file.into_std().await)
}

fn io_error(e: std::io::Error) -> ApiError {
    crate::engine::EngineError::Io(format!("saving an uploaded file: {e}")).into()
}
