//! Announcements and what a partner sees of the program: `GET,POST /announcements` (list sent
//! and received; send to an audience), `POST /announcements/{id}/read` (the partner's read
//! receipt), `PUT /partners/{id}/region` (the `region:R` audience), `GET /program/standing`
//! (the standings vendors sent this node).

use super::query::{query_params, Params, Takes};
use super::{blocking, ApiError, AppState, Caller};
use crate::clock::now_ms;
use crate::domain::auth::Role;
use crate::domain::program::announcements::{self, NewAnnouncement};
use crate::domain::program::shared_standing;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// The values of `direction`.
const DIRECTIONS: &[&str] = &["sent", "received"];

query_params! {
    /// Filter of `GET /api/v1/announcements`.
    pub struct AnnouncementQuery {
        direction: Option<String> = Takes::OneOf(DIRECTIONS), "only the announcements this node sent, or only those it received";
    }
}

/// `GET /api/v1/announcements`: sent (with read counts) and received, newest first.
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(q): Params<AnnouncementQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    if let Some(d) = q.direction.as_deref().filter(|d| !DIRECTIONS.contains(d)) {
        return Err(super::query::bad(
            "direction",
            format!("'{d}' is not one of {}", DIRECTIONS.join(", ")),
        ));
    }
    let deals = state.network.deals.clone();
    let (items, unread) = blocking(move || {
        let items = announcements::list(&deals, q.direction.as_deref())?;
        Ok((items, announcements::unread(&deals)))
    })
    .await?;
    Ok(Json(
        json!({"items": items, "unread": unread, "next_cursor": null}),
    ))
}

/// `POST /api/v1/announcements`: sends one to the partners its audience selects (manager).
pub async fn announce(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<NewAnnouncement>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Manager)?;
    let Json(body) = body?;
    let deals = state.network.deals.clone();
    let (item, docs) =
        blocking(move || Ok(announcements::announce(&deals, &body, now_ms())?)).await?;
    state.network.handle.sync(docs).await?;
    Ok((StatusCode::CREATED, Json(item)))
}

/// `POST /api/v1/announcements/{id}/read`: marks a received announcement read; the signed
/// step is the vendor's read receipt.
pub async fn read(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let deals = state.network.deals.clone();
    let (item, doc) = blocking(move || {
        let (item, stepped) = announcements::mark_read(&deals, &id, now_ms())?;
        Ok((item, stepped.then_some(id)))
    })
    .await?;
    if let Some(doc) = doc.and_then(|d| protocol::deal::DealId::parse(d.trim()).ok()) {
        state.network.handle.sync(vec![doc]).await?;
    }
    Ok(Json(item))
}

/// `PUT /partners/{id}/region`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionBody {
    /// The region; `null` or blank clears it.
    region: Option<String>,
}

/// `PUT /api/v1/partners/{id}/region`: sets or clears a partner's region (admin).
pub async fn set_region(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<RegionBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let Json(body) = body?;
    blocking(move || {
        let partner = crate::domain::partners::resolve(&state.store, &id)
            .map_err(|e| ApiError::not_found(e.to_string()))?;
        let region =
            announcements::set_region(&state.store, &partner, body.region.as_deref(), now_ms())?;
        Ok(Json(json!({"partner": partner.id, "region": region})))
    })
    .await
}

/// `GET /api/v1/program/standing`: this node's own standing in each vendor's program, as the
/// vendors sent it.
pub async fn standing(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let deals = state.network.deals.clone();
    let items = blocking(move || Ok(shared_standing::received(&deals))).await?;
    Ok(Json(json!({"items": items, "next_cursor": null})))
}
