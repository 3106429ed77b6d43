//! Mutual account plans: `GET,POST /plans` (list; open a plan for an account with partners),
//! `GET /plans/{id}`, and each company's own items: `POST /plans/{id}/goals`, `POST
//! /plans/{id}/stakeholders`, `POST /plans/{id}/stakeholders/remove`, `POST /plans/{id}/tasks`,
//! `POST /plans/{id}/tasks/done`, `POST /plans/{id}/notes`. Item ids hold a `/`, so routes
//! that name an item take it in the body.

use super::declared::{read, step};
use super::{blocking, ApiError, AppState, Caller};
use crate::clock::now_ms;
use crate::domain::auth::Role;
use crate::domain::plans::{self, Goal};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// `POST /plans`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanBody {
    account_domain: String,
    account_name: Option<String>,
    with: Vec<String>,
}

/// `POST /plans/{id}/goals`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoalBody {
    title: String,
    amount: Option<String>,
    currency: Option<String>,
    due: Option<String>,
}

/// `POST /plans/{id}/stakeholders`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StakeholderBody {
    name: String,
    role: Option<String>,
    company: Option<String>,
}

/// `POST /plans/{id}/stakeholders/remove`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StakeholderRef {
    stakeholder: String,
}

/// `POST /plans/{id}/tasks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskBody {
    title: String,
    owner: Option<String>,
    due: String,
}

/// `POST /plans/{id}/tasks/done`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskRef {
    task: String,
}

/// `POST /plans/{id}/notes`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    text: String,
}

pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let deals = state.network.deals.clone();
    let items = blocking(move || Ok(plans::list(&deals, now_ms()))).await?;
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<PlanBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Manager)?;
    let Json(b) = body?;
    let deals = state.network.deals.clone();
    let (id, view) = blocking(move || {
        let now = now_ms();
        let id = plans::create(
            &deals,
            &b.account_domain,
            b.account_name.as_deref(),
            &b.with,
            now,
        )?;
        Ok((id, plans::get(&deals, id, now)?))
    })
    .await?;
    state.network.handle.sync(vec![id]).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    read(state, caller, plans::resolve, id, plans::get)
        .await
        .map(Json)
}

pub async fn add_goal(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<GoalBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(b) = body?;
    let goal = Goal {
        title: b.title,
        amount: b.amount,
        currency: b.currency,
        due: b.due,
    };
    step(state, caller, plans::resolve, id, move |d, id, now| {
        plans::add_goal(d, id, &goal, now)
    })
    .await
    .map(Json)
}

pub async fn add_stakeholder(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<StakeholderBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(b) = body?;
    step(state, caller, plans::resolve, id, move |d, id, now| {
        plans::add_stakeholder(d, id, &b.name, b.role.as_deref(), b.company.as_deref(), now)
    })
    .await
    .map(Json)
}

pub async fn remove_stakeholder(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<StakeholderRef>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(b) = body?;
    step(state, caller, plans::resolve, id, move |d, id, now| {
        plans::remove_stakeholder(d, id, &b.stakeholder, now)
    })
    .await
    .map(Json)
}

pub async fn add_task(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<TaskBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(b) = body?;
    let (plan, task) = step(state, caller, plans::resolve, id, move |d, id, now| {
        plans::add_task(d, id, &b.title, b.owner.as_deref(), &b.due, now)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"task": task, "plan": plan})),
    ))
}

pub async fn complete_task(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<TaskRef>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(b) = body?;
    step(state, caller, plans::resolve, id, move |d, id, now| {
        plans::complete_task(d, id, &b.task, now)
    })
    .await
    .map(Json)
}

pub async fn add_note(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<NoteBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(b) = body?;
    step(state, caller, plans::resolve, id, move |d, id, now| {
        plans::note(d, id, &b.text, now)
    })
    .await
    .map(Json)
}
