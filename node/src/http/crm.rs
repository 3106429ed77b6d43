//! `/api/v1/crm`: the CRM connection (Salesforce or HubSpot). `GET /crm` is its status (any
//! role); `PUT /crm/connection` connects (admin: it takes a credential), `DELETE
//! /crm/connection` disconnects (admin), `POST /crm/sync` asks for a sync now (manager). The
//! credential goes in and never comes out: no answer, log line or audit entry holds it.

use super::{blocking, ApiError, AppState, Caller};
use crate::domain::auth::Role;
use crate::domain::crm::{ConnectRequest, Credentials, Secret, Vendor, WriteBack};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Largest credential accepted (an RSA-4096 PEM is about 3.3 KB).
pub const CREDENTIAL_CHARS_MAX: usize = 16_384;

/// How to sign in, as the API takes it.
#[derive(Debug, Deserialize)]
#[serde(tag = "flow", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthBody {
    /// Salesforce JWT bearer flow.
    Jwt {
        client_id: String,
        username: String,
        private_key: String,
    },
    /// Salesforce refresh-token flow.
    RefreshToken {
        client_id: String,
        #[serde(default)]
        client_secret: Option<String>,
        refresh_token: String,
    },
    /// HubSpot private app token.
    PrivateAppToken { token: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteBackBody {
    #[serde(default)]
    fields: BTreeMap<String, String>,
    #[serde(default)]
    activity: bool,
}

/// `PUT /crm/connection`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectBody {
    vendor: Vendor,
    #[serde(default)]
    base_url: Option<String>,
    auth: AuthBody,
    #[serde(default)]
    interval_secs: Option<u64>,
    #[serde(default)]
    fields: BTreeMap<String, String>,
    #[serde(default)]
    stages: BTreeMap<String, String>,
    #[serde(default)]
    write_back: Option<WriteBackBody>,
}

fn credential(field: &str, value: String) -> Result<Secret, ApiError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ApiError::unprocessable(
            format!("auth.{field}: is empty"),
            vec![serde_json::json!({"field": format!("auth.{field}"), "message": "is empty"})],
        ));
    }
    if trimmed.chars().count() > CREDENTIAL_CHARS_MAX {
        let message = format!("is longer than {CREDENTIAL_CHARS_MAX} characters");
        return Err(ApiError::unprocessable(
            format!("auth.{field}: {message}"),
            vec![serde_json::json!({"field": format!("auth.{field}"), "message": message})],
        ));
    }
    Ok(Secret::new(trimmed.to_string()))
}

fn credentials(auth: AuthBody) -> Result<Credentials, ApiError> {
    Ok(match auth {
        AuthBody::Jwt {
            client_id,
            username,
            private_key,
        } => Credentials::SalesforceJwt {
            client_id: credential("client_id", client_id)?.expose().to_string(),
            username: credential("username", username)?.expose().to_string(),
            private_key: credential("private_key", private_key)?,
        },
        AuthBody::RefreshToken {
            client_id,
            client_secret,
            refresh_token,
        } => Credentials::SalesforceRefresh {
            client_id: credential("client_id", client_id)?.expose().to_string(),
            client_secret: client_secret
                .filter(|s| !s.trim().is_empty())
                .map(|s| credential("client_secret", s))
                .transpose()?,
            refresh_token: credential("refresh_token", refresh_token)?,
        },
        AuthBody::PrivateAppToken { token } => Credentials::HubspotToken {
            token: credential("token", token)?,
        },
    })
}

pub async fn status(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let crm = state.crm.clone();
    Ok(Json(blocking(move || Ok(crm.status()?)).await?))
}

pub async fn connect(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<ConnectBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let Json(body) = body?;
    let request = ConnectRequest {
        vendor: body.vendor,
        base_url: body.base_url,
        credentials: credentials(body.auth)?,
        interval_secs: body.interval_secs,
        fields: body.fields,
        stages: body.stages,
        write_back: body
            .write_back
            .map(|w| WriteBack {
                fields: w.fields,
                activity: w.activity,
            })
            .unwrap_or_default(),
    };
    let crm = state.crm.clone();
    Ok(Json(blocking(move || Ok(crm.connect(request)?)).await?))
}

pub async fn disconnect(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let crm = state.crm.clone();
    blocking(move || Ok(crm.disconnect()?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn sync(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Manager)?;
    let crm = state.crm.clone();
    let status = blocking(move || {
        if !crm.request_sync()? {
            return Err(ApiError::not_found(
                "no CRM is connected; connect one first (`cosell crm connect salesforce|hubspot …`)",
            ));
        }
        Ok(crm.status()?)
    })
    .await?;
    Ok((StatusCode::ACCEPTED, Json(status)))
}

/// `CrmStatus` in `openapi.json`: exactly what [`status`] answers (a connection's public part,
/// never its secret).
pub fn status_schema() -> Value {
    let s = || serde_json::json!({"type": "string"});
    let ns = || serde_json::json!({"type": ["string", "null"]});
    let int = || serde_json::json!({"type": "integer", "minimum": 0});
    let map = || serde_json::json!({"type": "object", "additionalProperties": {"type": "string"}});
    serde_json::json!({
        "type": "object", "additionalProperties": false, "required": ["connected"],
        "properties": {
            "connected": {"type": "boolean"},
            "vendor": {"type": "string", "enum": ["salesforce", "hubspot"]},
            "connection": {"type": "object", "additionalProperties": false,
                "required": ["vendor", "base_url", "auth", "interval_secs", "fields", "stages", "write_back"],
                "properties": {
                    "vendor": {"type": "string", "enum": ["salesforce", "hubspot"]},
                    "base_url": s(),
                    "auth": {"type": "object", "additionalProperties": false, "required": ["flow"], "properties": {
                        "flow": {"type": "string", "enum": ["jwt", "refresh_token", "private_app_token"]},
                        "client_id": s(), "username": s()}},
                    "interval_secs": int(), "fields": map(), "stages": map(),
                    "write_back": {"type": "object", "additionalProperties": false, "required": ["fields", "activity"],
                        "properties": {"fields": map(), "activity": {"type": "boolean"}}},
                }},
            "connected_at": s(),
            "state": {"type": "string", "enum": ["idle", "syncing", "backing_off"]},
            "initial_load_done": {"type": "boolean"},
            "last_sync_at": ns(), "last_success_at": ns(), "next_run_at": ns(), "last_error": ns(),
            "counts": {"type": "object", "additionalProperties": false,
                "required": ["accounts", "opportunities", "deleted", "failed", "written_back"],
                "properties": {"accounts": int(), "opportunities": int(), "deleted": int(), "failed": int(), "written_back": int()}},
            "progress": {"type": ["object", "null"], "additionalProperties": false, "required": ["object", "done", "total"],
                "properties": {"object": {"type": "string", "enum": ["account", "opportunity"]}, "done": int(), "total": int()}},
            "failures": {"type": "array", "items": {"type": "object", "additionalProperties": false,
                "required": ["object", "crm_id", "field", "message", "at"],
                "properties": {"object": {"type": "string", "enum": ["account", "opportunity", "write_back"]},
                    "crm_id": s(), "field": s(), "message": s(), "at": s()}}},
        }
    })
}

/// `CrmConnectInput` in `openapi.json`: what [`connect`] takes.
pub fn connect_schema() -> Value {
    let secret = || serde_json::json!({"type": "string", "minLength": 1, "maxLength": CREDENTIAL_CHARS_MAX, "pattern": "\\S"});
    let names = || serde_json::json!({"type": "object", "additionalProperties": {"type": "string", "pattern": "^([A-Za-z0-9_]+(\\.[A-Za-z0-9_]+)*)?$", "maxLength": 120}});
    let facts: Vec<&str> = crate::domain::crm::FACTS.iter().map(|(f, _)| *f).collect();
    let mappable: Vec<String> = crate::domain::crm::fields::ACCOUNT_FIELDS
        .iter()
        .map(|f| format!("account.{f}"))
        .chain(
            crate::domain::crm::fields::OPPORTUNITY_FIELDS
                .iter()
                .map(|f| format!("opportunity.{f}")),
        )
        .collect();
    serde_json::json!({
        "type": "object", "additionalProperties": false, "required": ["vendor", "auth"],
        "description": "A Salesforce connection takes the jwt or refresh_token flow, a HubSpot one the private_app_token flow (else 422). The node signs in before it answers: a refused sign-in is 422 naming auth (an unreachable server: base_url) with the CRM's reason.",
        "properties": {
            "vendor": {"type": "string", "enum": ["salesforce", "hubspot"]},
            "base_url": {"type": ["string", "null"], "pattern": "^https?://[^/\\s]", "description": "Salesforce: the login server (default https://login.salesforce.com); HubSpot: the API server (default https://api.hubapi.com)"},
            "auth": {"oneOf": [
                {"type": "object", "additionalProperties": false, "required": ["flow", "client_id", "username", "private_key"],
                 "properties": {"flow": {"const": "jwt"}, "client_id": secret(), "username": secret(), "private_key": secret()}},
                {"type": "object", "additionalProperties": false, "required": ["flow", "client_id", "refresh_token"],
                 "properties": {"flow": {"const": "refresh_token"}, "client_id": secret(), "client_secret": {"type": ["string", "null"], "maxLength": CREDENTIAL_CHARS_MAX}, "refresh_token": secret()}},
                {"type": "object", "additionalProperties": false, "required": ["flow", "token"],
                 "properties": {"flow": {"const": "private_app_token"}, "token": secret()}},
            ]},
            "interval_secs": {"type": ["integer", "null"], "minimum": crate::domain::crm::config::INTERVAL_SECS_MIN, "description": "seconds between syncs (default 300)"},
            "fields": {"type": "object", "propertyNames": {"enum": mappable}, "additionalProperties": {"type": "string", "pattern": "^([A-Za-z0-9_]+(\\.[A-Za-z0-9_]+)*)?$", "maxLength": 120}, "description": "record field → CRM field over the defaults; empty unmaps"},
            "stages": {"type": "object", "additionalProperties": {"type": "string", "enum": ["prospect", "qualified", "technical_validation", "business_validation", "committed", "launched", "closed_lost"]}, "description": "CRM stage label or HubSpot stage id → ACE stage"},
            "write_back": {"type": ["object", "null"], "additionalProperties": false, "properties": {
                "fields": {"type": "object", "propertyNames": {"enum": facts}, "additionalProperties": names()["additionalProperties"].clone()},
                "activity": {"type": "boolean", "description": "also write the facts as a Salesforce Task / HubSpot note"}}},
        }
    })
}
