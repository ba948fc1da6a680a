//! The trash: deleted items stay restorable for 30 days (the retention sweep purges them
//! after). Listing and restoring are for tenant admins.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use super::counters::{self, Counters};
use super::model::site::Site;
use super::sites;
use crate::domain::data::Data;
use crate::domain::records::{Editor, TRASH_DAYS, TrashEntry, not_found};
use crate::kernel::clock::rfc3339;
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Body, Condition, Item, Page, PageRequest, Write, retry_conflicts};

/// A trash entry as listed: the id to restore it by, what it was, and when it goes for good.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrashView {
    pub id: String,
    pub kind: String,
    pub deleted_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<String>,
    pub purge_after: String,
    /// Set when the product removed it (`page_trashed`, …), not an editor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    pub item: Body,
}

/// Trash ids are the original sort key, base64url-encoded: opaque, and only ever looked up
/// inside the caller's own partition.
fn trash_id(original_sk: &str) -> String {
    URL_SAFE_NO_PAD.encode(original_sk)
}

fn original_sk(trash_id: &str) -> Result<String> {
    let bytes = URL_SAFE_NO_PAD.decode(trash_id).map_err(|_| not_found("trash entry"))?;
    let sk = String::from_utf8(bytes).map_err(|_| not_found("trash entry"))?;
    if sk.is_empty() || sk.len() > crate::ports::store::MAX_SORT_KEY_BYTES || sk.starts_with(keys::TRASH_PREFIX) {
        return Err(not_found("trash entry"));
    }
    Ok(sk)
}

fn view(item: Item) -> Result<TrashView> {
    let entry: TrashEntry = item.body.decode().map_err(|e| Error::internal(format!("trash entry: {e}")))?;
    Ok(TrashView {
        id: trash_id(&entry.original_sk),
        kind: entry.kind,
        deleted_at: rfc3339(entry.deleted_at),
        deleted_by: entry.deleted_by,
        purge_after: rfc3339(entry.deleted_at + TRASH_DAYS * 86_400 * 1000),
        cause: entry.cause,
        item: entry.body,
    })
}

pub async fn list(ctx: &Data, tenant: &TenantKey, limit: u32, cursor: Option<&str>) -> Result<Page<TrashView>> {
    let after = match cursor {
        Some(c) => Some(keys::trash(&original_sk(c).map_err(|_| Error::bad_request("bad_cursor", "Unknown cursor."))?)),
        None => None,
    };
    let page = ctx.store.query(tenant, keys::TRASH_PREFIX, PageRequest { limit, after }, ctx.clock.now_secs()).await?;
    let next = page.next.map(|sk| trash_id(&sk[keys::TRASH_PREFIX.len()..]));
    let items = page.items.into_iter().map(view).collect::<Result<Vec<_>>>()?;
    Ok(Page { items, next })
}

/// Puts a trashed item back under its original key with a new version (old ETags no longer
/// match). A site child comes back only while its site exists; a key taken meanwhile (a new
/// navigation, say) is a 409.
pub async fn restore(ctx: &Data, editor: &Editor, id: &str) -> Result<String> {
    let original = original_sk(id)?;
    let trash_sk = keys::trash(&original);
    retry_conflicts(|| async {
        let now_secs = ctx.clock.now_secs();
        let trash =
            ctx.store.get(&editor.tenant, &trash_sk, now_secs).await?.ok_or_else(|| not_found("trash entry"))?;
        let entry: TrashEntry = trash.body.decode().map_err(Error::internal)?;
        if ctx.store.get(&editor.tenant, &original, now_secs).await?.is_some() {
            return Err(Error::conflict("restore_conflict", "An item with this key exists again; delete it first."));
        }
        let now = ctx.clock.now_millis();
        let mut writes = vec![Write::Delete {
            tenant: editor.tenant.clone(),
            sk: trash_sk.clone(),
            condition: Condition::Version(trash.version),
        }];
        writes.extend(crate::domain::privacy::editors::unindex(&trash)?);
        let restored = Item {
            tenant: editor.tenant.clone(),
            sk: original.clone(),
            version: entry.version + 1,
            updated_at: now,
            updated_by: editor.account_id.clone(),
            due: None,
            expires_at: None,
            body: entry.body.clone(),
        };
        let site_child = original.strip_prefix("SITE#").and_then(|rest| rest.split_once('#'));
        if let Some(site_id) = original.strip_prefix("SITE#").filter(|rest| !rest.contains('#')) {
            let site: Site = entry.body.decode().map_err(Error::internal)?;
            writes.extend(sites::restore_writes(ctx, editor, site_id, site, entry.version + 1).await?);
        } else if let Some((site_id, _)) = site_child {
            let site = sites::read_item(ctx, &editor.tenant, site_id)
                .await
                .map_err(|_| Error::conflict("site_deleted", "Its site is deleted; restore the site first."))?;
            writes.push(Write::Check {
                tenant: editor.tenant.clone(),
                sk: site.sk,
                condition: Condition::Version(site.version),
            });
            writes.push(Write::Put { item: restored, condition: Condition::Absent });
        } else {
            if original.starts_with(keys::THEME_PREFIX) {
                writes.push(counters::change(ctx, editor, Counters { themes: 1, ..Counters::default() }).await?);
            }
            writes.push(Write::Put { item: restored, condition: Condition::Absent });
        }
        crate::domain::records::commit(ctx, writes).await
    })
    .await?;
    Ok(original)
}
