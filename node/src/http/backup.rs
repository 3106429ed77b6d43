//! `GET /api/v1/backup` (admin): the whole node as a backup file, streamed while it is written
//! ([`crate::app::backup`]); `cosell backup` calls it while the node serves.

use super::{ApiError, AppState, Caller};
use crate::domain::auth::Role;
use axum::body::{Body, Bytes};
use axum::extract::{Extension, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::io::Write;

/// Chunks in flight between the snapshot thread and the connection.
const CHUNKS_IN_FLIGHT: usize = 8;
/// Bytes per chunk sent.
const CHUNK_BYTES: usize = 256 * 1024;

pub async fn download(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(CHUNKS_IN_FLIGHT);
    let store = state.store.clone();
    let dir = state.data.clone();
    let now = crate::clock::now_ms();
    tokio::task::spawn_blocking(move || {
        let mut out = std::io::BufWriter::with_capacity(CHUNK_BYTES, Sender(tx.clone()));
        let result = crate::app::backup::write_backup(&dir, &store, now, &mut out)
            .and_then(|done| out.flush().map(|()| done).map_err(Into::into));
        match result {
            Ok((manifest, bytes)) => tracing::info!(
                bytes,
                accounts = manifest.accounts,
                opportunities = manifest.opportunities,
                deals = manifest.deals,
                "backup sent"
            ),
            Err(e) => {
                // The client sees the stream end without its checksum, which `cosell backup`
                // and restore both refuse as truncated.
                tracing::warn!(error = %format!("{e:#}"), "backup failed");
                let _ = tx.blocking_send(Err(std::io::Error::other("the backup failed")));
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.cosell.backup"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"cosell.backup\""),
    );
    Ok(response)
}

/// Sends what is written as chunks to the response body; fails once the client has gone.
struct Sender(tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>);

impl Write for Sender {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client left"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
