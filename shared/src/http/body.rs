//! JSON request bodies: media type, size and shape errors in Canopy's JSON error format.

use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

use crate::kernel::error::{Error, Result};

/// Parses a JSON body read as bytes (the lifecycle routes need the bytes and the headers
/// together with the token). 415 without `application/json`, 400 for broken JSON, 422 for
/// missing or mistyped fields.
pub fn parse_json<T: DeserializeOwned>(headers: &HeaderMap, bytes: &[u8]) -> Result<T> {
    if !is_json(headers) {
        return Err(Error::UnsupportedMediaType { message: "The body must be application/json.".into() });
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error(&mut de)?;
    de.end().map_err(|e| Error::bad_request("malformed_json", format!("The body is not valid JSON: {e}")))?;
    Ok(value)
}

/// Whether the request says `content-type: application/json` (parameters such as `charset` aside).
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

fn serde_path_to_error<'de, T: DeserializeOwned>(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
) -> Result<T> {
    T::deserialize(de).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            Error::invalid("invalid_body", format!("The body does not have the expected fields: {e}"))
        }
        _ => Error::bad_request("malformed_json", format!("The body is not valid JSON: {e}")),
    })
}

/// The raw body, with an over-limit body answered as a JSON 413.
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for RawBody {
    type Rejection = Error;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self> {
        <axum::body::Bytes as axum::extract::FromRequest<S>>::from_request(req, state).await.map(Self).map_err(
            |rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    Error::too_large("The body is larger than this route accepts (docs/API.md lists the limits).")
                } else {
                    Error::bad_request("unreadable_body", "The request body could not be read.")
                }
            },
        )
    }
}

/// A JSON body extractor whose every rejection is Canopy's JSON error (see [`parse_json`]).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequest<S> for JsonBody<T> {
    type Rejection = Error;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self> {
        let headers = req.headers().clone();
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        parse_json(&headers, &bytes).map(Self)
    }
}
