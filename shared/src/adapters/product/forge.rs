//! Calls to a tenant's product as the Forge app: `Authorization: Bearer <app system token>` through
//! `https://api.atlassian.com/ex/<product>/<cloudId>` (configurable, `CANOPY_FORGE_API_BASE_URL`).
//!
//! Paths below the product base are the ones the Connect client uses below the tenant's
//! `baseUrl` (`/rest/api/user?…`), so a question is written once for both schemes. Answers map
//! onto [`Error`] as in `connect::product`. Logs name the cloudId and the path only: never the
//! token, never the query (accountIds are personal data).

use reqwest::StatusCode;
use serde_json::Value;

use crate::adapters::http::read_bounded;
use crate::adapters::product::connect::{MAX_PRODUCT_RESPONSE_BYTES, PRODUCT_REJECTED};
use crate::domain::forge::SystemToken;
use crate::kernel::error::{Error, Result};
use crate::kernel::ids::is_plausible_cloud_id;
/// Bounds on a `Retry-After` passed on to Canopy's own caller.
const MAX_RETRY_AFTER_SECS: u64 = 60;
const DEFAULT_RETRY_AFTER_SECS: u64 = 5;

/// What a FIT caller hands on for product calls as the Forge app: its site and this request's
/// app system token.
#[derive(Debug, Clone)]
pub struct ForgeAccess {
    pub cloud_id: String,
    pub system_token: SystemToken,
}

/// Outbound JSON calls through Atlassian's API gateway as the Forge app. One per process.
#[derive(Clone)]
pub struct ForgeProductClient {
    api_base_url: String,
    client: reqwest::Client,
}

impl ForgeProductClient {
    /// `client` is the process's outbound client (`install_keys::http_client()`).
    pub fn new(api_base_url: &str, client: reqwest::Client) -> Self {
        Self { api_base_url: api_base_url.trim_end_matches('/').to_owned(), client }
    }

    /// `{api}/ex/confluence/{cloudId}/wiki` or `{api}/ex/jira/{cloudId}`.
    pub fn product_base(&self, product_type: &str, cloud_id: &str) -> Result<String> {
        if !is_plausible_cloud_id(cloud_id) {
            return Err(Error::internal("cloud id is not a cloud id"));
        }
        match product_type {
            "confluence" => Ok(format!("{}/ex/confluence/{cloud_id}/wiki", self.api_base_url)),
            "jira" => Ok(format!("{}/ex/jira/{cloud_id}", self.api_base_url)),
            other => Err(Error::internal(format!("no Forge product base for product type {other}"))),
        }
    }

    /// GET `{product base}{path_and_query}`: `Some(json)` on 200, `None` on 404.
    pub async fn get_json(
        &self,
        product_type: &str,
        access: &ForgeAccess,
        path_and_query: &str,
    ) -> Result<Option<Value>> {
        self.send(product_type, access, reqwest::Method::GET, path_and_query, None).await
    }

    /// POST a JSON body: `Some(json)` on 200, `None` on 404.
    pub async fn post_json(
        &self,
        product_type: &str,
        access: &ForgeAccess,
        path_and_query: &str,
        body: &Value,
    ) -> Result<Option<Value>> {
        self.send(product_type, access, reqwest::Method::POST, path_and_query, Some(body)).await
    }

    async fn send(
        &self,
        product_type: &str,
        access: &ForgeAccess,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>> {
        if !path_and_query.starts_with('/') || path_and_query.contains('#') {
            return Err(Error::internal("product request path must start with / and carry no fragment"));
        }
        let base = self.product_base(product_type, &access.cloud_id)?;
        let path = path_and_query.split_once('?').map_or(path_and_query, |(p, _)| p);
        let cloud = access.cloud_id.as_str();
        let mut request = self
            .client
            .request(method.clone(), format!("{base}{path_and_query}"))
            .bearer_auth(access.system_token.expose())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            tracing::warn!(cloud, %method, path, error = %e.without_url(), "Forge product API unreachable");
            Error::unavailable("product", "Forge product API unreachable")
        })?;
        let status = response.status();
        match status {
            s if s.is_success() => {
                let bytes = read_bounded(response, MAX_PRODUCT_RESPONSE_BYTES)
                    .await
                    .map_err(|e| Error::unavailable("product", format!("unreadable product answer: {e}")))?;
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| Error::unavailable("product", format!("product answer is not JSON: {e}")))
            }
            StatusCode::NOT_FOUND => Ok(None),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                tracing::error!(
                    cloud, %method, path, status = status.as_u16(),
                    "the product refused the app system token: expired, or a scope is missing from the manifest"
                );
                Err(Error::unavailable("product", format!("product refused the app system token ({status})")))
            }
            StatusCode::BAD_REQUEST => {
                tracing::info!(cloud, %method, path, "product rejected the request (400)");
                Err(Error::invalid(PRODUCT_REJECTED, "Atlassian rejected the request Canopy made for it."))
            }
            StatusCode::TOO_MANY_REQUESTS => {
                let retry_after_secs = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map_or(DEFAULT_RETRY_AFTER_SECS, |secs| secs.clamp(1, MAX_RETRY_AFTER_SECS));
                tracing::warn!(cloud, %method, path, retry_after_secs, "product rate-limited us");
                Err(Error::Unavailable {
                    dependency: "product",
                    cause: "product rate limit (429)".into(),
                    retry_after_secs,
                })
            }
            s if s.is_server_error() || s.is_redirection() => {
                tracing::warn!(cloud, %method, path, status = s.as_u16(), "product failed");
                Err(Error::unavailable("product", format!("product answered {s}")))
            }
            s => {
                tracing::error!(cloud, %method, path, status = s.as_u16(), "unexpected product status");
                Err(Error::internal(format!("product answered {s} to {method} {path}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_bases_go_through_the_api_gateway_by_cloud_id() {
        let client = ForgeProductClient::new("https://api.atlassian.com/", reqwest::Client::new());
        assert_eq!(
            client.product_base("confluence", "4869c4ef-cb0d").unwrap(),
            "https://api.atlassian.com/ex/confluence/4869c4ef-cb0d/wiki"
        );
        assert_eq!(client.product_base("jira", "c1").unwrap(), "https://api.atlassian.com/ex/jira/c1");
        assert!(client.product_base("bitbucket", "c1").is_err());
        assert!(client.product_base("jira", "../c1").is_err());
    }
}
