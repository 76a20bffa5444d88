//! What this process counts for Prometheus: decisions, mail, removals, source syncs, webhook
//! deliveries and HTTP requests, as they happen (`metrics` counters and histograms, one recorder per process).
//! `/metrics` renders them beside the figures read from the database at scrape time
//! (`engine::health`), which are the same on every instance. Labels take a few known values
//! only (a template, an outcome, a route class, a status, a configured source's name), so a
//! request cannot grow the series.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Seconds: from a millisecond to half a minute.
const BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use. Another recorder installed first (a test
/// harness, say) keeps its place; this one then renders what it was given: nothing.
fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Installs the recorder now, so the first events are counted.
pub fn install() {
    handle();
}

/// What was counted so far, in the Prometheus text format.
pub fn render() -> String {
    handle().render()
}

/// Decisions recorded (not those repeated unchanged), by channel.
pub fn decisions(channel: &'static str, recorded: usize) {
    metrics::counter!("attest_decisions_total", "channel" => channel).increment(recorded as u64);
}

/// One mail's send attempt: `result` is `sent`, `retry`, `failed` or `skipped`.
pub fn mail(template: &str, result: &'static str) {
    metrics::counter!("attest_mail_total", "template" => template.to_string(), "result" => result)
        .increment(1);
}

/// How long the SMTP exchange took for each mail of a batch (mail goes out in parallel batches,
/// so this is the batch's time shared out).
pub fn mail_send_time(per_mail: Duration, mails: usize) {
    let histogram = metrics::histogram!("attest_mail_send_seconds");
    for _ in 0..mails {
        histogram.record(per_mail.as_secs_f64());
    }
}

/// One removal attempt through a source: `outcome` is `removed`, `already_gone`, `failed`
/// (to be retried) or `given_up`.
pub fn removal(outcome: &'static str) {
    removals(outcome, 1);
}

/// `n` removals that ended (or were retried) with `outcome`.
pub fn removals(outcome: &'static str, n: u64) {
    if n > 0 {
        metrics::counter!("attest_removals_total", "outcome" => outcome).increment(n);
    }
}

/// One sync of a configured source, and whether it worked.
pub fn source_sync(source: &str, ok: bool) {
    let result = if ok { "ok" } else { "error" };
    metrics::counter!("attest_source_syncs_total", "source" => source.to_string(), "result" => result)
        .increment(1);
}

/// One HTTP request: its route class (`review`, `console`, `api`, `sign_in`, `health`,
/// `static`, `other`), status and time.
pub fn http_request(class: &'static str, status: u16, took: Duration) {
    metrics::counter!("attest_http_requests_total", "class" => class, "status" => status.to_string())
        .increment(1);
    metrics::histogram!("attest_http_request_seconds", "class" => class).record(took.as_secs_f64());
}

/// One webhook delivery attempt to a configured endpoint: `state` is what it ended in,
/// `delivered`, `failed` (retried) or `given_up`.
pub fn webhook(endpoint: &str, state: &str) {
    metrics::counter!("attest_webhook_deliveries_total", "endpoint" => endpoint.to_string(), "result" => state.to_string())
        .increment(1);
}

/// How long one webhook POST took, answered or not.
pub fn webhook_latency(endpoint: &str, took: Duration) {
    metrics::histogram!("attest_webhook_delivery_seconds", "endpoint" => endpoint.to_string())
        .record(took.as_secs_f64());
}

/// Deliveries waiting (queued, or failed and to be retried) per endpoint, as the sender last
/// read them.
pub fn webhooks_waiting(endpoint: &str, waiting: i64) {
    metrics::gauge!("attest_webhook_deliveries_pending", "endpoint" => endpoint.to_string())
        .set(waiting as f64);
}
