//! Prometheus metrics at `GET /metrics`: requests by route and status, a latency histogram,
//! imported rows, and record counts read from the store at scrape time.

use crate::http::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram's buckets, in seconds.
const LATENCY_BUCKETS_S: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// Counters kept in memory since the node started.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency_buckets: [u64; LATENCY_BUCKETS_S.len()],
    latency_count: u64,
    latency_sum_s: f64,
    imported_rows: BTreeMap<String, u64>,
}

impl Metrics {
    /// Records one answered request.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let Ok(mut m) = self.inner.lock() else { return };
        *m.requests
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let s = elapsed.as_secs_f64();
        for (i, bound) in LATENCY_BUCKETS_S.iter().enumerate() {
            if s <= *bound {
                m.latency_buckets[i] += 1;
            }
        }
        m.latency_count += 1;
        m.latency_sum_s += s;
    }

    /// Records rows taken in by an import.
    pub fn imported(&self, kind: &str, rows: u64) {
        if let Ok(mut m) = self.inner.lock() {
            *m.imported_rows.entry(kind.to_string()).or_default() += rows;
        }
    }

    /// The Prometheus text exposition of everything.
    pub fn render(&self, accounts: u64, opportunities: u64) -> String {
        let mut out = String::new();
        let Ok(m) = self.inner.lock() else { return out };
        let _ = writeln!(
            out,
            "# HELP cosell_http_requests_total HTTP requests answered, by route and status."
        );
        let _ = writeln!(out, "# TYPE cosell_http_requests_total counter");
        for ((method, route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "cosell_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                route.replace('"', "'")
            );
        }
        let _ = writeln!(
            out,
            "# HELP cosell_http_request_duration_seconds Time to answer an HTTP request."
        );
        let _ = writeln!(out, "# TYPE cosell_http_request_duration_seconds histogram");
        for (i, bound) in LATENCY_BUCKETS_S.iter().enumerate() {
            let _ = writeln!(
                out,
                "cosell_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                m.latency_buckets[i]
            );
        }
        let _ = writeln!(
            out,
            "cosell_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            m.latency_count
        );
        let _ = writeln!(
            out,
            "cosell_http_request_duration_seconds_sum {}",
            m.latency_sum_s
        );
        let _ = writeln!(
            out,
            "cosell_http_request_duration_seconds_count {}",
            m.latency_count
        );
        let _ = writeln!(out, "# HELP cosell_import_rows_total CSV rows imported.");
        let _ = writeln!(out, "# TYPE cosell_import_rows_total counter");
        for (kind, n) in &m.imported_rows {
            let _ = writeln!(out, "cosell_import_rows_total{{kind=\"{kind}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP cosell_records Records held by this node.");
        let _ = writeln!(out, "# TYPE cosell_records gauge");
        let _ = writeln!(out, "cosell_records{{kind=\"accounts\"}} {accounts}");
        let _ = writeln!(
            out,
            "cosell_records{{kind=\"opportunities\"}} {opportunities}"
        );
        out
    }
}

/// `GET /metrics`.
pub async fn serve(State(state): State<AppState>) -> impl IntoResponse {
    let store = state.store.clone();
    let counts = tokio::task::spawn_blocking(move || store.counts()).await;
    let (accounts, opportunities) = match counts {
        Ok(Ok(c)) => (c.accounts, c.opportunities),
        _ => (0, 0),
    };
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(accounts, opportunities) + &state.network.metrics_text(),
    )
}
