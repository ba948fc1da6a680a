//! Exact per-tenant counters the usage statistics read (sites, themes, custom domains, Confluence
//! spaces added to sites). They change only inside the transaction of the write that changes
//! what they count, so they never drift.
//!
//! They are spread over [`SHARDS`] items so that a tenant's writers do not all wait on one: each
//! change reads the item it moves and writes it under the version it read, and with a single item
//! every concurrent counted write of a tenant lost that race to every other and was sent again
//! (`scripts/bench-writes`, bench/README.md "Writes to one tenant").
//! - A change of the number of sites, which [`MAX_SITES_PER_TENANT`] caps, always goes to the home
//!   item [`keys::COUNTERS`], so its `sites` is the exact total: a site create checks the quota
//!   against it and writes it under its version, and two creates at the limit cannot both pass.
//! - Every other change goes to a shard ([`keys::counters_shard`]) drawn at random on each attempt.
//! - The counts are the sum over the items, read in one query. Each change lands in one item in
//!   the transaction of what it counts, so the sum is exact once writes have landed; read while
//!   they land, it may combine items as of different moments (a query is not a snapshot), which
//!   the daily usage figures do not mind. The quota reads only the home item.
//!
//! [`MAX_SITES_PER_TENANT`]: super::sites::MAX_SITES_PER_TENANT

use serde::{Deserialize, Serialize};

use crate::domain::data::Data;
use crate::domain::records::Editor;
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Body, Condition, Item, ItemStore, MAX_PAGE_SIZE, PageRequest, Write};

/// The items a tenant's counters are spread over, the home item included: writers of one tenant
/// that move counters at once meet on one item about `1 / (SHARDS - 1)` as often as with one.
/// Bounded by what one query page returns, so [`read`] is one request.
pub const SHARDS: u32 = 16;
const _: () = assert!(SHARDS >= 2 && SHARDS <= MAX_PAGE_SIZE);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    pub sites: i64,
    pub themes: i64,
    pub custom_domains: i64,
    pub spaces: i64,
}

impl Counters {
    pub fn plus(self, delta: Counters) -> Counters {
        Counters {
            sites: self.sites + delta.sites,
            themes: self.themes + delta.themes,
            custom_domains: self.custom_domains + delta.custom_domains,
            spaces: self.spaces + delta.spaces,
        }
    }

    pub fn minus(self, delta: Counters) -> Counters {
        self.plus(Counters {
            sites: -delta.sites,
            themes: -delta.themes,
            custom_domains: -delta.custom_domains,
            spaces: -delta.spaces,
        })
    }

    pub fn is_zero(&self) -> bool {
        *self == Counters::default()
    }
}

fn decode(item: &Item) -> Result<Counters> {
    item.body.decode().map_err(|e| Error::internal(format!("counters: {e}")))
}

/// Every counters item of `tenant` (at most [`SHARDS`]).
async fn items(store: &dyn ItemStore, tenant: &TenantKey, now: i64) -> Result<Vec<Item>> {
    let page = store.query(tenant, keys::COUNTERS, PageRequest { limit: SHARDS, after: None }, now).await?;
    if page.next.is_some() {
        return Err(Error::internal("more counters items than shards"));
    }
    Ok(page.items)
}

/// The tenant's counts: the sum over its counters items.
pub async fn read(store: &dyn ItemStore, tenant: &TenantKey, now: i64) -> Result<Counters> {
    let mut total = Counters::default();
    for item in items(store, tenant, now).await? {
        total = total.plus(decode(&item)?);
    }
    Ok(total)
}

/// One counters item as read, to be changed under the version it was read at.
#[derive(Debug)]
pub struct Shard {
    sk: String,
    counts: Counters,
    version: Option<u64>,
}

impl Shard {
    async fn read(ctx: &Data, tenant: &TenantKey, sk: String) -> Result<Shard> {
        match ctx.store.get(tenant, &sk, ctx.clock.now_secs()).await? {
            None => Ok(Shard { sk, counts: Counters::default(), version: None }),
            Some(item) => Ok(Shard { counts: decode(&item)?, version: Some(item.version), sk }),
        }
    }

    /// The home item, whose `sites` is the tenant's exact number of sites.
    pub async fn home(ctx: &Data, tenant: &TenantKey) -> Result<Shard> {
        Shard::read(ctx, tenant, keys::COUNTERS.into()).await
    }

    /// The item a change of `delta` goes to: the home item when it changes the number of sites,
    /// else a random other one.
    pub async fn for_change(ctx: &Data, tenant: &TenantKey, delta: Counters) -> Result<Shard> {
        if delta.sites != 0 {
            return Shard::home(ctx, tenant).await;
        }
        let mut random = [0u8; 4];
        getrandom::getrandom(&mut random).map_err(|e| Error::internal(format!("randomness: {e}")))?;
        Shard::read(ctx, tenant, keys::counters_shard(1 + u32::from_le_bytes(random) % (SHARDS - 1))).await
    }

    /// What this item holds; on the home item, `sites` is the tenant's exact number of sites.
    pub fn counts(&self) -> Counters {
        self.counts
    }

    /// The write that moves this item by `delta`, conditional on nobody else having moved it
    /// since it was read. A change of the number of sites must go to the home item.
    pub fn change(self, editor: &Editor, delta: Counters, now_millis: i64) -> Result<Write> {
        if delta.sites != 0 && self.sk != keys::COUNTERS {
            return Err(Error::internal("a change of the number of sites off the home counters item"));
        }
        put(editor, self.sk, self.counts.plus(delta), self.version, now_millis)
    }
}

fn put(editor: &Editor, sk: String, counts: Counters, version: Option<u64>, now_millis: i64) -> Result<Write> {
    let item = Item {
        tenant: editor.tenant.clone(),
        sk,
        version: version.map_or(1, |v| v + 1),
        updated_at: now_millis,
        updated_by: None,
        due: None,
        expires_at: None,
        body: Body::of(&counts)?,
    };
    let condition = version.map_or(Condition::Absent, Condition::Version);
    Ok(Write::Put { item, condition })
}

/// The write of `delta` to the counters: its item read now, written under that version (run it
/// inside `retry_conflicts`, like the write it counts).
pub async fn change(ctx: &Data, editor: &Editor, delta: Counters) -> Result<Write> {
    Shard::for_change(ctx, &editor.tenant, delta).await?.change(editor, delta, ctx.clock.now_millis())
}

/// The writes that make the counts `totals` (an import recounts them): the home item takes the
/// totals and every other item goes, each under the version it was read at; none when the sum
/// is `totals` already.
pub async fn set(ctx: &Data, editor: &Editor, totals: Counters) -> Result<Vec<Write>> {
    let stored = items(ctx.store.as_ref(), &editor.tenant, ctx.clock.now_secs()).await?;
    let mut sum = Counters::default();
    for item in &stored {
        sum = sum.plus(decode(item)?);
    }
    if sum == totals {
        return Ok(Vec::new());
    }
    let home_version = stored.iter().find(|item| item.sk == keys::COUNTERS).map(|item| item.version);
    let mut writes = vec![put(editor, keys::COUNTERS.into(), totals, home_version, ctx.clock.now_millis())?];
    for item in stored.iter().filter(|item| item.sk != keys::COUNTERS) {
        writes.push(Write::Delete {
            tenant: editor.tenant.clone(),
            sk: item.sk.clone(),
            condition: Condition::Version(item.version),
        });
    }
    Ok(writes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn editor() -> Editor {
        Editor { tenant: TenantKey::from_verified("counters-tenant").expect("key"), account_id: None }
    }

    fn shard(n: u32, counts: Counters) -> Shard {
        Shard { sk: keys::counters_shard(n), counts, version: Some(2) }
    }

    #[test]
    fn a_change_of_the_number_of_sites_goes_to_the_home_item_only() {
        let one_site = Counters { sites: 1, ..Counters::default() };
        assert!(shard(3, Counters::default()).change(&editor(), one_site, 0).is_err());
        let home =
            Shard { sk: keys::COUNTERS.into(), counts: Counters { sites: 4, ..Counters::default() }, version: None };
        match home.change(&editor(), one_site, 0).expect("home") {
            Write::Put { item, condition } => {
                assert_eq!((item.sk.as_str(), item.version, condition), (keys::COUNTERS, 1, Condition::Absent));
                assert_eq!(item.body.field::<u64>("sites"), Some(5));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_shard_moves_under_the_version_it_was_read_at() {
        let one_space = Counters { spaces: 1, ..Counters::default() };
        match shard(3, Counters { spaces: 2, ..Counters::default() }).change(&editor(), one_space, 0).expect("shard") {
            Write::Put { item, condition } => {
                assert_eq!((item.sk.as_str(), item.version, condition), ("COUNTERS#03", 3, Condition::Version(2)));
                assert_eq!(item.body.field::<u64>("spaces"), Some(3));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_shard_is_listed_under_the_counters_prefix() {
        assert!((1..SHARDS).all(|n| keys::counters_shard(n).starts_with(keys::COUNTERS)));
    }
}
