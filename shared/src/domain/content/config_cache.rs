//! Site configs as this process last decoded and rendered them: a read whose one store query
//! answers exactly the items of an earlier read answers the bytes rendered then, without decoding,
//! rendering or hashing again.
//!
//! Exact, not time-bound. Every read still runs its query (the one round trip), and an entry
//! serves only when that query answers the very items it was made from: keys, versions, writers,
//! times, expiry and body text compared byte for byte. So a change the store shows, made through
//! this process or any other, is answered at once. A render is reused only for the same view
//! (administrator, signed-in visitor, anonymous visitor) and the same announcements and promoted
//! searches live at the read, so a window opening or closing renders anew.
//!
//! Bounds: at most [`MAX_CACHED_SITES`] sites and [`MAX_CACHED_BYTES`] of items and renders; a
//! site over [`MAX_ENTRY_BYTES`] is decoded and rendered on every read. A full cache is emptied
//! and refills from the reads that follow: no recency is tracked on the hot path. A site whose
//! query finds it gone (deleted, or its tenant purged) is forgotten at that read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::domain::access::View;
use crate::kernel::error::Result;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::Item;

/// Sites a process keeps.
pub const MAX_CACHED_SITES: usize = 1_024;
/// Bytes a process keeps: the items' text (counted twice, for their decoded copy) and renders.
pub const MAX_CACHED_BYTES: usize = 32 * 1024 * 1024;
/// The most one site may take; a larger one is not kept.
pub const MAX_ENTRY_BYTES: usize = 1024 * 1024;
/// Renders kept per site: three views, and the live sets that windows opening and closing bring.
pub const MAX_RENDERS_PER_SITE: usize = 6;

/// A site's config serialised once: the bytes answered and the ETag hashed from them.
#[derive(Debug)]
pub struct RenderedConfig {
    pub json: Bytes,
    /// A hash of `json`: it changes with any part, including an announcement starting or ending.
    pub etag: String,
}

/// A site's items as one query answered them, decoded (`P`: `site_config::ConfigParts`).
pub struct Source<P> {
    items: Vec<Item>,
    pub parts: P,
    bytes: usize,
}

/// What the caller's render is keyed on besides the source: its view and, per announcement and
/// promoted search in query order, whether it is live for that view at the read.
#[derive(PartialEq, Eq)]
pub struct RenderKey {
    pub view: View,
    pub live: Vec<bool>,
}

/// A site as cached: its source and the renders made from it.
pub struct Entry<P> {
    pub source: Arc<Source<P>>,
    renders: Vec<(Arc<RenderKey>, Arc<RenderedConfig>)>,
}

// Not derived: a derive would ask `P: Clone`, and only the `Arc`s are cloned.
impl<P> Clone for Entry<P> {
    fn clone(&self) -> Self {
        Self { source: self.source.clone(), renders: self.renders.clone() }
    }
}

impl<P> Entry<P> {
    fn bytes(&self) -> usize {
        self.source.bytes + self.renders.iter().map(|(_, config)| config.json.len()).sum::<usize>()
    }

    /// The render made for `key`, when one was.
    pub fn render(&self, key: &RenderKey) -> Option<Arc<RenderedConfig>> {
        self.renders.iter().find(|(made_for, _)| **made_for == *key).map(|(_, config)| config.clone())
    }
}

struct Sites<P> {
    by_tenant: HashMap<TenantKey, HashMap<String, Arc<Entry<P>>>>,
    count: usize,
    bytes: usize,
}

impl<P> Default for Sites<P> {
    fn default() -> Self {
        Self { by_tenant: HashMap::new(), count: 0, bytes: 0 }
    }
}

impl<P> Sites<P> {
    fn remove(&mut self, tenant: &TenantKey, site_id: &str) {
        let Some(entries) = self.by_tenant.get_mut(tenant) else { return };
        if let Some(old) = entries.remove(site_id) {
            self.count -= 1;
            self.bytes -= old.bytes();
        }
        if entries.is_empty() {
            self.by_tenant.remove(tenant);
        }
    }
}

/// The cache of one process (`site_config::ConfigCache` names it for the config's parts).
pub struct RenderCache<P> {
    sites: Mutex<Sites<P>>,
    decoded: AtomicU64,
    rendered: AtomicU64,
}

impl<P> Default for RenderCache<P> {
    fn default() -> Self {
        Self { sites: Mutex::default(), decoded: AtomicU64::new(0), rendered: AtomicU64::new(0) }
    }
}

impl<P> RenderCache<P> {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The site's entry for `items`, the answer of its query: the cached one when it was made from
    /// the same items, else `decode`d now (and kept, within the bounds).
    pub fn entry(
        &self,
        tenant: &TenantKey,
        site_id: &str,
        items: Vec<Item>,
        decode: impl FnOnce(Vec<Item>) -> Result<P>,
    ) -> Result<Arc<Entry<P>>> {
        if let Some(entry) = self.cached(tenant, site_id)
            && entry.source.items == items
        {
            return Ok(entry);
        }
        let bytes = 2 * items.iter().map(|item| item.sk.len() + item.body.len()).sum::<usize>();
        let parts = match decode(items.clone()) {
            Ok(parts) => parts,
            Err(error) => {
                // A site gone (deleted, or its tenant purged) leaves nothing of it in memory.
                if let Ok(mut sites) = self.sites.lock() {
                    sites.remove(tenant, site_id);
                }
                return Err(error);
            }
        };
        self.decoded.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(Entry { source: Arc::new(Source { items, parts, bytes }), renders: Vec::new() });
        self.keep(tenant, site_id, None, entry.clone());
        Ok(entry)
    }

    /// The config of `entry` for `key`: rendered before, or `render`ed now and kept beside the
    /// entry while it is still the site's current one.
    pub fn render(
        &self,
        tenant: &TenantKey,
        site_id: &str,
        entry: &Arc<Entry<P>>,
        key: RenderKey,
        render: impl FnOnce() -> Result<RenderedConfig>,
    ) -> Result<Arc<RenderedConfig>> {
        if let Some(config) = entry.render(&key) {
            return Ok(config);
        }
        let config = Arc::new(render()?);
        self.rendered.fetch_add(1, Ordering::Relaxed);
        if entry.renders.len() < MAX_RENDERS_PER_SITE {
            let mut with_render = Entry::clone(entry);
            with_render.renders.push((Arc::new(key), config.clone()));
            self.keep(tenant, site_id, Some(&entry.source), Arc::new(with_render));
        }
        Ok(config)
    }

    /// Sites kept now.
    pub fn len(&self) -> usize {
        self.sites.lock().map_or(0, |sites| sites.count)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes kept now (see [`MAX_CACHED_BYTES`]).
    pub fn bytes(&self) -> usize {
        self.sites.lock().map_or(0, |sites| sites.bytes)
    }

    /// How many times a site's items were decoded and a config rendered since the start: what the
    /// cache saves is the reads that did neither.
    pub fn work_done(&self) -> (u64, u64) {
        (self.decoded.load(Ordering::Relaxed), self.rendered.load(Ordering::Relaxed))
    }

    fn cached(&self, tenant: &TenantKey, site_id: &str) -> Option<Arc<Entry<P>>> {
        let sites = self.sites.lock().ok()?;
        sites.by_tenant.get(tenant)?.get(site_id).cloned()
    }

    /// Keeps `entry` as the site's, replacing the current one; with `only_over`, only when the
    /// current one is made from that source (a render is not kept beside items that changed).
    fn keep(&self, tenant: &TenantKey, site_id: &str, only_over: Option<&Arc<Source<P>>>, entry: Arc<Entry<P>>) {
        let bytes = entry.bytes();
        let Ok(mut sites) = self.sites.lock() else { return };
        let current = sites.by_tenant.get(tenant).and_then(|entries| entries.get(site_id));
        if let Some(source) = only_over
            && !current.is_some_and(|current| Arc::ptr_eq(&current.source, source))
        {
            return;
        }
        sites.remove(tenant, site_id);
        if bytes > MAX_ENTRY_BYTES {
            return;
        }
        if sites.count >= MAX_CACHED_SITES || sites.bytes + bytes > MAX_CACHED_BYTES {
            *sites = Sites::default();
        }
        sites.by_tenant.entry(tenant.clone()).or_default().insert(site_id.to_owned(), entry);
        sites.count += 1;
        sites.bytes += bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::content::site_config::{ConfigCache, ConfigParts};
    use crate::kernel::keys;
    use crate::ports::store::Body;

    fn tenant(n: usize) -> TenantKey {
        TenantKey::from_verified(&format!("tenant-{n}")).expect("key")
    }

    fn site_items(tenant: &TenantKey, site_id: &str, description: &str, version: u64) -> Vec<Item> {
        let body = serde_json::json!({"name": "Docs", "description": description, "visibility": "public"});
        vec![Item {
            tenant: tenant.clone(),
            sk: keys::site(site_id),
            version,
            updated_at: 1,
            updated_by: None,
            due: None,
            expires_at: None,
            body: Body::from(body),
        }]
    }

    fn read(cache: &ConfigCache, tenant: &TenantKey, site_id: &str, items: Vec<Item>) -> Arc<Entry<ConfigParts>> {
        cache.entry(tenant, site_id, items, |items| ConfigParts::decode(items, site_id)).expect("decodes")
    }

    fn rendered(
        cache: &ConfigCache,
        tenant: &TenantKey,
        site_id: &str,
        entry: &Arc<Entry<ConfigParts>>,
        view: View,
    ) -> Bytes {
        let key = RenderKey { view, live: Vec::new() };
        cache.render(tenant, site_id, entry, key, || entry.source.parts.render(view, 0)).expect("renders").json.clone()
    }

    #[test]
    fn the_same_items_are_decoded_once_and_any_difference_decodes_again() {
        let (cache, t) = (ConfigCache::default(), tenant(1));
        let first = read(&cache, &t, "s1", site_items(&t, "s1", "one", 1));
        let again = read(&cache, &t, "s1", site_items(&t, "s1", "one", 1));
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(cache.work_done(), (1, 0));
        // Same key and version, other text (an item deleted and written again): decoded again.
        let other = read(&cache, &t, "s1", site_items(&t, "s1", "two", 1));
        assert_eq!(other.source.parts.site.data.description.as_deref(), Some("two"));
        let newer = read(&cache, &t, "s1", site_items(&t, "s1", "two", 2));
        assert_eq!(newer.source.parts.site.version, 2);
        assert_eq!(cache.work_done(), (3, 0));
        // The same site id of another tenant is another entry.
        let (u, before) = (tenant(2), cache.len());
        read(&cache, &u, "s1", site_items(&u, "s1", "two", 2));
        assert_eq!((cache.len(), cache.work_done().0), (before + 1, 4));
        // A site gone: the read is refused and nothing of the site stays.
        let gone = cache.entry(&t, "s1", Vec::new(), |items| ConfigParts::decode(items, "s1"));
        assert!(gone.is_err());
        assert_eq!((cache.len(), cache.cached(&t, "s1").is_none()), (before, true));
        assert!(cache.bytes() > 0, "the other tenant's site is kept");
    }

    #[test]
    fn renders_are_kept_per_view_and_live_set_while_the_items_are_current() {
        let (cache, t) = (ConfigCache::default(), tenant(1));
        let entry = read(&cache, &t, "s1", site_items(&t, "s1", "one", 1));
        let admin = rendered(&cache, &t, "s1", &entry, View::Admin);
        let entry = read(&cache, &t, "s1", site_items(&t, "s1", "one", 1));
        assert_eq!(rendered(&cache, &t, "s1", &entry, View::Admin), admin, "the same bytes");
        let visitor = rendered(&cache, &t, "s1", &entry, View::Visitor { signed_in: false });
        assert_ne!(visitor, admin, "a visitor is not told the version");
        assert_eq!(cache.work_done(), (1, 2));
        // Other live sets of one view are other renders, up to the bound.
        for n in 0..MAX_RENDERS_PER_SITE + 2 {
            let entry = read(&cache, &t, "s1", site_items(&t, "s1", "one", 1));
            let key = RenderKey { view: View::Admin, live: vec![true; n + 1] };
            cache.render(&t, "s1", &entry, key, || entry.source.parts.render(View::Admin, 0)).expect("renders");
        }
        let entry = read(&cache, &t, "s1", site_items(&t, "s1", "one", 1));
        assert_eq!(entry.renders.len(), MAX_RENDERS_PER_SITE);
        // A render made from items that are no longer current is not kept beside the new ones.
        let old = entry;
        let new = read(&cache, &t, "s1", site_items(&t, "s1", "one", 2));
        rendered(&cache, &t, "s1", &old, View::Visitor { signed_in: true });
        let current = read(&cache, &t, "s1", site_items(&t, "s1", "one", 2));
        assert!(Arc::ptr_eq(&current, &new) && current.renders.is_empty());
    }

    #[test]
    fn the_cache_keeps_within_its_bounds() {
        let cache = ConfigCache::default();
        for n in 0..=MAX_CACHED_SITES {
            let t = tenant(n);
            read(&cache, &t, "s1", site_items(&t, "s1", "small", 1));
            assert!(cache.len() <= MAX_CACHED_SITES);
        }
        assert_eq!(cache.len(), 1, "a full cache was emptied, then kept the newest site");

        let big = "x".repeat(MAX_ENTRY_BYTES / 2);
        let t = tenant(0);
        let before = cache.len();
        read(&cache, &t, "big", site_items(&t, "big", &big, 1));
        read(&cache, &t, "big", site_items(&t, "big", &big, 1));
        assert_eq!(cache.len(), before, "a site over its bound is not kept");
        assert_eq!(cache.work_done().0, MAX_CACHED_SITES as u64 + 3, "so it is decoded on every read");

        let large = "x".repeat(MAX_ENTRY_BYTES / 4);
        for n in 0..2 * MAX_CACHED_BYTES / (MAX_ENTRY_BYTES / 2) {
            let t = tenant(n);
            let entry = read(&cache, &t, "s1", site_items(&t, "s1", &large, 1));
            rendered(&cache, &t, "s1", &entry, View::Admin);
            assert!(cache.bytes() <= MAX_CACHED_BYTES, "{} bytes", cache.bytes());
        }
    }
}
