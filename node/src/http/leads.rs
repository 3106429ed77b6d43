//! Lead distribution: `GET,POST /leads` (list; add leads as JSON), `POST /leads/import` (a CSV
//! file), `GET,PUT /leads/rules` and `POST /leads/rules/check` (the routing rules, TOML),
//! `POST /leads/route` (a routing pass, `dry_run=true` to preview), `GET /leads/{id}`, `POST
//! /leads/{id}/accept|reject` (the partner a lead was offered to), `POST /leads/{id}/convert`
//! (the partner that accepted it: an opportunity, and with `share=true` a deal with the vendor).

use super::policy::text_body;
use super::query::{query_params, Params, Takes};
use super::{blocking, ApiError, AppState, Caller};
use crate::clock::now_ms;
use crate::domain::auth::Role;
use crate::domain::leads::{self, NewLead};
use axum::extract::rejection::{JsonRejection, StringRejection};
use axum::extract::{Extension, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// `POST /leads`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadsBody {
    leads: Vec<NewLead>,
}

/// `POST /leads/{id}/reject`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadRejectBody {
    reason: Option<String>,
}

/// Every status a lead may have in a listing.
const LEAD_STATUSES: &[&str] = &[
    "new",
    "unroutable",
    "offered",
    "accepted",
    "rejected",
    "withdrawn",
];

query_params! {
    /// Filter of `GET /api/v1/leads`.
    pub struct LeadQuery {
        status: Option<String> = Takes::OneOf(LEAD_STATUSES), "only leads in this status";
    }
}

query_params! {
    /// `POST /api/v1/leads/{id}/convert`.
    pub struct ConvertQuery {
        share: Option<String> = Takes::OneOf(&["true", "false"]), "true: also share the opportunity with the vendor as a deal whose attribution names the vendor as the source";
    }
}

query_params! {
    /// `POST /api/v1/leads/route`.
    pub struct RouteQuery {
        dry_run: Option<String> = Takes::OneOf(&["true", "false"]), "true: only say where the leads would go";
    }
}

/// A text body (CSV, TOML) sent as JSON or as a form is refused: 415.
fn refuse_json_or_form(headers: &HeaderMap, what: &str) -> Result<(), ApiError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media.contains("json")
        || media.starts_with("multipart/")
        || media.contains("form-urlencoded")
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("a {media} body is not read: send the {what} as the request body"),
        ));
    }
    Ok(())
}

pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(q): Params<LeadQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    if let Some(s) = &q.status {
        if !LEAD_STATUSES.contains(&s.as_str()) {
            return Err(super::query::bad(
                "status",
                format!("'{s}' is not one of {}", LEAD_STATUSES.join(", ")),
            ));
        }
    }
    let deals = state.network.deals.clone();
    let items = blocking(move || Ok(leads::list(&deals, q.status.as_deref())?)).await?;
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

pub async fn add(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<LeadsBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Manager)?;
    let Json(body) = body?;
    let deals = state.network.deals.clone();
    let ids = blocking(move || Ok(leads::add(&deals, body.leads, "api", now_ms())?)).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"imported": ids.len(), "ids": ids})),
    ))
}

pub async fn import(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<String, StringRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manager)?;
    refuse_json_or_form(&headers, "CSV file")?;
    let text = text_body(body)?;
    let deals = state.network.deals.clone();
    let ids = blocking(move || {
        let rows = leads::parse_csv(text.as_bytes())?;
        Ok(leads::add(&deals, rows, "csv", now_ms())?)
    })
    .await?;
    Ok(Json(json!({"imported": ids.len(), "ids": ids})))
}

pub async fn rules(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let deals = state.network.deals.clone();
    blocking(move || {
        let Some(text) = leads::rules(&deals)? else {
            return Err(crate::domain::error::DomainError::NotFound(
                "no lead routing rules are set".into(),
            )
            .into());
        };
        let (rules, records) = leads::check_rules(&deals, &text)?;
        let mut out = leads::rules_summary(&rules, &records);
        out["text"] = json!(text);
        Ok(Json(out))
    })
    .await
}

async fn rules_write(
    state: AppState,
    caller: Caller,
    headers: HeaderMap,
    body: Result<String, StringRejection>,
    set: bool,
) -> Result<Json<Value>, ApiError> {
    caller.require(if set { Role::Admin } else { Role::Viewer })?;
    refuse_json_or_form(&headers, "rules file (TOML)")?;
    let text = text_body(body)?;
    let deals = state.network.deals.clone();
    blocking(move || {
        let answer = if set {
            leads::set_rules(&deals, &text, now_ms())?
        } else {
            let (rules, records) = leads::check_rules(&deals, &text)?;
            leads::rules_summary(&rules, &records)
        };
        Ok(Json(answer))
    })
    .await
}

pub async fn set_rules(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<String, StringRejection>,
) -> Result<Json<Value>, ApiError> {
    rules_write(state, caller, headers, body, true).await
}

pub async fn check_rules(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<String, StringRejection>,
) -> Result<Json<Value>, ApiError> {
    rules_write(state, caller, headers, body, false).await
}

pub async fn route(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(q): Params<RouteQuery>,
) -> Result<Json<Value>, ApiError> {
    let dry_run = match q.dry_run.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(super::query::bad(
                "dry_run",
                format!("'{other}' is not true or false"),
            ))
        }
    };
    caller.require(if dry_run { Role::Viewer } else { Role::Manager })?;
    let deals = state.network.deals.clone();
    let routed = blocking(move || Ok(leads::route(&deals, dry_run, false, now_ms())?)).await?;
    if !routed.changed.is_empty() {
        state.network.handle.sync(routed.changed).await?;
    }
    Ok(Json(routed.report))
}

pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let deals = state.network.deals.clone();
    blocking(move || Ok(Json(leads::get(&deals, &id)?))).await
}

async fn answer(
    state: AppState,
    caller: Caller,
    id: String,
    reason: Option<String>,
    accept: bool,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manager)?;
    let deals = state.network.deals.clone();
    let (doc, view) = blocking(move || {
        let doc = leads::resolve_offer(&deals, &id)?;
        let now = now_ms();
        let view = if accept {
            leads::accept(&deals, doc, now)?
        } else {
            leads::reject(&deals, doc, reason.as_deref(), now)?
        };
        Ok((doc, view))
    })
    .await?;
    state.network.handle.sync(vec![doc]).await?;
    Ok(Json(view))
}

pub async fn accept(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    answer(state, caller, id, None, true).await
}

pub async fn reject(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<LeadRejectBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    answer(state, caller, id, body.reason, false).await
}

pub async fn convert(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Params(q): Params<ConvertQuery>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let share = match q.share.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(super::query::bad(
                "share",
                format!("'{other}' is not true or false"),
            ))
        }
    };
    caller.require(Role::Manager)?;
    let deals = state.network.deals.clone();
    let converted = blocking(move || {
        let doc = leads::resolve_offer(&deals, &id)?;
        Ok(leads::convert(&deals, doc, share, now_ms())?)
    })
    .await?;
    if !converted.changed.is_empty() {
        state.network.handle.sync(converted.changed).await?;
    }
    Ok((StatusCode::CREATED, Json(converted.view)))
}
