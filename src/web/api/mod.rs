//! The REST API, `/api/v1`: everything the admin console does, plus imports, definitions,
//! eligibility, the audit log and reports. JSON in and out; errors as `{ "error": { "code",
//! "message", "field" } }`; lists paged with `page`/`per_page` as `{ items, page, per_page,
//! total }`. Authenticated by an API token (`Authorization: Bearer …`) or a console session
//! (whose changes also carry `X-CSRF-Token`); auditors read, admins change, and the engine audits
//! every change under the caller's name.
//!
//! The OpenAPI 3.1 document at `/api/v1/openapi.json` is generated from the handlers below
//! (`#[utoipa::path]`) and the types they exchange (`ToSchema`): the router and the document
//! are built from the same list, so an undocumented route cannot exist.

mod accounts;
mod audit;
mod campaigns;
mod challenges;
mod credentials;
mod definitions;
mod directory;
mod rerun;
mod sources;
mod stages;
mod support;
mod suspensions;

use super::auth::Reader;
use super::AppState;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use std::sync::OnceLock;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use super::error::{ApiError, ErrorBody, ErrorDetail};
pub use support::{Page, CSRF_HEADER, MAX_PER_PAGE};

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "attest REST API",
        description = "Access reviews of privileged-role eligibility: campaigns, definitions, eligibility and its imports, the audit log, reports. Auditors may call every GET; only admins change anything, and every change is in the audit log under the caller's name. Errors are `{\"error\": {\"code\", \"message\", \"field\"}}`; lists are paged with `page` and `per_page`."
    ),
    modifiers(&Security),
    security(("bearer" = []), ("session" = [])),
    components(schemas(ErrorBody, ErrorDetail)),
    tags(
        (name = "campaigns", description = "Launch, watch, decide, close, cancel; evidence."),
        (name = "definitions", description = "Campaign definitions (TOML) and what a launch would create."),
        (name = "directory", description = "Eligibility and the imports that feed it."),
        (name = "audit", description = "The hash-chained audit log."),
        (name = "reports", description = "Coverage, monthly metrics, the monthly lifecycle record and the weekly activation review."),
        (name = "accounts", description = "Who is calling; console accounts and API tokens, and revoking them."),
        (name = "suspensions", description = "Suspend a person on a signal (responder tokens), restore on an admin's approval."),
    )
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (`attest user token`, or POST /api/v1/tokens from a console session).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                super::auth::SESSION_COOKIE,
                "A console session (sign in at /login). Changes also need the session's X-CSRF-Token header, shown by GET /api/v1/me.",
            ))),
        );
    }
}

/// The API's routes and their document, from one list.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(campaigns::list, campaigns::launch))
        .routes(routes!(campaigns::show))
        .routes(routes!(campaigns::reviewers))
        .routes(routes!(campaigns::close))
        .routes(routes!(campaigns::cancel))
        .routes(routes!(campaigns::confirm_removals))
        .routes(routes!(rerun::rerun))
        .routes(routes!(stages::list))
        .routes(routes!(stages::next))
        .routes(routes!(challenges::list))
        .routes(routes!(challenges::keep))
        .routes(routes!(challenges::uphold))
        .routes(routes!(campaigns::items))
        .routes(routes!(campaigns::decide))
        .routes(routes!(campaigns::resend_invitation))
        .routes(routes!(campaigns::requeue_mail))
        .routes(routes!(campaigns::evidence))
        .routes(routes!(definitions::list, definitions::define))
        .routes(routes!(definitions::preview))
        .routes(routes!(directory::eligibility))
        .routes(routes!(directory::import))
        .routes(routes!(sources::list))
        .routes(routes!(sources::test))
        .routes(routes!(sources::sync))
        .routes(routes!(audit::events))
        .routes(routes!(audit::verify))
        .routes(routes!(audit::coverage))
        .routes(routes!(audit::monthly))
        .routes(routes!(audit::lifecycle))
        .routes(routes!(audit::activations))
        .routes(routes!(audit::reappeared))
        .routes(routes!(accounts::me))
        .routes(routes!(accounts::create_token, credentials::tokens))
        .routes(routes!(credentials::revoke_token))
        .routes(routes!(credentials::accounts))
        .routes(routes!(credentials::disable))
        .routes(routes!(credentials::enable))
        .routes(routes!(credentials::role))
        .routes(routes!(credentials::password))
        .routes(routes!(credentials::revoke_links))
        .routes(routes!(suspensions::suspend))
        .routes(routes!(suspensions::suspensions))
        .routes(routes!(suspensions::restore))
        .routes(routes!(suspensions::approve))
        .routes(routes!(openapi_json))
}

/// The OpenAPI document of this API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

pub fn routes() -> Router<AppState> {
    let (router, _) = api().split_for_parts();
    router
        .method_not_allowed_fallback(method_not_allowed)
        .route("/api/v1/{*rest}", any(no_such_route))
}

/// The OpenAPI 3.1 document of this API, generated from its code.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "accounts",
    responses(
        (status = 200, description = "The OpenAPI document.", body = Object),
        support::AuthErrors,
    )
)]
async fn openapi_json(_reader: Reader) -> Response {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let json = DOCUMENT.get_or_init(|| openapi().to_json().unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], json.clone()).into_response()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("this route does not take that method (see {OPENAPI_PATH})"),
    )
}

async fn no_such_route() -> ApiError {
    ApiError::not_found(format!(
        "no such API route (the routes are listed in {OPENAPI_PATH})"
    ))
}
