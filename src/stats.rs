//! Metrics: the Prometheus recorder and the metric names (`GET /metrics` is in `http/`).
//!
//! One recorder per process (the `metrics` facade is global); every instance in the process
//! reports into it. Names are constants here so each is spelled once.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Live WebSocket connections on this process (gauge).
pub const CONNECTIONS_OPEN: &str = "chat_connections_open";
/// WebSocket connections accepted (counter).
pub const CONNECTIONS_OPENED: &str = "chat_connections_opened_total";
/// Client frames received, by `type` (`text`, `typing`, `join`, `leave`, `invalid`, `binary`).
pub const FRAMES_IN: &str = "chat_frames_received_total";
/// Frames queued to connections: every recipient of every delivery (counter).
pub const FRAMES_OUT: &str = "chat_frames_sent_total";
/// Messages this process stored (text, system), by `type`.
pub const MESSAGES_STORED: &str = "chat_messages_stored_total";
/// Frames dropped because a connection's outbox was full (counter).
pub const DELIVERIES_DROPPED: &str = "chat_deliveries_dropped_total";
/// Connections closed as slow consumers (counter).
pub const SLOW_CLOSED: &str = "chat_slow_consumers_closed_total";
/// Redis call latency in seconds (histogram), and failed or timed-out calls (counter).
pub const REDIS_SECONDS: &str = "chat_redis_call_seconds";
pub const REDIS_ERRORS: &str = "chat_redis_errors_total";
/// HTTP requests by `route`, `method` and `status` (counter), and their latency (histogram).
pub const HTTP_REQUESTS: &str = "chat_http_requests_total";
pub const HTTP_SECONDS: &str = "chat_http_request_seconds";

const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Installs the process's recorder (once: later calls do nothing), before anything records.
pub fn install() {
    recorder();
}

/// The process's recorder, installed on first use.
fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; then ours renders nothing.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed");
        }
        describe();
        handle
    })
}

fn describe() {
    metrics::describe_gauge!(CONNECTIONS_OPEN, "Live WebSocket connections");
    metrics::describe_counter!(CONNECTIONS_OPENED, "WebSocket connections accepted");
    metrics::describe_counter!(FRAMES_IN, "Client frames received, by type");
    metrics::describe_counter!(FRAMES_OUT, "Frames queued to connections (one per recipient)");
    metrics::describe_counter!(MESSAGES_STORED, "Messages stored by this process, by type");
    metrics::describe_counter!(
        DELIVERIES_DROPPED,
        "Frames dropped: the connection's outbox was full"
    );
    metrics::describe_counter!(SLOW_CLOSED, "Connections closed as slow consumers");
    metrics::describe_histogram!(REDIS_SECONDS, metrics::Unit::Seconds, "Redis call latency");
    metrics::describe_counter!(REDIS_ERRORS, "Redis calls that failed or timed out");
    metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests by route, method and status");
    metrics::describe_histogram!(
        HTTP_SECONDS,
        metrics::Unit::Seconds,
        "HTTP request latency by route"
    );
}

/// How often `upkeep` runs, whether or not anything scrapes.
pub const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Folds recorded histogram samples into their buckets.
///
/// The exporter keeps every sample of a histogram (16 bytes each) until an upkeep drains it,
/// and a recorder built with `build_recorder` (ours: one per process, installed by hand) has no
/// upkeep task of its own: without a scrape of `/metrics`, one sample per Redis call and per
/// HTTP request made the process grow for as long as it ran. `run` calls this periodically.
pub fn upkeep() {
    recorder().run_upkeep();
}

/// Everything recorded, in the Prometheus text format (folded first).
pub fn render() -> String {
    let h = recorder();
    h.run_upkeep();
    h.render()
}

/// Handles of the metrics recorded once per message or per delivery, made once. The macros
/// look a metric up in the recorder's registry on every call (hashing its name and labels,
/// and copying labels into a new key), which on the delivery path cost more than the count.
pub struct Hot {
    frames_in: [(&'static str, metrics::Counter); 8],
    pub stored_text: metrics::Counter,
    pub stored_system: metrics::Counter,
    pub frames_out: metrics::Counter,
}

impl Hot {
    /// The counter of client frames of type `kind` (one of `FRAMES_IN`'s types).
    pub fn frames_in(&self, kind: &str) -> &metrics::Counter {
        let i = self.frames_in.iter().position(|(k, _)| *k == kind);
        &self.frames_in[i.unwrap_or(self.frames_in.len() - 1)].1
    }
}

/// The hot metrics' handles, in the process's recorder.
pub fn hot() -> &'static Hot {
    static HOT: OnceLock<Hot> = OnceLock::new();
    HOT.get_or_init(|| {
        recorder();
        let kinds = [
            "text", "typing", "join", "leave", "resume", "read", "binary", "invalid",
        ];
        Hot {
            frames_in: kinds.map(|k| (k, metrics::counter!(FRAMES_IN, "type" => k))),
            stored_text: metrics::counter!(MESSAGES_STORED, "type" => "text"),
            stored_system: metrics::counter!(MESSAGES_STORED, "type" => "system"),
            frames_out: metrics::counter!(FRAMES_OUT),
        }
    })
}

/// The Redis call latency's handle, made on the first call (so that a memory store shows
/// none). Failed calls are rare: they are counted with the macro, which registers them then.
pub fn redis_seconds() -> &'static metrics::Histogram {
    static HOT: OnceLock<metrics::Histogram> = OnceLock::new();
    HOT.get_or_init(|| {
        recorder();
        metrics::histogram!(REDIS_SECONDS)
    })
}

/// Records one HTTP request (called by the request log).
pub fn http_request(route: &'static str, method: &str, status: u16, seconds: f64) {
    let labels = [
        ("route", route.to_string()),
        ("method", method.to_string()),
        ("status", status.to_string()),
    ];
    metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(HTTP_SECONDS, "route" => route).record(seconds);
}
