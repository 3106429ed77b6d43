//! The domain's one error type: what went wrong, by kind. The API maps each kind to a status in
//! one place (`http/error.rs`); the sentence is the kind's text as it is, shown to people.

/// Why a domain operation failed. Each kind says what the caller can do about it; the sentence
/// names the thing and the reason.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The thing named does not exist (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// The request is well-formed but a value is not acceptable (HTTP 422, no details).
    #[error("{0}")]
    Invalid(String),
    /// Several fields of one request are bad: each field and why, all of them at once (HTTP
    /// 422, one detail per field; the sentence joins them with "; ").
    #[error("{}", .0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "))]
    InvalidFields(Vec<(String, String)>),
    /// The caller may not do this (HTTP 403).
    #[error("{0}")]
    Forbidden(String),
    /// The request clashes with what is stored (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// A partner needed for this is not reachable now; try again later (HTTP 503).
    #[error("{0}")]
    Unavailable(String),
    /// Too many requests of this kind in the window; the sentence says when to retry (HTTP 429).
    #[error("{0}")]
    RateLimited(String),
    /// A partner took part but the exchange with it failed (HTTP 502); the sentence names the
    /// partner and the cause.
    #[error("{0}")]
    PartnerFailed(String),
    /// Our fault (HTTP 500): storage, a task, a bug. The cause is logged.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl DomainError {
    /// [`DomainError::InvalidFields`] from (field, why) pairs named by static field names.
    pub fn fields(problems: Vec<(&'static str, String)>) -> Self {
        DomainError::InvalidFields(
            problems
                .into_iter()
                .map(|(f, m)| (f.to_string(), m))
                .collect(),
        )
    }
}
