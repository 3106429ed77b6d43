//! Hosted workspaces (`hosting = true`; ARCHITECTURE.md "Hosted workspaces"): the host admin's
//! routes under `/api/v1/workspaces`, and the dispatcher that hands `/w/NAME/…` to workspace
//! NAME's own router (the same routes a plain node serves, over that workspace's own state).
//!
//! Isolation at this edge: a request under `/w/NAME/` reaches only NAME's router, with NAME's
//! store, tokens and sessions; a credential NAME does not know is answered 404 exactly as an
//! unknown workspace is (never 401 or 403, which would confirm the workspace exists to a
//! caller of another one); the session cookie is scoped to `/w/NAME/`.

use crate::domain::auth::Role;
use crate::domain::error::DomainError;
use crate::http::{ApiError, AppState, Caller};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;
use tower::ServiceExt;
use tracing::Instrument;

/// A future the host answers with.
pub type HostFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DomainError>> + Send + 'a>>;

/// One workspace as the host admin sees it: never its records.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WorkspaceInfo {
    /// Its name, the `/w/NAME/` path segment.
    pub name: String,
    /// Its node id (its own identity key).
    pub node_id: String,
    /// `active` or `suspended`.
    pub status: &'static str,
    /// The base URL of its API and web UI.
    pub http: String,
    /// The libp2p addresses its partners dial (empty while suspended).
    pub p2p: Vec<String>,
}

/// What the composition root gives the HTTP layer to manage and reach workspaces.
pub trait Hosting: Send + Sync {
    /// Every workspace, by name.
    fn list(&self) -> Vec<WorkspaceInfo>;
    /// Creates and starts a workspace; answers it and its onboarding code.
    fn create(&self, name: String) -> HostFuture<'_, (WorkspaceInfo, String)>;
    /// Stops (`true`) or restarts a workspace.
    fn set_suspended(&self, name: String, suspended: bool) -> HostFuture<'_, WorkspaceInfo>;
    /// Stops a workspace and removes its data directory.
    fn delete(&self, name: String) -> HostFuture<'_, ()>;
    /// Stops a workspace, writes its data directory to `dir` (a new directory) and forgets it.
    fn export(&self, name: String, dir: std::path::PathBuf) -> HostFuture<'_, WorkspaceInfo>;
    /// Moves the node data directory `dir` into the host as a workspace named `name`.
    fn import(&self, name: String, dir: std::path::PathBuf) -> HostFuture<'_, WorkspaceInfo>;
    /// A new onboarding code for a workspace (the previous one stops working).
    fn onboarding(&self, name: String) -> HostFuture<'_, String>;
    /// The router of an active workspace.
    fn router(&self, name: &str) -> Option<axum::Router>;
    /// Ends every workspace's event streams (the host is stopping).
    fn close(&self);
}

/// Body of `POST /api/v1/workspaces`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWorkspace {
    name: String,
}

/// Body of export and import.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirBody {
    dir: String,
    #[serde(default)]
    name: Option<String>,
}

fn host(state: &AppState, caller: &Caller) -> Result<std::sync::Arc<dyn Hosting>, ApiError> {
    let host = state.hosting.clone().ok_or_else(|| {
        ApiError::not_found("this node hosts no workspaces (set hosting = true in cosell.toml)")
    })?;
    caller.require(Role::Admin)?;
    Ok(host)
}

fn onboarding_url(info: &WorkspaceInfo, code: &str) -> String {
    format!("{}/#onboarding={code}", info.http)
}

/// `GET /api/v1/workspaces`.
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    let host = host(&state, &caller)?;
    Ok(Json(json!({"items": host.list(), "next_cursor": null})))
}

/// `POST /api/v1/workspaces`: 201 with the onboarding link for its first user.
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<NewWorkspace>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let host = host(&state, &caller)?;
    let Json(new) = body?;
    let (info, code) = host.create(new.name).await?;
    let mut answer = json!(info);
    answer["onboarding_url"] = json!(onboarding_url(&info, &code));
    Ok((StatusCode::CREATED, Json(answer)))
}

fn find(host: &dyn Hosting, name: &str) -> Result<WorkspaceInfo, ApiError> {
    host.list()
        .into_iter()
        .find(|w| w.name == name)
        .ok_or_else(|| ApiError::not_found(format!("no workspace named {name:?}")))
}

/// `GET /api/v1/workspaces/{name}`.
pub async fn get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<WorkspaceInfo>, ApiError> {
    let host = host(&state, &caller)?;
    Ok(Json(find(host.as_ref(), &name)?))
}

/// `POST /api/v1/workspaces/{name}/suspend`.
pub async fn suspend(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<WorkspaceInfo>, ApiError> {
    let host = host(&state, &caller)?;
    Ok(Json(host.set_suspended(name, true).await?))
}

/// `POST /api/v1/workspaces/{name}/resume`.
pub async fn resume(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<WorkspaceInfo>, ApiError> {
    let host = host(&state, &caller)?;
    Ok(Json(host.set_suspended(name, false).await?))
}

/// `POST /api/v1/workspaces/{name}/onboarding`: a new onboarding link.
pub async fn onboarding(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let host = host(&state, &caller)?;
    let info = find(host.as_ref(), &name)?;
    let code = host.onboarding(name).await?;
    Ok(Json(
        json!({"onboarding_url": onboarding_url(&info, &code)}),
    ))
}

/// `DELETE /api/v1/workspaces/{name}`: 204.
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let host = host(&state, &caller)?;
    host.delete(name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/workspaces/{name}/export`: writes the workspace's node data directory to
/// `dir` on the host's machine and forgets it.
pub async fn export(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Result<Json<DirBody>, JsonRejection>,
) -> Result<Json<WorkspaceInfo>, ApiError> {
    let host = host(&state, &caller)?;
    let Json(body) = body?;
    if body.name.is_some() {
        return Err(ApiError::unprocessable(
            "name is for import only; export keeps the workspace's name",
            vec![json!({"field": "name"})],
        ));
    }
    Ok(Json(host.export(name, absolute(&body.dir)?).await?))
}

/// `POST /api/v1/workspaces/import`: 201.
pub async fn import(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<DirBody>, JsonRejection>,
) -> Result<(StatusCode, Json<WorkspaceInfo>), ApiError> {
    let host = host(&state, &caller)?;
    let Json(body) = body?;
    let dir = absolute(&body.dir)?;
    let name = match body.name {
        Some(name) => name,
        None => dir
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default(),
    };
    Ok((StatusCode::CREATED, Json(host.import(name, dir).await?)))
}

fn absolute(dir: &str) -> Result<std::path::PathBuf, ApiError> {
    let path = std::path::PathBuf::from(dir);
    if !path.is_absolute() {
        return Err(ApiError::unprocessable(
            format!("dir must be an absolute path on the host's machine, not {dir:?}"),
            vec![json!({"field": "dir"})],
        ));
    }
    Ok(path)
}

/// The one answer for a workspace that does not exist, is suspended, or does not know the
/// caller's credentials.
fn unknown() -> Response {
    ApiError::not_found("not found").into_response()
}

/// `/w/NAME` → `/w/NAME/` (the web UI's relative links need the slash).
pub async fn redirect(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match state.hosting.as_ref().and_then(|h| h.router(&name)) {
        Some(_) => axum::response::Redirect::permanent(&format!("/w/{name}/")).into_response(),
        None => unknown(),
    }
}

/// Everything under `/w/NAME/`: NAME's own router, with the prefix taken off.
pub async fn dispatch(State(state): State<AppState>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let Some(after) = path.strip_prefix("/w/") else {
        return unknown();
    };
    let (name, rest) = after.split_at(after.find('/').unwrap_or(after.len()));
    let Some(router) = state.hosting.as_ref().and_then(|h| h.router(name)) else {
        return unknown();
    };
    let rest = if rest.is_empty() { "/" } else { rest };
    // The host's health is the process's; a workspace's counters are its own users' only.
    if rest == "/healthz" || rest == "/readyz" {
        return unknown();
    }
    if rest == "/metrics" && !signed_in(&router, req.headers().clone()).await {
        return unknown();
    }
    let target = match req.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    };
    let signing_in = req.method() == axum::http::Method::POST && rest == "/api/v1/session";
    let Ok(uri) = target.parse::<axum::http::Uri>() else {
        return unknown();
    };
    // A fresh request: the host route's own path parameters must not reach the workspace's
    // handlers; only the client's address (sign-in limits) is carried over.
    let (parts, body) = req.into_parts();
    let mut req = Request::new(body);
    *req.method_mut() = parts.method;
    *req.uri_mut() = uri;
    *req.version_mut() = parts.version;
    *req.headers_mut() = parts.headers;
    if let Some(peer) = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        req.extensions_mut().insert(*peer);
    }
    let span = tracing::info_span!("workspace", workspace = %name);
    let mut response = match router.oneshot(req).instrument(span).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    // Signing in answers 401 for a wrong password, as an unknown workspace does too; a
    // single sign-on that failed answers its page (the sign-in page is public anyway).
    let sso_page = rest.starts_with("/auth/");
    if response.status() == StatusCode::UNAUTHORIZED && !signing_in && !sso_page {
        return unknown();
    }
    scope_cookies(&mut response, name);
    response
}

/// Whether `req` carries a credential of the workspace behind `router`.
async fn signed_in(router: &axum::Router, headers: axum::http::HeaderMap) -> bool {
    let mut probe = Request::new(axum::body::Body::empty());
    *probe.uri_mut() = axum::http::Uri::from_static("/api/v1/session");
    for name in [header::AUTHORIZATION, header::COOKIE] {
        if let Some(value) = headers.get(&name) {
            probe.headers_mut().insert(name, value.clone());
        }
    }
    match router.clone().oneshot(probe).await {
        Ok(response) => response.status() == StatusCode::OK,
        Err(never) => match never {},
    }
}

/// A workspace's cookies (the session's, single sign-on's binding) are sent only under its own
/// `/w/NAME/`.
fn scope_cookies(response: &mut Response, name: &str) {
    let cookies: Vec<HeaderValue> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    if cookies.is_empty() {
        return;
    }
    response.headers_mut().remove(header::SET_COOKIE);
    for cookie in cookies {
        let scoped = cookie
            .to_str()
            .ok()
            .map(|c| c.replacen("; Path=/", &format!("; Path=/w/{name}/"), 1))
            .and_then(|c| HeaderValue::from_str(&c).ok());
        if let Some(scoped) = scoped {
            response.headers_mut().append(header::SET_COOKIE, scoped);
        }
    }
}
