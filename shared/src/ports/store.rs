//! The `ItemStore` port: tenant-scoped items addressed by (tenant, sort key), with conditional
//! transactional writes, prefix queries with paging, and a sparse cross-tenant "due" index.
//!
//! Two adapters implement it ([`dynamo::DynamoItemStore`], [`embedded::EmbeddedItemStore`]) and one
//! contract suite (`tests/store_contract.rs`) runs unchanged against both. Domain modules
//! are plain code over this trait.

use async_trait::async_trait;

use crate::kernel::error::{Error, Result};
use crate::kernel::tenant_key::TenantKey;

pub use super::item_body::Body;

/// DynamoDB caps an item at 400 KB; the body gets 350 KB so keys and attributes always fit.
pub const MAX_BODY_BYTES: usize = 350 * 1024;
/// DynamoDB's TransactWriteItems limit.
pub const MAX_TRANSACTION_WRITES: usize = 100;
/// Largest page a query may ask for.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Bound on a sort key (DynamoDB allows 1 KB); keeps due-index keys under the same bound.
pub const MAX_SORT_KEY_BYTES: usize = 512;

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub tenant: TenantKey,
    pub sk: String,
    /// Optimistic-concurrency version; writes are conditional on it.
    pub version: u64,
    /// Unix milliseconds of the last write.
    pub updated_at: i64,
    /// accountId of the last writer; `None` for Atlassian or a job.
    pub updated_by: Option<String>,
    /// Puts the item on the sparse due index.
    pub due: Option<Due>,
    /// Unix seconds after which the item no longer exists for readers (DynamoDB TTL attribute).
    pub expires_at: Option<i64>,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// What falls due (e.g. `purge`); each kind is its own index partition.
    pub kind: String,
    /// Unix seconds.
    pub at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    None,
    /// The item must not exist (an expired item counts as absent).
    Absent,
    /// The stored item must exist with exactly this version.
    Version(u64),
}

#[derive(Debug, Clone)]
pub enum Write {
    Put {
        item: Item,
        condition: Condition,
    },
    Delete {
        tenant: TenantKey,
        sk: String,
        condition: Condition,
    },
    /// Writes nothing; the transaction fails unless the condition holds (DynamoDB ConditionCheck).
    Check {
        tenant: TenantKey,
        sk: String,
        condition: Condition,
    },
}

impl Write {
    pub fn target(&self) -> (&TenantKey, &str) {
        match self {
            Self::Put { item, .. } => (&item.tenant, &item.sk),
            Self::Delete { tenant, sk, .. } | Self::Check { tenant, sk, .. } => (tenant, sk),
        }
    }

    pub fn condition(&self) -> Condition {
        match self {
            Self::Put { condition, .. } | Self::Delete { condition, .. } | Self::Check { condition, .. } => *condition,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: u32,
    /// The `next` of the previous page.
    pub after: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Present only when more items follow.
    pub next: Option<String>,
}

/// One entry of the due index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueEntry {
    pub tenant: TenantKey,
    pub sk: String,
    pub at: i64,
}

#[async_trait]
pub trait ItemStore: Send + Sync {
    /// The item, unless it does not exist or has expired at `now` (unix seconds).
    async fn get(&self, tenant: &TenantKey, sk: &str, now: i64) -> Result<Option<Item>>;

    /// Items of one tenant whose sort key starts with `prefix`, in sort-key order.
    async fn query(&self, tenant: &TenantKey, prefix: &str, page: PageRequest, now: i64) -> Result<Page<Item>>;

    /// Applies every write or none. A failed condition answers `Error::Conflict`
    /// (code `write_conflict`) and writes nothing.
    async fn transact(&self, writes: Vec<Write>, now: i64) -> Result<()>;

    /// Entries of the due index of `kind` due at or before `now`, oldest first, across tenants.
    async fn due(&self, kind: &str, now: i64, page: PageRequest) -> Result<Page<DueEntry>>;

    /// Deletes up to [`MAX_BATCH_DELETES`] items without conditions (bulk purges: DynamoDB's
    /// BatchWriteItem, retrying what it leaves unprocessed). Missing items are not an error.
    async fn delete_batch(&self, keys: &[(TenantKey, String)]) -> Result<()>;

    /// Deletes items whose `expires_at` passed, where the store has no TTL of its own; answers
    /// how many. DynamoDB's TTL does this (late: readers filter meanwhile), so it answers 0.
    async fn purge_expired(&self, now: i64) -> Result<u64>;
}

/// BatchWriteItem's limit.
pub const MAX_BATCH_DELETES: usize = 25;

pub(crate) fn check_batch(keys: &[(TenantKey, String)]) -> Result<()> {
    if keys.len() > MAX_BATCH_DELETES {
        return Err(Error::internal(format!("a batch of {} deletes exceeds {MAX_BATCH_DELETES}", keys.len())));
    }
    let mut seen = std::collections::HashSet::new();
    for (tenant, sk) in keys {
        check_sort_key(sk)?;
        if !seen.insert((tenant, sk)) {
            return Err(Error::internal(format!("{sk} twice in one batch")));
        }
    }
    Ok(())
}

/// Shared validation so both adapters refuse the same inputs before touching storage.
pub(crate) fn check_writes(writes: &[Write]) -> Result<()> {
    if writes.is_empty() {
        return Err(Error::internal("empty transaction"));
    }
    if writes.len() > MAX_TRANSACTION_WRITES {
        return Err(Error::internal(format!(
            "transaction of {} writes exceeds {MAX_TRANSACTION_WRITES}",
            writes.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for write in writes {
        let (tenant, sk) = write.target();
        check_sort_key(sk)?;
        if !seen.insert((tenant.clone(), sk.to_owned())) {
            return Err(Error::internal(format!("two writes to {sk} in one transaction")));
        }
        if let Write::Check { condition: Condition::None, .. } = write {
            return Err(Error::internal(format!("a check of {sk} without a condition")));
        }
        if let Write::Put { item, .. } = write {
            let size = item.body.len();
            if size > MAX_BODY_BYTES {
                return Err(Error::too_large(format!(
                    "The item is {size} bytes; the limit is {MAX_BODY_BYTES} bytes."
                )));
            }
            if let Some(due) = &item.due
                && (due.kind.is_empty() || due.kind.contains('#') || due.kind.len() > 64)
            {
                return Err(Error::internal(format!("bad due kind {:?}", due.kind)));
            }
        }
    }
    Ok(())
}

pub(crate) fn check_sort_key(sk: &str) -> Result<()> {
    if sk.is_empty() || sk.len() > MAX_SORT_KEY_BYTES {
        return Err(Error::internal(format!("sort key of {} bytes", sk.len())));
    }
    Ok(())
}

pub(crate) fn check_page(page: &PageRequest, prefix: &str) -> Result<u32> {
    if page.limit == 0 || page.limit > MAX_PAGE_SIZE {
        return Err(Error::bad_request("bad_page_size", format!("Page size must be 1 to {MAX_PAGE_SIZE}.")));
    }
    if let Some(after) = &page.after
        && !after.starts_with(prefix)
    {
        return Err(Error::bad_request("bad_cursor", "The page cursor does not belong to this listing."));
    }
    Ok(page.limit)
}

pub(crate) fn write_conflict() -> Error {
    Error::WriteConflict
}

pub(crate) fn is_live(expires_at: Option<i64>, now: i64) -> bool {
    expires_at.is_none_or(|at| at > now)
}

/// Attempts of an optimistic read-modify-write before a conflict reaches the caller.
pub const WRITE_ATTEMPTS: usize = 5;

/// Runs a read-modify-write again when a concurrent writer changed what it read. Each attempt
/// must re-read, so that a changed `If-Match` target turns into 412 rather than a blind retry.
pub async fn retry_conflicts<F, Fut, T>(mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Err(Error::WriteConflict) if tries < WRITE_ATTEMPTS => continue,
            other => return other,
        }
    }
}
