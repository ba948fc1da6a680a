//! The liveness probe of Connect sites (`retention::liveness`): a cheap read signed as the app.

use async_trait::async_trait;

use super::connect::{app_token, trusted_base_url};
use crate::domain::retention::liveness::{Access, SiteProbe};
use crate::domain::tenants::Tenant;
use crate::kernel::error::{Error, Result};
use crate::kernel::product_url::ProductHosts;

/// Connect: a cheap read with the app's JWT (`READ` scope). An uninstalled app's token is
/// refused (401), a deleted site answers 404/410.
pub struct ConnectSiteProbe {
    pub client: reqwest::Client,
    pub app_key: String,
    /// The product sites it may call (`AppConfig::product_hosts`).
    pub hosts: ProductHosts,
}

#[async_trait]
impl SiteProbe for ConnectSiteProbe {
    async fn probe(&self, tenant: &Tenant) -> Result<Access> {
        let path = if tenant.product_type == "jira" { "/rest/api/3/serverInfo" } else { "/rest/api/space?limit=1" };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let base_url = trusted_base_url(&self.hosts, tenant)?;
        let token = app_token(&self.app_key, &tenant.shared_secret, "GET", base_url.as_str(), path, now)?;
        let response = self
            .client
            .get(base_url.endpoint(path)?)
            .header("authorization", format!("JWT {token}"))
            .send()
            .await
            .map_err(|e| Error::unavailable("product", e.without_url()))?;
        match response.status().as_u16() {
            200..=299 => Ok(Access::Granted),
            401 | 403 | 404 | 410 => Ok(Access::Denied),
            status => Err(Error::unavailable("product", format!("liveness probe answered {status}"))),
        }
    }
}
