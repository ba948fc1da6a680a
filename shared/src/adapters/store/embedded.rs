//! `EmbeddedItemStore`: the `ItemStore` port over a redb file under the data dir, for the local
//! server and tests. Data survives restarts; redb's single writer makes every `transact` atomic
//! and serialisable, which is all the conditions need.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{
    Body, Condition, Due, DueEntry, Item, ItemStore, Page, PageRequest, Write, check_batch, check_page, check_sort_key,
    check_writes, is_live, write_conflict,
};

/// (pk, sk) → JSON record.
const ITEMS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("items");
/// (duePk, dueSk) → nothing: the sparse due index.
const DUE: TableDefinition<(&str, &str), ()> = TableDefinition::new("due");

#[derive(Serialize, Deserialize)]
struct Record {
    v: u64,
    #[serde(rename = "updatedAt")]
    updated_at: i64,
    #[serde(rename = "updatedBy", skip_serializing_if = "Option::is_none")]
    updated_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    due: Option<(String, i64)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
    body: Body,
}

impl Record {
    fn from_item(item: &Item) -> Self {
        Self {
            v: item.version,
            updated_at: item.updated_at,
            updated_by: item.updated_by.clone(),
            due: item.due.as_ref().map(|d| (d.kind.clone(), d.at)),
            ttl: item.expires_at,
            body: item.body.clone(),
        }
    }

    fn into_item(self, tenant: TenantKey, sk: String) -> Item {
        Item {
            tenant,
            sk,
            version: self.v,
            updated_at: self.updated_at,
            updated_by: self.updated_by,
            due: self.due.map(|(kind, at)| Due { kind, at }),
            expires_at: self.ttl,
            body: self.body,
        }
    }
}

#[derive(Clone)]
pub struct EmbeddedItemStore {
    db: Arc<Database>,
}

impl EmbeddedItemStore {
    /// Opens (or creates) the store file, e.g. `<data dir>/canopy.redb`.
    pub fn open(path: &Path) -> Result<Self> {
        let db = Database::create(path).map_err(|e| Error::internal(format!("open {}: {e}", path.display())))?;
        let txn = db.begin_write().map_err(storage)?;
        txn.open_table(ITEMS).map_err(storage)?;
        txn.open_table(DUE).map_err(storage)?;
        txn.commit().map_err(storage)?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Reads run inline: a read transaction over redb's cache takes microseconds, far less
    /// than handing the work to the blocking pool and back (measured on the site-config read).
    async fn reading<T>(&self, work: impl FnOnce(&Database) -> Result<T>) -> Result<T> {
        work(&self.db)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || work(&db)).await.map_err(Error::internal)?
    }
}

fn storage(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("embedded store: {e}"))
}

fn decode(bytes: &[u8]) -> Result<Record> {
    serde_json::from_slice(bytes).map_err(storage)
}

#[async_trait]
impl ItemStore for EmbeddedItemStore {
    async fn get(&self, tenant: &TenantKey, sk: &str, now: i64) -> Result<Option<Item>> {
        check_sort_key(sk)?;
        let (tenant, sk) = (tenant.clone(), sk.to_owned());
        self.reading(move |db| {
            let txn = db.begin_read().map_err(storage)?;
            let table = txn.open_table(ITEMS).map_err(storage)?;
            let pk = keys::partition_key(&tenant);
            let Some(bytes) = table.get((pk.as_str(), sk.as_str())).map_err(storage)? else {
                return Ok(None);
            };
            let record = decode(bytes.value())?;
            Ok(is_live(record.ttl, now).then(|| record.into_item(tenant, sk)))
        })
        .await
    }

    async fn query(&self, tenant: &TenantKey, prefix: &str, page: PageRequest, now: i64) -> Result<Page<Item>> {
        let limit = check_page(&page, prefix)? as usize;
        let (tenant, prefix) = (tenant.clone(), prefix.to_owned());
        self.reading(move |db| {
            let txn = db.begin_read().map_err(storage)?;
            let table = txn.open_table(ITEMS).map_err(storage)?;
            let pk = keys::partition_key(&tenant);
            let start = page.after.as_deref().unwrap_or(prefix.as_str());
            let mut items = Vec::new();
            let mut more = false;
            for entry in table.range((pk.as_str(), start)..).map_err(storage)? {
                let (key, value) = entry.map_err(storage)?;
                let (entry_pk, sk) = key.value();
                if entry_pk != pk || !sk.starts_with(prefix.as_str()) {
                    break;
                }
                if page.after.as_deref() == Some(sk) {
                    continue;
                }
                let record = decode(value.value())?;
                if !is_live(record.ttl, now) {
                    continue;
                }
                if items.len() == limit {
                    more = true;
                    break;
                }
                items.push(record.into_item(tenant.clone(), sk.to_owned()));
            }
            let next = if more { items.last().map(|i: &Item| i.sk.clone()) } else { None };
            Ok(Page { items, next })
        })
        .await
    }

    async fn transact(&self, writes: Vec<Write>, now: i64) -> Result<()> {
        check_writes(&writes)?;
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(storage)?;
            {
                let mut items = txn.open_table(ITEMS).map_err(storage)?;
                let mut due = txn.open_table(DUE).map_err(storage)?;
                // Check every condition before the first change: a failed check aborts the
                // transaction (dropped uncommitted), so nothing is written.
                for write in &writes {
                    let (tenant, sk) = write.target();
                    let pk = keys::partition_key(tenant);
                    let stored = match items.get((pk.as_str(), sk)).map_err(storage)? {
                        Some(bytes) => Some(decode(bytes.value())?),
                        None => None,
                    };
                    let live = stored.as_ref().filter(|r| is_live(r.ttl, now));
                    let holds = match write.condition() {
                        Condition::None => true,
                        Condition::Absent => live.is_none(),
                        Condition::Version(v) => live.is_some_and(|r| r.v == v),
                    };
                    if !holds {
                        return Err(write_conflict());
                    }
                }
                for write in writes.iter().filter(|w| !matches!(w, Write::Check { .. })) {
                    let (tenant, sk) = write.target();
                    let pk = keys::partition_key(tenant);
                    let old =
                        items.remove((pk.as_str(), sk)).map_err(storage)?.map(|b| decode(b.value())).transpose()?;
                    if let Some((kind, at)) = old.and_then(|r| r.due) {
                        let due_sk = keys::due_sort_key(at, tenant, sk);
                        due.remove((keys::due_partition(&kind).as_str(), due_sk.as_str())).map_err(storage)?;
                    }
                    if let Write::Put { item, .. } = write {
                        let bytes = serde_json::to_vec(&Record::from_item(item)).map_err(storage)?;
                        items.insert((pk.as_str(), sk), bytes.as_slice()).map_err(storage)?;
                        if let Some(d) = &item.due {
                            let due_sk = keys::due_sort_key(d.at, tenant, sk);
                            due.insert((keys::due_partition(&d.kind).as_str(), due_sk.as_str()), ())
                                .map_err(storage)?;
                        }
                    }
                }
            }
            txn.commit().map_err(storage)
        })
        .await
    }

    async fn delete_batch(&self, keys_to_delete: &[(TenantKey, String)]) -> Result<()> {
        check_batch(keys_to_delete)?;
        let keys_to_delete = keys_to_delete.to_vec();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(storage)?;
            {
                let mut items = txn.open_table(ITEMS).map_err(storage)?;
                let mut due = txn.open_table(DUE).map_err(storage)?;
                for (tenant, sk) in &keys_to_delete {
                    let pk = keys::partition_key(tenant);
                    let old = items
                        .remove((pk.as_str(), sk.as_str()))
                        .map_err(storage)?
                        .map(|b| decode(b.value()))
                        .transpose()?;
                    if let Some((kind, at)) = old.and_then(|r| r.due) {
                        let due_sk = keys::due_sort_key(at, tenant, sk);
                        due.remove((keys::due_partition(&kind).as_str(), due_sk.as_str())).map_err(storage)?;
                    }
                }
            }
            txn.commit().map_err(storage)
        })
        .await
    }

    async fn purge_expired(&self, now: i64) -> Result<u64> {
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(storage)?;
            let mut removed = 0;
            {
                let mut items = txn.open_table(ITEMS).map_err(storage)?;
                let mut due = txn.open_table(DUE).map_err(storage)?;
                let mut expired = Vec::new();
                for entry in items.iter().map_err(storage)? {
                    let (key, value) = entry.map_err(storage)?;
                    let record = decode(value.value())?;
                    if !is_live(record.ttl, now) {
                        let (pk, sk) = key.value();
                        expired.push((pk.to_owned(), sk.to_owned(), record.due));
                    }
                }
                for (pk, sk, record_due) in expired {
                    items.remove((pk.as_str(), sk.as_str())).map_err(storage)?;
                    if let (Some((kind, at)), Some(tenant)) = (record_due, keys::tenant_of_partition(&pk)) {
                        let due_sk = keys::due_sort_key(at, &tenant, &sk);
                        due.remove((keys::due_partition(&kind).as_str(), due_sk.as_str())).map_err(storage)?;
                    }
                    removed += 1;
                }
            }
            txn.commit().map_err(storage)?;
            Ok(removed)
        })
        .await
    }

    async fn due(&self, kind: &str, now: i64, page: PageRequest) -> Result<Page<DueEntry>> {
        let limit = check_page(&page, "")? as usize;
        if let Some(after) = &page.after
            && keys::parse_due_sort_key(after).is_none()
        {
            return Err(Error::bad_request("bad_cursor", "The page cursor does not belong to this listing."));
        }
        let due_pk = keys::due_partition(kind);
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(storage)?;
            let table = txn.open_table(DUE).map_err(storage)?;
            let upper = keys::due_upper_bound(now);
            let start = page.after.clone().unwrap_or_default();
            if start >= upper {
                return Ok(Page { items: Vec::new(), next: None });
            }
            let mut entries = Vec::new();
            let mut more = false;
            for entry in
                table.range((due_pk.as_str(), start.as_str())..(due_pk.as_str(), upper.as_str())).map_err(storage)?
            {
                let (key, _) = entry.map_err(storage)?;
                let due_sk = key.value().1;
                if page.after.as_deref() == Some(due_sk) {
                    continue;
                }
                if entries.len() == limit {
                    more = true;
                    break;
                }
                let (at, tenant, sk) =
                    keys::parse_due_sort_key(due_sk).ok_or_else(|| storage(format!("malformed due key {due_sk}")))?;
                entries.push(DueEntry { tenant, sk, at });
            }
            let next = more.then(|| entries.last().map(|e| keys::due_sort_key(e.at, &e.tenant, &e.sk))).flatten();
            Ok(Page { items: entries, next })
        })
        .await
    }
}
