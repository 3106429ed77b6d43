//! `GET /inbox`: invitations to deals waiting for this node (redacted until accepted).

use super::{blocking, ApiError, AppState, Caller};
use crate::auth::Role;
use crate::cli::now_ms;
use axum::extract::{Extension, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
pub struct InboxQuery {
    /// Only invitations in this state: invited, accepted, declined, expired.
    status: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<InboxQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    if let Some(s) = &q.status {
        if !["invited", "accepted", "declined", "expired"].contains(&s.as_str()) {
            return Err(ApiError::bad_request(format!(
                "status '{s}' is not one of invited, accepted, declined, expired"
            )));
        }
    }
    let deals = state.network.deals.clone();
    let items =
        blocking(move || Ok(crate::inbox::list(&deals, q.status.as_deref(), now_ms()))).await?;
    Ok(Json(json!({"items": items, "next_cursor": null})))
}
