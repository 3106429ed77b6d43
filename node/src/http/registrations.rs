//! Deal registration: `POST /registrations` (a partner registers with a vendor partner),
//! `GET /registrations[/{id}]`, `PATCH /registrations/{id}` (the partner, while pending),
//! `POST /registrations/{id}/approve|reject` (the vendor only).

use super::query::{query_params, Params, Takes, CURSOR_DOC, LIMIT, LIMIT_DOC};
use super::{blocking, ApiError, AppState, Caller};
use crate::clock::now_ms;
use crate::domain::auth::Role;
use crate::domain::registrations::{self, RegistrationChange, RegistrationInput};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::Json;
use protocol::deal::DealId;
use serde::Deserialize;
use serde_json::{json, Value};

fn parse_id(id: &str) -> Result<DealId, ApiError> {
    DealId::parse(id.trim())
        .map_err(|_| ApiError::not_found(format!("no registration with id {id}")))
}

pub async fn submit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<RegistrationInput>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Manager)?;
    let Json(input) = body?;
    let deals = state.network.deals.clone();
    let currency = state.default_currency;
    let (id, view) = blocking(move || {
        let now = now_ms();
        let id = registrations::submit(&deals, &input, currency, now)?;
        Ok((
            id,
            registrations::get(&deals, id, now)?.unwrap_or(Value::Null),
        ))
    })
    .await?;
    state.network.handle.sync(vec![id]).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

query_params! {
    /// Paging of `GET /api/v1/registrations`.
    pub struct ListQuery {
        limit: Option<usize> = LIMIT, LIMIT_DOC;
        cursor: Option<String> = Takes::Text, CURSOR_DOC;
    }
}

pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(q): Params<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let limit = super::records::page_limit(q.limit)?;
    let deals = state.network.deals.clone();
    let (items, next) = blocking(move || {
        registrations::page(&deals, q.cursor.as_deref(), limit, now_ms()).map_err(|e| match e {
            registrations::PageError::Cursor(_) => ApiError::bad_request(e.to_string()),
            registrations::PageError::Internal(e) => e.into(),
        })
    })
    .await?;
    Ok(Json(json!({"items": items, "next_cursor": next})))
}

pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let rid = parse_id(&id)?;
    let deals = state.network.deals.clone();
    let view = blocking(move || Ok(registrations::get(&deals, rid, now_ms())?)).await?;
    view.map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no registration with id {id}")))
}

pub async fn approve(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manager)?;
    let rid = parse_id(&id)?;
    let deals = state.network.deals.clone();
    let view = blocking(move || Ok(registrations::approve(&deals, rid, now_ms())?)).await?;
    state.network.handle.sync(vec![rid]).await?;
    Ok(Json(view))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    reason: String,
}

pub async fn reject(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<RejectBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manager)?;
    let rid = parse_id(&id)?;
    let Json(body) = body?;
    let deals = state.network.deals.clone();
    let view =
        blocking(move || Ok(registrations::reject(&deals, rid, &body.reason, now_ms())?)).await?;
    state.network.handle.sync(vec![rid]).await?;
    Ok(Json(view))
}

/// `PATCH /registrations/{id}`: the partner that made a pending registration changes its
/// account name, amount, currency, close date or products (null clears).
pub async fn change(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manager)?;
    let rid = parse_id(&id)?;
    let Json(body) = body?;
    let Value::Object(body) = body else {
        return Err(ApiError::unprocessable(
            "a registration change is a JSON object",
            vec![],
        ));
    };
    let change = RegistrationChange::from_json(&body);
    let deals = state.network.deals.clone();
    let currency = state.default_currency;
    let view = blocking(move || {
        Ok(registrations::change(
            &deals,
            rid,
            &change,
            currency,
            now_ms(),
        )?)
    })
    .await?;
    state.network.handle.sync(vec![rid]).await?;
    Ok(Json(view))
}
