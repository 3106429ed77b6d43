//! `POST /api/v1/import/{accounts,opportunities}`: the request body streams (bounded channel)
//! into the CSV parser on a blocking thread, so a million-row file never sits in memory whole.

use super::query::{query_params, Params, Takes};
use super::{ApiError, AppState, Caller, IMPORT_BODY_BYTES_MAX};
use crate::domain::auth::Role;
use crate::domain::deals::RecordWrite;
use crate::domain::events::EventKind;
use crate::import::write::{self, ImportFailure, ImportSummary};
use crate::import::{DateOrder, ImportError, ImportOptions};
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use bytes::{Buf, Bytes};
use futures_util::StreamExt;
use serde_json::json;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ImportSummary>, ApiError> {
    run(state, caller, &headers, body, Kind::Accounts).await
}

pub async fn import_opportunities(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(query): Params<OpportunitiesQuery>,
    headers: HeaderMap,
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
    run(state, caller, &headers, body, Kind::Opportunities(options)).await
}

/// How to send a file to the import routes, for the answers that refuse a body.
const SEND_THE_FILE: &str = "send the file's bytes as the request body with Content-Type: \
    text/csv (curl --data-binary @file.csv -H 'Content-Type: text/csv')";

/// A 415 for a body the route cannot read as a file: a form (`multipart/form-data`, as `curl -F`
/// and HTML forms send; `application/x-www-form-urlencoded`, as `curl -d` sends) or JSON. Read
/// as CSV, a form's boundary lines became accounts. Any other type (or none) is read as the
/// file: the CLI and the web UI send `text/csv`, and scripts send `text/plain`,
/// `application/octet-stream`, Excel's `application/vnd.ms-excel`…; the parser itself refuses
/// what is not CSV (a workbook, a PDF, JSON) by its bytes.
fn refuse_unreadable_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let media_type = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let why = if media_type.starts_with("multipart/") {
        format!("a form upload ({media_type}) is not read")
    } else if media_type == "application/x-www-form-urlencoded" {
        "a form body (application/x-www-form-urlencoded, what curl -d sends; -d also strips \
         the file's line breaks) is not read"
            .to_string()
    } else if media_type == "application/json" || media_type.ends_with("+json") {
        format!("a JSON body ({media_type}) is not read: the import takes a CSV file")
    } else {
        return Ok(());
    };
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!("{why}; {SEND_THE_FILE}"),
    ))
}

async fn run(
    state: AppState,
    caller: Caller,
    headers: &HeaderMap,
    body: Body,
    kind: Kind,
) -> Result<Json<ImportSummary>, ApiError> {
    caller.require(Role::Manager)?;
    refuse_unreadable_content_type(headers)?;
    // Whether the body forwarded so far holds a line break: a header error on a body without
    // any is most likely `curl -d @file`, which joins the file's lines into one.
    let line_break_seen = Arc::new(AtomicBool::new(false));
    let seen = line_break_seen.clone();
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(IMPORT_CHUNKS_IN_FLIGHT_MAX);
    let forward = tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        let mut total = 0usize;
        while let Some(chunk) = stream.next().await {
            let item = match chunk {
                Ok(bytes) => {
                    if !seen.load(Ordering::Relaxed)
                        && bytes.iter().any(|&b| b == b'\n' || b == b'\r')
                    {
                        seen.store(true, Ordering::Relaxed);
                    }
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
    let deals = state.network.deals.clone();
    let currency = state.default_currency;
    let what = match kind {
        Kind::Accounts => "accounts",
        Kind::Opportunities(_) => "opportunities",
    };
    let done = state.clone();
    // The import, then (when it matched stored records) the deals shared from them, in one
    // call; an import that succeeded is reported (log, metrics, `import.completed`) before its
    // deals follow.
    let outcome = tokio::task::spawn_blocking(crate::domain::audit::carry(move || {
        deals.write_records(|store| {
            let reader = ChannelReader {
                rx,
                current: Bytes::new(),
            };
            let outcome = match kind {
                Kind::Accounts => write::import_accounts(store, reader),
                Kind::Opportunities(options) => {
                    write::import_opportunities(store, reader, currency, options)
                }
            };
            release_freed_memory();
            let summary = outcome?;
            tracing::info!(
                what,
                rows = summary.rows,
                inserted = summary.inserted,
                updated = summary.updated,
                "import done"
            );
            done.metrics.imported(what, summary.rows);
            done.events.publish(
                EventKind::ImportCompleted,
                json!({"kind": what, "rows": summary.rows, "inserted": summary.inserted, "updated": summary.updated}),
            );
            let matched = summary.updated > 0;
            Ok((summary, RecordWrite::Bulk { matched }))
        })
    }))
    .await
    .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
    forward.abort();
    match outcome {
        Ok((summary, changed)) => {
            let _ = state.network.handle.sync(changed).await;
            Ok(Json(summary))
        }
        Err(ImportFailure::Rows { errors, bad_rows }) => {
            let details = errors
                .iter()
                .map(|e| json!({"row": e.row, "line": e.line, "column": e.column, "message": protocol::records::cut_long_values(&e.message)}))
                .collect();
            let noun = if bad_rows == 1 { "row is" } else { "rows are" };
            Err(ApiError::unprocessable(
                format!("{bad_rows} {noun} invalid; nothing was imported"),
                details,
            ))
        }
        Err(ImportFailure::File(e)) => {
            // The parser read the whole line, so the forwarder saw all of it: no line break
            // seen means the body is one line.
            let hint = match e {
                ImportError::Header(_) if !line_break_seen.load(Ordering::Relaxed) => {
                    format!(
                        "; the body has no line break (curl -d joins a file's lines into one; \
                         --data-binary keeps them): {SEND_THE_FILE}"
                    )
                }
                _ => String::new(),
            };
            Err(ApiError::unprocessable(
                format!("{e}; nothing was imported{hint}"),
                vec![],
            ))
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(content_type: &str) -> Option<(StatusCode, String)> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            content_type.parse().expect("header value"),
        );
        refuse_unreadable_content_type(&headers).err().map(|e| {
            (
                e.status(),
                e.body()["error"].as_str().unwrap_or("").to_string(),
            )
        })
    }

    #[test]
    fn a_form_or_json_body_is_a_415_saying_how_to_send_the_file() {
        // Bug: a `curl -F file=@x.csv` upload was read as CSV, its boundary lines as accounts.
        let (status, message) =
            refused("multipart/form-data; boundary=------------------------7bdd947c266a421a")
                .expect("refused");
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            message,
            "a form upload (multipart/form-data) is not read; send the file's bytes as the \
             request body with Content-Type: text/csv (curl --data-binary @file.csv -H \
             'Content-Type: text/csv')"
        );
        for other in [
            "application/x-www-form-urlencoded",
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/problem+json",
        ] {
            assert!(refused(other).is_some(), "{other}");
        }
    }

    #[test]
    fn csv_text_and_octet_stream_bodies_are_read_as_the_file() {
        // What the CLI and the web UI send (text/csv), and what scripts and browsers may.
        for fine in [
            "text/csv",
            "text/csv; charset=utf-8",
            "text/plain",
            "application/octet-stream",
            "application/vnd.ms-excel",
            "text/tab-separated-values",
        ] {
            assert_eq!(refused(fine), None, "{fine}");
        }
        assert!(refuse_unreadable_content_type(&HeaderMap::new()).is_ok());
    }
}
