//! `GET /inbox`: invitations to deals waiting for this node (redacted until accepted), and on
//! the first page the invitations from the hubs (`hub_invitations`).

use super::query::{query_params, Cursor, Params, Takes, CURSOR_DOC, LIMIT, LIMIT_DOC};
use super::{blocking, ApiError, AppState, Caller};
use crate::clock::now_ms;
use crate::domain::auth::Role;
use axum::extract::{Extension, State};
use axum::Json;
use serde_json::{json, Value};

/// Every status an inbox item may have (`ended`: the deal ended before this node answered).
pub const INBOX_STATUSES: &[&str] = &["invited", "accepted", "declined", "expired", "ended"];

query_params! {
    /// Filter and paging of `GET /api/v1/inbox`.
    pub struct InboxQuery {
        status: Option<String> = Takes::OneOf(INBOX_STATUSES),
            "Only invitations in this state";
        limit: Option<usize> = LIMIT, LIMIT_DOC;
        cursor: Option<String> = Takes::Cursor(Cursor::AtDeal), CURSOR_DOC;
    }
}

pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(q): Params<InboxQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    if let Some(s) = &q.status {
        if !INBOX_STATUSES.contains(&s.as_str()) {
            return Err(super::query::bad(
                "status",
                format!("'{s}' is not one of {}", INBOX_STATUSES.join(", ")),
            ));
        }
    }
    let limit = super::records::page_limit(q.limit)?;
    let deals = state.network.deals.clone();
    let store = state.store.clone();
    let (items, next, hub) = blocking(move || {
        let (items, next) = crate::domain::inbox::page(
            &deals,
            q.status.as_deref(),
            q.cursor.as_deref(),
            limit,
            now_ms(),
        )
        .map_err(ApiError::bad_request)?;
        // Invitations from AWS ACE and Microsoft (docs/hubs.md) wait here too, on the first
        // page; they are answered at /hub/invitations/{id}/accept|decline.
        let hub = match q.cursor {
            None => crate::domain::hub::invitations::list(&store, q.status.as_deref())?
                .iter()
                .map(crate::domain::hub::invitations::Invitation::to_json)
                .collect(),
            Some(_) => Vec::new(),
        };
        Ok((items, next, hub))
    })
    .await?;
    Ok(Json(
        json!({"items": items, "next_cursor": next, "hub_invitations": hub}),
    ))
}
