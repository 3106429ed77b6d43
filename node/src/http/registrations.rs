//! Deal registration: `POST /registrations` (a partner registers with a vendor partner),
//! `GET /registrations[/{id}]`, `PATCH /registrations/{id}` (the partner, while pending),
//! `POST /registrations/{id}/approve|reject` (the vendor only).
//!
//! The request bodies are read here; the domain (`domain::registrations`) takes typed inputs.

use super::query::{query_params, Cursor, Params, Takes, CURSOR_DOC, LIMIT, LIMIT_DOC};
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
use serde_json::{json, Map, Value};

/// The body of `POST /registrations`, named as the OpenAPI document and serde's messages name
/// it (`expected struct RegistrationInput`).
mod body {
    use serde::Deserialize;
    use serde_json::Value;

    /// What a partner registers: [`registrations::RegistrationInput`](super::RegistrationInput)
    /// as the request gives it.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RegistrationInput {
        /// The vendor partner: node id or unique partner name.
        vendor: String,
        account_name: String,
        account_domain: String,
        /// A decimal string or a JSON number (`"1200.50"`, `1200.5`), as a change takes it.
        #[serde(default, deserialize_with = "text_or_number")]
        amount: Option<String>,
        currency: Option<String>,
        close_date: Option<String>,
        #[serde(default)]
        products: Vec<String>,
        notes: Option<String>,
        /// This node's role towards the vendor (default reseller).
        role: Option<String>,
    }

    impl From<RegistrationInput> for super::RegistrationInput {
        fn from(b: RegistrationInput) -> Self {
            super::RegistrationInput {
                vendor: b.vendor,
                account_name: b.account_name,
                account_domain: b.account_domain,
                amount: b.amount,
                currency: b.currency,
                close_date: b.close_date,
                products: b.products,
                notes: b.notes,
                role: b.role,
            }
        }
    }

    /// A JSON string or number as text (`null` and absent are `None`).
    fn text_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(serde::de::Error::custom(format!(
                "must be a string or a number, not {other}"
            ))),
        }
    }
}

/// The registration `id` names: its full id or a unique prefix.
fn parse_id(state: &AppState, id: &str) -> Result<DealId, ApiError> {
    Ok(state.network.deals.resolve_id(id, true)?)
}

pub async fn submit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<body::RegistrationInput>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Manager)?;
    let Json(input) = body?;
    let input = RegistrationInput::from(input);
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
        cursor: Option<String> = Takes::Cursor(Cursor::AtDeal), CURSOR_DOC;
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
    let rid = parse_id(&state, &id)?;
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
    let rid = parse_id(&state, &id)?;
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
    let rid = parse_id(&state, &id)?;
    let Json(body) = body?;
    let deals = state.network.deals.clone();
    let view =
        blocking(move || Ok(registrations::reject(&deals, rid, &body.reason, now_ms())?)).await?;
    state.network.handle.sync(vec![rid]).await?;
    Ok(Json(view))
}

/// `POST /registrations/{id}/revoke`: `{"reason"}` — the vendor ends an approved registration's
/// protection; the partner sees "revoked by Vendorco: reason".
pub async fn revoke(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<RejectBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manager)?;
    let rid = parse_id(&state, &id)?;
    let Json(body) = body?;
    let deals = state.network.deals.clone();
    let view =
        blocking(move || Ok(registrations::revoke(&deals, rid, &body.reason, now_ms())?)).await?;
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
    let rid = parse_id(&state, &id)?;
    let Json(body) = body?;
    let Value::Object(body) = body else {
        return Err(ApiError::unprocessable(
            "a registration change is a JSON object",
            vec![],
        ));
    };
    let change = registration_change(&body);
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

/// Reads a PATCH body key by key, so a value of the wrong type is named together with every
/// other problem of the request (one deserialization error would hide the rest): the problems
/// found here travel in the change, and the domain reports them with the values' own.
fn registration_change(body: &Map<String, Value>) -> RegistrationChange {
    let mut change = RegistrationChange::default();
    let mut problems = Vec::new();
    let text = |problems: &mut Vec<(String, String)>, field: &str, value: &Value| match value {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s.clone())),
        Value::Number(n) if field == "amount" => Some(Some(n.to_string())),
        other => {
            problems.push((
                field.to_string(),
                format!("must be a string or null, not {other}"),
            ));
            None
        }
    };
    for (key, value) in body {
        match key.as_str() {
            "account_name" => change.account_name = text(&mut problems, key, value),
            "amount" => change.amount = text(&mut problems, key, value),
            "currency" => change.currency = text(&mut problems, key, value),
            "close_date" => change.close_date = text(&mut problems, key, value),
            "products" => {
                change.products = match value {
                    Value::Null => Some(None),
                    Value::Array(items) if items.iter().all(Value::is_string) => Some(Some(
                        items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                    )),
                    other => {
                        problems.push((
                            "products".into(),
                            format!("must be a list of strings or null, not {other}"),
                        ));
                        None
                    }
                }
            }
            "account_domain" => change.account_domain = true,
            "vendor" => change.vendor = true,
            "notes" => change.notes = true,
            other => problems.push((
                other.to_string(),
                "is not a field of a registration change (account_name, amount, currency, close_date, products)".into(),
            )),
        }
    }
    change.problems = problems;
    change
}
