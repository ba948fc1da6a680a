//! The write fence of the read-only phase: while a tenant's data moves region, no write to its
//! partition may land after the final copy has read it, whoever writes (a request, a scheduled
//! job, a visit record, a rate-limit counter).
//!
//! The freeze puts a marker item ([`keys::RESIDENCY_FREEZE`]) in the tenant's partition, in the
//! same transaction as the migration's phase. [`FencedStore`] wraps a region's store and adds a
//! condition "the marker is absent" to every transaction on a tenant partition, so a write either
//! commits before the freeze (and the final copy, which reads after it, carries it) or fails the
//! condition and is refused with 503 `tenant_read_only`; none is lost. This replaces waiting for
//! requests under way to land, which bounded nothing (a job can hold a read for any time).
//!
//! Cost, chosen for correctness: every tenant write carries one condition check; on DynamoDB a
//! single put becomes a two-item transaction (4 WCU instead of 1). Canopy's traffic is mostly
//! reads (the site config), so this is a small share of the bill.
//!
//! Exempt: reserved partitions (`_operator`, `_cloud`: no tenant's data), and the residency
//! engine's own transactions, recognised by their writing the tenant's `RESIDENCY` record or the
//! marker itself. `delete_batch` (bulk purges of tenants no longer homed in the region) is not
//! fenced.

use std::sync::Arc;

use async_trait::async_trait;

use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Condition, DueEntry, Item, ItemStore, MAX_TRANSACTION_WRITES, Page, PageRequest, Write};

/// Writes a transaction on one tenant may carry: the fence takes one of DynamoDB's 100 for its
/// check (more is refused as a bug, never sent unfenced).
pub const MAX_FENCED_WRITES: usize = MAX_TRANSACTION_WRITES - 1;

/// An [`ItemStore`] whose tenant writes fail while the tenant is frozen (see the module docs).
pub struct FencedStore {
    inner: Arc<dyn ItemStore>,
}

impl FencedStore {
    pub fn new(inner: Arc<dyn ItemStore>) -> Self {
        Self { inner }
    }

    /// `store` behind the fence, as the port.
    pub fn wrap(store: Arc<dyn ItemStore>) -> Arc<dyn ItemStore> {
        Arc::new(Self::new(store))
    }
}

/// The tenants whose partitions `writes` change and that the fence guards.
fn fenced_tenants(writes: &[Write]) -> Vec<TenantKey> {
    let mut tenants: Vec<TenantKey> = Vec::new();
    let mut engine: Vec<&TenantKey> = Vec::new();
    for write in writes {
        let (tenant, sk) = write.target();
        if keys::is_reserved_tenant(tenant.as_str()) {
            continue;
        }
        if sk == keys::RESIDENCY || sk == keys::RESIDENCY_FREEZE {
            engine.push(tenant);
        }
        if !tenants.contains(tenant) {
            tenants.push(tenant.clone());
        }
    }
    tenants.retain(|t| !engine.contains(&t));
    tenants
}

#[async_trait]
impl ItemStore for FencedStore {
    async fn get(&self, tenant: &TenantKey, sk: &str, now: i64) -> Result<Option<Item>> {
        self.inner.get(tenant, sk, now).await
    }

    async fn query(&self, tenant: &TenantKey, prefix: &str, page: PageRequest, now: i64) -> Result<Page<Item>> {
        self.inner.query(tenant, prefix, page, now).await
    }

    async fn transact(&self, mut writes: Vec<Write>, now: i64) -> Result<()> {
        let fenced = fenced_tenants(&writes);
        for tenant in &fenced {
            writes.push(Write::Check {
                tenant: tenant.clone(),
                sk: keys::RESIDENCY_FREEZE.into(),
                condition: Condition::Absent,
            });
        }
        match self.inner.transact(writes, now).await {
            Err(conflict @ Error::WriteConflict) => {
                for tenant in &fenced {
                    if self.inner.get(tenant, keys::RESIDENCY_FREEZE, now).await?.is_some() {
                        return Err(super::model::read_only_error());
                    }
                }
                Err(conflict)
            }
            other => other,
        }
    }

    async fn due(&self, kind: &str, now: i64, page: PageRequest) -> Result<Page<DueEntry>> {
        self.inner.due(kind, now, page).await
    }

    async fn delete_batch(&self, keys: &[(TenantKey, String)]) -> Result<()> {
        self.inner.delete_batch(keys).await
    }

    async fn purge_expired(&self, now: i64) -> Result<u64> {
        self.inner.purge_expired(now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::store::Item;

    fn put(tenant: &str, sk: &str) -> Write {
        let item = Item {
            tenant: TenantKey::from_verified(tenant).unwrap(),
            sk: sk.into(),
            version: 1,
            updated_at: 0,
            updated_by: None,
            due: None,
            expires_at: None,
            body: serde_json::json!({}).into(),
        };
        Write::Put { item, condition: Condition::None }
    }

    #[tokio::test]
    async fn a_tenant_transaction_holds_at_most_99_writes_with_its_check() {
        let dir = tempfile::tempdir().unwrap();
        let inner = crate::adapters::store::embedded::EmbeddedItemStore::open(&dir.path().join("s.redb")).unwrap();
        let store = FencedStore::new(Arc::new(inner));
        let writes = |n: usize| (0..n).map(|i| put("a", &format!("ITEM#{i:03}"))).collect::<Vec<_>>();
        store.transact(writes(MAX_FENCED_WRITES), 0).await.expect("99 writes and the check");
        let refused = store.transact(writes(MAX_FENCED_WRITES + 1), 0).await.expect_err("101 with the check");
        assert_eq!(refused.code(), "internal");
    }

    #[test]
    fn tenant_writes_are_fenced_and_reserved_partitions_and_the_engine_are_not() {
        let names = |writes: &[Write]| fenced_tenants(writes).iter().map(|t| t.to_string()).collect::<Vec<_>>();
        assert_eq!(names(&[put("a", "SITE#1"), put("a", "COUNTERS"), put("b", "X")]), ["a", "b"]);
        assert_eq!(names(&[put("a", "TENANT"), put("_cloud", "CLOUD#c")]), ["a"]);
        assert!(names(&[put("_operator", "USAGE#2026-01-01")]).is_empty());
        assert!(names(&[put("a", keys::RESIDENCY), put("a", keys::TENANT_RECORD)]).is_empty());
        assert!(names(&[put("a", keys::RESIDENCY_FREEZE)]).is_empty());
        assert_eq!(names(&[put("a", keys::RESIDENCY), put("b", "SITE#1")]), ["b"]);
    }
}
