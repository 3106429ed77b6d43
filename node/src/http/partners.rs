//! Partnerships and per-partner policies: `/partners`, `/partners/invites`, `/partners/join`,
//! `/partners/{id}` (DELETE removes), `/partners/{id}/policy` and its preview.

use super::policy::{policy_to_set, preview_json, text_body};
use super::query::{query_params, Cursor, Params, Takes, CURSOR_DOC, LIMIT, LIMIT_DOC};
use super::{blocking, ApiError, AppState, Caller, PAGE_LIMIT_DEFAULT};
use crate::clock::now_ms;
use crate::domain::auth::Role;
use crate::domain::events::EventKind;
use crate::domain::partners::{self, InviteError, NewInvite};
use crate::store::shared::{self, PartnerRecord};
use axum::extract::rejection::{JsonRejection, StringRejection};
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use libp2p::PeerId;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashSet;

fn partner_json(p: &PartnerRecord, connected: bool, policy: String) -> Value {
    partner_json_via(p, connected, policy, None)
}

/// [`partner_json`] with how the partner is connected (`direct`, `hole-punched`, `relayed`;
/// `offline` when not connected).
fn partner_json_via(
    p: &PartnerRecord,
    connected: bool,
    policy: String,
    connection: Option<&str>,
) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "type": p.partner_type,
        "status": p.status.as_str(),
        "removed_by": (!p.is_active()).then_some(if p.ended_by_partner { "partner" } else { "this node" }),
        "connected": connected,
        "connection": match connection { Some(c) if connected && c != "offline" => c, _ if connected => "direct", _ => "offline" },
        "since": crate::domain::audit::rfc3339(p.since_ms),
        "last_seen": if connected { Some(crate::domain::audit::rfc3339(now_ms())) } else { p.last_seen_ms.map(crate::domain::audit::rfc3339) },
        "addrs": p.addrs,
        "policy": policy,
    })
}

async fn connected(state: &AppState) -> HashSet<String> {
    state
        .network
        .handle
        .connected()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|p| p.to_base58())
        .collect()
}

query_params! {
    /// Paging of `GET /api/v1/partners` (in node id order).
    pub struct PartnerQuery {
        limit: Option<usize> = LIMIT, LIMIT_DOC;
        cursor: Option<String> = Takes::Cursor(Cursor::NodeId), CURSOR_DOC;
    }
}

pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(query): Params<PartnerQuery>,
) -> Result<Json<crate::store::Page<Value>>, ApiError> {
    caller.require(Role::Viewer)?;
    let limit = super::records::page_limit(query.limit)?;
    // The cursor's shape is checked with the query (`Cursor::NodeId`): a position in the
    // partners' order by node id.
    let after = query.cursor.filter(|c| !c.is_empty());
    let online = connected(&state).await;
    let view = state.network.gauges.network_view();
    let page = blocking(move || {
        let page = shared::partners_page(&state.store, after.as_deref(), limit)?;
        let regions = crate::domain::program::announcements::regions(&state.store)?;
        let mut items = Vec::new();
        for p in &page.items {
            let summary = partners::policy_summary(&state.store, &p.id)?;
            let via = view.partners.get(&p.id).map(|l| l.connection.as_str());
            let mut item = partner_json_via(p, online.contains(&p.id), summary, via);
            item["region"] = json!(regions.get(&p.id));
            items.push(item);
        }
        Ok(crate::store::Page {
            items,
            next_cursor: page.next_cursor,
        })
    })
    .await?;
    Ok(super::records::page_json(page))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    #[serde(rename = "type")]
    partner_type: Option<String>,
    /// Any JSON value, so that a number out of range (negative, huge, fractional) gets the
    /// range sentence rather than serde's.
    expires_in_days: Option<Value>,
}

/// Most days an invite may stay valid.
const INVITE_DAYS_MAX: u64 = partners::INVITE_TTL_MS_MAX / DAY_MS;
const DAY_MS: u64 = 86_400_000;

/// The lifetime an invite asks for, in milliseconds: whole days, 1 to 90 (default 7 days).
fn invite_ttl_ms(days: Option<&Value>) -> Result<u64, ApiError> {
    match days {
        None | Some(Value::Null) => Ok(partners::INVITE_TTL_MS_DEFAULT),
        // `78.0` is the whole number 78 too (JSON Schema's `integer`).
        Some(d) => match d
            .as_u64()
            .or_else(|| {
                d.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 1.0 && *f <= 90.0)
                    .map(|f| f as u64)
            })
            .filter(|d| (1..=INVITE_DAYS_MAX).contains(d))
        {
            Some(d) => Ok(d * DAY_MS),
            None => {
                let message = format!("must be a whole number of days, 1 to {INVITE_DAYS_MAX}");
                Err(
                    ApiError::bad_request(format!("expires_in_days {message} (got {d})"))
                        .with_details(vec![
                            json!({"field": "expires_in_days", "message": message}),
                        ]),
                )
            }
        },
    }
}

pub async fn invite(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let body: InviteBody = super::records::optional_object(&body)?.unwrap_or_default();
    let partner_type = body
        .partner_type
        .as_deref()
        .map(partners::parse_partner_type)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let ttl_ms = invite_ttl_ms(body.expires_in_days.as_ref())?;
    let network = state.network.clone();
    let token = blocking(move || {
        let invite = NewInvite {
            inviter: network.peer_id.to_base58(),
            name: network.name.clone(),
            addrs: network.dial_addrs(),
            partner_type,
            ttl_ms,
        };
        Ok(partners::create_invite(
            &state.store,
            &network.signing_key,
            invite,
            now_ms(),
        )?)
    })
    .await?;
    let expires_at = crate::domain::audit::rfc3339(now_ms() + ttl_ms);
    // Said when nobody outside this node's network could use the invite (docs/network.md).
    let warning = state.network.gauges.network_view().invite_warning();
    Ok((
        StatusCode::CREATED,
        Json(json!({"token": token, "expires_at": expires_at, "warning": warning})),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinBody {
    token: String,
    #[serde(rename = "type")]
    partner_type: Option<String>,
}

pub async fn join(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<JoinBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let Json(body) = body?;
    let partner_type = body
        .partner_type
        .as_deref()
        .map(partners::parse_partner_type)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let payload = partners::read_token(&body.token, now_ms())
        .map_err(|e| ApiError::unprocessable(e.to_string(), vec![]))?;
    let network = state.network.clone();
    if payload.inviter == network.peer_id.to_base58() {
        return Err(ApiError::unprocessable(
            InviteError::Own.to_string(),
            vec![],
        ));
    }
    let peer: PeerId = payload
        .inviter
        .parse()
        .map_err(|_| ApiError::unprocessable(InviteError::Tampered.to_string(), vec![]))?;
    let existing = shared::partner(&state.store, &payload.inviter)?;
    if existing.as_ref().is_some_and(|p| p.is_active()) {
        return Err(ApiError::conflict(format!(
            "{} is already a partner",
            existing.map(|p| p.name).unwrap_or_default()
        )));
    }
    let request = partners::join_request(
        &payload,
        &network.peer_id.to_base58(),
        &network.name,
        network.dial_addrs(),
    )
    .map_err(|e| ApiError::unprocessable(e.to_string(), vec![]))?;
    let answer = network
        .handle
        .join(peer, crate::net::parse_addrs(&payload.addrs), request)
        .await?;
    let answer = match answer {
        Ok(a) => a,
        Err(why) => {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!("the join failed: {why}"),
            ))
        }
    };
    if let Some(why) = answer.error {
        return Err(join_refused(&why, answer.spent.as_deref()));
    }
    let st = state.clone();
    let record = blocking(move || {
        Ok(partners::record_joined(
            &st.store,
            &payload,
            &answer.name,
            partner_type,
            now_ms(),
        )?)
    })
    .await?;
    state.events.publish(
        EventKind::PartnerJoined,
        json!({"id": record.id, "name": record.name}),
    );
    let st = state.clone();
    let id = record.id.clone();
    let previous = blocking(move || Ok(partners::previous_policy(&st.store, &id)?)).await?;
    let mut answer = partner_json(&record, true, "none (nothing shared)".into());
    if let Some(old) = previous {
        answer["policy"] = json!("the policy set before applies again");
        answer["previous_policy"] = json!(old);
    }
    Ok(Json(answer))
}

/// The error for a join the inviter refused: 410 when the invite itself is spent (used, expired
/// or unknown to the inviter; only a new invite helps), else 422 with the inviter's sentence.
fn join_refused(why: &str, spent: Option<&str>) -> ApiError {
    let state = match spent {
        Some("used") => "it was already used",
        Some("expired") => "it has expired",
        Some("unknown") => "the inviting node does not know it",
        _ => {
            return ApiError::unprocessable(
                format!("the inviting node refused the join: {why}"),
                vec![],
            )
        }
    };
    ApiError::new(
        StatusCode::GONE,
        format!("the inviting node refused the invite: {state}; ask for a new one"),
    )
}

fn resolve(state: &AppState, wanted: &str) -> Result<PartnerRecord, ApiError> {
    partners::resolve(&state.store, wanted).map_err(|e| ApiError::not_found(e.to_string()))
}

pub async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let st = state.clone();
    let record = blocking(move || {
        let p = resolve(&st, &id)?;
        if !p.is_active() {
            return Err(ApiError::conflict(format!("{} is already removed", p.name)));
        }
        Ok(partners::remove(&st.store, &p.id, now_ms())?)
    })
    .await?;
    if let Ok(peer) = record.id.parse::<PeerId>() {
        state.network.handle.partner_removed(peer).await?;
    }
    // The partner leaves every deal this node started with it, so the other participants stop
    // relaying those deals to it and taking its changes.
    if let Ok(node) = protocol::identity::NodeId::parse(&record.id) {
        let deals = state.network.deals.clone();
        let ended = blocking(move || {
            crate::domain::registrations::audit_lapsed(&deals, &node, now_ms())?;
            Ok(deals.end_participation(&node, now_ms())?)
        })
        .await?;
        state.network.handle.sync(ended).await?;
    }
    state.events.publish(
        EventKind::PartnerRemoved,
        json!({"id": record.id, "name": record.name, "by": "this node"}),
    );
    Ok(Json(partner_json(&record, false, String::new())))
}

pub async fn get_policy(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let answer = blocking(move || {
        let p = resolve(&state, &id)?;
        let versions = shared::policy_versions(&state.store, &p.id)?;
        let current = versions.last();
        Ok(json!({
            "partner": p.id,
            "name": p.name,
            "version": current.map(|v| v.version),
            "text": current.map(|v| v.text.clone()).unwrap_or_default(),
            "policy": match current {
                Some(v) => serde_json::from_str::<Value>(&policy::Policy::from_toml(&v.text).map(|p| p.to_canonical_json()).unwrap_or_default()).unwrap_or(Value::Null),
                None => serde_json::from_str::<Value>(&policy::Policy::deny_all().to_canonical_json()).unwrap_or(Value::Null),
            },
            "default_deny": current.is_none(),
            "versions": versions.iter().map(|v| json!({
                "version": v.version, "at": crate::domain::audit::rfc3339(v.at_ms), "by": v.by,
                "text": v.text, "diff": v.diff,
            })).collect::<Vec<_>>(),
        }))
    })
    .await?;
    Ok(Json(answer))
}

pub async fn put_policy(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<String, StringRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let policy = policy_to_set(&headers, &text_body(body)?)?;
    let network = state.network.clone();
    let (answer, changed) = blocking(move || {
        let p = resolve(&state, &id)?;
        if !p.is_active() {
            return Err(ApiError::conflict(format!(
                "{} is no longer a partner",
                p.name
            )));
        }
        // Deals already shared with the partner follow the new policy, in the same call.
        let (v, changed) = state
            .network
            .deals
            .set_policy(&p, &policy, "admin", now_ms())?;
        Ok((
            json!({
                "partner": p.id, "name": p.name, "version": v.version,
                "at": crate::domain::audit::rfc3339(v.at_ms), "by": v.by, "text": v.text, "diff": v.diff,
                "documents_updated": changed.len(),
                "warnings": policy::advice(&policy),
            }),
            changed,
        ))
    })
    .await?;
    if !changed.is_empty() {
        let _ = network.handle.sync(changed).await;
    }
    Ok(Json(answer))
}

query_params! {
    /// `GET /api/v1/partners/{id}/policy/preview`: one opportunity, or the whole pipeline.
    pub struct PreviewQuery {
        opportunity_id: Option<String> = Takes::Text,
            "Preview this opportunity only; absent for the whole pipeline";
    }
}

pub async fn preview_policy(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Params(query): Params<PreviewQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let answer = blocking(move || {
        let p = resolve(&state, &id)?;
        let policy = partners::policy_for(&state.store, &p.id)?;
        let mut v = preview_json(
            &state.store,
            &policy,
            query.opportunity_id.as_deref(),
            PAGE_LIMIT_DEFAULT,
        )?;
        v["partner"] = json!(p.id);
        v["name"] = json!(p.name);
        Ok(v)
    })
    .await?;
    Ok(Json(answer))
}
