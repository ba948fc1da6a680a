//! Response headers on every answer, errors included (CONNECT.md §3, DESIGN.md "Errors").

use axum::http::{HeaderValue, header};
use axum::response::Response;

/// Adds `Cache-Control: no-cache, no-store` unless a handler chose a caching policy, plus
/// `Referrer-Policy` and `X-Content-Type-Options`.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-cache, no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
