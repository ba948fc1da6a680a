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
//! - **Site import** gives the same site a new clientKey and keeps its host: its `installed`
//!   claims the index (the newest install of the same host wins). The previous tenant keeps its
//!   data, its state and its Connect path, but Forge no longer reaches it. Its record's history
//!   says `site_moved`.
//! - **Another site's cloudId**: an install whose baseUrl host is not the recorded owner's is
//!   refused (409 `cloud_id_claimed`, a warning in the log, nothing written). A claim never
//!   uninstalls or purges the tenant it moves the site from.
//! - **Installation ids change** without events: they are recorded on the record, never keyed on.
//! - **Forge first, then Connect** (a Connect-on-Forge site whose Forge event arrives before the
//!   Connect install): the Connect install of the same host takes the site over; the Forge-only
//!   tenant it supersedes keeps its data and state (an operator deletes it on request). A
//!   Forge-only tenant recorded without its site's URL (the FIT had no `siteUrl`) has no host to
//!   match: a Connect install for its cloudId is refused until an operator resolves it.
//! - **Tenants installed before the index existed** have no item until their next `installed`
//!   (Atlassian sends one on every upgrade); until then their FITs get 401.
//! - **Uninstall** leaves the item: an uninstalled tenant's FITs get 401, and a re-install within
//!   the purge window finds its site again. The purge drops it ([`release_writes`]); an item left
//!   dangling anyway is ignored by lookups and overwritten by the next claim.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::domain::data::Stack;
use crate::domain::tenants::cache::{Loaded, Read, TenantCache};
use crate::domain::tenants::{self, Tenant};
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
async fn read_index(state: &Stack, cloud_id: &str) -> Result<Option<(TenantKey, u64)>> {
    let item =
        state.store.get(&keys::cloud_index_tenant(), &keys::cloud_index(cloud_id), state.clock.now_secs()).await?;
    let Some(item) = item else { return Ok(None) };
    let tenant = item
        .body
        .field::<String>("tenant")
        .and_then(|tenant| TenantKey::from_verified(&tenant))
        .ok_or_else(|| Error::internal(format!("cloud index item of {cloud_id} names no tenant")))?;
    Ok(Some((tenant, item.version)))
}

/// The tenant answering for `cloud_id`, its record and the record's version; `None` when no
/// tenant does (no item, or a dangling one). Reads the store, never the cache: for writers.
pub async fn owner(state: &Stack, cloud_id: &str) -> Result<Option<(TenantKey, Tenant, u64)>> {
    let Some((key, _)) = read_index(state, cloud_id).await? else { return Ok(None) };
    match tenants::load(state, &key).await? {
        Some((record, version)) if record.cloud_id.as_deref() == Some(cloud_id) => Ok(Some((key, record, version))),
        _ => Ok(None),
    }
}

/// The tenant answering for `cloud_id` and its record, for verifying a FIT: the record as `read`
/// asks ([`TenantCache`]), so a warm lookup makes no store read, a cold one two.
pub async fn resolve(
    state: &Stack,
    cache: &CloudIndexCache,
    tenants: &TenantCache,
    cloud_id: &str,
    read: Read,
) -> Result<Option<(TenantKey, Loaded)>> {
    if let Some(key) = cache.get(cloud_id) {
        if let Some(loaded) = tenants.load(state, &key, read).await?
            && loaded.record.cloud_id.as_deref() == Some(cloud_id)
        {
            return Ok(Some((key, loaded)));
        }
        cache.forget(cloud_id);
    }
    let Some((key, _)) = read_index(state, cloud_id).await? else { return Ok(None) };
    match tenants.load(state, &key, Read::Store).await? {
        Some(loaded) if loaded.record.cloud_id.as_deref() == Some(cloud_id) => {
            cache.put(cloud_id, key.clone());
            Ok(Some((key, loaded)))
        }
        _ => Ok(None),
    }
}

/// The writes that make `claimant` answer for `cloud_id`, for the transaction that saves the
/// claimant's record with `cloud_id` set and `claimant_base_url` as its site.
///
/// A site another tenant answers for moves only when the claimant's site is that tenant's site:
/// the same host (a site import gives the site a new clientKey and keeps its host). The previous
/// tenant's `cloud_id` is cleared (history `site_moved`) and nothing else: it is never
/// uninstalled nor scheduled for purge because of a claim. Any other claim is refused with 409
/// `cloud_id_claimed`, logged as a warning for operators, and writes nothing: the cloudId in an
/// install body is the caller's word, the host is the site Canopy will call.
pub async fn claim_writes(
    state: &Stack,
    claimant: &TenantKey,
    claimant_base_url: &str,
    cloud_id: &str,
) -> Result<Vec<Write>> {
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
            body: json!({"tenant": claimant.as_str()}).into(),
        },
        condition,
    };
    let (previous, version) = match read_index(state, cloud_id).await? {
        None => return Ok(vec![put_index(Condition::Absent, 1)]),
        // Already ours: only make sure nobody moves it while the claimant's record is written.
        Some((owner, version)) if owner == *claimant => {
            return Ok(vec![Write::Check { tenant: index.clone(), sk, condition: Condition::Version(version) }]);
        }
        Some(other) => other,
    };
    let mut writes = vec![put_index(Condition::Version(version), version + 1)];
    let now = state.clock.now_secs();
    let Some(item) = state.store.get(&previous, keys::TENANT_RECORD, now).await? else {
        // A dangling item (its tenant purged): the claim simply replaces it.
        return Ok(writes);
    };
    let mut record: Tenant =
        item.body.decode().map_err(|e| Error::internal(format!("tenant record of {previous}: {e}")))?;
    if record.cloud_id.as_deref() != Some(cloud_id) {
        return Ok(writes);
    }
    let (owner_host, claimant_host) = (site_host(&record.base_url), site_host(claimant_base_url));
    if owner_host.is_none() || owner_host != claimant_host {
        tracing::warn!(
            %cloud_id,
            owner = %previous,
            owner_host = owner_host.as_deref().unwrap_or("-"),
            claimant = %claimant,
            claimant_host = claimant_host.as_deref().unwrap_or("-"),
            "cloudId claim refused: an install names the cloudId of another site"
        );
        return Err(Error::conflict(
            "cloud_id_claimed",
            "Another site's installation answers for this cloudId; an install may claim only its own site's cloudId.",
        ));
    }
    record.cloud_id = None;
    tenants::push_history(&mut record, "site_moved", &rfc3339(state.clock.now_millis()));
    writes.push(tenants::record_write(state, &previous, &record, Condition::Version(item.version), item.due)?);
    tracing::info!(from = %previous, to = %claimant, %cloud_id, "site moved to a newer install of the same host");
    Ok(writes)
}

/// The host of a site's base URL, lower case and without a trailing dot; `None` when it has none.
fn site_host(base_url: &str) -> Option<String> {
    let url = url::Url::parse(base_url).ok()?;
    let host = url.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

/// The writes that drop `tenant`'s claim on `cloud_id`, for the purge that deletes the tenant:
/// the item goes only while it still names this tenant (a newer install keeps its claim).
pub async fn release_writes(state: &Stack, tenant: &TenantKey, cloud_id: &str) -> Result<Vec<Write>> {
    match read_index(state, cloud_id).await? {
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
    fn site_hosts_compare_without_case_path_or_trailing_dot() {
        assert_eq!(site_host("https://Acme.atlassian.net/wiki").as_deref(), Some("acme.atlassian.net"));
        assert_eq!(site_host("https://acme.atlassian.net./wiki"), site_host("https://acme.atlassian.net"));
        assert_ne!(site_host("https://acme.atlassian.net"), site_host("https://evil.atlassian.net"));
        assert_eq!(site_host("not a url"), None);
        assert_eq!(site_host("data:text/plain,x"), None);
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
