//! The last trace of a closed account in a tenant's content: items remember who wrote them last
//! (`updated_by`) and trash entries who deleted them (`deletedBy`). Erasure keeps the content and
//! forgets the person: the field goes, the item's version stays (its data is unchanged, so an
//! editor's `If-Match` still holds and the site snapshots that record source versions stay true).
//!
//! Every content write that names an account also writes, in the same transaction, a pointer
//! `EDITOR#<accountId>#<sk>` ([`index`]), so erasure follows the account's pointers and never
//! scans the tenant. A pointer may outlive the name it points at (another editor wrote the item
//! since): erasure finds the item no longer names the account and drops the pointer. Pointers of
//! items that leave their key go with them (a trash move, a restore, the trash purge), so stale
//! ones are bounded by (editors x keys they wrote). They are plain items of the tenant's
//! partition: they move with a residency migration, appear in the JSON export and go with the
//! tenant's purge. Tenants written before the index existed are indexed once by the privacy job
//! before their next report ([`index_existing`]).

use serde_json::{Value, json};

use crate::domain::data::Data;
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{
    Body, Condition, Item, MAX_PAGE_SIZE, MAX_SORT_KEY_BYTES, PageRequest, Write, retry_conflicts,
};

/// The trash entry's field naming who deleted the item (`content::records::TrashEntry`).
const DELETED_BY: &str = "deletedBy";
/// Pointers written per transaction by [`index_existing`].
const BACKFILL_BATCH: usize = 25;

/// The accounts an item names, as editor or deleter, without repeats.
pub fn named_in(item: &Item) -> Vec<String> {
    let mut names: Vec<String> = item.updated_by.iter().cloned().collect();
    // Only a trash entry names a deleter: other bodies are not parsed on every write.
    if item.sk.starts_with(keys::TRASH_PREFIX)
        && let Some(deleter) = item.body.field::<String>(DELETED_BY)
        && !names.contains(&deleter)
    {
        names.push(deleter);
    }
    names
}

fn pointer_sk(account_id: &str, sk: &str) -> Result<String> {
    let pointer = keys::edit(account_id, sk);
    if pointer.len() > MAX_SORT_KEY_BYTES {
        return Err(Error::internal(format!("editor pointer for {sk} exceeds the sort key bound")));
    }
    Ok(pointer)
}

fn pointer_item(tenant: &TenantKey, account_id: &str, item: &Item) -> Result<Item> {
    Ok(Item {
        tenant: tenant.clone(),
        sk: pointer_sk(account_id, &item.sk)?,
        version: 1,
        updated_at: item.updated_at,
        updated_by: None,
        due: None,
        expires_at: None,
        body: json!({}).into(),
    })
}

/// Adds to `writes` the pointer of every account a put in them names (unless the transaction
/// already writes that key). Pointers are idempotent puts: writing one twice changes nothing.
pub fn index(writes: &mut Vec<Write>) -> Result<()> {
    let mut pointers = Vec::new();
    for write in writes.iter() {
        let Write::Put { item, .. } = write else { continue };
        if item.sk.starts_with(keys::EDITOR_PREFIX) {
            continue;
        }
        for account_id in named_in(item) {
            let pointer = pointer_item(&item.tenant, &account_id, item)?;
            let taken = writes.iter().chain(pointers.iter()).any(|w: &Write| w.target() == (&item.tenant, &pointer.sk));
            if !taken {
                pointers.push(Write::Put { item: pointer, condition: Condition::None });
            }
        }
    }
    writes.extend(pointers);
    Ok(())
}

/// The deletes of the pointers of `item`, for a write that removes it from its key.
pub fn unindex(item: &Item) -> Result<Vec<Write>> {
    named_in(item)
        .into_iter()
        .map(|account_id| {
            Ok(Write::Delete {
                tenant: item.tenant.clone(),
                sk: pointer_sk(&account_id, &item.sk)?,
                condition: Condition::None,
            })
        })
        .collect()
}

/// Removes `account_id` as last editor or deleter from every item its pointers lead to, and the
/// pointers; answers how many items changed. Idempotent: a second run finds nothing.
pub async fn forget_editor(ctx: &Data, tenant: &TenantKey, account_id: &str) -> Result<u32> {
    let prefix = keys::edits_of(account_id);
    let mut forgotten = 0;
    loop {
        // Each pointer is deleted as it is followed, so the first page is always the next one.
        let request = PageRequest { limit: MAX_PAGE_SIZE, after: None };
        let page = ctx.store.query(tenant, &prefix, request, ctx.clock.now_secs()).await?;
        if page.items.is_empty() {
            return Ok(forgotten);
        }
        for pointer in &page.items {
            if forget_in(ctx, tenant, &pointer.sk, &pointer.sk[prefix.len()..], account_id).await? {
                forgotten += 1;
            }
        }
    }
}

fn names(item: &Item, account_id: &str) -> bool {
    named_in(item).iter().any(|name| name == account_id)
}

/// One pointer: the item, re-read so that a concurrent write is neither lost nor left naming the
/// account, loses the name, and the pointer goes, together.
async fn forget_in(ctx: &Data, tenant: &TenantKey, pointer: &str, sk: &str, account_id: &str) -> Result<bool> {
    retry_conflicts(|| async {
        let drop_pointer = Write::Delete { tenant: tenant.clone(), sk: pointer.to_owned(), condition: Condition::None };
        let item = ctx.store.get(tenant, sk, ctx.clock.now_secs()).await?;
        let Some(mut item) = item.filter(|item| names(item, account_id)) else {
            ctx.store.transact(vec![drop_pointer], ctx.clock.now_secs()).await?;
            return Ok(false);
        };
        let version = item.version;
        if item.updated_by.as_deref() == Some(account_id) {
            item.updated_by = None;
        }
        if item.sk.starts_with(keys::TRASH_PREFIX)
            && item.body.field::<String>(DELETED_BY).as_deref() == Some(account_id)
            && let Value::Object(mut body) = item.body.to_value()?
        {
            body.remove(DELETED_BY);
            item.body = Body::of(&body)?;
        }
        let write = Write::Put { item, condition: Condition::Version(version) };
        ctx.store.transact(vec![write, drop_pointer], ctx.clock.now_secs()).await?;
        Ok(true)
    })
    .await
}

/// Writes the pointers of every item of the tenant that names an account (for items written
/// before the index existed); answers how many pointers it wrote. Idempotent.
pub async fn index_existing(ctx: &Data, tenant: &TenantKey) -> Result<u32> {
    let mut written = 0;
    let mut after = None;
    loop {
        let request = PageRequest { limit: MAX_PAGE_SIZE, after };
        let page = ctx.store.query(tenant, "", request, ctx.clock.now_secs()).await?;
        let mut batch = Vec::new();
        for item in page.items.iter().filter(|item| !item.sk.starts_with(keys::EDITOR_PREFIX)) {
            for account_id in named_in(item) {
                batch.push(Write::Put { item: pointer_item(tenant, &account_id, item)?, condition: Condition::None });
            }
        }
        for chunk in batch.chunks(BACKFILL_BATCH) {
            ctx.store.transact(chunk.to_vec(), ctx.clock.now_secs()).await?;
            written += chunk.len() as u32;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(written),
        }
    }
}
