//! `GET /me/mapping-views`, `PUT,DELETE /me/mapping-views/{name}`: the signed-in user's saved
//! views of the mapping matrix (`domain::mapping_views`). They belong to a person: an API token,
//! which has none, is refused (403).

use super::{blocking, ApiError, AppState, Caller};
use crate::domain::auth::Role;
use crate::domain::mapping_views::{self, Saved};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

/// The signed-in user's name.
fn person(caller: &Caller) -> Result<String, ApiError> {
    caller.username.clone().ok_or_else(|| {
        ApiError::forbidden(
            "saved mapping views belong to a user: sign in with a username (an API token has none)",
        )
    })
}

fn saved_json(name: &str, s: &Saved) -> Value {
    json!({"name": name, "view": s.view, "saved_at": crate::domain::audit::rfc3339(s.saved_at_ms)})
}

pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let user = person(&caller)?;
    let views = blocking(move || Ok(mapping_views::list(&state.store, &user)?)).await?;
    let items: Vec<Value> = views.iter().map(|(n, s)| saved_json(n, s)).collect();
    Ok(Json(json!({ "items": items })))
}

/// What `PUT /me/mapping-views/{name}` takes.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewInput {
    view: Value,
}

pub async fn put(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Result<Json<ViewInput>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let user = person(&caller)?;
    let Json(body) = body?;
    let now = crate::clock::now_ms();
    let saved = {
        let name = name.clone();
        blocking(move || {
            Ok(mapping_views::put(
                &state.store,
                &user,
                &name,
                &body.view,
                now,
            )?)
        })
        .await?
    };
    Ok(Json(saved_json(&name, &saved)))
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Viewer)?;
    let user = person(&caller)?;
    let what = name.clone();
    let removed = blocking(move || Ok(mapping_views::delete(&state.store, &user, &name)?)).await?;
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "no saved mapping view named {what:?}"
        )))
    }
}
