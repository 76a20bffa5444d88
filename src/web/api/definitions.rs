//! Campaign definitions: the list with each one's next launch, defining from a TOML body, and a
//! preview of what a launch would create.

use super::support::{text_body, AdminChange, ApiPath, ApiQuery, AuthErrors, Page, Paging};
use crate::engine::definitions::DefinitionText;
use crate::engine::definitions::{DefineReport, DefinitionView};
use crate::engine::launch::Preview;
use crate::web::auth::Reader;
use crate::web::error::{ApiResult, ErrorBody};
use crate::web::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::Json;

/// The media types a definition may be sent as (the document lists the same; a unit test below
/// holds them together).
const TOML_TYPES: &[&str] = &["application/toml", "text/plain", "text/x-toml", "text/toml"];

/// How the request body is named in messages and the audit log.
const UPLOADED_DEFINITION: &str = "upload:definition.toml";

/// Every definition (its newest version) with its schedule and next launch.
#[utoipa::path(
    get,
    path = "/api/v1/definitions",
    tag = "definitions",
    params(Paging),
    responses(
        (status = 200, description = "A page of definitions, by name.", body = Page<DefinitionView>),
        (status = 400, description = "A query parameter is malformed or out of range (`field` names it).", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _reader: Reader,
    ApiQuery(paging): ApiQuery<Paging>,
) -> ApiResult<Json<Page<DefinitionView>>> {
    Ok(Json(paging.slice(state.engine.definitions().await?)))
}

/// Creates a definition, or a new version of it.
///
/// The body is the definition's TOML, as `attest campaign define` reads it. Campaigns keep
/// the version they launched with.
#[utoipa::path(
    post,
    path = "/api/v1/definitions",
    tag = "definitions",
    request_body(
        description = "The definition file, TOML.",
        content(
            (String = "application/toml"),
            (String = "text/plain"),
            (String = "text/x-toml"),
            (String = "text/toml"),
        ),
    ),
    responses(
        (status = 201, description = "A new version was stored.", body = DefineReport),
        (status = 200, description = "The definition matches its newest version: nothing new was stored.", body = DefineReport),
        (status = 400, description = "The body is not UTF-8 text.", body = ErrorBody),
        (status = 413, description = "The body is larger than a definition may be (64 KiB).", body = ErrorBody),
        (status = 415, description = "The body is not TOML text (`application/toml`, `text/plain`, `text/x-toml`, `text/toml`).", body = ErrorBody),
        (status = 422, description = "The definition is not valid; the message lists every problem.", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn define(
    State(state): State<AppState>,
    AdminChange(op): AdminChange,
    request: Request,
) -> ApiResult<(StatusCode, Json<DefineReport>)> {
    let body = text_body(request, &state, TOML_TYPES).await?;
    let report = state
        .engine
        .define(&DefinitionText::new(UPLOADED_DEFINITION, body), &op.actor)
        .await?;
    let status = if report.changed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(report)))
}

/// What launching the definition now would create, without creating anything.
#[utoipa::path(
    get,
    path = "/api/v1/definitions/{name}/preview",
    tag = "definitions",
    params(("name" = String, Path, description = "The definition's name.")),
    responses(
        (status = 200, description = "The population, reviewers and recommendations a launch would create.", body = Preview),
        (status = 404, description = "No definition of that name.", body = ErrorBody),
        (status = 422, description = "The definition cannot launch (its schedule does not parse).", body = ErrorBody),
        AuthErrors,
    )
)]
pub async fn preview(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Preview>> {
    Ok(Json(state.engine.preview(&name).await?))
}

#[cfg(test)]
mod tests {
    use super::TOML_TYPES;

    /// The document offers exactly the media types the handler takes.
    #[test]
    fn the_document_lists_the_media_types_a_definition_is_taken_in() {
        let doc = crate::web::api::openapi();
        let operation = doc.paths.paths["/api/v1/definitions"]
            .post
            .as_ref()
            .expect("POST /api/v1/definitions");
        let body = operation.request_body.as_ref().expect("a request body");
        let documented: Vec<&str> = body.content.keys().map(String::as_str).collect();
        let mut taken = TOML_TYPES.to_vec();
        taken.sort_unstable();
        let mut documented = documented;
        documented.sort_unstable();
        assert_eq!(documented, taken);
    }
}
