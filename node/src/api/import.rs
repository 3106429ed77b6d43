//! `POST /api/v1/import/{accounts,opportunities}`: the request body streams (bounded channel)
//! into the CSV parser on a blocking thread, so a million-row file never sits in memory whole.

use super::query::{query_params, Params, Takes};
use super::{ApiError, AppState, Caller, IMPORT_BODY_BYTES_MAX};
use crate::auth::Role;
use crate::import::{DateOrder, ImportOptions};
use crate::importer::{self, ImportFailure, ImportSummary};
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::Json;
use bytes::{Buf, Bytes};
use futures_util::StreamExt;
use serde_json::json;
use std::io::{self, Read};
use tokio::sync::mpsc;

/// Body chunks buffered between the socket and the parser.
const IMPORT_CHUNKS_IN_FLIGHT_MAX: usize = 16;

/// Which records a file holds.
#[derive(Clone, Copy)]
enum Kind {
    Accounts,
    Opportunities(ImportOptions),
}

query_params! {
    /// `POST /import/opportunities?date_format=DD/MM/YYYY`: how to read `03/04/2026` (see
    /// [`DateOrder::parse_setting`]).
    pub struct OpportunitiesQuery {
        date_format: Option<String> = Takes::OneOf(&["DD/MM/YYYY", "MM/DD/YYYY", "YYYY-MM-DD"]),
            "How to read a date like 03/04/2026 (also spellings like dd-mm-yy); absent: month \
             first, or day first in a ;-separated file";
    }
}

pub async fn import_accounts(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<Json<ImportSummary>, ApiError> {
    run(state, caller, body, Kind::Accounts).await
}

pub async fn import_opportunities(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(query): Params<OpportunitiesQuery>,
    body: Body,
) -> Result<Json<ImportSummary>, ApiError> {
    let date_order = match query.date_format.as_deref() {
        Some(format) => Some(
            DateOrder::parse_setting(format)
                .map_err(|why| ApiError::bad_request(format!("date_format: {why}")))?,
        ),
        None => None,
    };
    let options = ImportOptions {
        date_order,
        ..ImportOptions::default()
    };
    run(state, caller, body, Kind::Opportunities(options)).await
}

async fn run(
    state: AppState,
    caller: Caller,
    body: Body,
    kind: Kind,
) -> Result<Json<ImportSummary>, ApiError> {
    caller.require(Role::Manager)?;
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(IMPORT_CHUNKS_IN_FLIGHT_MAX);
    let forward = tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        let mut total = 0usize;
        while let Some(chunk) = stream.next().await {
            let item = match chunk {
                Ok(bytes) => {
                    total += bytes.len();
                    if total > IMPORT_BODY_BYTES_MAX {
                        Err(io::Error::other(format!(
                            "the file is larger than {} bytes",
                            IMPORT_BODY_BYTES_MAX
                        )))
                    } else {
                        Ok(bytes)
                    }
                }
                Err(e) => Err(io::Error::other(e.to_string())),
            };
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                break;
            }
        }
    });
    let store = state.store.clone();
    let currency = state.default_currency;
    let outcome = tokio::task::spawn_blocking(move || {
        let reader = ChannelReader {
            rx,
            current: Bytes::new(),
        };
        match kind {
            Kind::Accounts => importer::import_accounts(&store, reader),
            Kind::Opportunities(options) => {
                importer::import_opportunities(&store, reader, currency, options)
            }
        }
    })
    .await
    .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
    forward.abort();
    release_freed_memory();
    let what = match kind {
        Kind::Accounts => "accounts",
        Kind::Opportunities(_) => "opportunities",
    };
    match outcome {
        Ok(summary) => {
            tracing::info!(
                what,
                rows = summary.rows,
                inserted = summary.inserted,
                updated = summary.updated,
                "import done"
            );
            state.metrics.imported(what, summary.rows);
            state.events.publish(
                "import.completed",
                json!({"kind": what, "rows": summary.rows, "inserted": summary.inserted, "updated": summary.updated}),
            );
            if summary.updated > 0 {
                super::deals::opportunity_changed(&state, None).await;
            }
            Ok(Json(summary))
        }
        Err(ImportFailure::Rows { errors, bad_rows }) => {
            let details = errors
                .iter()
                .map(|e| json!({"row": e.row, "line": e.line, "column": e.column, "message": e.message}))
                .collect();
            let noun = if bad_rows == 1 { "row is" } else { "rows are" };
            Err(ApiError::unprocessable(
                format!("{bad_rows} {noun} invalid; nothing was imported"),
                details,
            ))
        }
        Err(ImportFailure::File(e)) => Err(ApiError::unprocessable(
            format!("{e}; nothing was imported"),
            vec![],
        )),
        Err(ImportFailure::Internal(e)) => Err(ApiError::internal(e)),
    }
}

/// A blocking `Read` over body chunks arriving on a channel.
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while !self.current.has_remaining() {
            match self.rx.blocking_recv() {
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}

/// Hands the memory an import freed back to the system. Each import parses on a new thread,
/// which glibc serves from its own arena; freed but kept, one import's peak (its per-file id
/// set: 35 MB at a million rows) stayed resident while the next one built its own, and a node
/// that imported accounts then opportunities held both (BENCHMARKS.md, foundation).
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's own heaps; it is
    // thread-safe and has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}
