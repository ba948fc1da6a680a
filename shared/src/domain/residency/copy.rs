//! Copying a tenant's items and media objects from one region to another (a pass makes the
//! target equal to the source), and the digest that verifies both sides.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::domain::media::object_of;
use crate::domain::regions::Region;
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::keys::PURGE;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::media::ObjectKey;
use crate::ports::store::{Condition, Item, MAX_PAGE_SIZE, PageRequest, Write};

use super::model::Verified;

/// Item writes per copy transaction (≤ 100; 25 keeps a transaction of 350 KB items under 4 MB
/// would need 11, so puts are also cut by size at [`COPY_BATCH_BYTES`]).
const COPY_BATCH: usize = 25;
const COPY_BATCH_BYTES: usize = 3 * 1024 * 1024;
/// Copy transactions in flight at once.
const COPY_CONCURRENCY: usize = 8;

/// Items the engine writes itself, never copied by a pass.
fn is_engine_item(sk: &str) -> bool {
    sk == keys::TENANT_RECORD || sk == keys::RESIDENCY || sk == keys::RESIDENCY_FREEZE || sk == PURGE
}

/// Every item of the tenant in a region but the engine's own, by sort key.
pub(super) async fn snapshot(region: &Region, tenant: &TenantKey, now: i64) -> Result<BTreeMap<String, Item>> {
    let mut items = BTreeMap::new();
    let mut after = None;
    loop {
        let page = region.store.query(tenant, "", PageRequest { limit: MAX_PAGE_SIZE, after }, now).await?;
        for item in page.items {
            if !is_engine_item(&item.sk) {
                items.insert(item.sk.clone(), item);
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(items),
        }
    }
}

/// Items and SHA-256 over (sort key, version, body) in sort-key order.
pub(super) fn digest(items: &BTreeMap<String, Item>) -> Verified {
    let mut hash = Sha256::new();
    for (sk, item) in items {
        hash.update(sk.as_bytes());
        hash.update([0]);
        hash.update(item.version.to_be_bytes());
        hash.update(serde_json::to_vec(&item.body).unwrap_or_default());
        hash.update([0]);
    }
    Verified { items: items.len() as u64, sha256: hex::encode(hash.finalize()) }
}

#[derive(Debug, Default)]
pub(crate) struct Synced {
    /// The source as this pass read it.
    pub(crate) source: BTreeMap<String, Item>,
    pub(crate) total: u64,
    pub(crate) put: u64,
    pub(crate) deleted: u64,
    pub(crate) objects: u64,
}

/// Makes the target partition equal to the source (the engine's own items aside) and copies the
/// objects of media records it put; deletes objects of media records the source lost. Also the
/// single-tenant restore (`restore`).
pub(crate) async fn sync(from: &Region, to: &Region, tenant: &TenantKey, now: i64) -> Result<Synced> {
    let (source, target) = tokio::try_join!(snapshot(from, tenant, now), snapshot(to, tenant, now))?;
    let puts: Vec<Item> =
        source.iter().filter(|(sk, item)| target.get(*sk) != Some(*item)).map(|(_, item)| item.clone()).collect();
    let deletes: Vec<(TenantKey, String)> =
        target.keys().filter(|sk| !source.contains_key(*sk)).map(|sk| (tenant.clone(), sk.clone())).collect();
    let mut synced = Synced {
        source: BTreeMap::new(),
        total: source.len() as u64,
        put: puts.len() as u64,
        deleted: deletes.len() as u64,
        objects: 0,
    };

    // A media record names its object: the upload while pending, the checked copy once ready.
    let objects: Vec<ObjectKey> = puts.iter().filter_map(object_of).collect();
    let gone_objects: Vec<ObjectKey> =
        deletes.iter().filter_map(|(_, sk)| target.get(sk)).filter_map(object_of).collect();

    // Objects first: a media record in the target always has its object there.
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in objects.chunks(objects.len().div_ceil(COPY_CONCURRENCY).max(1)) {
        let (from, to, chunk) = (from.media.clone(), to.media.clone(), chunk.to_vec());
        tasks.spawn(async move {
            let mut copied = 0u64;
            for key in chunk {
                let Some((bytes, content_type)) = from.get_object(&key).await? else { continue };
                let present = to.head(&key).await?;
                if present.is_some_and(|info| info.length == bytes.len() as u64) {
                    continue;
                }
                to.put_object(&key, bytes, content_type.as_deref()).await?;
                copied += 1;
            }
            Ok::<_, Error>(copied)
        });
    }
    while let Some(done) = tasks.join_next().await {
        synced.objects += done.map_err(Error::internal)??;
    }

    let mut batches: Vec<Vec<Write>> = Vec::new();
    let mut current: Vec<Write> = Vec::new();
    let mut bytes = 0;
    for item in puts {
        let size = serde_json::to_vec(&item.body).map_err(Error::internal)?.len() + item.sk.len() + 200;
        if current.len() == COPY_BATCH || (bytes + size > COPY_BATCH_BYTES && !current.is_empty()) {
            batches.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(Write::Put { item, condition: Condition::None });
    }
    if !current.is_empty() {
        batches.push(current);
    }
    let store = to.store.clone();
    let mut pending = batches.into_iter();
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        while tasks.len() < COPY_CONCURRENCY {
            let Some(batch) = pending.next() else { break };
            let store = store.clone();
            tasks.spawn(async move { store.transact(batch, now).await });
        }
        match tasks.join_next().await {
            Some(done) => done.map_err(Error::internal)??,
            None => break,
        }
    }
    for chunk in deletes.chunks(crate::ports::store::MAX_BATCH_DELETES) {
        to.store.delete_batch(chunk).await?;
    }
    for key in gone_objects {
        to.media.delete(&key).await?;
    }
    synced.source = source;
    Ok(synced)
}
