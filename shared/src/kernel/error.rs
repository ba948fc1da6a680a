//! The one error type of Canopy, with the status and code each variant answers (the response
//! itself is built in `http::error`).
//!
//! Every failure a handler can meet is one of these variants; each doc line names the status it
//! answers with. Adapters translate their SDK errors into these at the call site.

use http::StatusCode;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the request is malformed (unparseable JSON, bad query, bad header).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 401: not authenticated. The body is always the same; `reason` only goes to the log.
    #[error("unauthenticated: {reason}")]
    Unauthenticated { reason: String },
    /// 403: authenticated but not allowed (e.g. the tenant is disabled).
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// 404: unknown for this tenant (or unknown route).
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// 405: the route exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: the write conflicts with the current state (the item exists, is in use, …).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 409 `write_conflict`: the item changed since it was read (a version or existence
    /// condition failed, or a transaction lost a race); read it again and retry.
    #[error("The item changed since it was read; read it again and retry.")]
    WriteConflict,
    /// 412: `If-Match` did not match the stored version.
    #[error("{message}")]
    PreconditionFailed { message: String },
    /// 428: an update or delete came without `If-Match`.
    #[error("{message}")]
    PreconditionRequired { message: String },
    /// 413: the body or the item is larger than its bound.
    #[error("{message}")]
    PayloadTooLarge { message: String },
    /// 415: the body is not of the required media type.
    #[error("{message}")]
    UnsupportedMediaType { message: String },
    /// 421: the tenant is homed in another region.
    #[error("tenant lives in region {region}")]
    WrongRegion { region: String, base_url: String },
    /// 422: well-formed but invalid content (missing field, value out of bounds).
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// 429: rate limited; retry after the given seconds.
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    /// 503: the tenant's data is moving region (a read-only phase of seconds); writes are refused,
    /// reads go on; retry after the given seconds.
    #[error("tenant is read-only while its data moves region")]
    ReadOnly { retry_after_secs: u64 },
    /// 503: a dependency (store, key service) is down; retry after the given seconds.
    #[error("dependency unavailable: {dependency}: {cause}")]
    Unavailable { dependency: &'static str, cause: String, retry_after_secs: u64 },
    /// 500: a bug or an unexpected state; the cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest { code, message: message.into() }
    }
    pub fn unauthenticated(reason: impl Into<String>) -> Self {
        Self::Unauthenticated { reason: reason.into() }
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden { code, message: message.into() }
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound { code, message: message.into() }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into() }
    }
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { code, message: message.into() }
    }
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::PayloadTooLarge { message: message.into() }
    }
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }
    pub fn unavailable(dependency: &'static str, cause: impl std::fmt::Display) -> Self {
        Self::Unavailable { dependency, cause: cause.to_string(), retry_after_secs: 5 }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } | Self::WriteConflict => StatusCode::CONFLICT,
            Self::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Self::PreconditionRequired { .. } => StatusCode::PRECONDITION_REQUIRED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::WrongRegion { .. } => StatusCode::MISDIRECTED_REQUEST,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::ReadOnly { .. } | Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Forbidden { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. }
            | Self::Invalid { code, .. } => code,
            Self::WriteConflict => "write_conflict",
            Self::Unauthenticated { .. } => "unauthenticated",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PreconditionFailed { .. } => "version_mismatch",
            Self::PreconditionRequired { .. } => "if_match_required",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::WrongRegion { .. } => "wrong_region",
            Self::RateLimited { .. } => "rate_limited",
            Self::ReadOnly { .. } => "tenant_read_only",
            Self::Unavailable { .. } => "dependency_unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The sentence sent to the caller: never the logged cause of a 401 or 5xx.
    pub fn public_message(&self) -> String {
        match self {
            Self::Unauthenticated { .. } => "Authentication failed.".into(),
            Self::Unavailable { .. } => "A service Canopy depends on is unavailable; try again shortly.".into(),
            Self::Internal(_) => "Canopy met an internal error.".into(),
            Self::RateLimited { .. } => "Too many requests; try again later.".into(),
            Self::ReadOnly { retry_after_secs } => format!(
                "This site's data is moving to another region; changes are paused for a few seconds. Try again in {retry_after_secs} s."
            ),
            Self::WrongRegion { region, .. } => format!("This tenant's data lives in region {region}."),
            other => other.to_string(),
        }
    }
}
