//! Single sign-on in the browser (outside `/api/v1`, since they are page navigations, not API
//! calls): `GET /auth/oidc/login` sends the browser to the identity provider,
//! `GET /auth/oidc/callback` comes back with a code and signs in, `GET /auth/logout` ends the
//! session (and the provider's, when it offers RP-initiated logout). `GET /api/v1/sign-in`
//! tells the sign-in page which ways to sign in there are.
//!
//! The session cookie is `SameSite=Strict`, which a browser does not send on the first page
//! load after a redirect chain that began at another site; so the callback answers a small
//! page that moves on to `/` itself (a same-site navigation), not a redirect.

use super::session::{served_over_https, session_cookie, session_cookie_header};
use super::{blocking, ApiError, AppState};
use crate::domain::oidc::{SsoError, BINDING_COOKIE, PENDING_LIFETIME_MS};
use crate::domain::users::{self, SESSION_LIFETIME_MS};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// The browser routes of single sign-on (outside `/api/v1`).
pub fn router() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/auth/oidc/login", get(login))
        .route("/auth/oidc/callback", get(callback))
        .route("/auth/logout", get(logout))
}

/// `GET /api/v1/sign-in`: the ways to sign in to the web UI (no credentials needed).
pub async fn methods(State(state): State<AppState>) -> Json<Value> {
    let s = &state.sign_in;
    let base = base_path(&state);
    Json(json!({
        "local_passwords": s.local_passwords,
        "sso": s.oidc.as_ref().map(|p| json!({
            "name": p.config.display_name, "login_url": format!("{base}/auth/oidc/login"),
        })),
    }))
}

/// The path the node's UI is served under: empty for a plain node, `/w/NAME` for a hosted
/// workspace (whose routes the host reaches with that prefix taken off), so the pages and
/// redirects below lead back into the same workspace.
fn base_path(state: &AppState) -> String {
    let http = &state.node.http;
    let after_scheme = http
        .split_once("://")
        .map_or(http.as_str(), |(_, rest)| rest);
    after_scheme
        .find('/')
        .map(|i| after_scheme[i..].trim_end_matches('/').to_string())
        .unwrap_or_default()
}

/// A page for the browser: the message (escaped), a link back to the UI at `base`, and
/// optionally a move on to it.
fn page(base: &str, status: StatusCode, title: &str, message: &str, refresh: bool) -> Response {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let meta = if refresh {
        format!(
            "<meta http-equiv=\"refresh\" content=\"0;url={}/\">",
            esc(base)
        )
    } else {
        String::new()
    };
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">{meta}\
         <title>{t} – cosell</title><link rel=\"stylesheet\" href=\"{b}/style.css\"></head>\
         <body><main class=\"card\"><h1>{t}</h1><p id=\"sso-message\">{m}</p>\
         <p><a href=\"{b}/\">Back to cosell</a></p></main></body></html>",
        t = esc(title),
        m = esc(message),
        b = esc(base),
    );
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn binding_cookie(value: &str, max_age_s: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{BINDING_COOKIE}={value}; HttpOnly; SameSite=Lax; Path=/auth/oidc; Max-Age={max_age_s}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("cosell_oidc=; Max-Age=0"))
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// `GET /auth/oidc/login`: starts a sign-in and sends the browser to the provider.
pub async fn login(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if state.sign_in.oidc.is_none() {
        return page(
            &base_path(&state),
            StatusCode::NOT_FOUND,
            "Single sign-on is off",
            "This node has no identity provider configured.",
            false,
        );
    }
    let now = crate::clock::now_ms();
    let st = state.clone();
    let begun = blocking(move || {
        let Some(p) = st.sign_in.oidc.as_ref() else {
            return Err(ApiError::not_found("no identity provider"));
        };
        Ok(p.begin(&st.store, now))
    })
    .await;
    match begun {
        Ok(Ok((url, binding))) => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            if let Ok(v) = HeaderValue::from_str(&url) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r.headers_mut().insert(
                header::SET_COOKIE,
                binding_cookie(
                    &binding,
                    PENDING_LIFETIME_MS / 1000,
                    served_over_https(&headers),
                ),
            );
            r
        }
        Ok(Err(e)) => failed(&base_path(&state), &e),
        Err(e) => e.into_response(),
    }
}

fn failed(base: &str, e: &SsoError) -> Response {
    if let SsoError::Provider(inner) = e {
        tracing::warn!(error = %format!("{inner:#}"), "single sign-on failed at the provider");
    } else {
        tracing::info!(reason = %e, "single sign-on refused");
    }
    let status = match e {
        SsoError::Provider(_) => StatusCode::BAD_GATEWAY,
        SsoError::State => StatusCode::BAD_REQUEST,
        SsoError::Denied(_) => StatusCode::FORBIDDEN,
        _ => StatusCode::UNAUTHORIZED,
    };
    page(base, status, "Sign-in failed", &e.to_string(), false)
}

/// The provider's answer at the callback.
#[derive(Debug, Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /auth/oidc/callback`: checks the answer, signs in, and moves on to `/`.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Callback>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return failed(&base_path(&state), &SsoError::State);
    };
    if let Some(error) = q.error {
        let said = q.error_description.unwrap_or(error);
        let said: String = said.chars().take(200).collect();
        return failed(&base_path(&state), &SsoError::Refused(said));
    }
    let (Some(code), Some(st_param)) = (q.code, q.state) else {
        return failed(&base_path(&state), &SsoError::State);
    };
    let binding = cookie_value(&headers, BINDING_COOKIE);
    let now = crate::clock::now_ms();
    let st = state.clone();
    let outcome = blocking(move || {
        let Some(p) = st.sign_in.oidc.as_ref() else {
            return Err(ApiError::not_found("no identity provider"));
        };
        let who = match p.finish(&st.store, &st_param, &code, binding.as_deref(), now) {
            Ok(who) => who,
            Err(e) => return Ok(Err(e)),
        };
        let role = st.sign_in.roles.role(&who.groups);
        let jit = p.config.provisioning == crate::domain::oidc::Provisioning::Jit;
        let signed = users::sso_sign_in(&st.store, &who, role, jit, now)?;
        let (id, session) = match signed {
            Ok(s) => s,
            Err(why) => return Ok(Err(SsoError::Denied(why))),
        };
        let actor = crate::domain::audit::actor_name(
            "user",
            &session.username,
            super::role_name(session.role),
        );
        let name = session.username.clone();
        crate::domain::audit::as_actor(actor, || {
            crate::domain::audit::record(
                &st.store,
                now,
                crate::domain::audit::AuditKind::Access,
                None,
                format!("{name} signed in with single sign-on"),
                json!({"event": "sign_in", "username": name, "method": "oidc",
                       "groups": who.groups}),
            )
        })?;
        Ok(Ok(id))
    })
    .await;
    let secure = served_over_https(&headers);
    match outcome {
        Ok(Ok(id)) => {
            let mut r = page(
                &base_path(&state),
                StatusCode::OK,
                "Signed in",
                "You are signed in; cosell opens now.",
                true,
            );
            let h = r.headers_mut();
            h.append(
                header::SET_COOKIE,
                session_cookie_header(&id, SESSION_LIFETIME_MS / 1000, secure),
            );
            h.append(header::SET_COOKIE, binding_cookie("", 0, secure));
            r
        }
        Ok(Err(e)) => failed(&base_path(&state), &e),
        Err(e) => e.into_response(),
    }
}

/// `GET /auth/logout`: ends this browser's session and, for a single sign-on with a provider
/// that offers it, the provider's session too (RP-initiated logout). A GET, so the UI can
/// navigate to it; the `SameSite=Strict` cookie means no other site can sign a user out.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let secure = served_over_https(&headers);
    let cookie = session_cookie(&headers);
    let st = state.clone();
    let target = blocking(move || {
        let Some(id) = cookie else { return Ok(None) };
        let session = users::session(&st.store, &id, crate::clock::now_ms())?;
        users::sign_out(&st.store, &id)?;
        let hint = session.and_then(|s| s.id_token);
        Ok(match (&st.sign_in.oidc, hint) {
            (Some(p), Some(token)) => p.logout_url(Some(&token)),
            _ => None,
        })
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_else(|| format!("{}/", base_path(&state)));
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(&target) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::SET_COOKIE, session_cookie_header("", 0, secure));
    r
}
