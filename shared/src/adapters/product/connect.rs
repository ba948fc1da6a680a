//! Calls from the app to a tenant's product (Confluence or Jira) as the app itself: the outbound
//! HS256 app token (CONNECT.md §4, "Outbound app→product JWT") and a small JSON client over it.
//!
//! The client owns the mapping of product answers onto [`Error`]: 404 is an absent answer, a
//! refused token (401/403) or an overloaded or unreachable product is `Unavailable`. Logs name
//! the tenant and the request path only: never the token, never the query (accountIds are
//! personal data).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::StatusCode;
use serde_json::Value;

use crate::domain::connect::jwt::{ConnectClaims, sign_hs256};
use crate::domain::connect::qsh::query_string_hash;
use crate::domain::tenants::Tenant;
use crate::kernel::error::{Error, Result};
use crate::kernel::product_url::{ProductBaseUrl, ProductHosts};

/// Lifetime of an app token; ACE uses the same three minutes.
pub const APP_TOKEN_TTL_SECS: i64 = 180;
/// Largest product answer read; the calls Canopy makes answer a few KB.
pub const MAX_PRODUCT_RESPONSE_BYTES: usize = 1024 * 1024;
/// `code` of the [`Error::Invalid`] a product's 400 becomes, so callers can tell it apart.
pub const PRODUCT_REJECTED: &str = "product_rejected";
/// Bounds on a product's `Retry-After` that Canopy passes on to its own caller.
const MAX_RETRY_AFTER_SECS: u64 = 60;
const DEFAULT_RETRY_AFTER_SECS: u64 = 5;

/// RFC 3986 unreserved characters stay; everything else is `%XX`, so what is sent is what the
/// qsh canonicalises to.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encodes a query-string value (accountIds contain `:`).
pub fn encode_query_value(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// The HS256 token the app sends to the product as `Authorization: JWT …`: `iss` = app key,
/// `iat` = now, `exp` = now + [`APP_TOKEN_TTL_SECS`], `qsh` bound to this request, no `sub`.
///
/// `path_and_query` is what is appended to `product_base_url` (e.g. `/rest/api/user?accountId=a`
/// for `https://x.atlassian.net/wiki`): the qsh is computed over it as is, because the product
/// strips its own base path before hashing.
pub fn app_token(
    app_key: &str,
    shared_secret: &str,
    method: &str,
    product_base_url: &str,
    path_and_query: &str,
    now_secs: i64,
) -> Result<String> {
    if !(product_base_url.starts_with("https://") || product_base_url.starts_with("http://")) {
        return Err(Error::internal("product base URL is not an http(s) URL"));
    }
    let (path, query) = split_path_and_query(path_and_query)?;
    let base_path = base_path_of(product_base_url);
    // A path that repeats the base path would be sent to `/wiki/wiki/…` and hashed wrongly.
    if !base_path.is_empty() && (path == base_path || path.starts_with(&format!("{base_path}/"))) {
        return Err(Error::internal("request path must be relative to the product base URL"));
    }
    let claims = ConnectClaims {
        iss: app_key.to_owned(),
        sub: None,
        qsh: Some(query_string_hash(method, path, query, "")),
        aud: None,
        iat: Some(now_secs),
        exp: Some(now_secs.saturating_add(APP_TOKEN_TTL_SECS)),
        context: None,
    };
    sign_hs256(&claims, shared_secret)
}

fn split_path_and_query(path_and_query: &str) -> Result<(&str, &str)> {
    if !path_and_query.starts_with('/') || path_and_query.contains('#') {
        return Err(Error::internal("product request path must start with / and carry no fragment"));
    }
    Ok(path_and_query.split_once('?').unwrap_or((path_and_query, "")))
}

/// `https://x.atlassian.net/wiki/` → `/wiki`; no path → empty.
fn base_path_of(base_url: &str) -> &str {
    let after_scheme = base_url.split_once("://").map_or(base_url, |(_, rest)| rest);
    after_scheme.find('/').map_or("", |i| after_scheme[i..].trim_end_matches('/'))
}

/// Outbound JSON calls to tenants' products, signed as the app. One per process.
#[derive(Clone)]
pub struct ProductClient {
    app_key: String,
    hosts: ProductHosts,
    client: reqwest::Client,
}

/// The tenant's `baseUrl` if the configured product hosts trust it. Records written before the
/// policy existed are checked on every call: an untrusted one is never called, and an operator
/// sees why.
pub fn trusted_base_url(hosts: &ProductHosts, tenant: &Tenant) -> Result<ProductBaseUrl> {
    hosts.check(&tenant.base_url).map_err(|e| {
        tracing::error!(tenant = %tenant.client_key, error = %e, "tenant baseUrl is not a trusted product site: not called");
        Error::unavailable("product", "the tenant's baseUrl is not a trusted product site")
    })
}

impl ProductClient {
    /// `client` is the process's outbound client (`install_keys::http_client()`: timeouts, no
    /// redirects); `hosts` the product sites it may call (`AppConfig::product_hosts`).
    pub fn new(app_key: impl Into<String>, hosts: ProductHosts, client: reqwest::Client) -> Self {
        Self { app_key: app_key.into(), hosts, client }
    }

    /// GET `{tenant.base_url}{path_and_query}`: `Some(json)` on 200, `None` on 404.
    pub async fn get_json(&self, tenant: &Tenant, path_and_query: &str, now_secs: i64) -> Result<Option<Value>> {
        self.send(tenant, reqwest::Method::GET, path_and_query, None, now_secs).await
    }

    /// POST a JSON body (Jira's read-only checks are POSTs): `Some(json)` on 200, `None` on 404.
    pub async fn post_json(
        &self,
        tenant: &Tenant,
        path_and_query: &str,
        body: &Value,
        now_secs: i64,
    ) -> Result<Option<Value>> {
        self.send(tenant, reqwest::Method::POST, path_and_query, Some(body), now_secs).await
    }

    async fn send(
        &self,
        tenant: &Tenant,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<&Value>,
        now_secs: i64,
    ) -> Result<Option<Value>> {
        let base_url = trusted_base_url(&self.hosts, tenant)?;
        let token = app_token(
            &self.app_key,
            &tenant.shared_secret,
            method.as_str(),
            base_url.as_str(),
            path_and_query,
            now_secs,
        )?;
        let path = split_path_and_query(path_and_query)?.0;
        let mut request = self
            .client
            .request(method.clone(), base_url.endpoint(path_and_query)?)
            .header(reqwest::header::AUTHORIZATION, format!("JWT {token}"))
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            tracing::warn!(tenant = %tenant.client_key, %method, path, error = %describe(e), "product unreachable");
            Error::unavailable("product", "product unreachable")
        })?;
        let status = response.status();
        match status {
            s if s.is_success() => read_json(response).await.map(Some).inspect_err(|e| {
                tracing::warn!(tenant = %tenant.client_key, %method, path, error = %e, "unreadable product answer");
            }),
            StatusCode::NOT_FOUND => Ok(None),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                tracing::error!(
                    tenant = %tenant.client_key, %method, path, status = status.as_u16(),
                    "product refused the app token: the install may be broken"
                );
                Err(Error::unavailable("product", format!("product refused the app token ({status})")))
            }
            StatusCode::BAD_REQUEST => {
                tracing::info!(tenant = %tenant.client_key, %method, path, "product rejected the request (400)");
                Err(Error::invalid(PRODUCT_REJECTED, "Atlassian rejected the request Canopy made for it."))
            }
            StatusCode::TOO_MANY_REQUESTS => {
                let retry_after_secs = retry_after(&response);
                tracing::warn!(tenant = %tenant.client_key, %method, path, retry_after_secs, "product rate-limited us");
                Err(Error::Unavailable {
                    dependency: "product",
                    cause: "product rate limit (429)".into(),
                    retry_after_secs,
                })
            }
            s if s.is_server_error() || s.is_redirection() => {
                tracing::warn!(tenant = %tenant.client_key, %method, path, status = s.as_u16(), "product failed");
                Err(Error::unavailable("product", format!("product answered {s}")))
            }
            s => {
                tracing::error!(tenant = %tenant.client_key, %method, path, status = s.as_u16(), "unexpected product status");
                Err(Error::internal(format!("product answered {s} to {method} {path}")))
            }
        }
    }
}

/// The error and its sources, without the URL (its query holds accountIds).
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn read_json(mut response: reqwest::Response) -> Result<Value> {
    let too_large = || Error::unavailable("product", "product answer larger than 1 MiB");
    if response.content_length().is_some_and(|len| len > MAX_PRODUCT_RESPONSE_BYTES as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| Error::unavailable("product", describe(e)))? {
        if body.len() + chunk.len() > MAX_PRODUCT_RESPONSE_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| Error::unavailable("product", format!("product answer is not JSON: {e}")))
}

/// The product's `Retry-After` in seconds, bounded; only the delta-seconds form is read.
fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_RETRY_AFTER_SECS, |secs| secs.clamp(1, MAX_RETRY_AFTER_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::connect::jwt::{QshRule, TokenKind, verify_hs256};
    use crate::domain::connect::qsh::canonical_request;

    const NOW: i64 = 1_800_000_000;
    const SECRET: &str = "tenant-secret";

    fn claims_of(token: &str, expected_qsh: &str) -> ConnectClaims {
        let (claims, kind) = verify_hs256(token, SECRET, QshRule::Request(expected_qsh), Some(NOW)).unwrap();
        assert_eq!(kind, TokenKind::Request);
        claims
    }

    #[test]
    fn token_is_bound_to_the_request_relative_to_the_product_base_path() {
        let token =
            app_token("canopy", SECRET, "GET", "https://x.atlassian.net/wiki", "/rest/api/user?accountId=a", NOW)
                .unwrap();
        let expected = query_string_hash("GET", "/rest/api/user", "accountId=a", "");
        assert_eq!(canonical_request("GET", "/rest/api/user", "accountId=a", ""), "GET&/rest/api/user&accountId=a");
        // What the product computes from the request it receives, stripping its own base path.
        assert_eq!(expected, query_string_hash("GET", "/wiki/rest/api/user", "accountId=a", "/wiki"));
        let claims = claims_of(&token, &expected);
        assert_eq!(claims.iss, "canopy");
        assert_eq!(claims.qsh.as_deref(), Some(expected.as_str()));
        assert_eq!(claims.iat, Some(NOW));
        assert_eq!(claims.exp, Some(NOW + 180));
        assert_eq!(claims.sub, None);
        assert_eq!(claims.aud, None);
        assert_eq!(claims.context, None);
    }

    #[test]
    fn token_hashes_method_and_encoded_query_as_sent() {
        let account = encode_query_value("557058:a b");
        assert_eq!(account, "557058%3Aa%20b");
        let path = format!("/rest/api/3/permissions/check?accountId={account}");
        let token = app_token("canopy", SECRET, "post", "https://x.atlassian.net", &path, NOW).unwrap();
        let expected = query_string_hash("POST", "/rest/api/3/permissions/check", &format!("accountId={account}"), "");
        claims_of(&token, &expected);
        let as_get = query_string_hash("GET", "/rest/api/3/permissions/check", &format!("accountId={account}"), "");
        assert!(verify_hs256(&token, SECRET, QshRule::Request(&as_get), Some(NOW)).is_err());
        assert!(verify_hs256(&token, "other-secret", QshRule::Request(&expected), Some(NOW)).is_err());
        assert!(verify_hs256(&token, SECRET, QshRule::Request(&expected), Some(NOW + 200)).is_err());
    }

    #[test]
    fn bad_paths_and_base_urls_are_refused() {
        let base = "https://x.atlassian.net/wiki";
        assert!(app_token("canopy", SECRET, "GET", base, "rest/api/user", NOW).is_err());
        assert!(app_token("canopy", SECRET, "GET", base, "/rest/api/user#frag", NOW).is_err());
        assert!(app_token("canopy", SECRET, "GET", base, "/wiki/rest/api/user", NOW).is_err());
        assert!(app_token("canopy", SECRET, "GET", "ftp://x/wiki", "/rest/api/user", NOW).is_err());
        assert!(app_token("canopy", SECRET, "GET", "https://x.atlassian.net/wiki/", "/wikis", NOW).is_ok());
    }

    #[test]
    fn base_path_is_the_url_path_without_trailing_slash() {
        assert_eq!(base_path_of("https://x.atlassian.net/wiki/"), "/wiki");
        assert_eq!(base_path_of("https://x.atlassian.net"), "");
        assert_eq!(base_path_of("http://127.0.0.1:80/a/b"), "/a/b");
    }
}
