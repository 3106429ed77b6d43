//! Fake CRM servers for the connector tests: Salesforce's REST API and HubSpot's CRM v3, on
//! loopback (port 0), answering with the vendors' published shapes — Salesforce's `attributes`,
//! `totalSize`, `done`, `nextRecordsUrl` and its `[{"message","errorCode"}]` errors; HubSpot's
//! `results`, `paging.next.after`, v4 associations and `{"status","message","correlationId",
//! "category"}` errors (checked against HubSpot's OpenAPI documents by the `crm` tests, from the
//! trimmed copies in `tests/fixtures/hubspot-openapi/`). Each holds its records in memory with
//! a modification clock, so a test edits and deletes records as a user in the CRM would, and
//! can expire sessions, spend the API budget and read what was written back.

pub mod hubspot;
pub mod openapi;
pub mod salesforce;

use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard};

/// A running fake: its base URL; dropping it stops the server.
pub struct Running {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves `app` on 127.0.0.1, port 0, on its own thread and runtime.
pub fn serve(app: axum::Router) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
    });
    Running {
        url,
        stop: Some(stop),
        thread: Some(thread),
    }
}

/// Shared state behind a mutex that survives a panicking handler.
pub struct Shared<T>(pub Arc<Mutex<T>>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<T> Shared<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Shared(Arc::new(Mutex::new(value)))
    }
    /// Locks it.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `2026-01-01T00:00:00Z` plus `seconds`, as `YYYY-MM-DDTHH:MM:SS`.
pub fn clock_text(seconds: u64) -> String {
    const BASE_MS: u64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    let iso = cosell::domain::crm::ms_iso(BASE_MS + seconds * 1000);
    iso[..19].to_string()
}
