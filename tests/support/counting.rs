//! An `ItemStore` decorator that counts the calls reaching the store, to prove read costs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use canopy_shared::Result;
use canopy_shared::TenantKey;
use canopy_shared::ports::store::{DueEntry, Item, ItemStore, Page, PageRequest, Write};

#[derive(Default)]
pub struct Calls {
    pub gets: AtomicUsize,
    pub queries: AtomicUsize,
    pub transactions: AtomicUsize,
}

impl Calls {
    pub fn reset(&self) {
        for counter in [&self.gets, &self.queries, &self.transactions] {
            counter.store(0, Ordering::SeqCst);
        }
    }

    pub fn snapshot(&self) -> (usize, usize, usize) {
        (
            self.gets.load(Ordering::SeqCst),
            self.queries.load(Ordering::SeqCst),
            self.transactions.load(Ordering::SeqCst),
        )
    }
}

pub struct CountingStore {
    pub inner: Arc<dyn ItemStore>,
    pub calls: Arc<Calls>,
}

#[async_trait]
impl ItemStore for CountingStore {
    async fn get(&self, tenant: &TenantKey, sk: &str, now: i64) -> Result<Option<Item>> {
        self.calls.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(tenant, sk, now).await
    }

    async fn query(&self, tenant: &TenantKey, prefix: &str, page: PageRequest, now: i64) -> Result<Page<Item>> {
        self.calls.queries.fetch_add(1, Ordering::SeqCst);
        self.inner.query(tenant, prefix, page, now).await
    }

    async fn transact(&self, writes: Vec<Write>, now: i64) -> Result<()> {
        self.calls.transactions.fetch_add(1, Ordering::SeqCst);
        self.inner.transact(writes, now).await
    }

    async fn due(&self, kind: &str, now: i64, page: PageRequest) -> Result<Page<DueEntry>> {
        self.inner.due(kind, now, page).await
    }

    async fn purge_expired(&self, now: i64) -> Result<u64> {
        self.inner.purge_expired(now).await
    }

    async fn delete_batch(&self, keys: &[(TenantKey, String)]) -> Result<()> {
        self.calls.transactions.fetch_add(1, Ordering::SeqCst);
        self.inner.delete_batch(keys).await
    }
}
