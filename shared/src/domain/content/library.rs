//! Tenant-level library items: themes, layouts and report configurations. Themes and layouts
//! are used by sites; updating one refreshes the snapshot of every site using it in the same
//! transaction, and deleting one that a site uses is refused.

use std::marker::PhantomData;

use super::counters::{self, Counters};
use super::model::ContentModel;
use super::model::layout::Layout;
use super::model::report::ReportConfig;
use super::model::theme::Theme;
use super::sites::{self, Uses};
use crate::domain::data::Data;
use crate::domain::records::{self, Editor, Stored, check_if_match, check_media_exist, item_for, not_found, written};
use crate::kernel::error::{Error, Result};
use crate::kernel::ids;
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Condition, Page, Write, retry_conflicts};

/// One library kind: where its items live, whether sites use it, whether it is counted.
pub struct Library<M> {
    prefix: &'static str,
    used_as: Option<Uses>,
    counts_as_theme: bool,
    _model: PhantomData<M>,
}

pub const THEMES: Library<Theme> =
    Library { prefix: keys::THEME_PREFIX, used_as: Some(Uses::Theme), counts_as_theme: true, _model: PhantomData };
pub const LAYOUTS: Library<Layout> = Library {
    prefix: keys::LAYOUT_PREFIX,
    used_as: Some(Uses::HomeLayout),
    counts_as_theme: false,
    _model: PhantomData,
};
pub const REPORTS: Library<ReportConfig> =
    Library { prefix: keys::REPORT_PREFIX, used_as: None, counts_as_theme: false, _model: PhantomData };

/// Library ids are ULIDs generated here; anything else is simply not found.
fn check_id<M: ContentModel>(id: &str) -> Result<()> {
    if ids::is_ulid(id) { Ok(()) } else { Err(not_found(M::KIND)) }
}

impl<M: ContentModel> Library<M> {
    fn sk(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    fn counted(&self) -> Counters {
        Counters { themes: i64::from(self.counts_as_theme), ..Counters::default() }
    }

    pub async fn read(&self, ctx: &Data, tenant: &TenantKey, id: &str) -> Result<Stored<M>> {
        check_id::<M>(id)?;
        records::read(ctx, tenant, &self.sk(id), id).await
    }

    pub async fn list(
        &self,
        ctx: &Data,
        tenant: &TenantKey,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Stored<M>>> {
        records::list(ctx, tenant, self.prefix, limit, cursor).await
    }

    async fn check(&self, ctx: &Data, tenant: &TenantKey, data: &M) -> Result<()> {
        data.validate()?;
        check_media_exist(ctx, tenant, &data.media_ids()).await
    }

    pub async fn create(&self, ctx: &Data, editor: &Editor, data: M) -> Result<Stored<M>> {
        self.check(ctx, &editor.tenant, &data).await?;
        let id = ids::new_ulid(ctx.clock.now_millis())?;
        let sk = self.sk(&id);
        retry_conflicts(|| async {
            let now = ctx.clock.now_millis();
            let mut writes =
                vec![Write::Put { item: item_for(editor, &sk, 1, &data, now)?, condition: Condition::Absent }];
            if self.counts_as_theme {
                writes.push(counters::change(ctx, editor, self.counted()).await?);
            }
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
        id: &str,
        if_match: Option<u64>,
        data: M,
    ) -> Result<Stored<M>> {
        check_id::<M>(id)?;
        self.check(ctx, &editor.tenant, &data).await?;
        let sk = self.sk(id);
        retry_conflicts(|| async {
            let stored = self.read(ctx, &editor.tenant, id).await?;
            check_if_match(if_match, stored.version)?;
            let now = ctx.clock.now_millis();
            let item = item_for(editor, &sk, stored.version + 1, &data, now)?;
            let mut writes = Vec::new();
            if let Some(uses) = self.used_as {
                for site in sites_using(ctx, &editor.tenant, uses, id).await? {
                    let listing = keys::site_listing(&site.id);
                    writes.push(Write::Check {
                        tenant: editor.tenant.clone(),
                        sk: listing,
                        condition: Condition::Version(site.version),
                    });
                    writes.push(Write::Put {
                        item: sites::snapshot_item(editor, &site.id, uses, id, &item, now)?,
                        condition: Condition::None,
                    });
                }
            }
            writes.push(Write::Put { item, condition: Condition::Version(stored.version) });
            let answer = written(&writes, &sk, id)?;
            crate::domain::records::commit(ctx, writes).await?;
            Ok(answer)
        })
        .await
    }

    pub async fn delete(&self, ctx: &Data, editor: &Editor, id: &str, if_match: Option<u64>) -> Result<()> {
        check_id::<M>(id)?;
        let sk = self.sk(id);
        retry_conflicts(|| async {
            let item =
                ctx.store.get(&editor.tenant, &sk, ctx.clock.now_secs()).await?.ok_or_else(|| not_found(M::KIND))?;
            check_if_match(if_match, item.version)?;
            let mut writes = Vec::new();
            if let Some(uses) = self.used_as {
                let users = sites_using(ctx, &editor.tenant, uses, id).await?;
                if !users.is_empty() {
                    let names: Vec<&str> = users.iter().map(|s| s.data.name.as_str()).collect();
                    return Err(Error::conflict(
                        "in_use",
                        format!("This {} is used by: {}. Change those sites first.", M::KIND, names.join(", ")),
                    ));
                }
                // A site choosing this item between our read and the delete must make us fail.
                for site in sites::all(ctx, &editor.tenant).await? {
                    let listing = keys::site_listing(&site.id);
                    writes.push(Write::Check {
                        tenant: editor.tenant.clone(),
                        sk: listing,
                        condition: Condition::Version(site.version),
                    });
                }
            }
            let now = ctx.clock.now_millis();
            writes.extend(records::trash_writes(editor, M::KIND, &item, now)?);
            if self.counts_as_theme {
                writes.push(counters::change(ctx, editor, Counters::default().minus(self.counted())).await?);
            }
            crate::domain::records::commit(ctx, writes).await
        })
        .await
    }

    /// Counters a restore from the trash adds back.
    pub fn restored_counters(&self) -> Counters {
        self.counted()
    }
}

async fn sites_using(
    ctx: &Data,
    tenant: &TenantKey,
    uses: Uses,
    id: &str,
) -> Result<Vec<Stored<super::model::site::Site>>> {
    Ok(sites::all(ctx, tenant).await?.into_iter().filter(|s| uses.referenced_by(&s.data) == Some(id)).collect())
}
