//! `POST /api/v1/policy/preview`: what a partner under a given policy would receive — for one
//! opportunity, or counts plus the first page for the whole pipeline.

use super::query::{query_params, Params, Takes, LIMIT};
use super::{blocking, ApiError, AppState, Caller};
use crate::domain::auth::Role;
use axum::extract::rejection::StringRejection;
use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use policy::Policy;
use serde_json::{json, Value};

query_params! {
    /// `POST /api/v1/policy/preview`: one opportunity, or counts plus the first page.
    pub struct PreviewQuery {
        opportunity_id: Option<String> = Takes::Text,
            "Preview this opportunity only; absent for the whole pipeline";
        limit: Option<usize> = LIMIT, "Items listed of the whole pipeline, 1 to 1000 (default 100)";
    }
}

/// A text body, or the API's JSON error for one it cannot take: 413 for one larger than a JSON
/// route takes, 400 for one that is not UTF-8 (axum's own answers are plain text).
pub fn text_body(body: Result<String, StringRejection>) -> Result<String, ApiError> {
    body.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                format!(
                    "the request body is larger than this route takes ({} KiB)",
                    super::JSON_BODY_BYTES_MAX / 1024
                ),
            )
        } else if status.is_client_error() {
            ApiError::bad_request(format!(
                "the body cannot be read as text: {}",
                rejection.body_text()
            ))
        } else {
            ApiError::new(
                status,
                format!("the body cannot be read: {}", rejection.body_text()),
            )
        }
    })
}

/// A policy body that sets a partner's policy: it must say what it is (Content-Type, else 415)
/// and must not be empty (422): a missing body never replaces a policy with one that shares
/// nothing.
pub fn policy_to_set(headers: &HeaderMap, body: &str) -> Result<Policy, ApiError> {
    if !headers.contains_key(header::CONTENT_TYPE) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the policy with Content-Type: application/toml (TOML text) or application/json",
        ));
    }
    if body.trim().is_empty() {
        return Err(ApiError::unprocessable(
            "the policy is empty: send the whole policy (one that names nothing shares nothing)",
            vec![json!({"field": "body", "message": "is empty"})],
        ));
    }
    policy_from_body(headers, body)
}

/// Parses a policy from a request body: JSON when the content type says so, TOML otherwise.
pub fn policy_from_body(headers: &HeaderMap, body: &str) -> Result<Policy, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // A JSON policy is an object: `null` (or a bare value) would read as the policy that
    // shares nothing, which no one means to send.
    let first = body.trim_start().as_bytes().first().copied();
    if is_json && first != Some(b'{') && serde_json::from_str::<Value>(body).is_ok() {
        return Err(ApiError::unprocessable(
            "a policy in JSON is an object ({\"opportunities\": …, \"accounts\": …})",
            vec![json!({"field": "body", "message": "is not a JSON object"})],
        ));
    }
    let parsed = if is_json {
        Policy::from_json(body)
    } else {
        Policy::from_toml(body)
    };
    parsed.map_err(|errors| {
        let details = errors
            .errors()
            .iter()
            .map(|e| json!({"line": e.line, "key": e.key, "message": e.message, "text": e.to_string()}))
            .collect();
        let n = errors.errors().len();
        ApiError::unprocessable(
            format!("the policy is not valid ({n} {})", if n == 1 { "error" } else { "errors" }),
            details,
        )
    })
}

/// The preview of `policy` over this node's pipeline (or one opportunity), as the API answers it.
pub fn preview_json(
    store: &crate::store::Store,
    policy: &Policy,
    opportunity_id: Option<&str>,
    limit: usize,
) -> Result<Value, ApiError> {
    if let Some(id) = opportunity_id {
        let Some(opp) = store.opportunity(id)? else {
            return Err(ApiError::not_found(format!("no opportunity with id {id}")));
        };
        let Some(account) = store.account(&opp.account_id)? else {
            return Err(ApiError::internal(anyhow::anyhow!(
                "opportunity {id} has no account"
            )));
        };
        let projected = policy::project(policy, &opp, &account);
        let shared = usize::from(projected.is_some());
        let withheld: Vec<policy::Withheld> = policy::withheld_because(policy, &opp, &account)
            .map(|reason| policy::Withheld {
                opportunity_id: opp.id.clone(),
                reason,
            })
            .into_iter()
            .collect();
        return Ok(json!({
            "shared": shared,
            "withheld": 1 - shared,
            "items": projected.into_iter().collect::<Vec<_>>(),
            "opportunity_ids": if shared == 1 { vec![opp.id.clone()] } else { vec![] },
            "withheld_items": withheld,
        }));
    }
    let mapping = crate::domain::mapping::mapping_preview(store, policy)?;
    let mut total = policy::Preview::default();
    store.for_each_opportunity_with_account(|opp, account| {
        let page_left = limit.saturating_sub(total.items.len());
        let one = policy::preview(policy, [(opp, account)], page_left);
        total.shared += one.shared;
        total.withheld += one.withheld;
        total.items.extend(one.items);
        total.opportunity_ids.extend(one.opportunity_ids);
        if one.withheld > 0 && total.withheld_items.len() < limit {
            if let Some(reason) = policy::withheld_because(policy, opp, account) {
                total.withheld_items.push(policy::Withheld {
                    opportunity_id: opp.id.clone(),
                    reason,
                });
            }
        }
        true
    })?;
    Ok(json!({
        "shared": total.shared,
        "withheld": total.withheld,
        "items": total.items,
        "opportunity_ids": total.opportunity_ids,
        "withheld_items": total.withheld_items,
        "mapping": mapping,
    }))
}

pub async fn preview(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(query): Params<PreviewQuery>,
    headers: HeaderMap,
    body: Result<String, StringRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let limit = super::records::page_limit(query.limit)?;
    let policy = policy_from_body(&headers, &text_body(body)?)?;
    let answer = blocking(move || {
        preview_json(
            &state.store,
            &policy,
            query.opportunity_id.as_deref(),
            limit,
        )
    })
    .await?;
    Ok(Json(answer))
}
