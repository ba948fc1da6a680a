//! Response headers on every answer, errors included (CONNECT.md §3, DESIGN.md "Errors").

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;

use crate::kernel::config::AppConfig;

/// A year, subdomains included: the app is only ever served over HTTPS once deployed.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Whether answers carry `Strict-Transport-Security`: when the app's public base URL is HTTPS,
/// i.e. on AWS. The local server (plain HTTP on loopback) does not send it: browsers ignore it over
/// HTTP, and pinning `127.0.0.1` to HTTPS would break every other local server.
pub fn sends_hsts(config: &AppConfig) -> bool {
    config.base_url.starts_with("https://")
}

/// Adds `Cache-Control: no-cache, no-store` unless a handler chose a caching policy, plus
/// `Referrer-Policy`, `X-Content-Type-Options` and, when `hsts`, `Strict-Transport-Security`.
pub async fn security_headers(State(hsts): State<bool>, mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-cache, no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    response
}
