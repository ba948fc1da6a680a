//! Errors as HTTP answers: one JSON body shape, `Retry-After` where a retry helps, and a log line
//! whose level follows who is at fault.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::kernel::error::Error;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Error::Internal(_) | Error::Unavailable { .. } => tracing::error!(error = %self, "request failed"),
            Error::Unauthenticated { .. } => tracing::warn!(error = %self, "request rejected"),
            _ => tracing::info!(error = %self, status = status.as_u16(), "request refused"),
        }
        let mut body = json!({"error": {"code": self.code(), "message": self.public_message()}});
        if let Error::WrongRegion { region, base_url } = &self {
            body["error"]["region"] = json!(region);
            body["error"]["baseUrl"] = json!(base_url);
        }
        let mut response = (status, axum::Json(body)).into_response();
        let retry_after = match &self {
            Error::RateLimited { retry_after_secs }
            | Error::ReadOnly { retry_after_secs }
            | Error::Unavailable { retry_after_secs, .. } => Some(*retry_after_secs),
            _ => None,
        };
        if let Some(secs) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
