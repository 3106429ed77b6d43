//! `GET /healthz` and `GET /readyz`: for load balancers, container runtimes and Kubernetes
//! probes. Unauthenticated, so they answer one word of status and nothing else: no version, no
//! id, no counts (a probe needs no more, and anyone who can reach the port can ask).

use crate::http::{blocking, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the node is stopping: set on SIGTERM/SIGINT, before the HTTP server stops taking
/// requests, so `/readyz` turns 503 while in-flight work drains.
#[derive(Debug, Default)]
pub struct Lifecycle {
    stopping: AtomicBool,
}

impl Lifecycle {
    /// Marks the node as shutting down (it never comes back).
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }
    /// Whether [`Lifecycle::stop`] has been called.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

/// `GET /healthz`: the process is alive and answering HTTP.
pub async fn healthz() -> Response {
    (StatusCode::OK, Json(json!({"status": "ok"}))).into_response()
}

/// `GET /readyz`: 200 when the store answers a read, the node listens for partners and is not
/// shutting down; 503 otherwise.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let unavailable = |status: &str| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": status})),
        )
    };
    if state.lifecycle.is_stopping() {
        return unavailable("shutting down").into_response();
    }
    if state.network.listen.is_empty() {
        return unavailable("not ready").into_response();
    }
    let store = state.store.clone();
    let store_ok = blocking(move || Ok(store.read().map(|_| ()))).await;
    match store_ok {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: the store does not answer");
            return unavailable("not ready").into_response();
        }
        Err(_) => return unavailable("not ready").into_response(),
    }
    (StatusCode::OK, Json(json!({"status": "ready"}))).into_response()
}
