//! Signing in from a browser (session cookie + CSRF token), users and API tokens (admin only).

use super::throttle::{self, SignInLimiter};
use super::{blocking, ApiError, AppState, Caller};
use crate::domain::auth::{create_token, list_tokens, revoke_token, Revoked, Role};
use crate::domain::users::{self, SESSION_COOKIE, SESSION_LIFETIME_MS};
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Extension, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    username: String,
    password: String,
}

/// The session cookie's value in a request, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

/// Whether the browser reached the node over HTTPS: a TLS-terminating proxy in front of it says
/// so with `X-Forwarded-Proto: https` (or `Forwarded: proto=https`). The node itself speaks
/// plain HTTP, and its configured address is always `http://`, so the proxy's word is the only
/// signal there is. A client that claims HTTPS over plain HTTP only gets a cookie its browser
/// will not send back: the claim can make the cookie stricter, never looser.
pub fn served_over_https(headers: &HeaderMap) -> bool {
    let forwarded_proto = headers
        .get_all("x-forwarded-proto")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next()
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
    let forwarded = headers
        .get_all(header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("proto"))
        .is_some_and(|(_, v)| v.trim().trim_matches('"').eq_ignore_ascii_case("https"));
    forwarded_proto || forwarded
}

/// Whether the CSRF token a write presented is the session's, compared in constant time: the
/// SHA-256 digests of both (always 32 bytes, so not even the length tells) are compared with
/// `subtle`, which looks at every byte whatever it finds.
pub fn csrf_matches(presented: Option<&str>, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    let Some(presented) = presented else {
        return false;
    };
    let (a, b) = (
        Sha256::digest(presented.as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    a.as_slice().ct_eq(b.as_slice()).into()
}

/// The session cookie: HttpOnly, SameSite=Strict, and `Secure` when the node is served over
/// HTTPS ([`served_over_https`]).
fn cookie(value: &str, max_age_s: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_s}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("cosell_session=; Max-Age=0"))
}

/// The session cookie header, for the single sign-on callback and sign-out.
pub(crate) fn session_cookie_header(value: &str, max_age_s: u64, secure: bool) -> HeaderValue {
    cookie(value, max_age_s, secure)
}

/// `POST /api/v1/session`: sign in; sets the session cookie, answers the CSRF token. A wrong
/// name and a wrong password get the same answer, in about the same time; after
/// [`throttle::SIGN_IN_FAILURES_MAX`] attempts in [`throttle::SIGN_IN_WINDOW`] for one username
/// or from one client address, 429 with `Retry-After` until the window ends.
pub async fn sign_in(
    State(state): State<AppState>,
    Extension(limiter): Extension<Arc<SignInLimiter>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Json<Credentials>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(c) = body?;
    if !state.sign_in.local_passwords {
        return Err(ApiError::forbidden(
            "password sign-in is turned off on this node: sign in with single sign-on, or use an API token",
        ));
    }
    let forwarded_for = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let mut keys = vec![throttle::Key::user(&c.username)];
    keys.extend(
        throttle::client_addr(peer.map(|Extension(ConnectInfo(a))| a), forwarded_for)
            .map(throttle::Key::addr),
    );
    if let Err(wait) = limiter.attempt(&keys, std::time::Instant::now()) {
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many failed sign-ins for this username or from this address: try again in {}",
                throttle::minutes(wait)
            ),
        )
        .into_response();
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(wait.as_secs().max(1)),
        );
        return Ok(response);
    }
    let now = crate::clock::now_ms();
    let store = state.store.clone();
    let result =
        blocking(move || Ok(users::sign_in(&state.store, &c.username, &c.password, now)?)).await?;
    let Some((id, session)) = result else {
        return Err(ApiError::unauthorized("wrong username or password"));
    };
    limiter.succeeded(&keys);
    let actor =
        crate::domain::audit::actor_name("user", &session.username, super::role_name(session.role));
    let who = session.username.clone();
    blocking(move || {
        crate::domain::audit::as_actor(actor, || {
            access_audit(
                &store,
                now,
                format!("{who} signed in"),
                json!({"event": "sign_in", "username": who}),
            )
        })
    })
    .await?;
    let mut response = Json(json!({
        "username": session.username, "role": session.role, "csrf_token": session.csrf_token,
        "expires_at_ms": session.expires_at_ms,
    }))
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie(&id, SESSION_LIFETIME_MS / 1000, served_over_https(&headers)),
    );
    Ok(response)
}

/// `GET /api/v1/session`: who the caller is.
pub async fn whoami(Extension(caller): Extension<Caller>) -> Json<Value> {
    Json(json!({"username": caller.username, "role": caller.role, "csrf_token": caller.csrf_token}))
}

/// `DELETE /api/v1/session`: sign out; the cookie is cleared.
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let secure = served_over_https(&headers);
    if let Some(id) = session_cookie(&headers) {
        blocking(move || Ok(users::sign_out(&state.store, &id)?)).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie("", 0, secure));
    Ok(response)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    username: String,
    password: String,
    role: Role,
}

pub async fn list_users(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let all = blocking(move || Ok(users::list_users(&state.store)?)).await?;
    let items: Vec<Value> = all
        .iter()
        .map(|u| {
            json!({"username": u.username, "role": u.role, "created_at_ms": u.created_at_ms,
                   "active": u.active, "source": u.source})
        })
        .collect();
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

pub async fn create_user(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<NewUser>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let Json(new) = body?;
    let mut details = Vec::new();
    if let Err(e) = users::validate_username(&new.username) {
        details.push(json!({"field": "username", "message": e}));
    }
    if let Err(e) = users::validate_password(&new.password) {
        details.push(json!({"field": "password", "message": e}));
    }
    if !details.is_empty() {
        return Err(ApiError::unprocessable("invalid user", details));
    }
    let now = crate::clock::now_ms();
    let user = blocking(move || {
        let user = users::create_user(&state.store, &new.username, &new.password, new.role, now)
            .map_err(|e| ApiError::conflict(e.to_string()))?;
        access_audit(
            &state.store,
            now,
            format!(
                "created user {} ({})",
                user.username,
                super::role_name(user.role)
            ),
            json!({"event": "user_created", "username": user.username, "role": user.role}),
        )?;
        Ok(user)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"username": user.username, "role": user.role, "created_at_ms": user.created_at_ms}),
        ),
    ))
}

pub async fn delete_user(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let now = crate::clock::now_ms();
    let (existed, name) = blocking(move || {
        let existed = users::delete_user(&state.store, &name)?;
        if existed {
            access_audit(
                &state.store,
                now,
                format!("deleted user {name}"),
                json!({"event": "user_deleted", "username": name}),
            )?;
        }
        Ok((existed, name))
    })
    .await?;
    if existed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no user named {name}")))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
    role: Role,
}

pub async fn create_api_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<NewToken>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let Json(new) = body?;
    if new.name.trim().is_empty() || new.name.chars().count() > 200 {
        return Err(ApiError::unprocessable(
            "invalid token",
            vec![
                json!({"field": "name", "message": "a token needs a name of 1 to 200 characters"}),
            ],
        ));
    }
    let now = crate::clock::now_ms();
    let role = new.role;
    let token = blocking(move || {
        let name = new.name.trim();
        let token = create_token(&state.store, name, role, now)?;
        access_audit(
            &state.store,
            now,
            format!("created API token '{name}' ({})", super::role_name(role)),
            json!({"event": "token_created", "name": name, "role": role}),
        )?;
        Ok(token)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"token": token.as_str(), "role": role})),
    ))
}

/// `GET /api/v1/tokens`: every API token's id, name, role and creation time (never the token).
pub async fn list_api_tokens(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let all = blocking(move || Ok(list_tokens(&state.store)?)).await?;
    let items: Vec<Value> = all
        .iter()
        .map(|(id, t)| json!({"id": id, "name": t.name, "role": t.role, "created_at_ms": t.created_at_ms}))
        .collect();
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

/// `DELETE /api/v1/tokens/{id}`: revoke a token; it stops working at once.
pub async fn revoke_api_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let now = crate::clock::now_ms();
    let revoked = blocking(move || {
        let name = list_tokens(&state.store)?
            .into_iter()
            .find(|(t, _)| *t == id.trim())
            .map(|(_, r)| r.name);
        let outcome = revoke_token(&state.store, &id)?;
        if outcome == Revoked::Done {
            let name = name.unwrap_or_default();
            access_audit(
                &state.store,
                now,
                format!("revoked API token '{name}'"),
                json!({"event": "token_revoked", "name": name, "id": id.trim()}),
            )?;
        }
        Ok(outcome)
    })
    .await?;
    match revoked {
        Revoked::Done => Ok(StatusCode::NO_CONTENT),
        Revoked::NotFound => Err(ApiError::not_found("no API token with that id")),
        Revoked::LastAdmin => Err(ApiError::conflict(
            "this is the last admin token; create another admin token before revoking it",
        )),
    }
}

/// Appends an `access` audit entry (its actor is the caller, set by the auth layer).
fn access_audit(
    store: &crate::store::Store,
    now: u64,
    summary: String,
    details: Value,
) -> Result<(), ApiError> {
    crate::domain::audit::record(
        store,
        now,
        crate::domain::audit::AuditKind::Access,
        None,
        summary,
        details,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_token_is_compared_in_constant_time_and_only_the_exact_token_passes() {
        // Security review (issue 19, low): the token was compared with `!=`, which returns at
        // the first differing byte. `csrf_matches` compares SHA-256 digests with `subtle`.
        let token = "7da2d5f1101f1ccd6c77d8f442c6787f";
        assert!(csrf_matches(Some(token), token));
        assert!(!csrf_matches(
            Some("7da2d5f1101f1ccd6c77d8f442c6787e"),
            token
        ));
        assert!(!csrf_matches(
            Some("7da2d5f1101f1ccd6c77d8f442c6787"),
            token
        ));
        assert!(!csrf_matches(Some(""), token));
        assert!(!csrf_matches(None, token));
    }

    #[test]
    fn the_cookie_is_secure_when_the_request_came_over_https() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (k, v) in pairs {
                map.append(*k, HeaderValue::from_static(v));
            }
            map
        };
        assert!(served_over_https(&headers(&[(
            "x-forwarded-proto",
            "https"
        )])));
        assert!(served_over_https(&headers(&[(
            "x-forwarded-proto",
            "HTTPS, http"
        )])));
        assert!(served_over_https(&headers(&[(
            "forwarded",
            "for=1.2.3.4;proto=https"
        )])));
        assert!(!served_over_https(&headers(&[(
            "x-forwarded-proto",
            "http"
        )])));
        assert!(!served_over_https(&headers(&[])));
        let secure = cookie("abc", 60, true);
        assert!(
            secure.to_str().unwrap_or("").ends_with("; Secure"),
            "{secure:?}"
        );
        let plain = cookie("abc", 60, false);
        assert!(
            !plain.to_str().unwrap_or("").contains("Secure"),
            "{plain:?}"
        );
    }
}

/// Body of `POST /api/v1/onboarding`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Onboarding {
    code: String,
    username: String,
    password: String,
}

/// `POST /api/v1/onboarding`: the first user of a node opened its onboarding link; with the
/// link's code, creates that user as admin (the code then stops working). 404 when no such
/// code waits, the same whether there never was one or the code is wrong.
pub async fn onboard(
    State(state): State<AppState>,
    body: Result<Json<Onboarding>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(new) = body?;
    let mut details = Vec::new();
    if let Err(e) = users::validate_username(&new.username) {
        details.push(json!({"field": "username", "message": e}));
    }
    if let Err(e) = users::validate_password(&new.password) {
        details.push(json!({"field": "password", "message": e}));
    }
    let now = crate::clock::now_ms();
    let user = blocking(move || {
        if !crate::app::onboarding::matches(&state.data, &new.code)? {
            return Err(ApiError::not_found(
                "this onboarding link is not valid (used already, or replaced by a newer one)",
            ));
        }
        if !details.is_empty() {
            return Err(ApiError::unprocessable("invalid user", details));
        }
        let user = users::create_user(&state.store, &new.username, &new.password, Role::Admin, now)
            .map_err(|e| ApiError::conflict(e.to_string()))?;
        crate::app::onboarding::spend(&state.data)?;
        access_audit(
            &state.store,
            now,
            format!(
                "created user {} (admin) from the onboarding link",
                user.username
            ),
            json!({"event": "user_created", "username": user.username, "role": user.role}),
        )?;
        Ok(user)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"username": user.username, "role": user.role, "created_at_ms": user.created_at_ms}),
        ),
    ))
}
