//! The site config a browser renders a site from: the site, its theme, home layout, navigation,
//! and the announcements and promoted searches active now — read with one store query.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::model::announcement::Announcement;
use super::model::navigation::Navigation;
use super::model::promoted_search::PromotedSearch;
use super::model::site::Site;
use super::sites::{Snapshot, check_site_id};
use crate::domain::data::Data;
use crate::domain::records::{Stored, decode, not_found};
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{MAX_PAGE_SIZE, PageRequest};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotView {
    pub id: String,
    pub version: u64,
    #[serde(flatten)]
    pub data: Value,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteConfig {
    pub site: Stored<Site>,
    pub theme: Option<SnapshotView>,
    pub home_layout: Option<SnapshotView>,
    pub navigation: Option<Navigation>,
    pub announcements: Vec<Stored<Announcement>>,
    pub promoted_searches: Vec<Stored<PromotedSearch>>,
}

/// The site config serialised once: the bytes answered and the ETag hashed from them.
#[derive(Debug)]
pub struct RenderedConfig {
    pub json: Vec<u8>,
    /// A hash of `json`: it changes with any part, including an announcement starting or ending.
    pub etag: String,
}

pub async fn read(ctx: &Data, tenant: &TenantKey, site_id: &str, logged_in: bool) -> Result<RenderedConfig> {
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
        } else if sk == theme_sk || sk == home_sk {
            let snapshot: Snapshot = serde_json::from_value(item.body).map_err(Error::internal)?;
            let view = SnapshotView { id: snapshot.source_id, version: snapshot.source_version, data: snapshot.data };
            if sk == theme_sk { theme = Some(view) } else { home_layout = Some(view) }
        } else if let Some(id) = sk.strip_prefix(&ann_prefix) {
            let announcement = decode::<Announcement>(item, id)?;
            if announcement.data.is_active_at(now) && announcement.data.audience.includes(logged_in) {
                announcements.push(announcement);
            }
        } else if let Some(id) = sk.strip_prefix(&search_prefix) {
            let search = decode::<PromotedSearch>(item, id)?;
            if search.data.is_active_at(now) {
                promoted_searches.push(search);
            }
        }
    }
    let site = site.ok_or_else(|| not_found("site"))?;
    let config = SiteConfig { site, theme, home_layout, navigation, announcements, promoted_searches };
    let json = serde_json::to_vec(&config).map_err(Error::internal)?;
    let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&json))[..32]);
    Ok(RenderedConfig { json, etag })
}
