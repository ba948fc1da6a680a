//! The last trace of a closed account in a tenant's content: items remember who wrote them last
//! (`updated_by`) and trash entries who deleted them (`deletedBy`). Erasure keeps the content and
//! forgets the person: the field goes, the item's version stays (its data is unchanged, so an
//! editor's `If-Match` still holds and the site snapshots that record source versions stay true).

use serde_json::Value;

use crate::domain::data::Data;
use crate::kernel::error::Result;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Condition, Item, MAX_PAGE_SIZE, PageRequest, Write, retry_conflicts};

/// The trash entry's field naming who deleted the item (`content::records::TrashEntry`).
const DELETED_BY: &str = "deletedBy";

/// Removes `account_id` as last editor or deleter from every item of the tenant; answers how many
/// items changed. Idempotent: a second run finds nothing.
pub async fn forget_editor(ctx: &Data, tenant: &TenantKey, account_id: &str) -> Result<u32> {
    let mut forgotten = 0;
    let mut after = None;
    loop {
        let now = ctx.clock.now_secs();
        let page = ctx.store.query(tenant, "", PageRequest { limit: MAX_PAGE_SIZE, after }, now).await?;
        for item in page.items.iter().filter(|item| names(item, account_id)) {
            if forget_in(ctx, tenant, &item.sk, account_id).await? {
                forgotten += 1;
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(forgotten),
        }
    }
}

fn names(item: &Item, account_id: &str) -> bool {
    item.updated_by.as_deref() == Some(account_id)
        || item.body.get(DELETED_BY).and_then(Value::as_str) == Some(account_id)
}

/// One item, re-read so that a concurrent write is neither lost nor left naming the account.
async fn forget_in(ctx: &Data, tenant: &TenantKey, sk: &str, account_id: &str) -> Result<bool> {
    retry_conflicts(|| async {
        let Some(mut item) = ctx.store.get(tenant, sk, ctx.clock.now_secs()).await? else { return Ok(false) };
        if !names(&item, account_id) {
            return Ok(false);
        }
        let version = item.version;
        if item.updated_by.as_deref() == Some(account_id) {
            item.updated_by = None;
        }
        if let Some(body) = item.body.as_object_mut()
            && body.get(DELETED_BY).and_then(Value::as_str) == Some(account_id)
        {
            body.remove(DELETED_BY);
        }
        let write = Write::Put { item, condition: Condition::Version(version) };
        ctx.store.transact(vec![write], ctx.clock.now_secs()).await?;
        Ok(true)
    })
    .await
}
