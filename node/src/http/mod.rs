//! The HTTP API under `/api/v1` and the static web UI at `/`. Handlers are thin: they check the
//! caller's role, parse input into validated records, call the store (on a blocking thread, since
//! redb is synchronous) and shape JSON. Routes and their docs live side by side in [`openapi`].

mod announcements;
mod audit;
mod backup;
mod crm;
pub mod deals;
mod declared;
mod erase;
mod error;
mod headers;
pub mod health;
mod hub;
mod import;
mod inbox;
mod leads;
mod leftover_body;
mod mapping;
mod mapping_views;
mod mdf;
pub mod metrics;
mod network;
mod oidc;
pub mod openapi;
mod partners;
mod plans;
mod policy;
mod program;
mod query;
mod records;
mod registrations;
mod scim;
mod session;
mod throttle;
mod webhooks;
mod workday;
pub mod workspaces;

pub use error::ApiError;

use crate::domain::auth::{lookup_token, Role};
use crate::http::metrics::Metrics;
use crate::store::Store;
use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use axum::extract::{DefaultBodyLimit, Extension, MatchedPath, OriginalUri, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Largest JSON request body, in bytes. Imports stream and have their own cap.
pub const JSON_BODY_BYTES_MAX: usize = 1024 * 1024;
/// Largest CSV import body, in bytes (a million-row export is about 200 MB).
pub const IMPORT_BODY_BYTES_MAX: usize = 2 * 1024 * 1024 * 1024;
/// Most items one list page returns.
pub const PAGE_LIMIT_MAX: usize = 1000;
/// Items a list page returns when the caller names no limit.
pub const PAGE_LIMIT_DEFAULT: usize = 100;

/// What the node says about itself at `GET /api/v1/node`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeInfo {
    /// The node id (libp2p PeerId).
    pub id: String,
    /// The company's name.
    pub name: String,
    /// The cosell version.
    pub version: &'static str,
    /// The HTTP base URL.
    pub http: String,
    /// The libp2p addresses partners dial.
    pub p2p: Vec<String>,
}

/// Everything a handler may need.
#[derive(Clone)]
pub struct AppState {
    /// The node's database.
    pub store: Arc<Store>,
    /// Who this node is.
    pub node: Arc<NodeInfo>,
    /// Request and record metrics.
    pub metrics: Arc<Metrics>,
    /// Currency for imported amounts that name none.
    pub default_currency: protocol::records::Currency,
    /// Node events, for the SSE stream and webhooks.
    pub events: Arc<crate::domain::events::EventBus>,
    /// Partner connections, deals and sync.
    pub network: Arc<crate::domain::peers::Network>,
    /// Account mapping.
    pub mapping: Arc<crate::domain::mapping::Mapper>,
    /// Whether an SMTP server is configured (e-mail notifications can be sent).
    pub mail_configured: bool,
    /// The `webhook_allow_private` setting: whether a webhook may target the node's own host
    /// or a private network.
    pub webhook_allow_private: bool,
    /// The node's data directory (backups read its files).
    pub data: crate::app::datadir::DataDir,
    /// The CRM connection (Salesforce or HubSpot).
    pub crm: Arc<crate::domain::crm::Crm>,
    /// Set when the node starts stopping (`/readyz` answers 503 from then on).
    pub lifecycle: Arc<health::Lifecycle>,
    /// The workspaces this node hosts (`hosting = true`), else `None`.
    pub hosting: Option<Arc<dyn workspaces::Hosting>>,
    /// How people sign in: local passwords on or off, single sign-on, group → role map.
    pub sign_in: Arc<crate::domain::oidc::SignInSettings>,
}

/// The caller's role, put into the request by the auth layer.
#[derive(Debug, Clone)]
pub struct Caller {
    /// What the caller may do.
    pub role: Role,
    /// The signed-in user, for a browser session (`None` for an API token).
    pub username: Option<String>,
    /// The session's CSRF token, for a browser session.
    pub csrf_token: Option<String>,
    /// Who the caller is, as audit entries name it: `user 'ana' (admin)`, `token 'ci' (admin)`.
    pub actor: String,
}

impl Caller {
    /// Fails with 403 unless the caller has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the {} role; the token used has the {} role",
                role_name(role),
                role_name(self.role)
            )))
        }
    }
}

pub(crate) fn role_name(role: Role) -> &'static str {
    match role {
        Role::Viewer => "viewer",
        Role::Manager => "manager",
        Role::Admin => "admin",
    }
}

/// Builds the whole HTTP application: API, metrics, and the web UI's static files; as a service
/// that records each connection's peer address (sign-in limits count per client address).
pub fn router(
    state: AppState,
    web_ui_dir: Option<PathBuf>,
) -> IntoMakeServiceWithConnectInfo<Router, SocketAddr> {
    let mut app = app(state.clone(), web_ui_dir);
    if state.hosting.is_some() {
        // `/w/NAME/…`: workspace NAME's own router (http/workspaces.rs).
        app = Router::new()
            .route("/w/{name}", axum::routing::any(workspaces::redirect))
            .route("/w/{name}/", axum::routing::any(workspaces::dispatch))
            .route(
                "/w/{name}/{*rest}",
                axum::routing::any(workspaces::dispatch),
            )
            .with_state(state)
            .merge(app);
    }
    app.into_make_service_with_connect_info::<SocketAddr>()
}

/// The routes of one node (a plain node, the host, or one hosted workspace) over `state`.
pub fn app(state: AppState, web_ui_dir: Option<PathBuf>) -> Router {
    let api = Router::new()
        .route("/node", get(node_info))
        .route(
            "/accounts",
            get(records::list_accounts).post(records::create_account),
        )
        .route(
            "/accounts/{id}",
            get(records::get_account)
                .patch(records::patch_account)
                .delete(records::delete_account),
        )
        .route(
            "/opportunities",
            get(records::list_opportunities).post(records::create_opportunity),
        )
        .route(
            "/opportunities/{id}",
            get(records::get_opportunity)
                .patch(records::patch_opportunity)
                .delete(records::delete_opportunity),
        )
        .route(
            "/import/accounts",
            post(import::import_accounts).layer(DefaultBodyLimit::max(IMPORT_BODY_BYTES_MAX)),
        )
        .route(
            "/import/opportunities",
            post(import::import_opportunities).layer(DefaultBodyLimit::max(IMPORT_BODY_BYTES_MAX)),
        )
        .route(
            "/hub/{hub}/import",
            post(hub::import).layer(DefaultBodyLimit::max(hub::HUB_BODY_BYTES_MAX)),
        )
        .route("/hub/{hub}/opportunities/{id}", get(hub::export))
        .route("/hub/invitations", get(hub::list_invitations))
        .route("/hub/invitations/{id}/accept", post(hub::accept))
        .route("/hub/invitations/{id}/decline", post(hub::decline))
        .route("/export/opportunities", get(hub::export_csv))
        .route("/policy/preview", post(policy::preview))
        .route("/network", get(network::status))
        .route("/partners", get(partners::list))
        .route("/partners/invites", post(partners::invite))
        .route("/partners/join", post(partners::join))
        .route("/partners/{id}", delete(partners::remove))
        .route(
            "/partners/{id}/map",
            get(mapping::get_map).post(mapping::run_map),
        )
        .route("/partners/{id}/map/propose", post(mapping::propose))
        .route("/populations", get(mapping::list_populations))
        .route(
            "/populations/{name}",
            axum::routing::put(mapping::put_population).delete(mapping::delete_population),
        )
        .route(
            "/partners/{id}/policy",
            get(partners::get_policy).put(partners::put_policy),
        )
        .route(
            "/partners/{id}/policy/preview",
            get(partners::preview_policy),
        )
        .route("/deals", get(deals::list).post(deals::share))
        .route("/deals/{id}", get(deals::get).patch(deals::patch))
        .route("/deals/bulk", post(deals::bulk_share))
        .route("/deals/{id}/reinvite", post(deals::reinvite))
        .route("/deals/{id}/withdraw", post(deals::withdraw))
        .route("/erase", post(erase::erase))
        .route("/inbox/accept", post(deals::bulk_accept))
        .route("/inbox/decline", post(deals::bulk_decline))
        .route("/deals/{id}/accept", post(deals::accept))
        .route("/deals/{id}/decline", post(deals::decline))
        .route("/deals/{id}/link", post(deals::link))
        .route("/deals/{id}/attribution", post(deals::propose_attribution))
        .route(
            "/deals/{id}/attribution/accept",
            post(deals::accept_attribution),
        )
        .route("/inbox", get(inbox::list))
        .route("/needs-me", get(workday::needs_me))
        .route("/share-preview", get(workday::share_preview))
        .route(
            "/me/notifications",
            get(workday::get_notifications).put(workday::put_notifications),
        )
        .route("/me/mapping-views", get(mapping_views::list))
        .route(
            "/me/mapping-views/{name}",
            put(mapping_views::put).delete(mapping_views::delete),
        )
        .route(
            "/registrations",
            get(registrations::list).post(registrations::submit),
        )
        .route(
            "/registrations/{id}",
            get(registrations::get).patch(registrations::change),
        )
        .route("/registrations/{id}/approve", post(registrations::approve))
        .route("/registrations/{id}/reject", post(registrations::reject))
        .route(
            "/program",
            get(program::get_program).put(program::put_program),
        )
        .route("/program/check", post(program::check_program))
        .route("/program/partners", get(program::standings))
        .route("/program/standing", get(announcements::standing))
        .route(
            "/announcements",
            get(announcements::list).post(announcements::announce),
        )
        .route("/announcements/{id}/read", post(announcements::read))
        .route("/partners/{id}/region", put(announcements::set_region))
        .route("/program/partners/{id}", get(program::standing))
        .route("/analytics", get(program::analytics))
        .route("/reports/qbr/{partner}", get(program::qbr_pack))
        .route("/attestations", get(program::list).post(program::issue))
        .route("/attestations/import", post(program::import))
        .route("/attestations/revocations", get(program::revocations))
        .route("/attestations/verify", post(program::verify))
        .route("/attestations/{id}", get(program::get))
        .route("/attestations/{id}/revoke", post(program::revoke))
        .route("/registrations/{id}/revoke", post(registrations::revoke))
        .route("/mdf", get(mdf::list).post(mdf::propose))
        .route(
            "/mdf/allocations",
            get(mdf::allocations).post(mdf::allocate),
        )
        .route("/mdf/{id}", get(mdf::get))
        .route("/mdf/{id}/approve", post(mdf::approve))
        .route("/mdf/{id}/reject", post(mdf::reject))
        .route("/mdf/{id}/ask-changes", post(mdf::ask_changes))
        .route("/mdf/{id}/revise", post(mdf::revise))
        .route("/mdf/{id}/claim", post(mdf::claim))
        .route("/mdf/{id}/reimburse", post(mdf::reimburse))
        .route("/mdf/{id}/proof", get(mdf::proof))
        .route("/plans", get(plans::list).post(plans::create))
        .route("/plans/{id}", get(plans::get))
        .route("/plans/{id}/goals", post(plans::add_goal))
        .route("/plans/{id}/stakeholders", post(plans::add_stakeholder))
        .route(
            "/plans/{id}/stakeholders/remove",
            post(plans::remove_stakeholder),
        )
        .route("/plans/{id}/tasks", post(plans::add_task))
        .route("/plans/{id}/tasks/done", post(plans::complete_task))
        .route("/plans/{id}/notes", post(plans::add_note))
        .route("/leads", get(leads::list).post(leads::add))
        .route("/leads/import", post(leads::import))
        .route("/leads/rules", get(leads::rules).put(leads::set_rules))
        .route("/leads/rules/check", post(leads::check_rules))
        .route("/leads/route", post(leads::route))
        .route("/leads/{id}", get(leads::get))
        .route("/leads/{id}/accept", post(leads::accept))
        .route("/leads/{id}/reject", post(leads::reject))
        .route("/leads/{id}/convert", post(leads::convert))
        .route("/audit", get(audit::list))
        .route("/audit/export", get(audit::export))
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/webhooks/{id}", delete(webhooks::delete))
        .route("/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/events", get(webhooks::stream))
        .route("/session", get(session::whoami))
        .route(
            "/users",
            get(session::list_users).post(session::create_user),
        )
        .route("/users/{name}", delete(session::delete_user))
        .route(
            "/tokens",
            get(session::list_api_tokens).post(session::create_api_token),
        )
        .route("/tokens/{id}", delete(session::revoke_api_token))
        .route("/backup", get(backup::download))
        .route("/crm", get(crm::status))
        .route(
            "/crm/connection",
            axum::routing::put(crm::connect).delete(crm::disconnect),
        )
        .route("/crm/sync", post(crm::sync))
        .route(
            "/workspaces",
            get(workspaces::list).post(workspaces::create),
        )
        .route("/workspaces/import", post(workspaces::import))
        .route(
            "/workspaces/{name}",
            get(workspaces::get).delete(workspaces::delete),
        )
        .route("/workspaces/{name}/suspend", post(workspaces::suspend))
        .route("/workspaces/{name}/resume", post(workspaces::resume))
        .route("/workspaces/{name}/export", post(workspaces::export))
        .route(
            "/workspaces/{name}/onboarding",
            post(workspaces::onboarding),
        )
        .route(
            "/scim/tokens",
            get(scim::list_tokens).post(scim::create_token),
        )
        .route("/scim/tokens/{id}", delete(scim::revoke_token))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .route("/openapi.json", get(openapi::serve))
        .route("/sign-in", get(oidc::methods))
        .route("/session", post(session::sign_in).delete(session::sign_out))
        .route("/onboarding", post(session::onboard))
        .fallback(api_not_found)
        .method_not_allowed_fallback(api_method_not_allowed);

    let mut app = Router::new()
        .nest("/api/v1", api)
        // Paths the nested router does not see (`/api/v1/`, `/api/v2/…`) get the API's JSON 404
        // too, not the web UI's empty one.
        .route("/api/v1/", axum::routing::any(api_not_found))
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .route("/metrics", get(crate::http::metrics::serve))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .nest("/scim/v2", scim::router(state.clone()))
        .merge(oidc::router())
        .layer(DefaultBodyLimit::max(JSON_BODY_BYTES_MAX));
    app = match web_ui_dir {
        Some(dir) => app.fallback_service(tower_http::services::ServeDir::new(dir)),
        None => {
            app.fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "no web UI files found") })
        }
    };
    app.layer(middleware::from_fn_with_state(
        state.clone(),
        record_metrics,
    ))
    .layer(middleware::from_fn(headers::secure))
    .layer(middleware::from_fn_with_state(
        state.clone(),
        served_over_tls,
    ))
    .layer(Extension(Arc::new(throttle::SignInLimiter::default())))
    .layer(middleware::from_fn(leftover_body::read_off_leftover))
    .with_state(state)
}

/// On a node that serves HTTPS itself (`tls_cert`), every request came over TLS: it says so
/// the way a TLS-terminating proxy would (`X-Forwarded-Proto: https`, replacing whatever the
/// client sent), so the session cookie is `Secure`.
async fn served_over_tls(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if state.node.http.starts_with("https://") {
        req.headers_mut()
            .insert("x-forwarded-proto", HeaderValue::from_static("https"));
    }
    next.run(req).await
}

async fn node_info(State(state): State<AppState>) -> Json<NodeInfo> {
    Json((*state.node).clone())
}

async fn api_method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}

// `OriginalUri`: inside the nested `/api/v1` router `Uri` lacks the prefix the caller wrote.
async fn api_not_found(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::not_found(format!("no route {method} {}", uri.path()))
}

/// Checks `Authorization: Bearer TOKEN`, or the browser's session cookie (with `X-CSRF-Token`
/// on writes), and records the caller's role; 401 without valid credentials.
async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string());
    let cookie = session::session_cookie(req.headers());
    let csrf_presented = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let is_write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || -> anyhow::Result<Result<Caller, ApiError>> {
        if let Some(token) = bearer {
            return Ok(match lookup_token(&store, &token)? {
                Some(record) => Ok(Caller {
                    role: record.role,
                    username: None,
                    csrf_token: None,
                    actor: crate::domain::audit::actor_name(
                        "token",
                        &record.name,
                        role_name(record.role),
                    ),
                }),
                None => Err(ApiError::unauthorized("the bearer token is not valid")),
            });
        }
        let Some(id) = cookie else {
            return Ok(Err(ApiError::unauthorized(
                "sign in, or send `Authorization: Bearer TOKEN`",
            )));
        };
        let Some(session) = crate::domain::users::session(&store, &id, crate::clock::now_ms())?
        else {
            return Ok(Err(ApiError::unauthorized(
                "your session has ended: sign in again",
            )));
        };
        if is_write && !session::csrf_matches(csrf_presented.as_deref(), &session.csrf_token) {
            return Ok(Err(ApiError::forbidden(
                "missing or wrong X-CSRF-Token for this session (reload the page)",
            )));
        }
        Ok(Ok(Caller {
            role: session.role,
            actor: crate::domain::audit::actor_name(
                "user",
                &session.username,
                role_name(session.role),
            ),
            username: Some(session.username),
            csrf_token: Some(session.csrf_token),
        }))
    })
    .await;
    match found {
        Ok(Ok(Ok(caller))) => {
            let actor = caller.actor.clone();
            req.extensions_mut().insert(caller);
            crate::domain::audit::acting_as(actor, next.run(req)).await
        }
        Ok(Ok(Err(refused))) => refused.into_response(),
        Ok(Err(e)) => ApiError::internal(e).into_response(),
        Err(e) => ApiError::internal(anyhow::anyhow!(e)).into_response(),
    }
}

/// Counts every request by route and status, with its latency.
async fn record_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| {
            if req.uri().path().starts_with("/api/") {
                "unmatched".to_string()
            } else {
                "static".to_string()
            }
        });
    let method = req.method().clone();
    let started = Instant::now();
    let mut response = next.run(req).await;
    state.metrics.observe_request(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Runs blocking store work off the async runtime and turns its error into a 500.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(crate::domain::audit::carry(f))
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?
}
