//! The site config a browser renders a site from: the site, its theme, home layout, navigation,
//! and the announcements and promoted searches active now — read with one store query.

use serde::Serialize;
use sha2::{Digest, Sha256};

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
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotView<M> {
    pub id: String,
    /// The source's version: administrators only (a visitor is not told other items' versions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    #[serde(flatten)]
    pub data: M,
}

impl<M: serde::de::DeserializeOwned> SnapshotView<M> {
    /// The snapshot item decoded straight into its model.
    fn decode(item: &Item) -> Result<Self> {
        let snapshot: Snapshot<M> = item.body.decode().map_err(Error::internal)?;
        Ok(Self { id: snapshot.source_id, version: Some(snapshot.source_version), data: snapshot.data })
    }
}

/// The config as one caller sees it (`http::schema::SiteConfigSchema` is its documented shape).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SiteConfig<'a> {
    site: Seen<'a, Site>,
    theme: Option<&'a SnapshotView<Theme>>,
    home_layout: Option<&'a SnapshotView<Layout>>,
    navigation: Option<&'a Navigation>,
    announcements: Vec<Seen<'a, Announcement>>,
    promoted_searches: Vec<Seen<'a, PromotedSearch>>,
}

/// The site config serialised once: the bytes answered and the ETag hashed from them.
#[derive(Debug)]
pub struct RenderedConfig {
    pub json: Vec<u8>,
    /// A hash of `json`: it changes with any part, including an announcement starting or ending.
    pub etag: String,
}

/// Everything a site's config is made of, read with one store query, before the caller's view.
#[derive(Debug)]
pub struct ConfigParts {
    pub site: Stored<Site>,
    theme: Option<SnapshotView<Theme>>,
    home_layout: Option<SnapshotView<Layout>>,
    navigation: Option<Navigation>,
    announcements: Vec<Stored<Announcement>>,
    promoted_searches: Vec<Stored<PromotedSearch>>,
    /// Unix seconds of the read: the announcements' and searches' windows are judged at it.
    now: i64,
}

/// The site and everything under it, with one query; a missing site is 404.
pub async fn load(ctx: &Data, tenant: &TenantKey, site_id: &str) -> Result<ConfigParts> {
    check_site_id(site_id)?;
    let now = ctx.clock.now_secs();
    let site_sk = keys::site(site_id);
    let page = ctx.store.query(tenant, &site_sk, PageRequest { limit: MAX_PAGE_SIZE, after: None }, now).await?;
    if page.next.is_some() {
        // The per-site bounds keep a site far below a page; reaching this is a bug.
        return Err(Error::internal(format!("site {site_id} has more than {MAX_PAGE_SIZE} items")));
    }
    let (nav_sk, ann_prefix, search_prefix) =
        (keys::site_navigation(site_id), keys::site_announcements(site_id), keys::site_promoted_searches(site_id));
    let (theme_sk, home_sk) = (keys::site_theme_snapshot(site_id), keys::site_home_snapshot(site_id));
    let mut site = None;
    let (mut theme, mut home_layout, mut navigation) = (None, None, None);
    let (mut announcements, mut promoted_searches) = (Vec::new(), Vec::new());
    for item in page.items {
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
    Ok(ConfigParts { site, theme, home_layout, navigation, announcements, promoted_searches, now })
}

impl ConfigParts {
    /// The config as `view` sees it: the announcements and promoted searches live at the read
    /// (announcements for the caller's audience), each part as [`View::sees`] it; a visitor is
    /// told no part's version (the config's `ETag` stands for the whole).
    pub fn render(mut self, view: View) -> Result<RenderedConfig> {
        let now = self.now;
        if !view.is_admin() {
            let versions =
                [self.theme.as_mut().map(|s| &mut s.version), self.home_layout.as_mut().map(|s| &mut s.version)];
            for version in versions.into_iter().flatten() {
                *version = None;
            }
        }
        let config = SiteConfig {
            site: view.sees(&self.site).without_version(),
            theme: self.theme.as_ref(),
            home_layout: self.home_layout.as_ref(),
            navigation: self.navigation.as_ref(),
            announcements: live_now(&self.announcements, view, now),
            promoted_searches: live_now(&self.promoted_searches, view, now),
        };
        let json = serde_json::to_vec(&config).map_err(Error::internal)?;
        let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&json))[..32]);
        Ok(RenderedConfig { json, etag })
    }
}

/// The items a site shows now, to an administrator too (the config is what the site page draws),
/// each as `view` sees it and without its version for a visitor.
fn live_now<M: ContentModel>(items: &[Stored<M>], view: View, now_secs: i64) -> Vec<Seen<'_, M>> {
    let live = View::Visitor { signed_in: view.signed_in() };
    items.iter().filter(|item| live.shows(&item.data, now_secs)).map(|item| view.sees(item).without_version()).collect()
}
