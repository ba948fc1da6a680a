//! The tenant key newtype: the Connect `clientKey` a tenant's data is partitioned by.
//!
//! Only verified claims (the auth module), a verified install, or the cross-tenant jobs may build
//! one, so that no handler can address a partition it was not authenticated for.

use std::fmt;

/// Upper bound on a clientKey; Atlassian's are UUIDs or `product:NNNN-…` (under 64 chars).
pub const MAX_TENANT_KEY_LEN: usize = 128;

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantKey(String);

impl TenantKey {
    /// Builds a key from a value an authenticated party vouched for (JWT `iss`, signed install
    /// body, a key already stored in the table). `#` is refused because it separates key parts.
    pub fn from_verified(value: &str) -> Option<Self> {
        let ok = !value.is_empty()
            && value.len() <= MAX_TENANT_KEY_LEN
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        ok.then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantKey({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_atlassian_client_keys() {
        assert!(TenantKey::from_verified("574f8bdd-8dc4-35d3-9558-7bcea4e41de6").is_some());
        assert!(TenantKey::from_verified("jira:1234-5678-9000").is_some());
    }

    #[test]
    fn refuses_separators_empty_and_oversize() {
        assert!(TenantKey::from_verified("").is_none());
        assert!(TenantKey::from_verified("a#b").is_none());
        assert!(TenantKey::from_verified("a/b").is_none());
        assert!(TenantKey::from_verified(&"a".repeat(MAX_TENANT_KEY_LEN + 1)).is_none());
        assert!(TenantKey::from_verified(&"a".repeat(MAX_TENANT_KEY_LEN)).is_some());
    }
}
