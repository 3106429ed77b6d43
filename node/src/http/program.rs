//! The partner program over HTTP: the program file (`GET|PUT /program`, `POST /program/check`),
//! partners' tiers and health (`GET /program/partners[/{id}]`), analytics (`GET /analytics`),
//! the QBR pack (`GET /reports/qbr`) and certification attestations (`/attestations…`).

use super::policy::text_body;
use super::query::{bad, query_params, Params, Takes};
use super::{blocking, ApiError, AppState, Caller};
use crate::clock::now_ms;
use crate::domain::audit::rfc3339;
use crate::domain::auth::Role;
use crate::domain::program::attestations::{self, NewAttestation};
use crate::domain::program::numbers::{partner_numbers, Period};
use crate::domain::program::{self, qbr};
use crate::store::shared;
use axum::extract::rejection::StringRejection;
use axum::extract::{Extension, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use policy::program::Program;
use protocol::attest::SubjectKind;
use serde::Deserialize;
use serde_json::{json, Value};

fn is_json(headers: &HeaderMap) -> Result<bool, ApiError> {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the program with Content-Type: application/toml (TOML text) or application/json",
        ));
    };
    Ok(ct.starts_with("application/json"))
}

/// Parses a program body; 422 with one detail per error (line, key, message).
fn program_from_body(headers: &HeaderMap, body: &str) -> Result<(Program, bool), ApiError> {
    let json = is_json(headers)?;
    if body.trim().is_empty() {
        return Err(ApiError::unprocessable(
            "the program is empty",
            vec![json!({"field": "body", "message": "is empty"})],
        ));
    }
    let parsed = if json {
        Program::from_json(body)
    } else {
        Program::from_toml(body)
    };
    parsed.map(|p| (p, json)).map_err(|errors| {
        let details = errors
            .errors()
            .iter()
            .map(|e| json!({"line": e.line, "key": e.key, "message": e.message, "text": e.to_string()}))
            .collect();
        let n = errors.errors().len();
        ApiError::unprocessable(
            format!(
                "the program is not valid ({n} {})",
                if n == 1 { "error" } else { "errors" }
            ),
            details,
        )
    })
}

fn stored_json(stored: &program::StoredProgram, program: &Program) -> Value {
    json!({
        "version": stored.version,
        "set_at": rfc3339(stored.set_at_ms),
        "set_by": stored.actor,
        "format": stored.format,
        "text": stored.text,
        "program": program::program_json(program),
    })
}

fn no_program() -> ApiError {
    ApiError::not_found("no partner program is set on this node (cosell program set FILE)")
}

/// `GET /api/v1/program`.
pub async fn get_program(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    blocking(move || {
        let stored = program::current(&state.store)?.ok_or_else(no_program)?;
        let p = stored
            .program()
            .map_err(|e| anyhow::anyhow!("stored program: {e}"))?;
        Ok(Json(stored_json(&stored, &p)))
    })
    .await
}

/// `PUT /api/v1/program`: sets a new version (admin).
pub async fn put_program(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<String, StringRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let text = text_body(body)?;
    let (parsed, json) = program_from_body(&headers, &text)?;
    blocking(move || {
        let stored = program::set(&state.store, &text, json, now_ms())?;
        tiers_now(&state);
        Ok(Json(stored_json(&stored, &parsed)))
    })
    .await
}

/// Tiers again after a change that can move them (a program, a certification): changes are
/// recorded and published as `program.tier_changed` now rather than at the next timer pass. A
/// failure here is logged, never the request's: the change itself is committed.
fn tiers_now(state: &AppState) {
    match program::tiers::record_changes(&state.store, &state.network.deals, now_ms()) {
        Ok(changes) => program::tiers::publish(&state.events, changes),
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "cannot compute partner tiers"),
    }
}

/// `POST /api/v1/program/check`: validates a program without setting it.
pub async fn check_program(
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<String, StringRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let text = text_body(body)?;
    let (parsed, _) = program_from_body(&headers, &text)?;
    Ok(Json(
        json!({"valid": true, "program": program::program_json(&parsed)}),
    ))
}

fn current_program(state: &AppState) -> Result<Program, ApiError> {
    let stored = program::current(&state.store)?.ok_or_else(no_program)?;
    Ok(stored
        .program()
        .map_err(|e| anyhow::anyhow!("stored program: {e}"))?)
}

/// `GET /api/v1/program/partners`: every active partner's standing.
pub async fn standings(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    blocking(move || {
        let p = current_program(&state)?;
        let facts = state.network.deals.facts();
        let now = now_ms();
        let mut items = Vec::new();
        for partner in shared::partners(&state.store)?
            .iter()
            .filter(|p| p.is_active())
        {
            items.push(program::standing_json(
                &state.store,
                &facts,
                &p,
                partner,
                now,
            )?);
        }
        Ok(Json(json!({"items": items, "next_cursor": null})))
    })
    .await
}

/// `GET /api/v1/program/partners/{id}`: one partner's standing.
pub async fn standing(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    blocking(move || {
        let p = current_program(&state)?;
        let partner = crate::domain::partners::resolve(&state.store, &id)
            .map_err(|e| ApiError::not_found(e.to_string()))?;
        let facts = state.network.deals.facts();
        Ok(Json(program::standing_json(
            &state.store,
            &facts,
            &p,
            &partner,
            now_ms(),
        )?))
    })
    .await
}

/// A quarter the node can count: `YYYY-QN`, years 1970 to 9998.
const QUARTER: &str = "^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-Q[1-4]$";
/// A year the node can count, 1970 to 9998.
const YEAR: &str = "^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])$";

query_params! {
    /// The period of `GET /api/v1/analytics`.
    pub struct AnalyticsQuery {
        quarter: Option<String> = Takes::Pattern(QUARTER), "A quarter, YYYY-QN (e.g. 2026-Q4); wins over year";
        year: Option<String> = Takes::Pattern(YEAR), "A calendar year (UTC); default: the program window, or the last 365 days";
    }
}

fn period_of(q: &AnalyticsQuery, program: Option<&Program>, now: u64) -> Result<Period, ApiError> {
    let year_ok =
        |y: &str| y.len() == 4 && y.parse::<u16>().is_ok_and(|y| (1970..=9998).contains(&y));
    if let Some(year) = q.year.as_deref().filter(|y| !year_ok(y)) {
        return Err(bad(
            "year",
            format!("'{year}' is not a year from 1970 to 9998"),
        ));
    }
    if let Some(quarter) = &q.quarter {
        return Period::quarter(quarter).map_err(|m| bad("quarter", m));
    }
    if let Some(year) = &q.year {
        let first = Period::quarter(&format!("{year}-Q1"))
            .map_err(|_| bad("year", format!("'{year}' is not a year from 1970 to 9998")))?;
        let last = Period::quarter(&format!("{year}-Q4"))
            .map_err(|_| bad("year", format!("'{year}' is not a year from 1970 to 9998")))?;
        return Ok(Period {
            from_ms: first.from_ms,
            to_ms: last.to_ms,
        });
    }
    Ok(Period::window(program.map_or(365, |p| p.window_days), now))
}

/// `GET /api/v1/analytics`: per partner and in total, sourced and influenced pipeline and
/// revenue, wins, losses, win rate, registrations, invitations, open pipeline by stage.
pub async fn analytics(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(q): Params<AnalyticsQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    blocking(move || {
        let program = program::current(&state.store)?.and_then(|s| s.program().ok());
        let period = period_of(&q, program.as_ref(), now_ms())?;
        let facts = state.network.deals.facts();
        let partners: Vec<_> = shared::partners(&state.store)?
            .into_iter()
            .filter(|p| p.is_active())
            .collect();
        Ok(Json(program::analytics_json(
            &facts,
            &partners,
            program.as_ref(),
            state.default_currency,
            period,
        )))
    })
    .await
}

query_params! {
    /// `GET /api/v1/reports/qbr/{partner}`.
    pub struct QbrQuery {
        quarter: Option<String> = Takes::Pattern(QUARTER), "The quarter, YYYY-QN; default: the current one";
    }
}

/// `GET /api/v1/reports/qbr/{partner}?quarter=2026-Q4`: the QBR pack, as `{html, files}`.
pub async fn qbr_pack(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(partner): Path<String>,
    Params(q): Params<QbrQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let quarter = q.quarter.unwrap_or_else(|| {
        let day = crate::domain::program::attestations::day_of(now_ms());
        format!("{}-Q{}", day.year(), (day.month() - 1) / 3 + 1)
    });
    let period = Period::quarter(&quarter).map_err(|m| bad("quarter", m))?;
    blocking(move || {
        let partner = crate::domain::partners::resolve(&state.store, &partner)
            .map_err(|e| ApiError::not_found(e.to_string()))?;
        let program = program::current(&state.store)?.and_then(|s| s.program().ok());
        let facts = state.network.deals.facts();
        let now = now_ms();
        let currency = program.as_ref().map_or(state.default_currency, |p| p.currency);
        let numbers = partner_numbers(&facts, &partner.id, program.as_ref(), currency, period);
        let standing = match &program {
            Some(p) => Some(program::standing_json(&state.store, &facts, p, &partner, now)?),
            None => None,
        };
        let registrations = facts
            .registrations
            .iter()
            .filter(|r| r.registrant.as_deref() == Some(partner.id.as_str()))
            .filter(|r| r.registered_at_ms.is_some_and(|t| (period.from_ms..=period.to_ms).contains(&t)))
            .map(|r| {
                (
                    r.id.clone(),
                    r.status.map_or("pending", |s| s.as_str()).to_string(),
                    r.registered_at_ms.map(rfc3339).unwrap_or_default(),
                )
            })
            .collect();
        let pack = qbr::build(&qbr::PackInput {
            me: &state.node.name,
            partner: &partner.name,
            partner_id: &partner.id,
            quarter: quarter.trim(),
            period,
            currency,
            numbers: &numbers,
            standing: standing.as_ref(),
            registrations,
            overlap: program::customer_overlap(&state.store, &partner.id),
            now_ms: now,
        });
        Ok(Json(json!({
            "partner": {"id": partner.id, "name": partner.name},
            "quarter": quarter.trim(),
            "numbers": numbers.to_json(currency),
            "html": pack.html,
            "files": pack.csvs.iter().map(|(n, t)| (n.clone(), json!(t))).collect::<serde_json::Map<_, _>>(),
        })))
    })
    .await
}

/// A JSON object body as `T` (a list or any other JSON value is a 400, as is no body).
fn required_object<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    super::records::optional_object(body)?
        .ok_or_else(|| ApiError::bad_request("send the request as a JSON object"))
}

/// `POST /api/v1/attestations` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAttestationBody {
    subject: String,
    #[serde(default)]
    subject_kind: Option<SubjectKind>,
    #[serde(default)]
    partner: Option<String>,
    certification: String,
    level: String,
    #[serde(default)]
    issued: Option<String>,
    expires: String,
}

/// `POST /api/v1/attestations`: issue one (manager).
pub async fn issue(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Manager)?;
    let b: NewAttestationBody = required_object(&body)?;
    blocking(move || {
        let key = state.network.deals.signer().key().clone();
        let issued = attestations::issue(
            &state.store,
            &key,
            &state.node.name,
            NewAttestation {
                subject: b.subject,
                subject_kind: b.subject_kind,
                partner: b.partner,
                certification: b.certification,
                level: b.level,
                issued: b.issued,
                expires: b.expires,
            },
            now_ms(),
        )?;
        tiers_now(&state);
        Ok((StatusCode::CREATED, Json(issued.to_json(true))))
    })
    .await
}

/// `POST /api/v1/attestations/import`: one attestation per row of an LMS completion CSV.
pub async fn import(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<String, StringRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Manager)?;
    let text = text_body(body)?;
    blocking(move || {
        let key = state.network.deals.signer().key().clone();
        let issued =
            attestations::import_csv(&state.store, &key, &state.node.name, &text, now_ms())?;
        tiers_now(&state);
        Ok((
            StatusCode::CREATED,
            Json(json!({"issued": issued.len(),
                    "items": issued.iter().map(|i| i.to_json(false)).collect::<Vec<_>>()})),
        ))
    })
    .await
}

/// `GET /api/v1/attestations`.
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    blocking(move || {
        let items: Vec<Value> = attestations::list(&state.store)?
            .iter()
            .map(|i| i.to_json(false))
            .collect();
        Ok(Json(json!({"items": items, "next_cursor": null})))
    })
    .await
}

/// `GET /api/v1/attestations/{id}`: with the signed file.
pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    blocking(move || {
        let issued = attestations::get(&state.store, &id)?.ok_or_else(|| {
            ApiError::not_found(format!(
                "no attestation '{}' issued by this node",
                id.trim()
            ))
        })?;
        Ok(Json(issued.to_json(true)))
    })
    .await
}

/// `POST /api/v1/attestations/{id}/revoke` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /api/v1/attestations/{id}/revoke` (manager).
pub async fn revoke(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manager)?;
    let b: RevokeBody = super::records::optional_object(&body)?.unwrap_or_default();
    blocking(move || {
        let issued = attestations::revoke(&state.store, &id, b.reason, now_ms())?;
        tiers_now(&state);
        Ok(Json(issued.to_json(false)))
    })
    .await
}

/// `GET /api/v1/attestations/revocations`: the signed revocation list (a file verifiers use).
pub async fn revocations(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    caller.require(Role::Viewer)?;
    blocking(move || {
        let key = state.network.deals.signer().key().clone();
        let text = attestations::revocation_list(&state.store, &key)?;
        Ok(([(header::CONTENT_TYPE, "application/json")], text).into_response())
    })
    .await
}

/// `POST /api/v1/attestations/verify` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    file: String,
    #[serde(default)]
    revocations: Vec<String>,
}

/// `POST /api/v1/attestations/verify`: checks a file with this node's trust.
pub async fn verify(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let b: VerifyBody = required_object(&body)?;
    blocking(move || {
        let key = state.network.deals.signer().key().clone();
        Ok(Json(attestations::verify(
            &state.store,
            &key,
            &b.file,
            &b.revocations,
            now_ms(),
        )?))
    })
    .await
}
