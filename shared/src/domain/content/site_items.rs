//! Items that belong to one site: announcements and promoted search results (collections), and
//! the navigation tree (one per site). Every write checks, in its transaction, that the site
//! is still there at the version read.

use std::marker::PhantomData;

use super::model::ContentModel;
use super::model::announcement::Announcement;
use super::model::navigation::Navigation;
use super::model::promoted_search::PromotedSearch;
use super::sites;
use crate::domain::data::Data;
use crate::domain::records::{self, Editor, Stored, check_if_match, check_media_exist, item_for, not_found, written};
use crate::kernel::error::{Error, Result};
use crate::kernel::ids;
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Condition, Item, Page, PageRequest, Write, retry_conflicts};

pub struct SiteCollection<M> {
    prefix: fn(&str) -> String,
    /// Bounded so the one-query site config stays within one DynamoDB page (1 MB).
    pub max_per_site: u32,
    _model: PhantomData<M>,
}

pub const ANNOUNCEMENTS: SiteCollection<Announcement> =
    SiteCollection { prefix: keys::site_announcements, max_per_site: 25, _model: PhantomData };
pub const PROMOTED_SEARCHES: SiteCollection<PromotedSearch> =
    SiteCollection { prefix: keys::site_promoted_searches, max_per_site: 50, _model: PhantomData };

fn site_check(site: &Item) -> Write {
    Write::Check { tenant: site.tenant.clone(), sk: site.sk.clone(), condition: Condition::Version(site.version) }
}

impl<M: ContentModel> SiteCollection<M> {
    fn sk(&self, site_id: &str, id: &str) -> String {
        format!("{}{id}", (self.prefix)(site_id))
    }

    pub async fn read(&self, ctx: &Data, tenant: &TenantKey, site_id: &str, id: &str) -> Result<Stored<M>> {
        sites::read_item(ctx, tenant, site_id).await?;
        if !ids::is_ulid(id) {
            return Err(not_found(M::KIND));
        }
        records::read(ctx, tenant, &self.sk(site_id, id), id).await
    }

    pub async fn list(
        &self,
        ctx: &Data,
        tenant: &TenantKey,
        site_id: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Stored<M>>> {
        sites::read_item(ctx, tenant, site_id).await?;
        records::list(ctx, tenant, &(self.prefix)(site_id), limit, cursor).await
    }

    pub async fn create(&self, ctx: &Data, editor: &Editor, site_id: &str, data: M) -> Result<Stored<M>> {
        data.validate()?;
        check_media_exist(ctx, &editor.tenant, &data.media_ids()).await?;
        let id = ids::new_ulid(ctx.clock.now_millis())?;
        retry_conflicts(|| async {
            let site = sites::read_item(ctx, &editor.tenant, site_id).await?;
            let request = PageRequest { limit: self.max_per_site, after: None };
            let existing =
                ctx.store.query(&editor.tenant, &(self.prefix)(site_id), request, ctx.clock.now_secs()).await?;
            if existing.next.is_some() || existing.items.len() as u32 >= self.max_per_site {
                return Err(Error::invalid(
                    "limit_reached",
                    format!("A site can have at most {} {}s.", self.max_per_site, M::KIND),
                ));
            }
            // The site check also serialises concurrent creates: each one bumps nothing, but the
            // count above could race; the per-site bound is a soft product limit, not a
            // storage invariant, so an overshoot by a concurrent create is acceptable.
            let sk = self.sk(site_id, &id);
            let item = item_for(editor, &sk, 1, &data, ctx.clock.now_millis())?;
            let writes = vec![site_check(&site), Write::Put { item, condition: Condition::Absent }];
            let answer = written(&writes, &sk, &id)?;
            crate::domain::records::commit(ctx, writes).await?;
            Ok(answer)
        })
        .await
    }

    pub async fn update(
        &self,
        ctx: &Data,
        editor: &Editor,
        site_id: &str,
        id: &str,
        if_match: Option<u64>,
        data: M,
    ) -> Result<Stored<M>> {
        data.validate()?;
        check_media_exist(ctx, &editor.tenant, &data.media_ids()).await?;
        retry_conflicts(|| async {
            let site = sites::read_item(ctx, &editor.tenant, site_id).await?;
            let stored = self.read(ctx, &editor.tenant, site_id, id).await?;
            check_if_match(if_match, stored.version)?;
            let sk = self.sk(site_id, id);
            let item = item_for(editor, &sk, stored.version + 1, &data, ctx.clock.now_millis())?;
            let writes = vec![site_check(&site), Write::Put { item, condition: Condition::Version(stored.version) }];
            let answer = written(&writes, &sk, id)?;
            crate::domain::records::commit(ctx, writes).await?;
            Ok(answer)
        })
        .await
    }

    pub async fn delete(
        &self,
        ctx: &Data,
        editor: &Editor,
        site_id: &str,
        id: &str,
        if_match: Option<u64>,
    ) -> Result<()> {
        if !ids::is_ulid(id) {
            return Err(not_found(M::KIND));
        }
        retry_conflicts(|| async {
            let site = sites::read_item(ctx, &editor.tenant, site_id).await?;
            let item = ctx
                .store
                .get(&editor.tenant, &self.sk(site_id, id), ctx.clock.now_secs())
                .await?
                .ok_or_else(|| not_found(M::KIND))?;
            check_if_match(if_match, item.version)?;
            let mut writes = vec![site_check(&site)];
            writes.extend(records::trash_writes(editor, M::KIND, &item, ctx.clock.now_millis())?);
            crate::domain::records::commit(ctx, writes).await
        })
        .await
    }
}

/// A singleton document at a fixed key (a site's navigation, a page's metadata): PUT creates it
/// when absent without `If-Match`, and needs `If-Match` once it exists.
pub async fn put_singleton<M: ContentModel>(
    ctx: &Data,
    editor: &Editor,
    sk: &str,
    id: &str,
    if_match: Option<u64>,
    data: &M,
    guard: Option<&Item>,
) -> Result<Stored<M>> {
    data.validate()?;
    check_media_exist(ctx, &editor.tenant, &data.media_ids()).await?;
    retry_conflicts(|| async {
        let existing = ctx.store.get(&editor.tenant, sk, ctx.clock.now_secs()).await?;
        let (version, condition) = match (&existing, if_match) {
            (None, None) => (1, Condition::Absent),
            (None, Some(_)) => return Err(not_found(M::KIND)),
            (Some(item), _) => {
                check_if_match(if_match, item.version)?;
                (item.version + 1, Condition::Version(item.version))
            }
        };
        let mut writes: Vec<Write> = guard
            .map(|g| Write::Check {
                tenant: g.tenant.clone(),
                sk: g.sk.clone(),
                condition: Condition::Version(g.version),
            })
            .into_iter()
            .collect();
        writes.push(Write::Put { item: item_for(editor, sk, version, data, ctx.clock.now_millis())?, condition });
        let answer = written(&writes, sk, id)?;
        crate::domain::records::commit(ctx, writes).await?;
        Ok(answer)
    })
    .await
}

pub async fn delete_singleton<M: ContentModel>(
    ctx: &Data,
    editor: &Editor,
    sk: &str,
    if_match: Option<u64>,
) -> Result<()> {
    retry_conflicts(|| async {
        let item = ctx.store.get(&editor.tenant, sk, ctx.clock.now_secs()).await?.ok_or_else(|| not_found(M::KIND))?;
        check_if_match(if_match, item.version)?;
        let writes = records::trash_writes(editor, M::KIND, &item, ctx.clock.now_millis())?;
        crate::domain::records::commit(ctx, writes).await
    })
    .await
}

pub async fn read_navigation(ctx: &Data, tenant: &TenantKey, site_id: &str) -> Result<Stored<Navigation>> {
    sites::read_item(ctx, tenant, site_id).await?;
    records::read(ctx, tenant, &keys::site_navigation(site_id), site_id).await
}

pub async fn put_navigation(
    ctx: &Data,
    editor: &Editor,
    site_id: &str,
    if_match: Option<u64>,
    nav: Navigation,
) -> Result<Stored<Navigation>> {
    let site = sites::read_item(ctx, &editor.tenant, site_id).await?;
    put_singleton(ctx, editor, &keys::site_navigation(site_id), site_id, if_match, &nav, Some(&site)).await
}

pub async fn delete_navigation(ctx: &Data, editor: &Editor, site_id: &str, if_match: Option<u64>) -> Result<()> {
    sites::read_item(ctx, &editor.tenant, site_id).await?;
    delete_singleton::<Navigation>(ctx, editor, &keys::site_navigation(site_id), if_match).await
}
