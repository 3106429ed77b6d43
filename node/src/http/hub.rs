//! Hub interchange routes (docs/hubs.md): `POST /hub/{hub}/import`, `GET
//! /hub/{hub}/opportunities/{id}`, the hub invitations of the inbox (`GET /hub/invitations`,
//! `POST /hub/invitations/{id}/accept|decline`), and the CSV export back to a CRM (`GET
//! /export/opportunities?format=salesforce|hubspot`).

use super::query::{query_params, Params, Takes};
use super::{blocking, ApiError, AppState, Caller};
use crate::clock::now_ms;
use crate::domain::auth::Role;
use crate::domain::crm_export::{self, CrmFormat};
use crate::domain::deals::RecordWrite;
use crate::domain::hub::{self, invitations, Hub};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// Largest hub file, in bytes (some thousands of opportunities).
pub const HUB_BODY_BYTES_MAX: usize = 32 * 1024 * 1024;

fn hub_of(name: &str) -> Result<Hub, ApiError> {
    Hub::parse(name).map_err(|_| ApiError::not_found(format!("no hub '{name}' (ace or ms)")))
}

/// `POST /hub/{hub}/import`: one object or an array, all or nothing.
pub async fn import(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manager)?;
    let hub = hub_of(&name)?;
    let Json(document) = body?;
    if !(document.is_object() || document.is_array()) {
        return Err(ApiError::bad_request(
            "the body must be a JSON object (one item) or an array of them",
        ));
    }
    if document.as_array().is_some_and(Vec::is_empty) {
        return Err(ApiError::unprocessable(
            "the file holds no items; nothing was imported",
            vec![],
        ));
    }
    let mapped = hub::read(hub, &document)
        .map_err(|problems| ApiError::from(hub::write::invalid(problems)))?;
    let deals = state.network.deals.clone();
    let (items, changed) = blocking(move || {
        deals
            .write_records(|store| {
                let (items, matched) = hub::write::import(store, hub, mapped, now_ms())?;
                Ok::<_, crate::domain::error::DomainError>((items, RecordWrite::Bulk { matched }))
            })
            .map_err(ApiError::from)
    })
    .await?;
    let _ = state.network.handle.sync(changed).await;
    Ok(Json(json!({"items": items})))
}

/// `GET /hub/{hub}/opportunities/{id}`: the opportunity as the hub's JSON.
pub async fn export(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let hub = hub_of(&name)?;
    let store = state.store.clone();
    let value =
        blocking(move || hub::write::export(&store, hub, &id).map_err(ApiError::from)).await?;
    Ok(Json(value))
}

query_params! {
    /// `GET /hub/invitations?status=invited`.
    pub struct InvitationQuery {
        status: Option<String> = Takes::OneOf(&invitations::STATUSES),
            "Only invitations in this state";
    }
}

/// `GET /hub/invitations`: invitations from the hubs, newest first.
pub async fn list_invitations(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(q): Params<InvitationQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    if let Some(s) = &q.status {
        if !invitations::STATUSES.contains(&s.as_str()) {
            return Err(super::query::bad(
                "status",
                format!("'{s}' is not one of {}", invitations::STATUSES.join(", ")),
            ));
        }
    }
    let store = state.store.clone();
    let items = blocking(move || {
        Ok(invitations::list(&store, q.status.as_deref())?
            .iter()
            .map(invitations::Invitation::to_json)
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

async fn answer(
    state: AppState,
    caller: Caller,
    id: String,
    accept: bool,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manager)?;
    let deals = state.network.deals.clone();
    let (inv, changed) = blocking(move || {
        deals
            .write_records(|store| {
                let (inv, matched) = invitations::answer(store, &id, accept, now_ms())?;
                Ok::<_, crate::domain::error::DomainError>((inv, RecordWrite::Bulk { matched }))
            })
            .map_err(ApiError::from)
    })
    .await?;
    let _ = state.network.handle.sync(changed).await;
    Ok(Json(inv.to_json()))
}

/// `POST /hub/invitations/{id}/accept`.
pub async fn accept(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    answer(state, caller, id, true).await
}

/// `POST /hub/invitations/{id}/decline`.
pub async fn decline(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    answer(state, caller, id, false).await
}

query_params! {
    /// `GET /export/opportunities?format=salesforce`.
    pub struct ExportQuery {
        format: Option<String> = Takes::OneOf(&CrmFormat::NAMES),
            "The CRM whose import columns to write (default salesforce)";
    }
}

/// `GET /export/opportunities`: every opportunity with its co-sell columns as CSV.
pub async fn export_csv(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(q): Params<ExportQuery>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let format = match q.format.as_deref() {
        None => CrmFormat::Salesforce,
        Some(f) => CrmFormat::parse(f).map_err(|why| super::query::bad("format", why))?,
    };
    let deals = state.network.deals.clone();
    let store = state.store.clone();
    let bytes = blocking(move || {
        let mut out = Vec::new();
        crm_export::write_csv(&deals, &store, format, &mut out)?;
        Ok(out)
    })
    .await?;
    let name = match format {
        CrmFormat::Salesforce => "opportunities-salesforce.csv",
        CrmFormat::Hubspot => "opportunities-hubspot.csv",
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
