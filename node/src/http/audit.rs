//! `GET /api/v1/audit`: the audit log, oldest first, paged by sequence number.

use super::query::{query_params, Cursor, Params, Takes, CURSOR_DOC, LIMIT, LIMIT_DOC};
use super::{blocking, ApiError, AppState, Caller};
use crate::domain::audit::AuditKind;
use crate::domain::auth::Role;
use axum::extract::{Extension, State};
use axum::Json;
use serde_json::{json, Value};

query_params! {
    /// Filter and paging of `GET /api/v1/audit`.
    pub struct AuditQuery {
        cursor: Option<String> = Takes::Cursor(Cursor::Seq), CURSOR_DOC;
        limit: Option<usize> = LIMIT, LIMIT_DOC;
        kind: Option<String> = Takes::OneOf(KINDS), "Only entries of this kind";
    }
}

query_params! {
    /// The period of `GET /api/v1/audit/export`.
    pub struct ExportQuery {
        from: Option<String> = Takes::Time, "First day (YYYY-MM-DD) or UTC time (YYYY-MM-DDTHH:MM:SSZ) exported; default: the first entry";
        to: Option<String> = Takes::Time, "Last day (YYYY-MM-DD, inclusive) or UTC time exported; default: now";
    }
}

/// `GET /api/v1/audit/export`: the entries of a period as a hash-chained file whose head the
/// node key signs (`text/plain`; format in SECURITY.md, checked offline by
/// `cosell audit verify`).
pub async fn export(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(q): Params<ExportQuery>,
) -> Result<axum::response::Response, ApiError> {
    use crate::domain::audit_export;
    caller.require(Role::Viewer)?;
    // An empty value is refused like any other that is not a time (absent means the default).
    let time = |name: &'static str, v: Option<&str>, end: bool, default: u64| match v {
        None => Ok(default),
        Some(v) => audit_export::parse_time(v, end).map_err(|m| super::query::bad(name, m)),
    };
    let now = crate::clock::now_ms();
    let from = time("from", q.from.as_deref(), false, 0)?;
    let to = time("to", q.to.as_deref(), true, now)?;
    // A period that starts after it ends (a `from` in the future, say) holds no entry: the
    // export is empty, as for any other period without entries.
    let text = blocking(move || {
        use crate::domain::audit_retention::checkpoint;
        // The entries and the retention checkpoint of one moment: read again when a removal
        // ran in between (the file would start before the checkpoint's first kept entry).
        let (entries, retention) = loop {
            let before = checkpoint(&state.store)?;
            let mut entries = Vec::new();
            let mut cursor = 0;
            loop {
                let page = crate::store::shared::audit_page(&state.store, cursor, 1000)?;
                let done = page.len() < 1000;
                for entry in page {
                    cursor = entry.seq;
                    if (from..=to).contains(&entry.at_ms) {
                        entries.push(entry);
                    }
                }
                if done {
                    break;
                }
            }
            if checkpoint(&state.store)? == before {
                break (entries, before);
            }
        };
        let deals = &state.network.deals;
        let secret = deals.signer().key().secret_bytes();
        Ok(audit_export::write(
            &entries,
            &state.node.id,
            &state.node.name,
            &secret,
            (from, to),
            now,
            retention.as_ref(),
        ))
    })
    .await?;
    Ok(axum::response::IntoResponse::into_response((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        text,
    )))
}

/// Every kind of audit entry, by name.
const KINDS: &[&str] = AuditKind::NAMES;

pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(q): Params<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let limit = super::records::page_limit(q.limit)?;
    // No kind means every kind; an empty one is refused like any other word that is not a
    // kind (as an empty `stage=` is: a filter left empty is a mistake, not "all").
    let wanted: Option<AuditKind> = match q.kind.as_deref() {
        None => None,
        Some(kind) => Some(AuditKind::parse(kind).ok_or_else(|| {
            super::query::bad(
                "kind",
                format!(
                    "'{kind}' is not a kind of audit entry (one of {})",
                    KINDS.join(", ")
                ),
            )
        })?),
    };
    let after: u64 = match q.cursor.as_deref() {
        None | Some("") => 0,
        Some(c) => c
            .parse()
            .map_err(|_| ApiError::bad_request("cursor is not valid"))?,
    };
    let answer = blocking(move || {
        let mut items = Vec::new();
        let mut cursor = after;
        let mut more = false;
        // Filtering by kind may skip entries: read pages until the answer is full.
        loop {
            let page = crate::store::shared::audit_page(&state.store, cursor, limit)?;
            let full = page.len() == limit;
            for entry in page {
                cursor = entry.seq;
                if wanted.is_none_or(|k| k == entry.kind) {
                    items.push(crate::domain::audit::to_json(&entry));
                    if items.len() == limit {
                        more = true;
                        break;
                    }
                }
            }
            if more || !full {
                break;
            }
        }
        Ok(json!({
            "items": items,
            "next_cursor": if more { Some(cursor.to_string()) } else { None },
        }))
    })
    .await?;
    Ok(Json(answer))
}
