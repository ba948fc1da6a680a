//! The admin-check port: whether an Atlassian account administers a tenant's site, which gates
//! Canopy's writes to site config. Adapters: the product's REST API asked as the app
//! ([`ConnectAdminDirectory`]), a fixed set for the local server ([`LocalAdminDirectory`]), and a
//! TTL cache in front of either ([`CachedAdminDirectory`]).
//!
//! The question is the same under both auth schemes; only the way to the product differs
//! ([`ProductAccess`]): the Connect app token for Connect callers, the Forge app system token of
//! the request for FIT callers. Answers are cached per (tenant, account) whichever way they came.
//!
//! Every doubt answers "not an admin" or an error, never "admin": an unknown account is not an
//! admin, and an unreachable product is `Unavailable` (the write is refused, the caller retries).

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use crate::adapters::answer_cache::AnswerCache;
pub use crate::adapters::answer_cache::MAX_CACHED_ANSWERS as MAX_CACHED_ADMIN_ANSWERS;
use crate::adapters::product::connect::{PRODUCT_REJECTED, ProductClient, encode_query_value};
use crate::adapters::product::forge::ForgeProductClient;
pub use crate::adapters::product::route::ProductAccess;
use crate::adapters::product::route::ProductRoute as Route;
use crate::domain::tenants::Tenant;
use crate::kernel::clock::Clock;
use crate::kernel::error::{Error, Result};
/// Atlassian accountIds are at most ~130 characters (`557058:` + UUID, or 24 hex digits).
const MAX_ACCOUNT_ID_LEN: usize = 128;

#[async_trait]
pub trait AdminDirectory: Send + Sync {
    /// Whether `account_id` administers the tenant's site (Confluence or Jira), asked of the
    /// product through `access`.
    async fn is_admin_via(&self, tenant: &Tenant, account_id: &str, access: ProductAccess<'_>) -> Result<bool>;

    /// The same, asked as the Connect app.
    async fn is_admin(&self, tenant: &Tenant, account_id: &str) -> Result<bool> {
        self.is_admin_via(tenant, account_id, ProductAccess::Connect).await
    }
}

#[async_trait]
impl<T: AdminDirectory + ?Sized> AdminDirectory for Arc<T> {
    async fn is_admin_via(&self, tenant: &Tenant, account_id: &str, access: ProductAccess<'_>) -> Result<bool> {
        (**self).is_admin_via(tenant, account_id, access).await
    }
}

/// Asks the tenant's product as the app (Connect scope READ):
/// - Confluence: `GET /rest/api/user?accountId=…&expand=operations`; an admin has the operation
///   `administer` on target type `application` (the Confluence Administrator global permission).
/// - Jira: `POST /rest/api/3/permissions/check` with `globalPermissions: ["ADMINISTER"]`; Connect
///   apps may ask this for any user from the app server.
///
/// Tokens are dated by the system clock, not the `Clock` port: the product checks `exp` against
/// its own wall clock. FIT callers are asked through `forge` (the same paths below
/// `api.atlassian.com/ex/<product>/<cloudId>`, with the request's app system token).
pub struct ConnectAdminDirectory {
    pub product: ProductClient,
    pub forge: Option<ForgeProductClient>,
}

impl ConnectAdminDirectory {
    pub fn new(product: ProductClient) -> Self {
        Self { product, forge: None }
    }

    /// Also answers FIT callers, through Atlassian's API gateway.
    pub fn with_forge(mut self, forge: ForgeProductClient) -> Self {
        self.forge = Some(forge);
        self
    }

    async fn confluence(route: &Route<'_>, account_id: &str) -> Result<bool> {
        #[derive(Deserialize)]
        struct User {
            operations: Option<Vec<Operation>>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Operation {
            operation: String,
            target_type: String,
        }
        let path = format!("/rest/api/user?accountId={}&expand=operations", encode_query_value(account_id));
        let Some(answer) = route.get_json(&path).await? else {
            return Ok(false);
        };
        let user: User = serde_json::from_value(answer).map_err(|e| unexpected("Confluence user", e))?;
        // Without the expansion we cannot tell; refusing is safer than answering "not admin" forever.
        let operations = user.operations.ok_or_else(|| unexpected("Confluence user", "no operations expanded"))?;
        Ok(operations.iter().any(|op| op.operation == "administer" && op.target_type == "application"))
    }

    async fn jira(route: &Route<'_>, account_id: &str) -> Result<bool> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Grants {
            global_permissions: Option<Vec<String>>,
        }
        let body = json!({"accountId": account_id, "globalPermissions": ["ADMINISTER"]});
        let answer = match route.post_json("/rest/api/3/permissions/check", &body).await {
            Ok(Some(answer)) => answer,
            // Jira answers 400 for an account ID it does not know.
            Ok(None) | Err(Error::Invalid { code: PRODUCT_REJECTED, .. }) => return Ok(false),
            Err(other) => return Err(other),
        };
        let grants: Grants = serde_json::from_value(answer).map_err(|e| unexpected("Jira permission check", e))?;
        let granted =
            grants.global_permissions.ok_or_else(|| unexpected("Jira permission check", "no globalPermissions"))?;
        Ok(granted.iter().any(|p| p == "ADMINISTER"))
    }
}

pub(crate) fn unexpected(what: &str, cause: impl std::fmt::Display) -> Error {
    Error::unavailable("product", format!("unexpected {what} answer: {cause}"))
}

/// AccountIds reach us from verified JWTs, but they go into product URLs: bound them anyway.
pub(crate) fn plausible_account_id(account_id: &str) -> bool {
    !account_id.is_empty() && account_id.len() <= MAX_ACCOUNT_ID_LEN && !account_id.chars().any(char::is_control)
}

#[async_trait]
impl AdminDirectory for ConnectAdminDirectory {
    async fn is_admin_via(&self, tenant: &Tenant, account_id: &str, access: ProductAccess<'_>) -> Result<bool> {
        if !plausible_account_id(account_id) {
            return Ok(false);
        }
        let route = Route::choose(&self.product, self.forge.as_ref(), tenant, access)?;
        match tenant.product_type.as_str() {
            "confluence" => Self::confluence(&route, account_id).await,
            "jira" => Self::jira(&route, account_id).await,
            other => Err(Error::internal(format!("no admin check for product type {other}"))),
        }
    }
}

/// A fixed set of admin accountIds, the same for every tenant (the local server's dev tenant).
pub struct LocalAdminDirectory {
    admins: HashSet<String>,
}

impl LocalAdminDirectory {
    pub fn new(admins: impl IntoIterator<Item = String>) -> Self {
        Self { admins: admins.into_iter().collect() }
    }
}

#[async_trait]
impl AdminDirectory for LocalAdminDirectory {
    async fn is_admin_via(&self, _tenant: &Tenant, account_id: &str, _access: ProductAccess<'_>) -> Result<bool> {
        Ok(self.admins.contains(account_id))
    }
}

/// Caches answers of `D` per (clientKey, accountId) for a TTL. Errors are not cached. A
/// promotion or demotion takes effect within the TTL.
pub struct CachedAdminDirectory<D: AdminDirectory> {
    inner: D,
    clock: Arc<dyn Clock>,
    answers: AnswerCache<bool>,
}

impl<D: AdminDirectory> CachedAdminDirectory<D> {
    pub fn new(inner: D, clock: Arc<dyn Clock>) -> Self {
        Self::with_ttl_secs(inner, clock, crate::kernel::config::DEFAULT_ADMIN_CACHE_TTL_SECS)
    }

    pub fn with_ttl_secs(inner: D, clock: Arc<dyn Clock>, ttl_secs: i64) -> Self {
        Self { inner, clock, answers: AnswerCache::with_ttl_secs(ttl_secs) }
    }
}

#[async_trait]
impl<D: AdminDirectory> AdminDirectory for CachedAdminDirectory<D> {
    async fn is_admin_via(&self, tenant: &Tenant, account_id: &str, access: ProductAccess<'_>) -> Result<bool> {
        let key = (tenant.client_key.clone(), account_id.to_owned());
        if let Some(answer) = self.answers.get(&key, self.clock.now_millis()) {
            return Ok(answer);
        }
        let answer = self.inner.is_admin_via(tenant, account_id, access).await?;
        self.answers.remember(key, answer, self.clock.now_millis());
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tenants::TenantState;
    use crate::kernel::clock::ManualClock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn tenant(client_key: &str) -> Tenant {
        Tenant {
            client_key: client_key.into(),
            product_type: "confluence".into(),
            base_url: "https://x.atlassian.net/wiki".into(),
            display_url: None,
            shared_secret: "s".into(),
            sealed_secret: None,
            cloud_id: None,
            installation_id: None,
            state: TenantState::Enabled,
            region: "us".into(),
            first_installed_at: String::new(),
            installed_at: String::new(),
            uninstalled_at: None,
            purge_after: None,
            history: Vec::new(),
            read_only: false,
        }
    }

    struct Counting(AtomicUsize);

    #[async_trait]
    impl AdminDirectory for Counting {
        async fn is_admin_via(&self, _tenant: &Tenant, account_id: &str, _access: ProductAccess<'_>) -> Result<bool> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(account_id.starts_with("admin"))
        }
    }

    #[tokio::test]
    async fn a_full_cache_drops_expired_answers_first_then_everything() {
        let clock = Arc::new(ManualClock::at_millis(0));
        let cache = CachedAdminDirectory::with_ttl_secs(Counting(AtomicUsize::new(0)), clock.clone(), 60);
        let t = tenant("t1");
        for i in 0..MAX_CACHED_ADMIN_ANSWERS - 1 {
            cache.is_admin(&t, &format!("user-{i}")).await.unwrap();
        }
        clock.advance_secs(30);
        cache.is_admin(&t, "admin-fresh").await.unwrap();
        clock.advance_secs(40);
        // Full: the 9 999 answers from t=0 have expired and go; the one from t=30 stays.
        cache.is_admin(&t, "admin-new").await.unwrap();
        assert_eq!(cache.answers.len(), 2);
        let calls = cache.inner.0.load(Ordering::SeqCst);
        assert!(cache.is_admin(&t, "admin-fresh").await.unwrap());
        assert_eq!(cache.inner.0.load(Ordering::SeqCst), calls, "still cached");

        for i in 0..MAX_CACHED_ADMIN_ANSWERS {
            cache.is_admin(&t, &format!("other-{i}")).await.unwrap();
        }
        assert!(cache.answers.len() <= MAX_CACHED_ADMIN_ANSWERS);
    }

    #[test]
    fn implausible_account_ids_are_refused() {
        assert!(!plausible_account_id(""));
        assert!(!plausible_account_id(&"a".repeat(129)));
        assert!(!plausible_account_id("a\nb"));
        assert!(plausible_account_id("557058:2f1e3c4d-aaaa-bbbb-cccc-0123456789ab"));
    }
}
