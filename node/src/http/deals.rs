//! Shared deals: `POST /deals` (share an opportunity), `GET /deals`, `GET,PATCH /deals/{id}`,
//! `POST /deals/{id}/accept|decline`. Each write is durable before the answer, then offered to
//! the connected participants.

use super::query::{query_params, Cursor, Params, Takes, CURSOR_DOC, LIMIT, LIMIT_DOC, STAGES};
use super::{blocking, ApiError, AppState, Caller};
use crate::clock::now_ms;
use crate::domain::auth::Role;
use crate::domain::deals::{DealsError, ListFilter, ListStatus};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::Json;
use protocol::deal::{DealId, Role as DealRole, SectionUpdate};
use protocol::records::Stage;
use serde::Deserialize;
use serde_json::{json, Value};

/// The deal `id` names: its full id or a unique prefix.
fn parse_id(state: &AppState, id: &str) -> Result<DealId, ApiError> {
    Ok(state.network.deals.resolve_id(id, false)?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareBody {
    opportunity_id: String,
    partners: Vec<String>,
    /// This node's role in the deal (default vendor).
    role: Option<String>,
    /// A message to the invitees, signed in their invitations.
    message: Option<String>,
}

pub async fn share(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<ShareBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Manager)?;
    let Json(body) = body?;
    let role = match body.role.as_deref() {
        None => {
            let s = state.clone();
            let wanted = body.partners.clone();
            blocking(move || Ok(default_role(&s, &wanted))).await?
        }
        Some(r) => DealRole::parse(r)
            .map_err(|e| ApiError::from(DealsError::fields(vec![("role", e.to_string())])))?,
    };
    let view = share_opportunity(
        &state,
        body.opportunity_id,
        body.partners,
        role,
        body.message,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// This node's role in a deal shared with `partners` when the caller names none: a reseller
/// when one of them is this node's vendor (a partner sharing with its vendor is not the
/// vendor), else the vendor.
fn default_role(state: &AppState, partners: &[String]) -> DealRole {
    let with_vendor = partners.iter().any(|p| {
        crate::domain::partners::resolve(&state.store, p)
            .is_ok_and(|r| r.partner_type.as_deref() == Some("vendor"))
    });
    if with_vendor {
        DealRole::Reseller
    } else {
        DealRole::Vendor
    }
}

/// Shares an opportunity with partners as a new deal (durable first, then offered to them); the
/// deal's view. The one path of `POST /deals` and of proposing a deal from a mapping overlap.
pub(super) async fn share_opportunity(
    state: &AppState,
    opportunity_id: String,
    partners: Vec<String>,
    role: DealRole,
    message: Option<String>,
) -> Result<Value, ApiError> {
    let deals = state.network.deals.clone();
    let (ids, view) = blocking(move || {
        let id = deals.share_with_message(
            &opportunity_id,
            &partners,
            role,
            message.as_deref(),
            now_ms(),
        )?;
        let view = deals.view(id, true)?.unwrap_or(Value::Null);
        Ok((deals.with_invitations(id), view))
    })
    .await?;
    state.network.handle.sync(ids).await?;
    Ok(view)
}

query_params! {
    /// Filters and paging of `GET /api/v1/deals`.
    pub struct DealQuery {
        status: Option<String> = Takes::OneOf(&["active", "withdrawn", "all"]),
            "active: deals still shared; withdrawn: withdrawn deals (who, when, why); all \
             (default): both, withdrawn ones marked status withdrawn";
        stage: Option<String> = STAGES,
            "Only deals whose shared stage is this (any case); leaves out withdrawn deals";
        partner: Option<String> = Takes::Text,
            "Only deals with this participant: a partner's node id or unique name, or the node \
             id of another participant";
        limit: Option<usize> = LIMIT, LIMIT_DOC;
        cursor: Option<String> = Takes::Cursor(Cursor::DealId), CURSOR_DOC;
    }
}

pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Params(query): Params<DealQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let limit = super::records::page_limit(query.limit)?;
    let after = match query.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(
            DealId::parse(c)
                .map_err(|_| ApiError::bad_request(format!("cursor {c:?} is not a deal id")))?,
        ),
    };
    let stage = match query.stage.as_deref() {
        None => None,
        Some(s) => Some(
            Stage::parse(s)
                .map_err(|e| super::query::bad("stage", format!("{s:?}: {e}")))?
                .as_str()
                .to_string(),
        ),
    };
    let status = match query.status.as_deref() {
        None | Some("all") => None,
        Some("active") => Some(ListStatus::Active),
        Some("withdrawn") => Some(ListStatus::Withdrawn),
        Some(other) => {
            return Err(super::query::bad(
                "status",
                format!("{other:?}: takes active, withdrawn or all"),
            ))
        }
    };
    let deals = state.network.deals.clone();
    let (items, next) = blocking(move || {
        let participant = match query.partner.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(wanted) => Some(participant_id(&state, wanted)?),
        };
        let filter = ListFilter {
            status,
            stage: stage.as_deref(),
            participant: participant.as_deref(),
        };
        Ok(deals.list_page(after, limit, &filter)?)
    })
    .await?;
    Ok(Json(json!({"items": items, "next_cursor": next})))
}

/// The node id a `partner` filter names: a partner by node id or unique name (as everywhere
/// else; 404 for none, or for a name several partners have), or any other valid node id, which
/// may be a participant this node met through a deal rather than a partner.
fn participant_id(state: &AppState, wanted: &str) -> Result<String, ApiError> {
    match crate::domain::partners::resolve(&state.store, wanted) {
        Ok(partner) => Ok(partner.id),
        Err(_) if protocol::identity::NodeId::parse(wanted).is_ok() => Ok(wanted.to_string()),
        Err(e) => Err(ApiError::not_found(e.to_string())),
    }
}

pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let deal = parse_id(&state, &id)?;
    let deals = state.network.deals.clone();
    let view = blocking(move || Ok(deals.view(deal, true)?)).await?;
    view.map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no deal with id {id}")))
}

/// What `PATCH /deals/{id}` accepts: this node's own section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    /// One note to append.
    note: Option<String>,
    /// Several notes to append.
    #[serde(default)]
    notes: Vec<String>,
    next_step: Option<String>,
    contacts: Option<Vec<String>>,
    contribution: Option<String>,
    stage: Option<String>,
    linked_opportunity: Option<String>,
}

pub async fn patch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<PatchBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manager)?;
    let deal = parse_id(&state, &id)?;
    let Json(body) = body?;
    let stage = body
        .stage
        .as_deref()
        .map(Stage::parse)
        .transpose()
        .map_err(|e| ApiError::unprocessable(format!("stage: {e}"), vec![]))?;
    let mut add_notes = body.notes;
    add_notes.extend(body.note);
    let update = SectionUpdate {
        add_notes,
        next_step: body.next_step,
        contacts: body.contacts,
        contribution: body.contribution,
        stage,
        linked_opportunity: body.linked_opportunity,
    };
    let deals = state.network.deals.clone();
    let view = blocking(move || {
        if let Some(o) = &update.linked_opportunity {
            if deals.store().opportunity(o)?.is_none() {
                return Err(DealsError::fields(vec![(
                    "linked_opportunity",
                    format!("no opportunity with id '{o}' on this node (POST /api/v1/deals/{{id}}/link links one, or makes it)"),
                )])
                .into());
            }
        }
        deals.update_section(deal, &update, now_ms())?;
        Ok(deals.view(deal, true)?.unwrap_or(Value::Null))
    })
    .await?;
    state.network.handle.sync(vec![deal]).await?;
    Ok(Json(view))
}

async fn respond(
    state: AppState,
    caller: Caller,
    id: String,
    accept: bool,
    reason: Option<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manager)?;
    let deal = parse_id(&state, &id)?;
    let deals = state.network.deals.clone();
    let (changed, view) = blocking(move || {
        let now = now_ms();
        let changed = deals.respond_with_reason(deal, accept, reason.as_deref(), now)?;
        // Until the deal itself arrives, the answer is the inbox entry.
        let view = match deals.view(deal, true)? {
            Some(v) => v,
            None => crate::domain::inbox::list(&deals, None, now)
                .into_iter()
                .find(|i| i["deal_id"] == deal.to_string())
                .unwrap_or(Value::Null),
        };
        Ok((changed, view))
    })
    .await?;
    state.network.handle.sync(changed).await?;
    Ok(Json(view))
}

/// `POST /deals/{id}/link`: `{"opportunity_id": ID}` or `{"create": true}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    opportunity_id: Option<String>,
    #[serde(default)]
    create: bool,
    /// Link an opportunity on another account than the deal's.
    #[serde(default)]
    force: bool,
}

pub async fn link(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<LinkBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manager)?;
    let deal = parse_id(&state, &id)?;
    let Json(body) = body?;
    let deals = state.network.deals.clone();
    let view = blocking(move || {
        deals.link(
            deal,
            body.opportunity_id.as_deref(),
            body.create,
            body.force,
            now_ms(),
        )?;
        Ok(deals.view(deal, true)?.unwrap_or(Value::Null))
    })
    .await?;
    state.network.handle.sync(vec![deal]).await?;
    Ok(Json(view))
}

/// `POST /deals/{id}/attribution`: this node's proposal.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributionBody {
    sourced_by: String,
    #[serde(default)]
    influenced_by: Vec<String>,
}

pub async fn propose_attribution(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<AttributionBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manager)?;
    let deal = parse_id(&state, &id)?;
    let Json(body) = body?;
    let deals = state.network.deals.clone();
    let view = blocking(move || {
        deals.propose_attribution(deal, &body.sourced_by, &body.influenced_by, now_ms())?;
        Ok(deals.view(deal, true)?.unwrap_or(Value::Null))
    })
    .await?;
    state.network.handle.sync(vec![deal]).await?;
    Ok(Json(view))
}

/// `POST /deals/{id}/attribution/accept`: `{"proposer"}` (optional when only one other
/// participant proposed).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptAttributionBody {
    proposer: Option<String>,
}

pub async fn accept_attribution(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manager)?;
    let deal = parse_id(&state, &id)?;
    // No body means "the only proposal"; anything else must be the JSON object.
    let body: AcceptAttributionBody = super::records::optional_object(&body)?.unwrap_or_default();
    let deals = state.network.deals.clone();
    let view = blocking(move || {
        deals.accept_attribution(deal, body.proposer.as_deref(), now_ms())?;
        Ok(deals.view(deal, true)?.unwrap_or(Value::Null))
    })
    .await?;
    state.network.handle.sync(vec![deal]).await?;
    Ok(Json(view))
}

pub async fn accept(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    respond(state, caller, id, true, None).await
}

/// `POST /deals/{id}/decline`: no body, or `{"reason"}` for the origin to read.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclineBody {
    reason: Option<String>,
}

pub async fn decline(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: DeclineBody = super::records::optional_object(&body)?.unwrap_or_default();
    respond(state, caller, id, false, body.reason).await
}

/// `POST /deals/{id}/reinvite`: `{"partner"}` — invite a partner again after its invitation
/// expired or it declined (a new deal from the same opportunity; origin only).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReinviteBody {
    partner: String,
}

pub async fn reinvite(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<ReinviteBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Manager)?;
    let deal = parse_id(&state, &id)?;
    let Json(body) = body?;
    let deals = state.network.deals.clone();
    let (ids, view) = blocking(move || {
        let new = deals.reinvite(deal, &body.partner, now_ms())?;
        let view = deals.view(new, true)?.unwrap_or(Value::Null);
        Ok((deals.with_invitations(new), view))
    })
    .await?;
    state.network.handle.sync(ids).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Most items one bulk request names.
pub const BULK_MAX: usize = 5000;

/// `POST /inbox/accept` and `/inbox/decline`: `{"deals": [ids…]}` or `{"all": true}` (every
/// invitation still waiting for an answer).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkRespondBody {
    #[serde(default)]
    deals: Vec<String>,
    #[serde(default)]
    all: bool,
    /// Why, for a decline (refused with an acceptance).
    reason: Option<String>,
}

pub async fn bulk_accept(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<BulkRespondBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    bulk_respond(state, caller, body, true).await
}

pub async fn bulk_decline(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<BulkRespondBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    bulk_respond(state, caller, body, false).await
}

/// Answers many invitations in one request: each on its own (one that fails is named with its
/// reason; the others still count), every changed document offered to partners once at the end.
async fn bulk_respond(
    state: AppState,
    caller: Caller,
    body: Result<Json<BulkRespondBody>, JsonRejection>,
    accept: bool,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manager)?;
    let Json(body) = body?;
    let reason = crate::domain::deals::clean_note(
        "reason",
        body.reason.as_deref(),
        crate::domain::deals::DECLINE_REASON_CHARS_MAX,
    )?;
    if accept && reason.is_some() {
        return Err(DealsError::fields(vec![(
            "reason",
            "a reason goes with a decline, not an acceptance".into(),
        )])
        .into());
    }
    if body.all != body.deals.is_empty() {
        return Err(DealsError::fields(vec![(
            "deals",
            "name the deals ({\"deals\": [ids…]}) or ask for every waiting invitation ({\"all\": true}), one of the two".into(),
        )])
        .into());
    }
    if body.deals.len() > BULK_MAX {
        return Err(DealsError::fields(vec![(
            "deals",
            format!("{} deals; at most {BULK_MAX} per request", body.deals.len()),
        )])
        .into());
    }
    let deals = state.network.deals.clone();
    let (changed, results) = blocking(move || {
        let now = now_ms();
        let wanted: Vec<String> = if body.all {
            crate::domain::inbox::list(&deals, Some("invited"), now)
                .into_iter()
                .filter_map(|i| i["deal_id"].as_str().map(str::to_string))
                .collect()
        } else {
            body.deals
        };
        let mut changed = Vec::new();
        let mut results = Vec::with_capacity(wanted.len());
        for text in wanted {
            let outcome = deals.resolve_id(&text, false).and_then(|deal| {
                deals
                    .respond_with_reason(deal, accept, reason.as_deref(), now)
                    .map(|c| (deal, c))
            });
            match outcome {
                Ok((deal, c)) => {
                    changed.extend(c);
                    results.push(json!({"deal": deal.to_string(), "ok": true}));
                }
                Err(e) => results.push(json!({"deal": text, "ok": false, "error": e.to_string()})),
            }
        }
        Ok((changed, results))
    })
    .await?;
    state.network.handle.sync(changed).await?;
    let failed = results.iter().filter(|r| r["ok"] == false).count();
    Ok(Json(json!({
        "answered": results.len() - failed,
        "failed": failed,
        "results": results,
    })))
}

/// `POST /deals/bulk`: `{"opportunity_ids": [ids…], "partners": [P…], "role"}` — one deal per
/// opportunity, each under its own policy check; one that cannot be shared is named with its
/// reason and the others are still shared.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkShareBody {
    opportunity_ids: Vec<String>,
    partners: Vec<String>,
    role: Option<String>,
    /// A message to the invitees of every deal.
    message: Option<String>,
}

pub async fn bulk_share(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<BulkShareBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manager)?;
    let Json(body) = body?;
    let role = match body.role.as_deref() {
        None => DealRole::Vendor,
        Some(r) => DealRole::parse(r)
            .map_err(|e| ApiError::from(DealsError::fields(vec![("role", e.to_string())])))?,
    };
    // A bad message fails the request, not each opportunity.
    crate::domain::deals::clean_note(
        "message",
        body.message.as_deref(),
        crate::domain::deals::MESSAGE_CHARS_MAX,
    )?;
    if body.opportunity_ids.is_empty() || body.opportunity_ids.len() > BULK_MAX {
        return Err(DealsError::fields(vec![(
            "opportunity_ids",
            format!("name 1 to {BULK_MAX} opportunities"),
        )])
        .into());
    }
    let deals = state.network.deals.clone();
    let (ids, results) = blocking(move || {
        let now = now_ms();
        let mut ids = Vec::new();
        let mut results = Vec::with_capacity(body.opportunity_ids.len());
        for opp in body.opportunity_ids {
            match deals.share_with_message(&opp, &body.partners, role, body.message.as_deref(), now)
            {
                Ok(deal) => {
                    ids.extend(deals.with_invitations(deal));
                    results
                        .push(json!({"opportunity_id": opp, "ok": true, "deal": deal.to_string()}));
                }
                Err(e) => results
                    .push(json!({"opportunity_id": opp, "ok": false, "error": e.to_string()})),
            }
        }
        Ok((ids, results))
    })
    .await?;
    state.network.handle.sync(ids).await?;
    let failed = results.iter().filter(|r| r["ok"] == false).count();
    Ok(Json(json!({
        "shared": results.len() - failed,
        "failed": failed,
        "results": results,
    })))
}

/// `POST /deals/{id}/withdraw`: `{"reason"}` — the origin withdraws a deal; every participant
/// keeps only who withdrew it, when and why.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawBody {
    reason: String,
}

pub async fn withdraw(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<WithdrawBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Manager)?;
    let deal = parse_id(&state, &id)?;
    let Json(body) = body?;
    let deals = state.network.deals.clone();
    let (ids, view) = blocking(move || {
        let ids = deals.withdraw(deal, &body.reason, now_ms())?;
        Ok((ids, deals.view(deal, false)?.unwrap_or(Value::Null)))
    })
    .await?;
    state.network.handle.sync(ids).await?;
    Ok(Json(view))
}
