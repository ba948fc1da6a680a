//! The cloudId → tenant index: which tenant answers when a FIT names a site by its `cloudId`.
//!
//! One item `CLOUD#<cloudId>` per site in the reserved partition `_cloud` (`keys.rs`), body
//! `{"tenant": "<key>"}`, written in the same transaction as the install record of the tenant
//! that claims the site: a Connect `installed` carrying (or having recorded) a `cloudId`, or a
//! Forge `installed` for a site no tenant answers for (`forge:<cloudId>`, see `installs`).
//!
//! Invariant: the index names K for X exactly when K's record has `cloud_id == X`. A claim that
//! moves X away from K clears K's `cloud_id` in the same transaction, so every lookup checks the
//! record it loads anyway, and a cached answer can never outlive a move.
//!
//! Edge cases:
//! - **Site import** gives the same site a new clientKey: its `installed` claims the index (the
//!   newest install wins). The previous tenant keeps its data and its Connect path, but Forge no
//!   longer reaches it. Its record's history says `site_moved`.
//! - **Installation ids change** without events: they are recorded on the record, never keyed on.
//! - **Forge first, then Connect** (a Connect-on-Forge site whose Forge event arrives before the
//!   Connect install): the Connect install takes the site over; the Forge-only tenant it
//!   supersedes is unreachable (no secret, no index), so it is uninstalled and its purge scheduled.
//! - **Tenants installed before the index existed** have no item until their next `installed`
//!   (Atlassian sends one on every upgrade); until then their FITs get 401.
//! - **Uninstall** leaves the item: an uninstalled tenant's FITs get 401, and a re-install within
//!   the purge window finds its site again. The purge drops it ([`release_writes`]); an item left
//!   dangling anyway is ignored by lookups and overwritten by the next claim.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::domain::data::Stack;
use crate::domain::tenants::{self, Tenant, TenantState};
use crate::kernel::clock::{Clock, rfc3339};
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Condition, Item, Write};

/// How long a process reuses a lookup. Answers are re-checked against the record on every use
/// (see the invariant), so this bounds memory churn, not staleness.
pub const CLOUD_INDEX_CACHE_SECS: i64 = 300;
/// Sites a process remembers; a full cache drops expired entries first, then everything.
pub const MAX_CACHED_SITES: usize = 10_000;

/// cloudId → tenant answers of one process, so a warm FIT lookup costs one store read (the
/// tenant record, which verification needs anyway) instead of two.
pub struct CloudIndexCache {
    clock: Arc<dyn Clock>,
    entries: Mutex<HashMap<String, (TenantKey, i64)>>,
}

impl CloudIndexCache {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock, entries: Mutex::default() }
    }

    fn get(&self, cloud_id: &str) -> Option<TenantKey> {
        let now = self.clock.now_secs();
        let entries = self.entries.lock().ok()?;
        entries.get(cloud_id).filter(|(_, expires)| now < *expires).map(|(key, _)| key.clone())
    }

    fn put(&self, cloud_id: &str, tenant: TenantKey) {
        let now = self.clock.now_secs();
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= MAX_CACHED_SITES && !entries.contains_key(cloud_id) {
            entries.retain(|_, (_, expires)| now < *expires);
            if entries.len() >= MAX_CACHED_SITES {
                entries.clear();
            }
        }
        entries.insert(cloud_id.to_owned(), (tenant, now.saturating_add(CLOUD_INDEX_CACHE_SECS)));
    }

    fn forget(&self, cloud_id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(cloud_id);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The index item for `cloud_id`: the tenant it names and the item's version.
async fn read(state: &Stack, cloud_id: &str) -> Result<Option<(TenantKey, u64)>> {
    let item =
        state.store.get(&keys::cloud_index_tenant(), &keys::cloud_index(cloud_id), state.clock.now_secs()).await?;
    let Some(item) = item else { return Ok(None) };
    let tenant = item.body["tenant"]
        .as_str()
        .and_then(TenantKey::from_verified)
        .ok_or_else(|| Error::internal(format!("cloud index item of {cloud_id} names no tenant")))?;
    Ok(Some((tenant, item.version)))
}

/// The tenant answering for `cloud_id`, its record and the record's version; `None` when no
/// tenant does (no item, or a dangling one). Reads the store, never the cache: for writers.
pub async fn owner(state: &Stack, cloud_id: &str) -> Result<Option<(TenantKey, Tenant, u64)>> {
    let Some((key, _)) = read(state, cloud_id).await? else { return Ok(None) };
    match tenants::load(state, &key).await? {
        Some((record, version)) if record.cloud_id.as_deref() == Some(cloud_id) => Ok(Some((key, record, version))),
        _ => Ok(None),
    }
}

/// The tenant answering for `cloud_id` and its record, for verifying a FIT. One store read on a
/// warm cache, two otherwise.
pub async fn resolve(state: &Stack, cache: &CloudIndexCache, cloud_id: &str) -> Result<Option<(TenantKey, Tenant)>> {
    if let Some(key) = cache.get(cloud_id) {
        if let Some((record, _)) = tenants::load(state, &key).await?
            && record.cloud_id.as_deref() == Some(cloud_id)
        {
            return Ok(Some((key, record)));
        }
        cache.forget(cloud_id);
    }
    let Some((key, record, _)) = owner(state, cloud_id).await? else { return Ok(None) };
    cache.put(cloud_id, key.clone());
    Ok(Some((key, record)))
}

/// The writes that make `claimant` answer for `cloud_id`, for the transaction that saves the
/// claimant's record with `cloud_id` set. Moving the site away from another tenant clears that
/// tenant's `cloud_id` (keeping its due entry); a Forge-only tenant left unreachable that way is
/// uninstalled and its purge scheduled.
pub async fn claim_writes(state: &Stack, claimant: &TenantKey, cloud_id: &str) -> Result<Vec<Write>> {
    let index = keys::cloud_index_tenant();
    let sk = keys::cloud_index(cloud_id);
    let put_index = |condition: Condition, version: u64| Write::Put {
        item: Item {
            tenant: index.clone(),
            sk: sk.clone(),
            version,
            updated_at: state.clock.now_millis(),
            updated_by: None,
            due: None,
            expires_at: None,
            body: json!({"tenant": claimant.as_str()}),
        },
        condition,
    };
    let (previous, version) = match read(state, cloud_id).await? {
        None => return Ok(vec![put_index(Condition::Absent, 1)]),
        // Already ours: only make sure nobody moves it while the claimant's record is written.
        Some((owner, version)) if owner == *claimant => {
            return Ok(vec![Write::Check { tenant: index.clone(), sk, condition: Condition::Version(version) }]);
        }
        Some(other) => other,
    };
    let mut writes = vec![put_index(Condition::Version(version), version + 1)];
    let now = state.clock.now_secs();
    if let Some(item) = state.store.get(&previous, keys::TENANT_RECORD, now).await? {
        let mut record: Tenant = serde_json::from_value(item.body)
            .map_err(|e| Error::internal(format!("tenant record of {previous}: {e}")))?;
        if record.cloud_id.as_deref() == Some(cloud_id) {
            record.cloud_id = None;
            tenants::push_history(&mut record, "site_moved", &rfc3339(state.clock.now_millis()));
            let due = if !record.has_connect_install() && record.state != TenantState::Uninstalled {
                tracing::warn!(tenant = %previous, to = %claimant, "a Connect install superseded a Forge-only tenant");
                Some(tenants::mark_uninstalled(state, &mut record))
            } else {
                item.due
            };
            writes.push(tenants::record_write(state, &previous, &record, Condition::Version(item.version), due)?);
        }
    }
    tracing::info!(from = %previous, to = %claimant, "site moved to a newer install");
    Ok(writes)
}

/// The writes that drop `tenant`'s claim on `cloud_id`, for the purge that deletes the tenant:
/// the item goes only while it still names this tenant (a newer install keeps its claim).
pub async fn release_writes(state: &Stack, tenant: &TenantKey, cloud_id: &str) -> Result<Vec<Write>> {
    match read(state, cloud_id).await? {
        Some((owner, version)) if owner == *tenant => Ok(vec![Write::Delete {
            tenant: keys::cloud_index_tenant(),
            sk: keys::cloud_index(cloud_id),
            condition: Condition::Version(version),
        }]),
        _ => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::clock::ManualClock;

    fn key(s: &str) -> TenantKey {
        TenantKey::from_verified(s).unwrap()
    }

    #[test]
    fn cached_answers_expire_and_a_full_cache_drops_expired_ones_first() {
        let clock = Arc::new(ManualClock::at_millis(0));
        let cache = CloudIndexCache::new(clock.clone());
        cache.put("c1", key("t1"));
        assert_eq!(cache.get("c1"), Some(key("t1")));
        clock.advance_secs(CLOUD_INDEX_CACHE_SECS);
        assert_eq!(cache.get("c1"), None, "expired at the TTL");

        for i in 0..MAX_CACHED_SITES - 1 {
            cache.put(&format!("old-{i}"), key("t"));
        }
        clock.advance_secs(CLOUD_INDEX_CACHE_SECS - 1);
        cache.put("fresh", key("t2"));
        clock.advance_secs(2);
        cache.put("new", key("t3"));
        assert_eq!(cache.len(), 2, "only the unexpired answer and the new one stay");
        assert_eq!(cache.get("fresh"), Some(key("t2")));
        cache.forget("fresh");
        assert_eq!(cache.get("fresh"), None);
    }
}
