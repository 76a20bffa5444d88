//! The built-in load generator: many reviewers at once, each POSTing their whole page of
//! decisions to the real server over loopback, as a browser would. Measures decisions per
//! second and the latency of each POST.

use crate::engine::review::csrf_for;
use crate::engine::{Engine, EngineError};
use crate::store::review::reviewer_items;
use crate::web::{self, AppState};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// What a load run measured.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LoadResult {
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

/// Serves the app on a loopback port and has `concurrency` clients decide the items of
/// `reviewers` (each one POST per reviewer, every item attested).
pub async fn decide_over_http(
    engine: &Engine,
    campaign_id: i64,
    reviewers: Vec<i64>,
    concurrency: usize,
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
    // Prepare every reviewer's form before the clock starts: the load is the POSTs.
    let mut forms = Vec::with_capacity(reviewers.len());
    for reviewer in &reviewers {
        let token = engine.issue_token(campaign_id, *reviewer, None).await?;
        let items = reviewer_items(engine.store().conn(), campaign_id, *reviewer).await?;
        let mut body = format!("csrf={}&action=save", csrf_for(&token));
        for item in items.iter().filter(|i| i.verdict.is_none()) {
            body.push_str(&format!("&item-{}=attest", item.id));
        }
        forms.push((token, body, items.len() as u64));
    }
    let queue = Arc::new(Mutex::new(forms));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| EngineError::Io(e.to_string()))?;
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (queue, latencies, client, base) = (
            queue.clone(),
            latencies.clone(),
            client.clone(),
            base.clone(),
        );
        workers.push(tokio::spawn(async move {
            let (mut decided, mut requests, mut failed) = (0u64, 0u64, 0u64);
            loop {
                let Some((token, body, items)) = queue.lock().await.pop() else {
                    break;
                };
                let t = Instant::now();
                let response = client
                    .post(format!("{base}/r/{token}"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await;
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                requests += 1;
                match response {
                    Ok(r) if r.status().is_redirection() => decided += items,
                    _ => failed += 1,
                }
                latencies.lock().await.push(ms);
            }
            (decided, requests, failed)
        }));
    }
    let mut result = LoadResult {
        reviewers: reviewers.len(),
        ..LoadResult::default()
    };
    for worker in workers {
        let (d, r, f) = worker.await.map_err(|e| EngineError::Io(e.to_string()))?;
        result.decisions += d;
        result.requests += r;
        result.failed_requests += f;
    }
    result.seconds = started.elapsed().as_secs_f64();
    let mut sorted = latencies.lock().await.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    result.p50_ms = percentile(&sorted, 50.0);
    result.p95_ms = percentile(&sorted, 95.0);
    result.p99_ms = percentile(&sorted, 99.0);
    let _ = stop.send(());
    let _ = server.await;
    Ok(result)
}
