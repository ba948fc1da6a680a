//! Forge Remote (CONNECT.md §6): Forge Invocation Tokens verified against the Forge JWKS, the
//! cloudId → tenant index that lets a Forge installation reach the tenant a Connect install
//! created, Forge lifecycle events, and product calls as the Forge app with the app system token.
//!
//! Tenancy across both schemes (see `cloud_index` for the edge cases): a tenant is keyed by its
//! Connect `clientKey`; a site that only ever came through Forge gets `forge:<cloudId>`. A FIT
//! names a `cloudId`, and the index says which tenant answers for it.

pub mod fit;
pub mod installs;

use std::sync::Arc;

use crate::kernel::clock::Clock;

pub use crate::domain::tenants::cloud_index::CloudIndexCache;
pub use crate::ports::keys::ForgeKeys;

/// What Forge Remote needs at run time, built once per process: the FIT keys and the cache of
/// the cloudId → tenant index.
#[derive(Clone)]
pub struct ForgeRemote {
    pub keys: Arc<dyn ForgeKeys>,
    pub cloud_index: Arc<CloudIndexCache>,
}

impl ForgeRemote {
    pub fn new(keys: Arc<dyn ForgeKeys>, clock: Arc<dyn Clock>) -> Self {
        Self { keys, cloud_index: Arc::new(CloudIndexCache::new(clock)) }
    }
}

/// The app system token Atlassian passes in `x-forge-oauth-system` (CONNECT.md §6): read per
/// request, used for that request's product calls, never stored and never logged (`Debug` hides it).
#[derive(Clone)]
pub struct SystemToken(String);

/// The header that carries it.
pub const SYSTEM_TOKEN_HEADER: &str = "x-forge-oauth-system";
/// Atlassian's OAuth access tokens are a few KB; anything far larger is not one.
pub const MAX_SYSTEM_TOKEN_LEN: usize = 16 * 1024;

impl SystemToken {
    /// `None` for an empty, oversized or non-token value (it would not make a valid header).
    pub fn new(value: &str) -> Option<Self> {
        let value = value.trim();
        let ok =
            !value.is_empty() && value.len() <= MAX_SYSTEM_TOKEN_LEN && value.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| Self(value.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SystemToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SystemToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::ids::{MAX_CLOUD_ID_LEN, is_plausible_cloud_id};

    #[test]
    fn system_tokens_are_bounded_and_never_printed() {
        let token = SystemToken::new(" eyJ.a.b ").expect("token");
        assert_eq!(token.expose(), "eyJ.a.b");
        assert_eq!(format!("{token:?}"), "SystemToken(<redacted>)");
        assert!(SystemToken::new("").is_none());
        assert!(SystemToken::new("a b").is_none());
        assert!(SystemToken::new("a\nb").is_none());
        assert!(SystemToken::new(&"a".repeat(MAX_SYSTEM_TOKEN_LEN)).is_some());
        assert!(SystemToken::new(&"a".repeat(MAX_SYSTEM_TOKEN_LEN + 1)).is_none());
    }

    #[test]
    fn cloud_ids_are_uuid_like() {
        assert!(is_plausible_cloud_id("4869c4ef-cb0d-4108-8243-8929ac7cc1fa"));
        assert!(is_plausible_cloud_id(&"a".repeat(MAX_CLOUD_ID_LEN)));
        assert!(!is_plausible_cloud_id(&"a".repeat(MAX_CLOUD_ID_LEN + 1)));
        assert!(!is_plausible_cloud_id(""));
        assert!(!is_plausible_cloud_id("a#b"));
        assert!(!is_plausible_cloud_id("a/b"));
        assert!(!is_plausible_cloud_id("a:b"));
    }
}
