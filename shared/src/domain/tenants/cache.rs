//! Tenant records as request authentication reads them, kept in this process's memory so that a
//! warm read makes one store round trip (its own) instead of two.
//!
//! The bound: a record is served from memory for at most [`TENANT_CACHE_SECS`] after it was read,
//! and only to authenticate reads: a write is authenticated on the stored record (`http::auth`).
//! The rule that keeps the bound honest: the cache may let a read through on a record that old, it
//! never refuses a request on it. Authentication that fails on a cached record reads the record
//! again and decides on that ([`Read::Store`]). So, for a change made by another process (another
//! Lambda instance, the lifecycle or residency function), as that process's reads see it:
//! - re-install with a new secret: tokens signed with the new secret pass at once; the old secret
//!   keeps passing for at most the bound;
//! - uninstall and disable: reads keep passing for at most the bound; re-install and enable are
//!   seen at once;
//! - residency switch: reads are answered from the source region's copy (the data as it was at
//!   the switch) for at most the bound.
//!
//! A tenant record written through this process's store is forgotten at once ([`TenantCache::watching`]).
//! Misses are not remembered: a new install is seen at once. The records hold their shared
//! secret opened, as the secret sealer already holds the data keys that open them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{Tenant, load};
use crate::domain::data::Data;
use crate::kernel::error::Result;
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{DueEntry, Item, ItemStore, Page, PageRequest, Write};

/// How long a record read from the store may answer for the tenant (see the module docs).
pub const TENANT_CACHE_SECS: i64 = 30;
/// Records a process keeps; a full cache drops expired records first, then everything.
pub const MAX_CACHED_TENANTS: usize = 10_000;

/// Where a record comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// From memory when it was read less than [`TENANT_CACHE_SECS`] ago, else from the store.
    Cache,
    /// From the store, refreshing memory: to decide a refusal.
    Store,
}

/// A record and whether it came from memory (a refusal on it must then be decided again on the
/// store's).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub record: Arc<Tenant>,
    pub from_cache: bool,
}

#[derive(Default)]
pub struct TenantCache {
    entries: Mutex<HashMap<TenantKey, (Arc<Tenant>, i64)>>,
    /// Bumped by every forget: a record read from the store before a write of it landed is not
    /// remembered after the write forgot it.
    forgets: AtomicU64,
}

impl TenantCache {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The record of `tenant` with its secret opened; `None` for a tenant the store does not know.
    pub async fn load(&self, state: &Data, tenant: &TenantKey, read: Read) -> Result<Option<Loaded>> {
        let now = state.clock.now_millis();
        if read == Read::Cache
            && let Some(record) = self.get(tenant, now)
        {
            return Ok(Some(Loaded { record, from_cache: true }));
        }
        let forgets = self.forgets.load(Ordering::SeqCst);
        let Some((record, _)) = load(state, tenant).await? else {
            if let Ok(mut entries) = self.entries.lock() {
                entries.remove(tenant);
            }
            return Ok(None);
        };
        let record = Arc::new(record);
        self.remember(tenant, record.clone(), now, forgets);
        Ok(Some(Loaded { record, from_cache: false }))
    }

    /// `store` with every write of a tenant record making this cache forget that tenant.
    pub fn watching(self: &Arc<Self>, store: Arc<dyn ItemStore>) -> Arc<dyn ItemStore> {
        Arc::new(Watched { inner: store, cache: self.clone() })
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |entries| entries.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, tenant: &TenantKey, now_millis: i64) -> Option<Arc<Tenant>> {
        let entries = self.entries.lock().ok()?;
        entries.get(tenant).filter(|(_, expires)| now_millis < *expires).map(|(record, _)| record.clone())
    }

    fn remember(&self, tenant: &TenantKey, record: Arc<Tenant>, read_at_millis: i64, forgets_before: u64) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if self.forgets.load(Ordering::SeqCst) != forgets_before {
            return;
        }
        if entries.len() >= MAX_CACHED_TENANTS && !entries.contains_key(tenant) {
            entries.retain(|_, (_, expires)| read_at_millis < *expires);
            if entries.len() >= MAX_CACHED_TENANTS {
                entries.clear();
            }
        }
        entries.insert(tenant.clone(), (record, read_at_millis.saturating_add(TENANT_CACHE_SECS * 1000)));
    }

    fn forget(&self, tenant: &TenantKey) {
        if let Ok(mut entries) = self.entries.lock() {
            self.forgets.fetch_add(1, Ordering::SeqCst);
            entries.remove(tenant);
        }
    }
}

/// The store of the region whose records the cache holds, forgetting each tenant record written
/// through it, whether the write commits or not.
struct Watched {
    inner: Arc<dyn ItemStore>,
    cache: Arc<TenantCache>,
}

impl Watched {
    fn forget_records<'a>(&self, targets: impl Iterator<Item = (&'a TenantKey, &'a str)>) {
        targets.filter(|(_, sk)| *sk == keys::TENANT_RECORD).for_each(|(tenant, _)| self.cache.forget(tenant));
    }
}

#[async_trait]
impl ItemStore for Watched {
    async fn get(&self, tenant: &TenantKey, sk: &str, now: i64) -> Result<Option<Item>> {
        self.inner.get(tenant, sk, now).await
    }

    async fn query(&self, tenant: &TenantKey, prefix: &str, page: PageRequest, now: i64) -> Result<Page<Item>> {
        self.inner.query(tenant, prefix, page, now).await
    }

    async fn transact(&self, writes: Vec<Write>, now: i64) -> Result<()> {
        let records: Vec<(TenantKey, String)> = writes
            .iter()
            .map(Write::target)
            .filter(|(_, sk)| *sk == keys::TENANT_RECORD)
            .map(|(tenant, sk)| (tenant.clone(), sk.to_owned()))
            .collect();
        let outcome = self.inner.transact(writes, now).await;
        self.forget_records(records.iter().map(|(tenant, sk)| (tenant, sk.as_str())));
        outcome
    }

    async fn due(&self, kind: &str, now: i64, page: PageRequest) -> Result<Page<DueEntry>> {
        self.inner.due(kind, now, page).await
    }

    async fn delete_batch(&self, keys: &[(TenantKey, String)]) -> Result<()> {
        let outcome = self.inner.delete_batch(keys).await;
        self.forget_records(keys.iter().map(|(tenant, sk)| (tenant, sk.as_str())));
        outcome
    }

    async fn purge_expired(&self, now: i64) -> Result<u64> {
        self.inner.purge_expired(now).await
    }
}
