//! Page metadata: a featured image and a description per Confluence page id — never the page's
//! own content, which stays in Confluence.

use super::model::bounds::is_page_id;
use super::model::page_metadata::PageMetadata;
use super::site_items::{delete_singleton, put_singleton};
use crate::domain::data::Data;
use crate::domain::records::{self, Editor, Stored, not_found};
use crate::kernel::error::Result;
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::Page;

fn sk(page_id: &str) -> Result<String> {
    if is_page_id(page_id) { Ok(format!("{}{page_id}", keys::PAGE_PREFIX)) } else { Err(not_found("page metadata")) }
}

pub async fn read(ctx: &Data, tenant: &TenantKey, page_id: &str) -> Result<Stored<PageMetadata>> {
    records::read(ctx, tenant, &sk(page_id)?, page_id).await
}

pub async fn list(
    ctx: &Data,
    tenant: &TenantKey,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Page<Stored<PageMetadata>>> {
    records::list(ctx, tenant, keys::PAGE_PREFIX, limit, cursor).await
}

pub async fn put(
    ctx: &Data,
    editor: &Editor,
    page_id: &str,
    if_match: Option<u64>,
    data: PageMetadata,
) -> Result<Stored<PageMetadata>> {
    put_singleton(ctx, editor, &sk(page_id)?, page_id, if_match, &data, None).await
}

pub async fn delete(ctx: &Data, editor: &Editor, page_id: &str, if_match: Option<u64>) -> Result<()> {
    delete_singleton::<PageMetadata>(ctx, editor, &sk(page_id)?, if_match).await
}
