//! The HTTP side of a CRM connector: one blocking `ureq` agent (the connectors run on a blocking
//! thread), answers sorted into what the sync does next. Credentials go only into the request
//! headers or form bodies the callers build; no URL, log line or error sentence here holds one.

use serde_json::Value;
use std::time::Duration;

/// How long one CRM request may take.
pub const REQUEST_TIMEOUT_SECS: u64 = 60;
/// How long connecting to the CRM may take (a wrong server fails fast at connect).
pub const CONNECT_TIMEOUT_SECS: u64 = 5;
/// The longest `Retry-After` honoured within a sync; a longer wait ends the sync and the
/// schedule backs off instead.
pub const RETRY_AFTER_SECS_MAX: u64 = 60;
/// Retries of one request after rate-limit answers before the sync gives up (and backs off).
pub const RATE_LIMIT_RETRIES_MAX: u32 = 3;

/// Why a CRM request failed.
#[derive(Debug)]
pub enum Failure {
    /// 401: the session (or token) is not valid.
    Unauthorized(String),
    /// Rate limited: wait `retry_after` (when the CRM said) and try again.
    RateLimited {
        /// The CRM's `Retry-After`, if any.
        retry_after: Option<Duration>,
        /// The CRM's sentence.
        message: String,
    },
    /// Any other refusal: the status and the CRM's error text.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The CRM's error text.
        message: String,
    },
    /// The CRM could not be reached, or its answer was not JSON.
    Transport(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Unauthorized(m) => write!(f, "the CRM refused the session (401): {m}"),
            Failure::RateLimited { message, .. } => {
                write!(f, "the CRM's API limit is reached: {message}")
            }
            Failure::Refused { status, message } => {
                write!(f, "the CRM answered {status}: {message}")
            }
            Failure::Transport(m) => write!(f, "cannot reach the CRM: {m}"),
        }
    }
}

impl std::error::Error for Failure {}

/// A blocking HTTP agent with the connectors' timeouts.
pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(REQUEST_TIMEOUT_SECS))
        .timeout_connect(Duration::from_secs(CONNECT_TIMEOUT_SECS))
        .build()
}

/// Sends `request` (with `body` as JSON, or `form` fields) and reads a JSON answer; a 204 reads
/// as `null`. `classify` sorts a refusal's status and body into a [`Failure`] (each CRM words
/// its limits and expired sessions its own way).
pub fn send(
    request: ureq::Request,
    body: Body<'_>,
    classify: fn(u16, &str, Option<Duration>) -> Failure,
) -> Result<Value, Failure> {
    let answer = match body {
        Body::None => request.call(),
        Body::Json(v) => request.send_json(v),
        Body::Form(fields) => request.send_form(fields),
    };
    match answer {
        Ok(response) => {
            if response.status() == 204 {
                return Ok(Value::Null);
            }
            let text = response
                .into_string()
                .map_err(|e| Failure::Transport(e.to_string()))?;
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            serde_json::from_str(&text)
                .map_err(|e| Failure::Transport(format!("the answer is not JSON: {e}")))
        }
        Err(ureq::Error::Status(status, response)) => {
            let retry_after = response
                .header("Retry-After")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let text = response.into_string().unwrap_or_default();
            Err(classify(status, &shorten(&text), retry_after))
        }
        Err(ureq::Error::Transport(t)) => Err(Failure::Transport(t.to_string())),
    }
}

/// A request body.
pub enum Body<'a> {
    /// None (GET).
    None,
    /// JSON.
    Json(Value),
    /// `application/x-www-form-urlencoded` fields.
    Form(&'a [(&'a str, &'a str)]),
}

/// A CRM's error text, cut to a readable length.
pub fn shorten(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(400) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}
