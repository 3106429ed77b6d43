//! The API's one error shape: `{"error": "sentence", "details": [...]}` with a fitting status.

use crate::domain::error::DomainError;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// An error answer. The sentence is shown to people as it is (web UI, CLI).
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    details: Vec<Value>,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            details: Vec::new(),
        }
    }
    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    /// 401: no valid credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    /// 403: valid credentials, not enough role.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    /// 409: the request clashes with what is stored.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    /// 422: well-formed but invalid values; `details` says which.
    pub fn unprocessable(message: impl Into<String>, details: Vec<Value>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: message.into(),
            details,
        }
    }
    /// 500: our fault. The cause (the whole error chain: paths, tables, library messages) goes
    /// to the log only, under a random incident id; the caller gets a fixed sentence with that
    /// id, so an operator can find the cause without the caller learning it.
    pub fn internal(error: anyhow::Error) -> Self {
        let mut raw = [0u8; 8];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
        let incident = hex::encode(raw);
        tracing::error!(%incident, error = %format!("{error:#}"), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "internal error (incident {incident}): the node could not finish this request; \
                 its log names the cause under this incident id"
            ),
        )
    }
    /// The same error with `details`, each naming what it is about.
    pub fn with_details(mut self, details: Vec<Value>) -> Self {
        self.details = details;
        self
    }
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// The JSON body the error answers.
    pub fn body(&self) -> Value {
        json!({ "error": self.message, "details": self.details })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = match &rejection {
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonRejection::JsonDataError(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => rejection.status(),
        };
        if let JsonRejection::JsonDataError(_) = rejection {
            let (message, detail) = json_data_problem(&rejection.body_text());
            let mut error = ApiError::new(status, message);
            error.details.extend(detail);
            return error;
        }
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::new(
                status,
                format!(
                    "the request body is larger than this route takes ({} KiB of JSON)",
                    super::JSON_BODY_BYTES_MAX / 1024
                ),
            );
        }
        if let JsonRejection::MissingJsonContentType(_) = rejection {
            return ApiError::new(
                status,
                "this route takes a JSON body: send one with Content-Type: application/json \
                 ({} when there is nothing to give)",
            );
        }
        ApiError::new(
            status,
            format!("invalid JSON body: {}", rejection.body_text()),
        )
    }
}

/// A sentence and a `{"field","message"}` detail for a JSON body of the wrong shape, from
/// serde's text (`…target type: notes: invalid type: string "x", expected a sequence at line 1
/// column 12`), so every 422 names its field the same way, whichever way the route reads JSON.
fn json_data_problem(text: &str) -> (String, Option<Value>) {
    let rest = text.split_once("target type: ").map_or(text, |(_, r)| r);
    let rest = rest.rfind(" at line ").map_or(rest, |at| &rest[..at]);
    let quoted = |r: &str| r.split_once('`').map(|(name, _)| name.to_string());
    let (field, message) = if let Some(name) = rest.strip_prefix("missing field `").and_then(quoted)
    {
        (name, "is required".to_string())
    } else if let Some(name) = rest.strip_prefix("unknown field `").and_then(quoted) {
        let known = rest.split_once(", expected ").map_or("", |(_, k)| k);
        (name, format!("unknown field (expected {known})"))
    } else if let Some((path, why)) = rest
        .split_once(": ")
        .filter(|(path, _)| !path.is_empty() && !path.contains(' '))
    {
        // A nested field's own complaint (`products[0]: invalid type…`) may itself name a
        // missing or unknown inner field; it is shown as serde says it.
        (path.to_string(), why.to_string())
    } else {
        return (format!("invalid JSON body: {rest}"), None);
    };
    let sentence = format!("{field}: {message}");
    (sentence, Some(json!({"field": field, "message": message})))
}

/// The one place a domain error's kind becomes a status. The sentence is the error's text as it
/// is; several bad fields also give one `{"field","message"}` detail each.
impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound(m) => ApiError::not_found(m),
            DomainError::Invalid(m) => ApiError::unprocessable(m, vec![]),
            DomainError::InvalidFields(fields) => {
                let sentence = DomainError::InvalidFields(fields.clone()).to_string();
                let details = fields
                    .into_iter()
                    .map(|(field, message)| json!({"field": field, "message": message}))
                    .collect();
                ApiError::unprocessable(sentence, details)
            }
            DomainError::Forbidden(m) => ApiError::forbidden(m),
            DomainError::Conflict(m) => ApiError::conflict(m),
            DomainError::Unavailable(m) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, m),
            DomainError::RateLimited(m) => ApiError::new(StatusCode::TOO_MANY_REQUESTS, m),
            DomainError::PartnerFailed(m) => ApiError::new(StatusCode::BAD_GATEWAY, m),
            DomainError::Internal(e) => ApiError::internal(e),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        ApiError::internal(error)
    }
}

#[cfg(test)]
mod json_problem_tests {
    use super::*;

    #[test]
    fn a_json_body_of_the_wrong_shape_names_its_field() {
        let prefix = "Failed to deserialize the JSON body into the target type: ";
        let (sentence, detail) = json_data_problem(&format!(
            "{prefix}missing field `account_name` at line 1 column 2"
        ));
        assert_eq!(sentence, "account_name: is required");
        assert_eq!(
            detail,
            Some(json!({"field": "account_name", "message": "is required"}))
        );
        let (_, detail) = json_data_problem(&format!(
            "{prefix}notes: invalid type: string \"x\", expected a sequence at line 1 column 12"
        ));
        assert_eq!(
            detail,
            Some(
                json!({"field": "notes", "message": "invalid type: string \"x\", expected a sequence"})
            )
        );
        let (sentence, detail) =
            json_data_problem(&format!("{prefix}expected value at line 1 column 1"));
        assert_eq!(sentence, "invalid JSON body: expected value");
        assert_eq!(detail, None);
    }
}

#[cfg(test)]
mod internal_tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A log sink for one test.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_500_answers_a_fixed_sentence_and_an_incident_id_that_the_log_line_names_with_the_cause() {
        // Security review (issue 19, low): the answer carried the whole error chain (paths,
        // table names, library messages) to whoever made the request.
        let log = Captured::default();
        let sink = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        let error = tracing::subscriber::with_default(subscriber, || {
            ApiError::internal(
                anyhow::anyhow!("/var/lib/cosell/cosell.redb: No space left on device")
                    .context("cannot commit the import"),
            )
        });
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let sentence = error.body()["error"].as_str().unwrap_or("").to_string();
        assert!(
            !sentence.contains("cosell.redb")
                && !sentence.contains("No space")
                && !sentence.contains("cannot commit"),
            "{sentence}"
        );
        let incident = sentence
            .split_once("incident ")
            .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_alphanumeric()).next())
            .unwrap_or_else(|| panic!("no incident id in {sentence:?}"));
        assert!(incident.len() >= 8, "{sentence}");
        let logged = String::from_utf8(log.0.lock().expect("log").clone()).expect("UTF-8");
        let line = logged
            .lines()
            .find(|l| l.contains(incident))
            .unwrap_or_else(|| panic!("the log does not name {incident}: {logged}"));
        assert!(
            line.contains("cannot commit the import: /var/lib/cosell/cosell.redb"),
            "{line}"
        );
        let other = ApiError::internal(anyhow::anyhow!("again"));
        assert_ne!(other.body()["error"], error.body()["error"], "ids differ");
    }
}
