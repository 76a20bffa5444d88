//! A bound on how many requests the server works on at once, per kind of route.
//!
//! Each request in flight holds its body (up to the route's limit, a MiB for a review page) and
//! a handler's state while it waits for the database, which takes requests one writer
//! transaction at a time on SQLite and a pool's worth at a time on PostgreSQL. Past that, more
//! requests at once only wait inside the handler, each holding its memory: at 3,000 single-item
//! decisions a second offered to a server answering about 1,400, the bench's process grew to
//! 668 MiB. So a request first takes one of [`REQUESTS_IN_FLIGHT_MAX`] permits of its kind of
//! route, before its body is read; the others wait in line holding only their connection, and
//! one that waits longer than [`REQUEST_QUEUE_WAIT`] is answered 503 with `Retry-After`, having
//! changed nothing.
//!
//! Each kind of route (review pages, the API, the console, sign-in, the rest) has permits of
//! its own, so a flood of one kind (slow sign-ins, say, each waiting for its password check)
//! cannot keep reviewers out. Health and metrics never wait: a probe must see a busy server as
//! alive.

use super::error;
use super::health::route_class;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

pub use crate::domain::limits::{REQUESTS_IN_FLIGHT_MAX, REQUEST_QUEUE_WAIT};

/// The kinds of route that wait in lines of their own (`health::route_class`'s words).
const CLASSES: [&str; 6] = ["review", "api", "console", "sign_in", "static", "other"];

/// The permits of one server, by kind of route.
#[derive(Clone)]
pub struct InFlight {
    permits: Arc<HashMap<&'static str, Arc<Semaphore>>>,
    wait: Duration,
}

impl InFlight {
    /// `max` requests at once of each kind of route; a request waits at most `wait`.
    pub fn new(max: usize, wait: Duration) -> Self {
        let permits = CLASSES
            .iter()
            .map(|class| (*class, Arc::new(Semaphore::new(max.max(1)))))
            .collect();
        Self {
            permits: Arc::new(permits),
            wait,
        }
    }
}

impl Default for InFlight {
    fn default() -> Self {
        Self::new(REQUESTS_IN_FLIGHT_MAX, REQUEST_QUEUE_WAIT)
    }
}

/// Runs `request` once it holds a permit of its kind (health and metrics at once).
pub(super) async fn bound(State(limit): State<InFlight>, request: Request, next: Next) -> Response {
    let Some(permits) = limit.permits.get(route_class(request.uri().path())) else {
        return next.run(request).await;
    };
    match tokio::time::timeout(limit.wait, permits.clone().acquire_owned()).await {
        Ok(Ok(_permit)) => next.run(request).await,
        // Timed out, or the semaphore closed (it never is): busy either way.
        _ => busy(request.uri().path().starts_with("/api/"), limit.wait),
    }
}

fn busy(api: bool, waited: Duration) -> Response {
    let mut response = if api {
        error::api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            &format!(
                "the server had more requests than it works on at once for {} s; nothing was changed, try again",
                waited.as_secs()
            ),
            None,
        )
    } else {
        error::message_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Busy",
            "The server is busy and could not take this request. Nothing was changed; please try again in a moment.",
        )
    };
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::middleware;
    use axum::routing::get;
    use axum::Router;
    use tokio::sync::{mpsc, Notify};

    /// A server with one permit, whose slow routes say when they hold it (`entered`) and wait
    /// for `release`.
    async fn serve_one_at_a_time(
        entered: mpsc::UnboundedSender<()>,
        release: Arc<Notify>,
    ) -> String {
        let slow = move || {
            let (entered, release) = (entered.clone(), release.clone());
            async move {
                let _ = entered.send(());
                release.notified().await;
                "done"
            }
        };
        let app = Router::new()
            .route("/api/v1/slow", get(slow.clone()))
            .route("/r/slow", get(slow))
            .route("/healthz", get(|| async { "ok" }))
            .layer(middleware::from_fn_with_state(
                InFlight::new(1, Duration::from_millis(200)),
                bound,
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        base
    }

    #[tokio::test]
    async fn a_request_past_its_routes_limit_is_told_busy_while_other_routes_and_health_go_on() {
        let (entered, mut holding) = mpsc::unbounded_channel();
        let release = Arc::new(Notify::new());
        let base = serve_one_at_a_time(entered, release.clone()).await;
        let client = reqwest::Client::new();
        let first = tokio::spawn(client.get(format!("{base}/api/v1/slow")).send());
        holding
            .recv()
            .await
            .expect("the first request holds the API's only permit");

        let busy = client
            .get(format!("{base}/api/v1/slow"))
            .send()
            .await
            .unwrap();
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers()[header::RETRY_AFTER], "5");
        let body: serde_json::Value = busy.json().await.unwrap();
        assert_eq!(body["error"]["code"], "busy", "{body}");

        // A review page has permits of its own: a full API does not keep it out.
        let page = tokio::spawn(client.get(format!("{base}/r/slow")).send());
        holding
            .recv()
            .await
            .expect("the review page gets its own permit");
        let refused = client.get(format!("{base}/r/slow")).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(refused
            .text()
            .await
            .unwrap()
            .contains("Nothing was changed"));

        let health = client.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        assert!(
            holding.try_recv().is_err(),
            "no refused request reached its handler"
        );

        release.notify_one();
        release.notify_one();
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
        assert_eq!(page.await.unwrap().unwrap().status(), StatusCode::OK);
        // The permit is back: the next request is served.
        let next = tokio::spawn(client.get(format!("{base}/api/v1/slow")).send());
        holding
            .recv()
            .await
            .expect("the next request gets the permit");
        release.notify_one();
        assert_eq!(next.await.unwrap().unwrap().status(), StatusCode::OK);
    }
}
