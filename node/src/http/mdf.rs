//! Market development funds: `GET,POST /mdf` (list; a partner proposes), `GET /mdf/{id}`,
//! `POST /mdf/{id}/approve|reject|ask-changes|reimburse` (the vendor), `POST
//! /mdf/{id}/revise|claim` (the partner), `GET /mdf/{id}/proof` (the attachment's bytes),
//! `GET,POST /mdf/allocations` (the vendor's funds per partner and quarter, with balances).
//!
//! The request bodies are read here; the domain (`domain::mdf`) takes typed inputs.

use super::query::{query_params, Params, Takes};
use super::{blocking, ApiError, AppState, Caller};
use crate::clock::now_ms;
use crate::domain::auth::Role;
use crate::domain::mdf::{self, Proposal};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use protocol::deal::DealId;
use serde::Deserialize;
use serde_json::{json, Value};

/// `POST /mdf` and `POST /mdf/{id}/revise`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MdfProposal {
    /// The vendor partner (node id or unique name); a revision may omit it.
    #[serde(default)]
    vendor: String,
    activity: String,
    activity_type: Option<String>,
    amount: String,
    currency: String,
    start: String,
    end: String,
    period: Option<String>,
    expected_leads: Option<String>,
    expected_pipeline: Option<String>,
}

impl From<MdfProposal> for Proposal {
    fn from(b: MdfProposal) -> Self {
        Proposal {
            vendor: b.vendor,
            activity: b.activity,
            activity_type: b.activity_type,
            amount: b.amount,
            currency: b.currency,
            start: b.start,
            end: b.end,
            period: b.period,
            expected_leads: b.expected_leads,
            expected_pipeline: b.expected_pipeline,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    amount: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimBody {
    proof_name: String,
    proof_base64: String,
    results: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReimburseBody {
    amount: String,
    reference: String,
    paid_on: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocationBody {
    partner: String,
    period: String,
    amount: String,
    currency: String,
}

fn parse_id(state: &AppState, id: &str) -> Result<DealId, ApiError> {
    Ok(mdf::resolve(&state.network.deals, id)?)
}

pub async fn propose(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<MdfProposal>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Manager)?;
    let Json(body) = body?;
    let proposal = Proposal::from(body);
    let deals = state.network.deals.clone();
    let (id, view) = blocking(move || {
        let id = mdf::propose(&deals, &proposal, now_ms())?;
        Ok((id, mdf::get(&deals, id)?.unwrap_or(Value::Null)))
    })
    .await?;
    state.network.handle.sync(vec![id]).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Every status an MDF request may have (the `mdf` declaration's states).
const MDF_STATUSES: &[&str] = &[
    "proposed",
    "changes_requested",
    "approved",
    "rejected",
    "claimed",
    "reimbursed",
];

query_params! {
    /// Filter of `GET /api/v1/mdf`.
    pub struct MdfQuery {
        status: Option<String> = Takes::OneOf(MDF_STATUSES), "only requests in this status";
    }
}

pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(q): Params<MdfQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    if let Some(s) = &q.status {
        if !MDF_STATUSES.contains(&s.as_str()) {
            return Err(super::query::bad(
                "status",
                format!("'{s}' is not one of {}", MDF_STATUSES.join(", ")),
            ));
        }
    }
    let deals = state.network.deals.clone();
    let items = blocking(move || Ok(mdf::list(&deals, q.status.as_deref()))).await?;
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let rid = parse_id(&state, &id)?;
    let deals = state.network.deals.clone();
    let view = blocking(move || Ok(mdf::get(&deals, rid)?)).await?;
    view.map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no MDF request with id {id}")))
}

/// Runs one step on request `id` and syncs it to the other side.
async fn step(
    state: AppState,
    caller: Caller,
    id: String,
    f: impl FnOnce(
            &crate::domain::deals::Deals,
            DealId,
            u64,
        ) -> Result<Value, crate::domain::error::DomainError>
        + Send
        + 'static,
) -> Result<Json<Value>, ApiError> {
    super::declared::step(state, caller, mdf::resolve, id, f)
        .await
        .map(Json)
}

pub async fn approve(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<ApproveBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    step(state, caller, id, move |d, id, now| {
        mdf::approve(d, id, body.amount.as_deref(), now)
    })
    .await
}

pub async fn reject(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<ReasonBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    step(state, caller, id, move |d, id, now| {
        mdf::reject(d, id, &body.reason, now)
    })
    .await
}

pub async fn ask_changes(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<ReasonBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    step(state, caller, id, move |d, id, now| {
        mdf::ask_changes(d, id, &body.reason, now)
    })
    .await
}

pub async fn revise(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<MdfProposal>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    let proposal = Proposal::from(body);
    step(state, caller, id, move |d, id, now| {
        mdf::revise(d, id, &proposal, now)
    })
    .await
}

pub async fn claim(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<ClaimBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body.proof_base64.trim())
        .map_err(|e| {
            ApiError::unprocessable(
                format!("proof_base64: not base64 ({e})"),
                vec![json!({"field": "proof_base64", "message": format!("not base64 ({e})")})],
            )
        })?;
    step(state, caller, id, move |d, id, now| {
        mdf::claim(d, id, &body.proof_name, bytes, body.results.as_deref(), now)
    })
    .await
}

pub async fn reimburse(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<ReimburseBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    step(state, caller, id, move |d, id, now| {
        mdf::reimburse(
            d,
            id,
            &body.amount,
            &body.reference,
            body.paid_on.as_deref(),
            now,
        )
    })
    .await
}

/// `GET /mdf/{id}/proof`: the attachment's bytes, with its name and SHA-256 in headers.
pub async fn proof(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    let rid = parse_id(&state, &id)?;
    let deals = state.network.deals.clone();
    let (name, sha, bytes) = blocking(move || Ok(mdf::proof(&deals, rid)?)).await?;
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{safe}\""),
            ),
            (header::HeaderName::from_static("x-content-sha256"), sha),
        ],
        bytes,
    )
        .into_response())
}

pub async fn allocations(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let deals = state.network.deals.clone();
    let items = blocking(move || Ok(mdf::allocations(&deals)?)).await?;
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

pub async fn allocate(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<AllocationBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manager)?;
    let Json(b) = body?;
    let deals = state.network.deals.clone();
    let view = blocking(move || {
        Ok(mdf::allocate(
            &deals,
            &b.partner,
            &b.period,
            &b.amount,
            &b.currency,
            now_ms(),
        )?)
    })
    .await?;
    Ok(Json(view))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_status_filter_takes_exactly_the_declared_states() {
        assert_eq!(super::MDF_STATUSES, protocol::kinds::mdf::MDF.states);
    }
}
