//! Sites: create, read, list, update, delete (to the trash), with the listing copy, the exact
//! counters and the theme/home-layout snapshots kept in step in the same transaction.

use serde::{Deserialize, Serialize};

use super::counters::{self, Counters};
use super::model::ContentModel;
use super::model::bounds::invalid;
use super::model::site::{GroupRef, Site};
use crate::domain::data::Data;
use crate::domain::records::{self, Editor, Stored, check_if_match, item_for, not_found};
use crate::kernel::error::{Error, Result};
use crate::kernel::ids;
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Body, Condition, Item, Page, Write, retry_conflicts};

/// Sites per tenant. A theme or layout update rewrites the snapshot of every site using it in
/// one transaction (a put and a check per site): 40 sites keep that under DynamoDB's 100.
pub const MAX_SITES_PER_TENANT: i64 = 40;

/// What a site's snapshot of its theme or home layout holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot<D = Body> {
    pub source_id: String,
    pub source_version: u64,
    pub data: D,
}

/// The two library kinds a site points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uses {
    Theme,
    HomeLayout,
}

impl Uses {
    pub fn source_sk(self, id: &str) -> String {
        match self {
            Self::Theme => format!("{}{id}", keys::THEME_PREFIX),
            Self::HomeLayout => format!("{}{id}", keys::LAYOUT_PREFIX),
        }
    }

    pub fn snapshot_sk(self, site_id: &str) -> String {
        match self {
            Self::Theme => keys::site_theme_snapshot(site_id),
            Self::HomeLayout => keys::site_home_snapshot(site_id),
        }
    }

    pub fn referenced_by(self, site: &Site) -> Option<&str> {
        match self {
            Self::Theme => site.theme_id.as_deref(),
            Self::HomeLayout => site.home_layout_id.as_deref(),
        }
    }

    fn field(self) -> &'static str {
        match self {
            Self::Theme => "themeId",
            Self::HomeLayout => "homeLayoutId",
        }
    }
}

pub fn counted(site: &Site) -> Counters {
    Counters {
        sites: 1,
        themes: 0,
        custom_domains: site.custom_domain_count() as i64,
        spaces: site.counted_spaces() as i64,
    }
}

/// Site ids are ULIDs: the key layout relies on their fixed length.
pub fn check_site_id(id: &str) -> Result<()> {
    if ids::is_ulid(id) { Ok(()) } else { Err(not_found(Site::KIND)) }
}

pub async fn read(ctx: &Data, tenant: &TenantKey, id: &str) -> Result<Stored<Site>> {
    check_site_id(id)?;
    records::read(ctx, tenant, &keys::site(id), id).await
}

/// The live site item, for writers that must check it still exists at this version.
pub async fn read_item(ctx: &Data, tenant: &TenantKey, id: &str) -> Result<Item> {
    check_site_id(id)?;
    ctx.store.get(tenant, &keys::site(id), ctx.clock.now_secs()).await?.ok_or_else(|| not_found(Site::KIND))
}

pub async fn list(ctx: &Data, tenant: &TenantKey, limit: u32, cursor: Option<&str>) -> Result<Page<Stored<Site>>> {
    records::list(ctx, tenant, keys::SITE_LISTING_PREFIX, limit, cursor).await
}

/// Every live site with its listing-copy version (sites are bounded, so one page holds all).
pub async fn all(ctx: &Data, tenant: &TenantKey) -> Result<Vec<Stored<Site>>> {
    let page = list(ctx, tenant, crate::ports::store::MAX_PAGE_SIZE, None).await?;
    Ok(page.items)
}

/// The snapshot writes for one reference: a put of the referenced item's copy guarded by a
/// check of its version, or the removal of the copy when the site references nothing.
async fn snapshot_writes(ctx: &Data, editor: &Editor, site_id: &str, uses: Uses, site: &Site) -> Result<Vec<Write>> {
    let snapshot_sk = uses.snapshot_sk(site_id);
    let Some(source_id) = uses.referenced_by(site) else {
        return Ok(vec![Write::Delete { tenant: editor.tenant.clone(), sk: snapshot_sk, condition: Condition::None }]);
    };
    let source_sk = uses.source_sk(source_id);
    let source =
        ctx.store.get(&editor.tenant, &source_sk, ctx.clock.now_secs()).await?.ok_or_else(|| {
            Error::invalid("unknown_reference", format!("{}: no such item {source_id}.", uses.field()))
        })?;
    Ok(vec![
        Write::Check { tenant: editor.tenant.clone(), sk: source_sk, condition: Condition::Version(source.version) },
        Write::Put {
            item: snapshot_item(editor, site_id, uses, source_id, &source, ctx.clock.now_millis())?,
            condition: Condition::None,
        },
    ])
}

pub fn snapshot_item(
    editor: &Editor,
    site_id: &str,
    uses: Uses,
    source_id: &str,
    source: &Item,
    now_millis: i64,
) -> Result<Item> {
    let snapshot =
        Snapshot { source_id: source_id.to_owned(), source_version: source.version, data: source.body.clone() };
    Ok(Item {
        tenant: editor.tenant.clone(),
        sk: uses.snapshot_sk(site_id),
        version: source.version,
        updated_at: now_millis,
        // Derived data names nobody: a theme update rewrites up to 40 snapshots in one
        // transaction, which has no room for an editor pointer each.
        updated_by: None,
        due: None,
        expires_at: None,
        body: Body::of(&snapshot)?,
    })
}

/// Site item, listing copy and snapshots for a site being written at `version`.
async fn site_writes(
    ctx: &Data,
    editor: &Editor,
    id: &str,
    site: &Site,
    version: u64,
    condition: Condition,
) -> Result<Vec<Write>> {
    let now = ctx.clock.now_millis();
    let site_item = item_for(editor, &keys::site(id), version, site, now)?;
    let listing_item = Item { sk: keys::site_listing(id), ..site_item.clone() };
    let mut writes =
        vec![Write::Put { item: site_item, condition }, Write::Put { item: listing_item, condition: Condition::None }];
    writes.extend(snapshot_writes(ctx, editor, id, Uses::Theme, site).await?);
    writes.extend(snapshot_writes(ctx, editor, id, Uses::HomeLayout, site).await?);
    Ok(writes)
}

pub async fn create(ctx: &Data, editor: &Editor, site: Site) -> Result<Stored<Site>> {
    site.validate()?;
    check_new_groups(&site, None)?;
    let id = ids::new_ulid(ctx.clock.now_millis())?;
    retry_conflicts(|| async {
        let counters = quota_room(ctx, &editor.tenant).await?;
        let mut writes = site_writes(ctx, editor, &id, &site, 1, Condition::Absent).await?;
        writes.push(counters.change(editor, counted(&site), ctx.clock.now_millis())?);
        let answer = records::written(&writes, &keys::site(&id), &id)?;
        crate::domain::records::commit(ctx, writes).await?;
        Ok(answer)
    })
    .await
}

/// A write may keep the name-only group entries the stored site has (stored before groups were
/// kept by id, `model::site::GroupRef`), but every other entry needs the group's id: Atlassian
/// is retiring group names from its APIs.
fn check_new_groups(site: &Site, stored: Option<&Site>) -> Result<()> {
    let kept = |group: &GroupRef| {
        stored.is_some_and(|s| s.restricted_to_groups.iter().any(|g| g.id.is_none() && g.key() == group.key()))
    };
    match site.restricted_to_groups.iter().position(|group| group.id.is_none() && !kept(group)) {
        Some(i) => Err(invalid(
            &format!("restrictedToGroups[{i}].id"),
            "missing; a group is given by its Atlassian group id (a name-only entry stays only while a site already has it)",
        )),
        None => Ok(()),
    }
}

pub async fn update(ctx: &Data, editor: &Editor, id: &str, if_match: Option<u64>, site: Site) -> Result<Stored<Site>> {
    site.validate()?;
    retry_conflicts(|| async {
        let stored: Stored<Site> = read(ctx, &editor.tenant, id).await?;
        check_if_match(if_match, stored.version)?;
        check_new_groups(&site, Some(&stored.data))?;
        let mut writes =
            site_writes(ctx, editor, id, &site, stored.version + 1, Condition::Version(stored.version)).await?;
        let delta = counted(&site).minus(counted(&stored.data));
        if !delta.is_zero() {
            writes.push(counters::change(ctx, editor, delta).await?);
        }
        let answer = records::written(&writes, &keys::site(id), id)?;
        crate::domain::records::commit(ctx, writes).await?;
        Ok(answer)
    })
    .await
}

/// Moves the site to the trash. Its children and snapshots stay (unreachable while the site is
/// gone) so that a restore brings the whole site back; the purge takes them with it.
pub async fn delete(ctx: &Data, editor: &Editor, id: &str, if_match: Option<u64>) -> Result<()> {
    retry_conflicts(|| async {
        let item = read_item(ctx, &editor.tenant, id).await?;
        check_if_match(if_match, item.version)?;
        let site: Site = item.body.decode().map_err(Error::internal)?;
        let now = ctx.clock.now_millis();
        let mut writes = records::trash_writes(editor, Site::KIND, &item, now)?;
        writes.push(Write::Delete {
            tenant: editor.tenant.clone(),
            sk: keys::site_listing(id),
            condition: Condition::None,
        });
        writes.push(counters::change(ctx, editor, Counters::default().minus(counted(&site))).await?);
        crate::domain::records::commit(ctx, writes).await
    })
    .await
}

/// Brings a trashed site back (see `trash::restore`): the site, its listing copy, the counters,
/// and fresh snapshots; a theme or layout deleted meanwhile is dropped from the site.
pub async fn restore_writes(ctx: &Data, editor: &Editor, id: &str, mut site: Site, version: u64) -> Result<Vec<Write>> {
    let now = ctx.clock.now_secs();
    for uses in [Uses::Theme, Uses::HomeLayout] {
        if let Some(source_id) = uses.referenced_by(&site)
            && ctx.store.get(&editor.tenant, &uses.source_sk(source_id), now).await?.is_none()
        {
            match uses {
                Uses::Theme => site.theme_id = None,
                Uses::HomeLayout => site.home_layout_id = None,
            }
        }
    }
    let counters = quota_room(ctx, &editor.tenant).await?;
    let mut writes = site_writes(ctx, editor, id, &site, version, Condition::Absent).await?;
    writes.push(counters.change(editor, counted(&site), ctx.clock.now_millis())?);
    Ok(writes)
}

/// The home counters item, which holds the exact number of sites, when there is room for one
/// more: the new site's write goes there under the version read here, so two creates racing
/// for the last place cannot both commit.
async fn quota_room(ctx: &Data, tenant: &TenantKey) -> Result<counters::Shard> {
    let home = counters::Shard::home(ctx, tenant).await?;
    if home.counts().sites >= MAX_SITES_PER_TENANT {
        return Err(Error::invalid(
            "limit_reached",
            format!("A tenant can have at most {MAX_SITES_PER_TENANT} sites."),
        ));
    }
    Ok(home)
}
