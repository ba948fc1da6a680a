//! The membership port: which groups an Atlassian account belongs to in a tenant's site, which
//! opens `restricted` sites (`domain::access`). Adapters: the product's REST API asked as the app
//! ([`ProductGroupDirectory`]), a fixed map for the local server ([`LocalGroupDirectory`]), and a
//! TTL cache in front of either ([`CachedGroupDirectory`]). It follows the admin check
//! (`admins`): the same two ways to the product, the same cache shape.
//!
//! The answer is Atlassian's data: it lives in this process's memory for the cache's TTL and is
//! never written to the store. An unreachable product is `Unavailable`, never "no groups" and
//! never "every group": the caller decides what a `restricted` read answers then (503).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;

use crate::adapters::admins::{plausible_account_id, unexpected};
use crate::adapters::answer_cache::AnswerCache;
use crate::adapters::product::connect::{ProductClient, encode_query_value};
use crate::adapters::product::forge::ForgeProductClient;
use crate::adapters::product::route::{ProductAccess, ProductRoute};
use crate::domain::access::{Membership, ProductGroup};
use crate::domain::tenants::Tenant;
use crate::kernel::clock::Clock;
use crate::kernel::error::{Error, Result};

/// Confluence's largest `limit` for `user/memberof`.
pub const CONFLUENCE_GROUP_PAGE: usize = 200;
/// Pages read per account: 2 000 groups. A membership past it is not read (logged), so a site
/// restricted to such a group stays closed to that account: the bound fails closed.
pub const MAX_GROUP_PAGES: usize = 10;

#[async_trait]
pub trait GroupDirectory: Send + Sync {
    /// The groups `account_id` belongs to in the tenant's site, asked of the product through
    /// `access`.
    async fn groups_of_via(
        &self,
        tenant: &Tenant,
        account_id: &str,
        access: ProductAccess<'_>,
    ) -> Result<Arc<Membership>>;
}

#[async_trait]
impl<T: GroupDirectory + ?Sized> GroupDirectory for Arc<T> {
    async fn groups_of_via(
        &self,
        tenant: &Tenant,
        account_id: &str,
        access: ProductAccess<'_>,
    ) -> Result<Arc<Membership>> {
        (**self).groups_of_via(tenant, account_id, access).await
    }
}

/// Asks the tenant's product as the app (Connect scope READ):
/// - Confluence: `GET /rest/api/user/memberof?accountId=…&start=…&limit=200`, paged;
/// - Jira: `GET /rest/api/3/user/groups?accountId=…` (one answer).
///
/// An account the product does not know (404) belongs to no group. FIT callers are asked the
/// same paths through Atlassian's gateway with the request's app system token.
pub struct ProductGroupDirectory {
    pub product: ProductClient,
    pub forge: Option<ForgeProductClient>,
}

#[derive(Deserialize)]
struct ConfluenceGroup {
    name: String,
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize)]
struct ConfluencePage {
    results: Vec<ConfluenceGroup>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JiraGroup {
    name: String,
    #[serde(default)]
    group_id: Option<String>,
}

impl ProductGroupDirectory {
    pub fn new(product: ProductClient) -> Self {
        Self { product, forge: None }
    }

    /// Also answers FIT callers, through Atlassian's API gateway.
    pub fn with_forge(mut self, forge: ForgeProductClient) -> Self {
        self.forge = Some(forge);
        self
    }

    async fn confluence(route: &ProductRoute<'_>, account_id: &str) -> Result<Vec<ProductGroup>> {
        let mut groups = Vec::new();
        for page in 0..MAX_GROUP_PAGES {
            let path = format!(
                "/rest/api/user/memberof?accountId={}&start={}&limit={CONFLUENCE_GROUP_PAGE}",
                encode_query_value(account_id),
                page * CONFLUENCE_GROUP_PAGE
            );
            let Some(answer) = route.get_json(&path).await? else {
                return Ok(groups);
            };
            let page: ConfluencePage =
                serde_json::from_value(answer).map_err(|e| unexpected("Confluence memberof", e))?;
            let full = page.results.len() >= CONFLUENCE_GROUP_PAGE;
            groups.extend(page.results.into_iter().map(|g| ProductGroup { id: g.id, name: g.name }));
            if !full {
                return Ok(groups);
            }
        }
        tracing::warn!(pages = MAX_GROUP_PAGES, "an account's groups go past the pages read; the rest are not read");
        Ok(groups)
    }

    async fn jira(route: &ProductRoute<'_>, account_id: &str) -> Result<Vec<ProductGroup>> {
        let path = format!("/rest/api/3/user/groups?accountId={}", encode_query_value(account_id));
        let Some(answer) = route.get_json(&path).await? else {
            return Ok(Vec::new());
        };
        let groups: Vec<JiraGroup> = serde_json::from_value(answer).map_err(|e| unexpected("Jira user groups", e))?;
        Ok(groups.into_iter().map(|g| ProductGroup { id: g.group_id, name: g.name }).collect())
    }
}

#[async_trait]
impl GroupDirectory for ProductGroupDirectory {
    async fn groups_of_via(
        &self,
        tenant: &Tenant,
        account_id: &str,
        access: ProductAccess<'_>,
    ) -> Result<Arc<Membership>> {
        if !plausible_account_id(account_id) {
            return Ok(Arc::new(Membership::default()));
        }
        let route = ProductRoute::choose(&self.product, self.forge.as_ref(), tenant, access)?;
        let groups = match tenant.product_type.as_str() {
            "confluence" => Self::confluence(&route, account_id).await?,
            "jira" => Self::jira(&route, account_id).await?,
            other => return Err(Error::internal(format!("no group check for product type {other}"))),
        };
        Ok(Arc::new(Membership::new(groups)))
    }
}

/// A fixed map of accountId → groups, the same for every tenant (the local server's dev users).
pub struct LocalGroupDirectory {
    members: HashMap<String, Arc<Membership>>,
}

impl LocalGroupDirectory {
    pub fn new(members: impl IntoIterator<Item = (String, Vec<ProductGroup>)>) -> Self {
        Self {
            members: members
                .into_iter()
                .map(|(account, groups)| (account, Arc::new(Membership::new(groups))))
                .collect(),
        }
    }
}

#[async_trait]
impl GroupDirectory for LocalGroupDirectory {
    async fn groups_of_via(
        &self,
        _tenant: &Tenant,
        account_id: &str,
        _access: ProductAccess<'_>,
    ) -> Result<Arc<Membership>> {
        Ok(self.members.get(account_id).cloned().unwrap_or_default())
    }
}

/// Caches answers of `D` per (clientKey, accountId) for a TTL; errors are not cached. Joining or
/// leaving a group takes effect within the TTL.
pub struct CachedGroupDirectory<D: GroupDirectory> {
    inner: D,
    clock: Arc<dyn Clock>,
    answers: AnswerCache<Arc<Membership>>,
}

impl<D: GroupDirectory> CachedGroupDirectory<D> {
    pub fn with_ttl_secs(inner: D, clock: Arc<dyn Clock>, ttl_secs: i64) -> Self {
        Self { inner, clock, answers: AnswerCache::with_ttl_secs(ttl_secs) }
    }

    /// Answers held now (for tests and figures).
    pub fn cached_answers(&self) -> usize {
        self.answers.len()
    }
}

#[async_trait]
impl<D: GroupDirectory> GroupDirectory for CachedGroupDirectory<D> {
    async fn groups_of_via(
        &self,
        tenant: &Tenant,
        account_id: &str,
        access: ProductAccess<'_>,
    ) -> Result<Arc<Membership>> {
        let key = (tenant.client_key.clone(), account_id.to_owned());
        if let Some(answer) = self.answers.get(&key, self.clock.now_millis()) {
            return Ok(answer);
        }
        let answer = self.inner.groups_of_via(tenant, account_id, access).await?;
        self.answers.remember(key, answer.clone(), self.clock.now_millis());
        Ok(answer)
    }
}
