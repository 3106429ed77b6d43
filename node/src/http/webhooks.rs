//! Webhooks (admin only) and the server-sent-event stream of node events.

use super::{blocking, ApiError, AppState, Caller};
use crate::domain::auth::Role;
use crate::domain::events::validate_pattern;
use crate::domain::webhooks;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::Json;
use futures_util::stream::Stream;
use serde::Deserialize;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::time::Duration;

/// Least characters of a webhook secret the admin gives (a made one is longer).
pub const WEBHOOK_SECRET_CHARS_MIN: usize = 16;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    url: String,
    #[serde(default)]
    events: Vec<String>,
    secret: Option<String>,
}

fn public(hook: &webhooks::Webhook) -> Value {
    json!({"id": hook.id, "url": hook.url, "events": hook.events, "created_at_ms": hook.created_at_ms})
}

pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let hooks = blocking(move || Ok(webhooks::list(&state.store)?)).await?;
    Ok(Json(
        json!({"items": hooks.iter().map(public).collect::<Vec<_>>(), "next_cursor": null}),
    ))
}

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<NewWebhook>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let Json(new) = body?;
    let mut details = Vec::new();
    let url = new.url.trim().to_string();
    let checked = match webhooks::validate_url(&url) {
        Err(e) => Err(e),
        Ok(()) => {
            let (url, allow_private) = (url.clone(), state.webhook_allow_private);
            blocking(move || Ok(webhooks::check_destination(&url, allow_private))).await?
        }
    };
    if let Err(e) = checked {
        details.push(json!({"field": "url", "message": e}));
    }
    let events = if new.events.is_empty() {
        vec!["*".to_string()]
    } else {
        new.events
    };
    for pattern in &events {
        if let Err(e) = validate_pattern(pattern) {
            details.push(json!({"field": "events", "message": e}));
        }
    }
    // Counted in characters, as the document and the message say (a secret of a few
    // multi-byte characters is not 16 characters long however many bytes it takes).
    if new
        .secret
        .as_ref()
        .is_some_and(|s| s.chars().count() < WEBHOOK_SECRET_CHARS_MIN)
    {
        details.push(json!({"field": "secret",
            "message": format!("the secret must be at least {WEBHOOK_SECRET_CHARS_MIN} characters")}));
    }
    if !details.is_empty() {
        return Err(ApiError::unprocessable("invalid webhook", details));
    }
    let secret = new.secret;
    let hook = blocking(move || {
        webhooks::create(&state.store, &url, events, secret, crate::clock::now_ms())
            .map_err(|e| ApiError::unprocessable(e.to_string(), vec![]))
    })
    .await?;
    let mut answer = public(&hook);
    answer["secret"] = json!(hook.secret.as_str());
    Ok((StatusCode::CREATED, Json(answer)))
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let (existed, id) = blocking(move || Ok((webhooks::delete(&state.store, &id)?, id))).await?;
    if existed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no webhook with id {id}")))
    }
}

pub async fn deliveries(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let items = blocking(move || {
        // A webhook that does not exist (or was removed, with its log) is a 404, not an empty log.
        if !webhooks::list(&state.store)?.iter().any(|h| h.id == id) {
            return Err(ApiError::not_found(format!("no webhook with id {id}")));
        }
        Ok(webhooks::deliveries(&state.store, &id, 100)?)
    })
    .await?;
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

/// `GET /api/v1/events`: node events as server-sent events (`event:` the kind, `data:` JSON).
pub async fn stream(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    caller.require(Role::Viewer)?;
    let rx = state.events.subscribe();
    // The stream ends when the node stops, so a connected browser does not hold up shutdown.
    let closed = Box::pin(state.events.closed());
    let stream = futures_util::stream::unfold((rx, closed), |(mut rx, mut closed)| async move {
        let received = tokio::select! {
            r = rx.recv() => r,
            () = &mut closed => return None,
        };
        let sse = match received {
            Ok(event) => SseEvent::default()
                .event(event.kind.as_str())
                .id(event.seq.to_string())
                .data(serde_json::to_string(&event).unwrap_or_default()),
            // A slow reader is told how many events it missed, then goes on.
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => SseEvent::default()
                .event("lagged")
                .data(json!({"missed": n}).to_string()),
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(sse), (rx, closed)))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
