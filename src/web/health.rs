//! For the people who run attest: `/healthz` (the process answers), `/readyz` (database,
//! schema and workers: 503 saying what is wrong), `/metrics` (Prometheus text, behind an API
//! token of either role), and the middleware that counts every request by route class.

use super::auth::Reader;
use super::AppState;
use crate::engine::health::Gauges;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::BTreeMap;
use std::fmt::Write as _;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// 200 "ready", or 503 with one line per problem. Two small queries, no credentials: what a
/// load balancer or an orchestrator asks every few seconds.
async fn readyz(State(state): State<AppState>) -> Response {
    let readiness = state.engine.readiness().await;
    if readiness.ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let mut text = String::from("not ready\n");
        for problem in &readiness.problems {
            let _ = writeln!(text, "- {problem}");
        }
        (StatusCode::SERVICE_UNAVAILABLE, text).into_response()
    }
}

/// The installation's figures from the database, then what this process counted.
async fn metrics(State(state): State<AppState>, _reader: Reader) -> Response {
    let gauges = match state.engine.gauges().await {
        Ok(gauges) => gauges,
        Err(e) => {
            tracing::error!("metrics: {e}");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database figures cannot be read now; see the log\n",
            )
                .into_response();
        }
    };
    let mut text = gauge_text(&gauges);
    text.push_str(&crate::telemetry::render());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

fn gauge_text(g: &Gauges) -> String {
    let mut text = String::new();
    let mut gauge = |name: &str, help: &str, label: &str, values: &BTreeMap<String, i64>| {
        let _ = writeln!(text, "# HELP {name} {help}");
        let _ = writeln!(text, "# TYPE {name} gauge");
        for (value, n) in values {
            let _ = writeln!(text, "{name}{{{label}=\"{value}\"}} {n}");
        }
    };
    gauge(
        "attest_campaigns",
        "Campaigns by state (the whole installation).",
        "state",
        &g.campaigns,
    );
    gauge(
        "attest_items",
        "Items of the campaigns still open, by outcome (or the answer given so far).",
        "outcome",
        &g.items,
    );
    gauge(
        "attest_mail",
        "Mail in the outbox by state.",
        "state",
        &g.mail,
    );
    gauge(
        "attest_removals",
        "Removals by state.",
        "state",
        &g.removals,
    );
    text
}

/// Which kind of route a path is, for the request counters: a handful of fixed words, never
/// the path itself (tokens and ids must not become labels).
pub(super) fn route_class(path: &str) -> &'static str {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    if under("/r") {
        "review"
    } else if under("/api") {
        "api"
    } else if under("/admin") || under("/audit") {
        "console"
    } else if under("/login") || under("/logout") {
        "sign_in"
    } else if matches!(path, "/healthz" | "/readyz" | "/metrics") {
        "health"
    } else if under("/static") {
        "static"
    } else {
        "other"
    }
}

/// Counts every request with its route class, status and time.
pub(super) async fn count_requests(request: Request, next: Next) -> Response {
    let class = route_class(request.uri().path());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    crate::telemetry::http_request(class, response.status().as_u16(), started.elapsed());
    response
}

#[cfg(test)]
mod tests {
    use super::route_class;

    #[test]
    fn paths_fall_into_a_few_classes_and_never_become_labels() {
        assert_eq!(route_class("/r/abcdef"), "review");
        assert_eq!(route_class("/api/v1/campaigns/7"), "api");
        assert_eq!(route_class("/admin/campaigns/7"), "console");
        assert_eq!(route_class("/audit"), "console");
        assert_eq!(route_class("/login"), "sign_in");
        assert_eq!(route_class("/metrics"), "health");
        assert_eq!(route_class("/static/attest.css"), "static");
        assert_eq!(route_class("/rogue"), "other");
        assert_eq!(route_class("/administrator"), "other");
    }
}
