//! The built-in load generator: decisions POSTed to the real server over loopback, shaped as
//! users send them ([`Shape`]): a reviewer's whole page at once, one item per review form (a
//! reviewer deciding item by item), or one item per REST API call (a script). Two ways to load
//! it, because they answer different questions:
//! - **saturation** (closed loop): a fixed number of clients, each sending its next request when
//!   the last one is answered. This finds the most decisions per second the server sustains; its
//!   latencies only say how long the queue of those clients is (latency = clients / throughput).
//! - **paced** (open loop): requests arrive on a fixed timetable at a given rate of decisions
//!   per second, whether or not earlier ones are done, and each latency is counted from the
//!   request's scheduled time (so a stalled server cannot hide its queue). This is the latency
//!   reviewers see at that load. At most [`CONNECTIONS_MAX`] requests are on the wire at once
//!   (a request due while that many are waiting for answers waits for one of them, its latency
//!   still counted from its scheduled time): the generator runs in the server's process, and
//!   thousands of open connections were its memory, not the server's.

use crate::engine::review::csrf_for;
use crate::engine::{Engine, EngineError};
use crate::web::{self, AppState};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// The most requests the paced generator has on the wire at once: far more than the server
/// works on at once (`web::in_flight`), so it never holds the server's queue back.
const CONNECTIONS_MAX: usize = 512;

/// How the generator loads the server.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// `clients` concurrent reviewers, each as fast as the server answers.
    Saturation { clients: usize },
    /// Requests scheduled to arrive at this many decisions per second.
    Paced { decisions_per_second: f64 },
}

/// What one request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A reviewer's review form with every open item of theirs decided: one POST per reviewer.
    Page,
    /// The review form with one item decided: one POST per item.
    FormItem,
    /// `POST /api/v1/campaigns/{id}/decisions` with one item, under an admin API token.
    ApiItem,
}

impl Shape {
    fn describe(self) -> &'static str {
        match self {
            Shape::Page => "a reviewer's page per request",
            Shape::FormItem => "one item per review form",
            Shape::ApiItem => "one item per API call",
        }
    }
}

/// What a load run measured.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LoadResult {
    /// `saturation, 32 clients` or `paced at 3000 decisions/s`.
    pub mode: String,
    pub reviewers: usize,
    pub decisions: u64,
    pub requests: u64,
    pub failed_requests: u64,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// One prepared request: where it goes, what it carries, how many decisions that is.
struct Form {
    path: String,
    body: String,
    content_type: &'static str,
    items: u64,
    /// An API call (answered 200) rather than a review form (answered with a redirect).
    api: bool,
}

/// Serves the app on a loopback port and has the `reviewers` decide their items (every item
/// attested), in requests shaped as `shape` says, loaded as `pace` says. `api_token` (an admin's)
/// is needed for [`Shape::ApiItem`].
pub async fn decide_over_http(
    engine: &Engine,
    campaign_id: i64,
    reviewers: &[i64],
    pace: Pace,
    shape: Shape,
    api_token: Option<&str>,
) -> Result<LoadResult, EngineError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| EngineError::Io(e.to_string()))?;
    let port = listener
        .local_addr()
        .map_err(|e| EngineError::Io(e.to_string()))?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(web::serve(
        listener,
        AppState {
            engine: engine.clone(),
            base_url: base.clone(),
        },
        async move {
            let _ = stopped.await;
        },
    ));
    // Prepare every request before the clock starts: the load is the POSTs.
    let mut forms = Vec::with_capacity(reviewers.len());
    for reviewer in reviewers {
        let token = engine.issue_token(campaign_id, *reviewer, None).await?;
        let open = engine.open_item_ids(campaign_id, *reviewer).await?;
        let form = |items: &[i64]| {
            let mut body = format!("csrf={}&action=save", csrf_for(&token));
            for id in items {
                body.push_str(&format!("&item-{id}=attest"));
            }
            Form {
                path: format!("/r/{token}"),
                body,
                content_type: "application/x-www-form-urlencoded",
                items: items.len() as u64,
                api: false,
            }
        };
        match shape {
            Shape::Page => forms.push(form(&open)),
            Shape::FormItem => forms.extend(open.iter().map(|id| form(&[*id]))),
            Shape::ApiItem => forms.extend(open.iter().map(|id| {
                Form {
                    path: format!("/api/v1/campaigns/{campaign_id}/decisions"),
                    body: serde_json::json!({ "items": [{ "item_id": id, "verdict": "attest" }] })
                        .to_string(),
                    content_type: "application/json",
                    items: 1,
                    api: true,
                }
            })),
        }
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| EngineError::Io(e.to_string()))?;
    let post = Poster {
        client,
        base: base.clone(),
        bearer: api_token.map(str::to_string),
        tally: Arc::new(Mutex::new(Tally::default())),
    };
    let started = Instant::now();
    let mode = match pace {
        Pace::Saturation { clients } => {
            saturate(&post, forms, clients.max(1)).await?;
            format!(
                "saturation, {} clients, {}",
                clients.max(1),
                shape.describe()
            )
        }
        Pace::Paced {
            decisions_per_second,
        } => {
            paced(&post, forms, decisions_per_second).await?;
            format!(
                "paced at {decisions_per_second:.0} decisions/s, {}",
                shape.describe()
            )
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let _ = stop.send(());
    let _ = server.await;
    let tally = post.tally.lock().await;
    let mut sorted = tally.latencies_ms.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    Ok(LoadResult {
        mode,
        reviewers: reviewers.len(),
        decisions: tally.decisions,
        requests: tally.latencies_ms.len() as u64,
        failed_requests: tally.failed,
        seconds,
        p50_ms: percentile(&sorted, 50.0),
        p95_ms: percentile(&sorted, 95.0),
        p99_ms: percentile(&sorted, 99.0),
    })
}

#[derive(Default)]
struct Tally {
    decisions: u64,
    failed: u64,
    latencies_ms: Vec<f64>,
}

#[derive(Clone)]
struct Poster {
    client: reqwest::Client,
    base: String,
    bearer: Option<String>,
    tally: Arc<Mutex<Tally>>,
}

impl Poster {
    /// Sends one form; its latency counts from `since` (the scheduled time when paced).
    async fn send(&self, form: &Form, since: Instant) {
        let mut request = self
            .client
            .post(format!("{}{}", self.base, form.path))
            .header("content-type", form.content_type)
            .body(form.body.clone());
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await;
        let ms = since.elapsed().as_secs_f64() * 1000.0;
        let mut tally = self.tally.lock().await;
        match response {
            // The page answers a saved form with a redirect back to itself; the API with 200.
            Ok(r) if r.status().is_redirection() && !form.api => tally.decisions += form.items,
            Ok(r) if r.status().is_success() && form.api => tally.decisions += form.items,
            _ => tally.failed += 1,
        }
        tally.latencies_ms.push(ms);
    }
}

async fn saturate(post: &Poster, forms: Vec<Form>, clients: usize) -> Result<(), EngineError> {
    let queue = Arc::new(Mutex::new(forms));
    let mut workers = Vec::new();
    for _ in 0..clients {
        let (queue, post) = (queue.clone(), post.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let Some(form) = queue.lock().await.pop() else {
                    break;
                };
                post.send(&form, Instant::now()).await;
            }
        }));
    }
    for worker in workers {
        worker.await.map_err(|e| EngineError::Io(e.to_string()))?;
    }
    Ok(())
}

async fn paced(post: &Poster, forms: Vec<Form>, per_second: f64) -> Result<(), EngineError> {
    let start = Instant::now();
    let mut offered = 0u64;
    let mut requests = Vec::with_capacity(forms.len());
    let connections = Arc::new(tokio::sync::Semaphore::new(CONNECTIONS_MAX));
    for form in forms {
        let at = start + Duration::from_secs_f64(offered as f64 / per_second.max(1.0));
        offered += form.items;
        let (post, connections) = (post.clone(), connections.clone());
        requests.push(tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            let Ok(_connection) = connections.acquire_owned().await else {
                return;
            };
            post.send(&form, at).await;
        }));
    }
    for request in requests {
        request.await.map_err(|e| EngineError::Io(e.to_string()))?;
    }
    Ok(())
}
