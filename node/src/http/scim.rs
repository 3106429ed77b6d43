//! SCIM 2.0 over HTTP at `/scim/v2` (RFC 7644): Users, Groups, and the discovery endpoints
//! (ServiceProviderConfig, ResourceTypes, Schemas). Every request needs a SCIM bearer token
//! (`cosell scim token`); answers are `application/scim+json`, errors in the RFC's shape.

use super::{blocking, ApiError, AppState, Caller};
use crate::domain::auth::Role;
use crate::domain::scim::{self, Kind, ScimError};
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

#[path = "scim_meta.rs"]
mod meta;
use meta::{filter_matches, parse_filter, project};

const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// Most resources one list page returns.
pub const COUNT_MAX: usize = 1000;

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({"schemas": [ERROR_SCHEMA], "status": self.status.to_string(),
                              "detail": self.detail});
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        scim_json(
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST),
            body,
        )
    }
}

fn scim_json(status: StatusCode, body: Value) -> Response {
    let mut r = (status, Json(body)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/scim+json"),
    );
    r
}

/// The `/scim/v2` router (its own auth: SCIM tokens only).
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/ServiceProviderConfig", get(meta::service_provider_config))
        .route("/ResourceTypes", get(meta::resource_types))
        .route("/ResourceTypes/{id}", get(meta::resource_type))
        .route("/Schemas", get(meta::schemas))
        .route("/Schemas/{id}", get(meta::schema))
        .route("/.search", post(search_all))
        .route("/Users", get(list_users).post(create_user))
        .route("/Users/.search", post(search_users))
        .route(
            "/Users/{id}",
            get(get_user)
                .put(put_user)
                .patch(patch_user)
                .delete(delete_user),
        )
        .route("/Groups", get(list_groups).post(create_group))
        .route("/Groups/.search", post(search_groups))
        .route(
            "/Groups/{id}",
            get(get_group)
                .put(put_group)
                .patch(patch_group)
                .delete(delete_group),
        )
        .fallback(|| async { ScimError::not_found("no such SCIM endpoint") })
        .method_not_allowed_fallback(|| async {
            ScimError {
                status: 405,
                scim_type: None,
                detail: "method not allowed here".into(),
            }
        })
        .route_layer(middleware::from_fn_with_state(state, authenticate))
}

/// Accepts a SCIM bearer token only.
async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string());
    let Some(token) = bearer else {
        return unauthorized();
    };
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || scim::lookup_token(&store, &token)).await;
    match found {
        Ok(Ok(Some(t))) => {
            let actor = crate::domain::audit::actor_name("token", &t.name, "scim");
            crate::domain::audit::acting_as(actor, next.run(req)).await
        }
        Ok(Ok(None)) => unauthorized(),
        Ok(Err(e)) => ScimError::internal(e).into_response(),
        Err(e) => ScimError::internal(anyhow::anyhow!(e)).into_response(),
    }
}

fn unauthorized() -> Response {
    let mut r = ScimError {
        status: 401,
        scim_type: None,
        detail: "a SCIM bearer token is needed (cosell scim token)".into(),
    }
    .into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"cosell-scim\""),
    );
    r
}

/// The node's address as SCIM clients reach it (for `meta.location`).
fn base(state: &AppState) -> String {
    state
        .sign_in
        .public_url
        .clone()
        .unwrap_or_else(|| state.node.http.clone())
}

/// List and search parameters (RFC 7644 3.4.2).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    attributes: Option<Value>,
    excluded_attributes: Option<Value>,
    sort_by: Option<String>,
    sort_order: Option<String>,
}

fn names(v: &Option<Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => s.split(',').map(|a| a.trim().to_string()).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|a| !a.is_empty())
    .collect()
}

/// `POST /scim/v2/.search`: users and groups at once (RFC 7644 3.4.3).
async fn search_all(State(s): State<AppState>, body: Bytes) -> Result<Response, ScimError> {
    list_kinds(s, &[Kind::User, Kind::Group], search_query(&body)?).await
}

async fn list(state: AppState, kind: Kind, q: ListQuery) -> Result<Response, ScimError> {
    list_kinds(state, &[kind], q).await
}

async fn list_kinds(state: AppState, kinds: &[Kind], q: ListQuery) -> Result<Response, ScimError> {
    let filter = q.filter.as_deref().map(parse_filter).transpose()?;
    let _ = (&q.sort_by, &q.sort_order); // sorting is not offered (ServiceProviderConfig)
    let kinds = kinds.to_vec();
    let all = run(move || {
        let mut all = Vec::new();
        for kind in kinds {
            all.extend(scim::list(&state.store, kind)?);
        }
        Ok(all)
    })
    .await?;
    let matching: Vec<Value> = all
        .into_iter()
        .filter(|r| filter.as_ref().is_none_or(|f| filter_matches(f, r)))
        .collect();
    let start = q.start_index.unwrap_or(1).max(1) as usize;
    let count = q.count.unwrap_or(100).clamp(0, COUNT_MAX as i64) as usize;
    let (attrs, excluded) = (names(&q.attributes), names(&q.excluded_attributes));
    let page: Vec<Value> = matching
        .iter()
        .skip(start - 1)
        .take(count)
        .map(|r| project(r, &attrs, &excluded))
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        json!({"schemas": [LIST_SCHEMA], "totalResults": matching.len(), "startIndex": start,
               "itemsPerPage": page.len(), "Resources": page}),
    ))
}

async fn run<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ScimError> + Send + 'static,
) -> Result<T, ScimError> {
    tokio::task::spawn_blocking(crate::domain::audit::carry(f))
        .await
        .map_err(|e| ScimError::internal(anyhow::anyhow!(e)))?
}

fn body_json(body: &Bytes) -> Result<Value, ScimError> {
    serde_json::from_slice(body)
        .map_err(|e| ScimError::bad("invalidSyntax", format!("the body is not JSON: {e}")))
}

/// The attribute projection of a single-resource answer.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Projection {
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

fn one(status: StatusCode, r: &Value, p: &Projection) -> Response {
    let attrs = names(&p.attributes.clone().map(Value::String));
    let excluded = names(&p.excluded_attributes.clone().map(Value::String));
    let mut resp = scim_json(status, project(r, &attrs, &excluded));
    if let Some(loc) = r["meta"]["location"]
        .as_str()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    resp
}

fn audit(state: &AppState, summary: String, details: Value) -> Result<(), ScimError> {
    crate::domain::audit::record(
        &state.store,
        crate::clock::now_ms(),
        crate::domain::audit::AuditKind::Access,
        None,
        summary,
        details,
    )?;
    Ok(())
}

async fn create(
    state: AppState,
    kind: Kind,
    body: Bytes,
    p: Projection,
) -> Result<Response, ScimError> {
    let body = body_json(&body)?;
    let base = base(&state);
    let created = run(move || {
        let r = scim::create(
            &state.store,
            &state.sign_in.roles,
            kind,
            &body,
            &base,
            crate::clock::now_ms(),
        )?;
        audit(
            &state,
            format!("SCIM created {} {}", kind.name(), label(&r)),
            json!({"event": "scim_create", "type": kind.name(), "id": r["id"]}),
        )?;
        Ok(r)
    })
    .await?;
    Ok(one(StatusCode::CREATED, &created, &p))
}

fn label(r: &Value) -> String {
    r["userName"]
        .as_str()
        .or(r["displayName"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[derive(Clone, Copy)]
enum Change {
    Put,
    Patch,
}

async fn change(
    state: AppState,
    kind: Kind,
    id: String,
    body: Bytes,
    how: Change,
    p: Projection,
) -> Result<Response, ScimError> {
    let body = body_json(&body)?;
    let changed = run(move || {
        let (store, roles, now) = (&state.store, &state.sign_in.roles, crate::clock::now_ms());
        let r = match how {
            Change::Put => scim::replace(store, roles, kind, &id, &body, now)?,
            Change::Patch => scim::patch(store, roles, kind, &id, &body, now)?,
        };
        audit(
            &state,
            format!("SCIM changed {} {}", kind.name(), label(&r)),
            json!({"event": "scim_change", "type": kind.name(), "id": id,
                   "active": r.get("active")}),
        )?;
        Ok(r)
    })
    .await?;
    Ok(one(StatusCode::OK, &changed, &p))
}

async fn remove(state: AppState, kind: Kind, id: String) -> Result<Response, ScimError> {
    run(move || {
        scim::delete(
            &state.store,
            &state.sign_in.roles,
            kind,
            &id,
            crate::clock::now_ms(),
        )?;
        audit(
            &state,
            format!("SCIM deleted {} {id}", kind.name()),
            json!({"event": "scim_delete", "type": kind.name(), "id": id}),
        )
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn fetch(
    state: AppState,
    kind: Kind,
    id: String,
    p: Projection,
) -> Result<Response, ScimError> {
    let found = run(move || Ok(scim::get(&state.store, kind, &id)?)).await?;
    match found {
        Some(r) => Ok(one(StatusCode::OK, &r, &p)),
        None => Err(ScimError::not_found(format!(
            "no {} with that id",
            kind.name()
        ))),
    }
}

fn search_query(body: &Bytes) -> Result<ListQuery, ScimError> {
    let v = body_json(body)?;
    Ok(ListQuery {
        filter: v["filter"].as_str().map(str::to_string),
        start_index: v["startIndex"].as_i64(),
        count: v["count"].as_i64(),
        attributes: v.get("attributes").cloned(),
        excluded_attributes: v.get("excludedAttributes").cloned(),
        sort_by: None,
        sort_order: None,
    })
}

type Q<T> = Result<Query<T>, axum::extract::rejection::QueryRejection>;

fn query<T: Default>(q: Q<T>) -> Result<T, ScimError> {
    q.map(|Query(q)| q)
        .map_err(|e| ScimError::bad("invalidValue", e.body_text()))
}

macro_rules! handlers {
    ($kind:expr, $list:ident, $search:ident, $create:ident, $get:ident, $put:ident, $patch:ident, $delete:ident) => {
        async fn $list(State(s): State<AppState>, q: Q<ListQuery>) -> Result<Response, ScimError> {
            list(s, $kind, query(q)?).await
        }
        async fn $search(State(s): State<AppState>, body: Bytes) -> Result<Response, ScimError> {
            list(s, $kind, search_query(&body)?).await
        }
        async fn $create(
            State(s): State<AppState>,
            q: Q<Projection>,
            body: Bytes,
        ) -> Result<Response, ScimError> {
            create(s, $kind, body, query(q)?).await
        }
        async fn $get(
            State(s): State<AppState>,
            Path(id): Path<String>,
            q: Q<Projection>,
        ) -> Result<Response, ScimError> {
            fetch(s, $kind, id, query(q)?).await
        }
        async fn $put(
            State(s): State<AppState>,
            Path(id): Path<String>,
            q: Q<Projection>,
            body: Bytes,
        ) -> Result<Response, ScimError> {
            change(s, $kind, id, body, Change::Put, query(q)?).await
        }
        async fn $patch(
            State(s): State<AppState>,
            Path(id): Path<String>,
            q: Q<Projection>,
            body: Bytes,
        ) -> Result<Response, ScimError> {
            change(s, $kind, id, body, Change::Patch, query(q)?).await
        }
        async fn $delete(
            State(s): State<AppState>,
            Path(id): Path<String>,
        ) -> Result<Response, ScimError> {
            remove(s, $kind, id).await
        }
    };
}

handlers!(
    Kind::User,
    list_users,
    search_users,
    create_user,
    get_user,
    put_user,
    patch_user,
    delete_user
);
handlers!(
    Kind::Group,
    list_groups,
    search_groups,
    create_group,
    get_group,
    put_group,
    patch_group,
    delete_group
);

// ---- SCIM tokens under /api/v1 (admin) ----

/// `POST /api/v1/scim/tokens` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewScimToken {
    name: String,
}

/// `POST /api/v1/scim/tokens`: a new SCIM bearer token (shown once).
pub async fn create_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<NewScimToken>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let Json(new) = body?;
    let name = new.name.trim().to_string();
    if name.is_empty() || new.name.chars().count() > 200 {
        return Err(ApiError::unprocessable(
            "invalid token",
            vec![
                json!({"field": "name", "message": "a token needs a name of 1 to 200 characters"}),
            ],
        ));
    }
    let token = blocking(move || {
        let now = crate::clock::now_ms();
        let t = scim::create_token(&state.store, &name, now)?;
        crate::domain::audit::record(
            &state.store,
            now,
            crate::domain::audit::AuditKind::Access,
            None,
            format!("created SCIM token '{name}'"),
            json!({"event": "scim_token_created", "name": name}),
        )?;
        Ok(t)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"token": token.as_str()}))))
}

/// `GET /api/v1/scim/tokens`: every SCIM token's id, name and creation time.
pub async fn list_tokens(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let all = blocking(move || Ok(scim::list_tokens(&state.store)?)).await?;
    let items: Vec<Value> = all
        .iter()
        .map(|(id, t)| json!({"id": id, "name": t.name, "created_at_ms": t.created_at_ms}))
        .collect();
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

/// `DELETE /api/v1/scim/tokens/{id}`: revoke a SCIM token.
pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let existed = blocking(move || {
        let existed = scim::revoke_token(&state.store, &id)?;
        if existed {
            crate::domain::audit::record(
                &state.store,
                crate::clock::now_ms(),
                crate::domain::audit::AuditKind::Access,
                None,
                "revoked a SCIM token".to_string(),
                json!({"event": "scim_token_revoked", "id": id.trim()}),
            )?;
        }
        Ok(existed)
    })
    .await?;
    if existed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no SCIM token with that id"))
    }
}
