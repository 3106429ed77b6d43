//! `POST /api/v1/erase` (admin): erases one person's data on this node (GDPR art. 17), or with
//! `dry_run` lists what would be erased. See `domain::erase`.

use super::{blocking, ApiError, AppState, Caller};
use crate::clock::now_ms;
use crate::domain::auth::Role;
use crate::domain::erase::{self, Needle};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, State};
use axum::Json;
use serde_json::{json, Value};

pub async fn erase(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let Json(body) = body?;
    let (needle, dry_run) = read_body(&body)?;
    let store = state.store.clone();
    let deals = state.network.deals.clone();
    let report =
        blocking(move || Ok(erase::erase(&store, &deals, &needle, dry_run, now_ms())?)).await?;
    if !report.changed_deals.is_empty() {
        state
            .network
            .handle
            .sync(report.changed_deals.clone())
            .await?;
    }
    Ok(Json(report.to_json()))
}

/// `{"email": E}` or `{"name": N}` (exactly one, a string), and `dry_run` (a boolean).
fn read_body(body: &Value) -> Result<(Needle, bool), ApiError> {
    let Value::Object(map) = body else {
        return Err(ApiError::bad_request("the body is not a JSON object"));
    };
    let mut problems: Vec<Value> = Vec::new();
    let problem = |field: &str, message: &str| json!({"field": field, "message": message});
    for (k, v) in map {
        match (k.as_str(), v) {
            ("email" | "name", Value::String(_)) | ("dry_run", Value::Bool(_)) => {}
            ("email" | "name", _) => problems.push(problem(k, "must be a string")),
            ("dry_run", _) => problems.push(problem(k, "must be true or false")),
            _ => problems.push(problem(k, "is not a field (email, name, dry_run)")),
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::unprocessable(
            "the erasure request is not valid",
            problems,
        ));
    }
    let text = |k: &str| map.get(k).and_then(Value::as_str);
    let needle = match (text("email"), text("name")) {
        (Some(e), None) => Needle::new("email", e)?,
        (None, Some(n)) => Needle::new("name", n)?,
        _ => {
            return Err(ApiError::unprocessable(
                "give exactly one of email and name",
                vec![],
            ))
        }
    };
    let dry_run = map.get("dry_run").and_then(Value::as_bool).unwrap_or(false);
    Ok((needle, dry_run))
}
