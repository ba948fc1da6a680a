//! The site config a browser renders a site from: the site, its theme, home layout, navigation,
//! and the announcements and promoted searches active now — read with one store query, decoded
//! and rendered once per change of the site (`config_cache`).

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::config_cache::{Entry, RenderCache, RenderKey, RenderedConfig};
use super::model::ContentModel;
use super::model::announcement::Announcement;
use super::model::layout::Layout;
use super::model::navigation::Navigation;
use super::model::promoted_search::PromotedSearch;
use super::model::site::Site;
use super::model::theme::Theme;
use super::sites::{Snapshot, check_site_id};
use crate::domain::access::{Seen, View};
use crate::domain::data::Data;
use crate::domain::records::{Stored, decode, not_found};
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Item, MAX_PAGE_SIZE, PageRequest};

/// A copy of a theme or layout taken when the site named it: the source's id and version.
#[derive(Debug)]
pub struct SnapshotView<M> {
    pub id: String,
    pub version: u64,
    pub data: M,
}

impl<M: serde::de::DeserializeOwned> SnapshotView<M> {
    /// The snapshot item decoded straight into its model.
    fn decode(item: &Item) -> Result<Self> {
        let snapshot: Snapshot<M> = item.body.decode().map_err(Error::internal)?;
        Ok(Self { id: snapshot.source_id, version: snapshot.source_version, data: snapshot.data })
    }

    /// As `view` sees it: the source's version for administrators only (a visitor is not told
    /// other items' versions).
    fn seen(&self, view: View) -> SeenSnapshot<'_, M> {
        SeenSnapshot { id: &self.id, version: view.is_admin().then_some(self.version), data: &self.data }
    }
}

#[derive(Serialize)]
struct SeenSnapshot<'a, M> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u64>,
    #[serde(flatten)]
    data: &'a M,
}

/// The config as one caller sees it (`http::schema::SiteConfigSchema` is its documented shape).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SiteConfig<'a> {
    site: Seen<'a, Site>,
    theme: Option<SeenSnapshot<'a, Theme>>,
    home_layout: Option<SeenSnapshot<'a, Layout>>,
    navigation: Option<&'a Navigation>,
    announcements: Vec<Seen<'a, Announcement>>,
    promoted_searches: Vec<Seen<'a, PromotedSearch>>,
}

/// This process's decoded and rendered site configs (`config_cache`).
pub type ConfigCache = RenderCache<ConfigParts>;

/// Everything a site's config is made of, decoded from its one store query, before the caller's
/// view.
#[derive(Debug)]
pub struct ConfigParts {
    pub site: Stored<Site>,
    theme: Option<SnapshotView<Theme>>,
    home_layout: Option<SnapshotView<Layout>>,
    navigation: Option<Navigation>,
    announcements: Vec<Stored<Announcement>>,
    promoted_searches: Vec<Stored<PromotedSearch>>,
}

/// A site's config as read now, before the caller's view is known.
pub struct ConfigRead<'a> {
    cache: &'a ConfigCache,
    tenant: &'a TenantKey,
    site_id: &'a str,
    entry: Arc<Entry<ConfigParts>>,
    /// Unix seconds of the read: the announcements' and searches' windows are judged at it.
    now: i64,
}

/// The site and everything under it, with one query; a missing site is 404. The parts are
/// decoded only when the query answers other items than the last read of the site did.
pub async fn load<'a>(
    ctx: &Data,
    cache: &'a ConfigCache,
    tenant: &'a TenantKey,
    site_id: &'a str,
) -> Result<ConfigRead<'a>> {
    check_site_id(site_id)?;
    let now = ctx.clock.now_secs();
    let page =
        ctx.store.query(tenant, &keys::site(site_id), PageRequest { limit: MAX_PAGE_SIZE, after: None }, now).await?;
    if page.next.is_some() {
        // The per-site bounds keep a site far below a page; reaching this is a bug.
        return Err(Error::internal(format!("site {site_id} has more than {MAX_PAGE_SIZE} items")));
    }
    let entry = cache.entry(tenant, site_id, page.items, |items| ConfigParts::decode(items, site_id))?;
    Ok(ConfigRead { cache, tenant, site_id, entry, now })
}

impl ConfigRead<'_> {
    pub fn site(&self) -> &Stored<Site> {
        &self.entry.source.parts.site
    }

    /// The config as `view` sees it (see [`ConfigParts::render`]), rendered once per change of the
    /// site, view and set of live announcements and searches.
    pub fn render(&self, view: View) -> Result<Arc<RenderedConfig>> {
        let parts = &self.entry.source.parts;
        let key = RenderKey { view, live: parts.live(view, self.now) };
        self.cache.render(self.tenant, self.site_id, &self.entry, key, || parts.render(view, self.now))
    }
}

impl ConfigParts {
    pub(super) fn decode(items: Vec<Item>, site_id: &str) -> Result<Self> {
        let site_sk = keys::site(site_id);
        let (nav_sk, ann_prefix, search_prefix) =
            (keys::site_navigation(site_id), keys::site_announcements(site_id), keys::site_promoted_searches(site_id));
        let (theme_sk, home_sk) = (keys::site_theme_snapshot(site_id), keys::site_home_snapshot(site_id));
        let mut site = None;
        let (mut theme, mut home_layout, mut navigation) = (None, None, None);
        let (mut announcements, mut promoted_searches) = (Vec::new(), Vec::new());
        for item in items {
            let sk = item.sk.clone();
            if sk == site_sk {
                site = Some(decode::<Site>(item, site_id)?);
            } else if sk == nav_sk {
                navigation = Some(decode::<Navigation>(item, site_id)?.data);
            } else if sk == theme_sk {
                theme = Some(SnapshotView::decode(&item)?);
            } else if sk == home_sk {
                home_layout = Some(SnapshotView::decode(&item)?);
            } else if let Some(id) = sk.strip_prefix(&ann_prefix) {
                announcements.push(decode::<Announcement>(item, id)?);
            } else if let Some(id) = sk.strip_prefix(&search_prefix) {
                promoted_searches.push(decode::<PromotedSearch>(item, id)?);
            }
        }
        let site = site.ok_or_else(|| not_found("site"))?;
        Ok(ConfigParts { site, theme, home_layout, navigation, announcements, promoted_searches })
    }

    /// Per announcement, then per promoted search, whether the config shows it to `view` at
    /// `now_secs`: what a render depends on besides the parts and the view.
    fn live(&self, view: View, now_secs: i64) -> Vec<bool> {
        let live = live_view(view);
        let announcements = self.announcements.iter().map(|item| live.shows(&item.data, now_secs));
        let searches = self.promoted_searches.iter().map(|item| live.shows(&item.data, now_secs));
        announcements.chain(searches).collect()
    }

    /// The config as `view` sees it: the announcements and promoted searches live at `now_secs`
    /// (announcements for the caller's audience), each part as [`View::sees`] it; a visitor is
    /// told no part's version (the config's `ETag` stands for the whole).
    pub(super) fn render(&self, view: View, now_secs: i64) -> Result<RenderedConfig> {
        let config = SiteConfig {
            site: view.sees(&self.site).without_version(),
            theme: self.theme.as_ref().map(|snapshot| snapshot.seen(view)),
            home_layout: self.home_layout.as_ref().map(|snapshot| snapshot.seen(view)),
            navigation: self.navigation.as_ref(),
            announcements: live_now(&self.announcements, view, now_secs),
            promoted_searches: live_now(&self.promoted_searches, view, now_secs),
        };
        let json = serde_json::to_vec(&config).map_err(Error::internal)?;
        let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&json))[..32]);
        Ok(RenderedConfig { json: Bytes::from(json), etag })
    }
}

/// The view whose liveness the config applies, to an administrator too: the config is what the
/// site page draws.
fn live_view(view: View) -> View {
    View::Visitor { signed_in: view.signed_in() }
}

/// The items live at `now_secs` ([`live_view`]), each as `view` sees it and without its version
/// for a visitor.
fn live_now<M: ContentModel>(items: &[Stored<M>], view: View, now_secs: i64) -> Vec<Seen<'_, M>> {
    let live = live_view(view);
    items.iter().filter(|item| live.shows(&item.data, now_secs)).map(|item| view.sees(item).without_version()).collect()
}
