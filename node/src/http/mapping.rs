//! Account mapping: `/populations`, `/populations/{name}`, `/partners/{id}/map`,
//! `/partners/{id}/map/propose` (share an opportunity on an overlapping account as a deal).

use super::{blocking, ApiError, AppState, Caller};
use crate::clock::now_ms;
use crate::domain::auth::Role;
use crate::domain::mapping::{self, PopulationDef};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

pub async fn list_populations(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let items = blocking(move || Ok(mapping::populations(&state.store)?)).await?;
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

pub async fn put_population(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let Json(body) = body?;
    let Value::Object(mut fields) = body else {
        return Err(ApiError::unprocessable(
            "a population is a JSON object",
            vec![],
        ));
    };
    // The path names the population; a body may repeat the name, not give another.
    let mut problems = Vec::new();
    match fields.get("name") {
        Some(Value::String(given)) if *given == name => {}
        None => {}
        Some(other) => problems.push(json!({"field": "name",
            "message": format!("is the path's ('{name}'), not {other}")})),
    }
    const KEYS: &[&str] = &[
        "name",
        "statuses",
        "industries",
        "countries",
        "tags",
        "stages",
    ];
    for key in fields.keys().filter(|k| !KEYS.contains(&k.as_str())) {
        problems.push(json!({"field": key,
            "message": format!("unknown field (expected one of {})", KEYS.join(", "))}));
    }
    if !problems.is_empty() {
        return Err(ApiError::unprocessable("invalid population", problems));
    }
    fields.insert("name".into(), Value::String(name));
    let def: PopulationDef = serde_json::from_value(Value::Object(fields))
        .map_err(|e| ApiError::unprocessable(format!("invalid population: {e}"), vec![]))?;
    let def = blocking(move || {
        mapping::set_population(&state.store, def, now_ms())
            .map_err(|e| ApiError::unprocessable(e.to_string(), vec![]))
    })
    .await?;
    Ok(Json(json!(def)))
}

pub async fn delete_population(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let removed = blocking(move || Ok(mapping::delete_population(&state.store, &name)?)).await?;
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no custom population with that name"))
    }
}

fn resolve(state: &AppState, id: &str) -> Result<crate::store::shared::PartnerRecord, ApiError> {
    crate::domain::partners::resolve(&state.store, id)
        .map_err(|e| ApiError::not_found(e.to_string()))
}

fn matrix_json(stored: mapping::StoredMatrix) -> Value {
    let mut m = stored.matrix;
    if let Value::Object(o) = &mut m {
        o.insert("signature".into(), json!(stored.signature));
        o.insert("signer".into(), json!(stored.signer));
    }
    m
}

pub async fn run_map(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manager)?;
    let s = state.clone();
    let partner = blocking(move || resolve(&s, &id)).await?;
    if !partner.is_active() {
        return Err(ApiError::conflict(format!(
            "{} is not an active partner",
            partner.name
        )));
    }
    let stored = state.mapping.run(&partner.id).await?;
    Ok(Json(matrix_json(stored)))
}

pub async fn get_map(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let stored = blocking(move || {
        let partner = resolve(&state, &id)?;
        mapping::latest_matrix(&state.store, &partner.id)?.ok_or_else(|| {
            ApiError::not_found(format!(
                "no mapping with {} yet; POST to run one",
                partner.name
            ))
        })
    })
    .await?;
    Ok(Json(matrix_json(stored)))
}

/// What `POST /partners/{id}/map/propose` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposeBody {
    /// An account domain the latest matrix with the partner lists as an overlap.
    domain: String,
    /// Which of this node's open opportunities on that account (needed when there are several).
    opportunity_id: Option<String>,
}

/// Shares this node's open opportunity on an overlapping account with the partner, as
/// `POST /deals` would; refuses a domain that is not an overlap, an account without an open
/// opportunity, and (in `Deals::share`, as for `POST /deals`) an opportunity already shared
/// with that partner.
pub async fn propose(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<ProposeBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Manager)?;
    let Json(body) = body?;
    let s = state.clone();
    let (partner, opportunity) = blocking(move || {
        let partner = resolve(&s, &id)?;
        if !partner.is_active() {
            return Err(ApiError::conflict(format!(
                "{} is not an active partner",
                partner.name
            )));
        }
        let opportunity = mapping::opportunity_to_propose(
            &s.store,
            &partner,
            &body.domain,
            body.opportunity_id.as_deref(),
        )
        .map_err(|e| match e {
            mapping::ProposeError::NoMapping(m) => ApiError::not_found(m),
            mapping::ProposeError::Refused(m) => ApiError::unprocessable(m, vec![]),
            mapping::ProposeError::Internal(e) => ApiError::internal(e),
        })?;
        Ok((partner, opportunity))
    })
    .await?;
    let view = super::deals::share_opportunity(
        &state,
        opportunity,
        vec![partner.id],
        protocol::deal::Role::Vendor,
        None,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}
